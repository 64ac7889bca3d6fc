// The fused candidate pool over a set of fitted channels, evaluated like a channel.
//
// Channels are queried once per user (top `quota` items, training items masked); fusion is
// then cheap to redo, so fusion weights can be tuned on the validation item by coordinate
// search without re-scoring. In seed-loo the validation and test queries share the same
// history (the training rows), so the same candidate lists serve both; only the held-out
// item differs. Test items are never looked at while tuning.
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <string>
#include <vector>

#include "cascade/eval/evaluator.h"
#include "cascade/recall/fusion.h"
#include "cascade/recall/recaller.h"

namespace cascade {

/// Per user (dense id), each channel's candidates; empty for users with no history row.
struct PoolCandidates {
  std::vector<std::string> channels;
  std::vector<std::vector<ChannelCandidates>> per_user;  ///< [user][channel]
  /// Per user, what the requests excluded besides their history (Dataset::seen_known): the
  /// channels' lists skip it, and fusing these lists excludes it again. No rows = nothing.
  Interactions exclude;
  /// The items a fusion of user u's lists excludes: `history` plus exclude's row.
  std::vector<ItemId> excluded(std::span<const ItemId> history, uint32_t u) const;
};

/// Queries every channel for every user that has a held-out item in `valid` or `test`, with
/// `train`'s row as the history. fitted_rows: `train` is what the channels were fitted on; false
/// (a history extended past the fit, e.g. with the validation item) sets UserQuery::past_fit, as
/// the Recommender does with live events. `exclude` (optional; e.g. Dataset::seen_at_valid()):
/// per user, items the request knows the user consumed besides the history; no list holds them
/// (top_n refills to `quota`, as serving queries the channels), and it is kept in the result.
PoolCandidates collect_candidates(const std::vector<const Recaller*>& channels,
                                  const std::vector<std::string>& names, const Interactions& train,
                                  const Interactions& valid, const Interactions& test, size_t quota,
                                  int threads, bool fitted_rows = true,
                                  const Interactions* exclude = nullptr);

/// Fuses every user's lists (training items and pc.exclude excluded again after fusion) into
/// ranked lists.
std::vector<std::vector<ItemId>> fuse_pool(const PoolCandidates& pc, const Interactions& train,
                                           const FusionOptions& opt, int threads = 0);

struct WeightSearch {
  /// Validation metric to maximise; "pool_recall" = recall@pool_size (the share of held-out
  /// items that reach the pool: the ceiling of every later stage).
  std::string metric = "pool_recall";
  std::vector<double> grid = {0, 0.25, 0.5, 1, 2, 4};
  int rounds = 2;  ///< coordinate-descent sweeps over the channels
};

/// Coordinate search of the fusion weights on the validation split. Returns `base` with the
/// best weights found (ties keep the earlier weights). Logs each improvement.
FusionOptions tune_fusion_weights(const PoolCandidates& pc, const Interactions& train,
                                  const Interactions& valid, const FusionOptions& base,
                                  const WeightSearch& search, const EvalOptions& eval);

/// The `recall.fusion` config group: how a channel set becomes one pool.
///   fusion: {method: norm, rrf_k: 60, quota: 500, pool_size: 1000, tune: true,
///            tune_metric: pool_recall, weights: {ials: 1, popularity: 0.5}}
struct FusionConfig {
  FusionOptions base;                     ///< method, rrf_k, pool_size
  size_t quota = 500;                     ///< candidates each channel contributes
  std::map<std::string, double> weights;  ///< by channel name; a channel not named gets 1
  bool tune = true;                       ///< start from `weights`, tune on validation
  WeightSearch search;

  /// FusionOptions for channels `names` (in that order): weights from the map, quotas all
  /// `quota`. Names in the map that are not in `names` are ignored (a --channels subset).
  FusionOptions options_for(const std::vector<std::string>& names) const;
};

/// Reads the group (absent = defaults). Unknown keys, bad values and weights naming no
/// configured channel (`channels`) throw cascade::Error naming the key.
FusionConfig fusion_config_from_yaml(const YAML::Node& node,
                                     const std::vector<std::string>& channels);

}  // namespace cascade
