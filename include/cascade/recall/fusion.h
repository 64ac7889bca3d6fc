// Multi-channel fusion: turns several recall channels' ranked candidate lists into one
// de-duplicated candidate pool (the last step of the recall stage, SYSTEM.md "Fusion").
//
// Two scoring methods:
//  - "norm": each channel's contributed list is min-max scaled to [0, 1]
//            (s - min) / (max - min), then fused = sum_c w_c * scaled_c. A list whose scores
//            are all equal (including a one-item list) has no spread to scale by: every item
//            in it scales to 1, i.e. the channel vouches equally for all it returned.
//  - "rrf":  reciprocal-rank fusion (Cormack, Clarke & Buettcher 2009):
//            fused = sum_c w_c / (k + rank_c), rank from 1.
// A channel absent from an item's contributors adds 0 to its fused score.
//
// Seen items (SYSTEM.md: the reference fusion "never re-filtered seen items"): every
// `exclude` item is dropped from each channel's list BEFORE quotas, normalisation and ranks
// (so a channel that failed to mask behaves like one that did), and the fused pool is
// filtered again afterwards, so an excluded item can never be in the output.
//
// Parity config (SYSTEM.md): five channels iALS, Two-Tower, SASRec, popularity, content:
//   "method=norm,pool_size=1000,quotas=500:500:500:500:500,weights=1:1:1:0.5:0.5"
#pragma once

#include <boost/container/small_vector.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "cascade/core/params.h"
#include "cascade/core/types.h"
#include "cascade/recall/recaller.h"

namespace cascade {

/// One channel's candidates, best first (as returned by Recaller::top_n). An item must not
/// occur twice in one list, and scores must be finite (fuse() throws otherwise).
struct ChannelCandidates {
  std::string channel;            ///< channel name, for error messages and reports
  std::vector<ScoredItem> items;  ///< best first; position i has rank i + 1
};

/// Per-candidate, per-channel values. Stored inline up to eight channels: a request builds a
/// pool of hundreds of candidates, and three heap vectors each were a tenth of serving's CPU
/// in malloc and free (stop 24 profile). More channels spill to the heap.
template <class T>
using PerChannel = boost::container::small_vector<T, 8>;

/// One item of the fused pool.
struct FusedCandidate {
  ItemId item = 0;
  float score = 0;                     ///< fused score (higher is better)
  PerChannel<uint16_t> channels;       ///< contributing channel indices, ascending
  PerChannel<float> channel_scores;    ///< the channel's raw score, parallel to `channels`
  PerChannel<uint32_t> channel_ranks;  ///< rank within that channel's list (from 1, after
                                       ///< excluded items are removed), parallel to `channels`
};

struct FusionOptions {
  std::string method =
      "norm";  ///< a registered FusionMethod: "norm" (min-max + weighted sum), "rrf"
  /// Per-channel weights, >= 0 and finite; empty = all 1. A weight of 0 drops the channel
  /// (its items are neither scored nor recorded as contributed by it).
  std::vector<double> weights;
  double rrf_k = 60;  ///< RRF constant, >= 0
  /// Per-channel: how many of its top candidates (after exclusion) it contributes;
  /// 0 = all it gave. Empty = all 0.
  std::vector<size_t> quotas;
  size_t pool_size = 1000;  ///< output length cap, >= 1
};

/// How one channel's list becomes its part of the fused scores. Methods are registered by name
/// (CASCADE_REGISTER_FUSION(Class, "norm") at the bottom of their file), like channels and
/// rankers; FusionOptions::method names one. Stateless: the options come with every call.
class FusionMethod {
 public:
  static constexpr const char* kRegistryWhat = "fusion method";
  virtual ~FusionMethod() = default;
  /// parts[r] = the weighted contribution of list[r] (rank r + 1); `list` is the channel's kept
  /// candidates (excluded items removed, quota applied), non-empty, best first.
  virtual void contribute(std::span<const ScoredItem> list, double weight, const FusionOptions& opt,
                          std::span<double> parts) const = 0;
  /// The FusionOptions / recall.fusion keys this method reads besides method, weights, quotas
  /// and pool_size (rrf: rrf_k), for specs and error messages.
  virtual std::vector<std::string> option_keys() const { return {}; }
};

/// The registered method `name`; throws cascade::Error listing the known ones.
std::unique_ptr<FusionMethod> make_fusion_method(const std::string& name);
/// The registered method names, sorted.
std::vector<std::string> fusion_method_names();

/// Throws cascade::Error if `opt` is invalid for `n_channels` channels (unknown method,
/// weights/quotas neither empty nor of size n_channels, negative or non-finite weight,
/// negative or non-finite rrf_k, pool_size 0, more than 65536 channels).
void validate_fusion_options(const FusionOptions& opt, size_t n_channels);

/// Fuses `lists` (one per channel) into a pool: one entry per item, sorted by fused score
/// descending, ties by lower item id, at most opt.pool_size long, no `exclude` item in it.
std::vector<FusedCandidate> fuse(std::span<const ChannelCandidates> lists, const FusionOptions& opt,
                                 std::span<const ItemId> exclude = {});

/// Queries every channel with top_n(q, quota or, when the quota is 0, pool_size) (which
/// masks q.history and `exclude`) and fuses the lists with q.history + `exclude` excluded.
/// Channels of weight 0 are not queried. Channel names are their kind().
std::vector<FusedCandidate> fuse_channels(std::span<const Recaller* const> channels,
                                          const UserQuery& q, const FusionOptions& opt,
                                          std::span<const ItemId> exclude = {});

/// Reads keys method (norm|rrf), rrf_k, pool_size, weights ("1:1:0.5") and quotas
/// ("500:500:500") from `p`, then p.check_unused("fusion"). List lengths are checked
/// against the channel count later, by fuse().
FusionOptions fusion_options_from(Params& p);

}  // namespace cascade
