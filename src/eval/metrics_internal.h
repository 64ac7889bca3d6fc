// Private helpers shared by metrics.cc and evaluator.cc: all ranking metrics at several K
// in one pass over a list, with reusable buffers so the evaluator allocates nothing per user.
#pragma once

#include <span>
#include <vector>

#include "cascade/core/types.h"

namespace cascade::eval_detail {

struct RankingAtK {
  double recall = 0, hit_rate = 0, ndcg = 0, mrr = 0;
};

class RelevantSet;
void ranking_metrics(std::span<const ItemId> ranked, RelevantSet& rel, std::span<const size_t> ks,
                     RankingAtK* out);

/// The distinct held-out items of one user (duplicates counted once), plus scratch space.
class RelevantSet {
 public:
  RelevantSet() = default;
  explicit RelevantSet(std::span<const ItemId> relevant);
  void assign(std::span<const ItemId> relevant);
  size_t size() const { return items_.size(); }
  /// Index of `item` in the distinct set, or -1.
  int find(ItemId item) const;

 private:
  friend void ranking_metrics(std::span<const ItemId>, RelevantSet&, std::span<const size_t>,
                              RankingAtK*);
  std::vector<ItemId> items_;       // sorted, unique
  std::vector<uint8_t> seen_;       // parallel to items_: already hit in the current list
  std::vector<size_t> hit_ranks_;   // 1-based ranks of first hits, increasing
};

/// out[j] = metrics of `ranked` at ks[j] (out has ks.size() entries). An empty relevant set
/// gives zeros.
void ranking_metrics(std::span<const ItemId> ranked, RelevantSet& rel, std::span<const size_t> ks,
                     RankingAtK* out);

/// 1 / log2(rank + 1), rank from 1.
double inverse_log2_rank(size_t rank);

/// ILS@k of `ranked` (row-major vectors, `dim` columns); `sum` is scratch of any size.
double ils_normalized(std::span<const ItemId> ranked, const float* vectors, uint32_t dim, size_t k,
                      std::vector<double>& sum);

}  // namespace cascade::eval_detail
