// The re-rank stage, the last stage of the funnel (SYSTEM.md "Stages and models"): the
// fine-ranker's top candidates for one request (typically 20, best first) become the final k
// (typically 10). Steps, in this order:
//
//  1. Rules, drop watched: candidates found in the user's watched set are removed
//     (`watched_sorted`, a span of ItemId sorted ascending; duplicates allowed). Off with
//     RerankOptions::drop_watched = false.
//  2. Inverse-propensity debias (ips_exponent e > 0; 0 = off):
//        r_i   = minmax(score)_i                                   (see 3 for minmax)
//        p_i   = max(count_i / max_count, ips_clip)                (max_count over ALL items;
//                                                                   p_i = 1 when max_count = 0)
//        rel_i = minmax(r_i * p_i^(-e))
//     i.e. the relevance is divided by the propensity raised to e, so an item 10x less
//     popular than the most popular one gets a boost of 10^e, never more than ips_clip^(-e).
//     Working on min-max scaled scores makes the stage invariant to the ranker's score scale
//     (logits, probabilities, GBDT margins: any increasing affine map gives the same output).
//     Consequence: the lowest-scored candidate has r = 0 and stays at relevance 0 whatever
//     its propensity (it is "the least relevant of the pool", not "unknown").
//  3. Min-max scaling to [0,1]: (x - min) / (max - min); all equal -> all 1. Without IPS,
//     rel_i = minmax(score)_i.
//  4. MMR (Carbonell & Goldstein 1998, "The use of MMR, diversity-based reranking for
//     reordering documents and producing summaries", SIGIR): greedily pick the candidate with
//     the largest  (1 - λ)·rel_i - λ·max_{j selected} cos(i, j),  λ = diversity. The max over
//     an empty selection is 0, so the first pick is the most relevant item for every λ.
//     Cosine of the item vectors; a zero vector has similarity 0 with everything. Ties go to
//     the higher rel, then to the earlier input position. λ = 0 is exactly the rel order;
//     λ = 1 picks, after the most relevant item, the item least similar to the selection.
//     (The reference system's knob worked backwards; here larger = more diverse, and a test
//     checks that mean ILS@k never rises with λ.) Without item vectors MMR is skipped: the
//     selection is the rel order whatever λ.
//  5. Caps, applied inside the greedy selection: a candidate is eligible only while fewer than
//     max_per_genre selected items share any of its genres (an item with several genres counts
//     towards each) and fewer than max_per_year_bucket selected items share its year bucket
//     (cascade::year_bucket; an unknown year is never capped); 0 = that cap off.
//     Relaxation: when no eligible candidate is left but fewer than k items are selected, the
//     caps are dropped and the greedy MMR continues over the skipped candidates; those picks
//     carry `relaxed = true` and always come after every non-relaxed pick. The output thus
//     has min(k, candidates after step 1) items.
//
// Cost: O(n log w) for the watched lookups, O(k·n·dim) for MMR (k·n dot products; none when
// λ = 0), O(k·n·genres) for the caps; three small allocations. Use Reranker on the serving
// path (it owns unit-normalised vectors and precomputed propensities): about 2-6 µs per
// call for 20 candidates, k = 10, dim 64, all steps on. The free function rerank() reads
// RerankItems directly and, with IPS on, scans all n_items counts for max_count.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "cascade/core/params.h"

#include "cascade/core/types.h"
#include "cascade/data/catalog.h"

namespace cascade {

struct RerankOptions {
  double diversity = 0;             ///< MMR λ in [0,1]: 0 = pure relevance, 1 = most diverse
  double ips_exponent = 0;          ///< e in [0,100]; 0 = no debias
  double ips_clip = 0.01;           ///< propensity floor, in (0,1]; bounds the boost at clip^(-e)
  uint32_t max_per_genre = 0;       ///< 0 = off
  uint32_t max_per_year_bucket = 0; ///< 0 = off
  bool drop_watched = true;

  /// Throws cascade::Error naming the field ("rerank.diversity: ...") when a value is out of
  /// range or not finite.
  void validate() const;
  /// Reads the `rerank` group; keys are the field names. An absent or null node gives the
  /// defaults; unknown keys and bad values throw naming the key. The result is validated.
  static RerankOptions from_yaml(const YAML::Node& node);
};

/// Per-catalogue side data, owned by the caller; must outlive the call (the free function) or
/// the constructor (Reranker, which copies what it needs).
struct RerankItems {
  const float* vectors = nullptr;  ///< row-major n_items x dim; nullptr = no MMR
  uint32_t dim = 0;
  uint32_t n_items = 0;            ///< catalogue size; item ids must be < n_items (0 = unchecked,
                                   ///< allowed only when no side data is given at all)
  std::span<const float> counts;   ///< interaction count per item (size n_items, >= 0); needed for IPS
  const Catalog* catalog = nullptr;///< genres and years (items.size() == n_items); needed for caps
};

struct RerankedItem {
  ItemId item;
  float relevance;     ///< rel_i in [0,1] after steps 2-3
  float final_score;   ///< the MMR objective when picked; non-increasing over the non-relaxed
                       ///< picks (relaxed picks were held back by a cap and may score higher)
  uint32_t input_rank; ///< 0-based position in the input candidates (before step 1)
  bool relaxed;        ///< picked although it broke a cap (see "Relaxation")
};

/// One-shot re-rank. `items` and `scores` are parallel (the fine-ranker's candidates, best
/// first, though the order only breaks ties); `watched_sorted` ascending. Throws
/// cascade::Error on invalid options or inputs: size mismatch, item id >= n_items, a repeated
/// candidate, a NaN or infinite score, an unsorted watched list, IPS without counts, caps
/// without a catalogue, side data of inconsistent sizes, a negative or non-finite count, a
/// non-finite item vector.
std::vector<RerankedItem> rerank(std::span<const ItemId> items, std::span<const float> scores,
                                 std::span<const ItemId> watched_sorted, size_t k,
                                 const RerankItems& side, const RerankOptions& opt);

/// The serving form: built once per catalogue, it owns unit-normalised item vectors,
/// propensities count / max_count, year buckets and genre lists, so a request costs only the
/// k·n dot products. Same results as the free function. Immutable, thread-safe to share.
class Reranker {
 public:
  /// Validates and copies `side` (see RerankItems); `side` may be released afterwards.
  explicit Reranker(const RerankItems& side);

  std::vector<RerankedItem> rerank(std::span<const ItemId> items, std::span<const float> scores,
                                   std::span<const ItemId> watched_sorted, size_t k,
                                   const RerankOptions& opt) const;

  uint32_t n_items() const { return n_items_; }
  uint32_t dim() const { return dim_; }
  /// The unit-normalised item vectors (n_items x dim, zero rows stay 0); empty = none given.
  std::span<const float> unit_vectors() const { return unit_; }
  /// Per-item propensity count / max_count, unclipped (step 2's p before the floor); empty = no
  /// counts given. Also the popularity base of offline debiased metrics (pipeline/served_eval.h).
  std::span<const double> propensities() const { return propensity_; }

 private:
  uint32_t n_items_ = 0;
  uint32_t dim_ = 0;
  std::vector<float> unit_;            ///< n_items x dim, rows scaled to norm 1 (zero rows stay 0); empty = no vectors
  std::vector<double> propensity_;     ///< n_items, count / max_count unclipped; empty = no counts
  std::vector<int8_t> year_bucket_;    ///< n_items, -1 unknown; empty = no catalogue
  std::vector<uint32_t> genre_offset_; ///< n_items + 1 (CSR over genre_ids_); empty = no catalogue
  std::vector<uint16_t> genre_ids_;
};

/// A re-rank method: the policy that turns the fine-ranker's best into the final k, over a
/// Reranker's per-catalogue side data. Methods are registered by name
/// (CASCADE_REGISTER_RERANK(Class, "mmr")) like channels, rankers and fusion methods; the
/// factory reads the method's options from Params (the `rerank` config group's keys), throwing
/// cascade::Error on unknown keys and bad values. Immutable, thread-safe.
///   "mmr":  the steps above (drop watched, IPS, MMR with diversity λ, caps);
///   "none": the fine-ranker's order, watched items dropped (drop_watched), cut to k.
class RerankMethod {
 public:
  static constexpr const char* kRegistryWhat = "re-ranker";
  virtual ~RerankMethod() = default;
  /// `diversity` < 0 = the configured one; a method without a diversity knob ignores it.
  virtual std::vector<RerankedItem> rerank(const Reranker& side, std::span<const ItemId> items,
                                           std::span<const float> scores,
                                           std::span<const ItemId> watched_sorted, size_t k,
                                           double diversity) const = 0;
  /// The options in force (diversity = the configured default).
  virtual const RerankOptions& options() const = 0;
};

/// The registered method `name` with `options`; an unknown name lists the known ones.
std::unique_ptr<RerankMethod> make_rerank_method(const std::string& name, Params options);
/// The registered method names, sorted.
std::vector<std::string> rerank_method_names();

}  // namespace cascade
