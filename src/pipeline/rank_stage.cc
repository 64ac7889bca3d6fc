#include "cascade/pipeline/rank_stage.h"

#include <algorithm>
#include <numeric>

#include "cascade/util/fast_paths.h"
#include "cascade/util/stopwatch.h"
#include "cascade/util/topk.h"

namespace cascade {

std::vector<uint32_t> best_rows(std::span<const float> scores, size_t keep,
                                std::span<const uint32_t> rows) {
  if (fast_paths() && std::is_sorted(rows.begin(), rows.end())) {
    // Ascending pool rows (serving's kept rows, or none) order ties as the indices do, so
    // packed (score, index) keys give the comparator's order below (2% of a request).
    thread_local std::vector<uint64_t> keys;
    keys.clear();
    for (size_t i = 0; i < scores.size(); ++i)
      keys.push_back(rank_key(scores[i], static_cast<uint32_t>(i)));
    smallest_rank_keys(keys, keep, /*item_order=*/true);
    std::vector<uint32_t> idx(keys.size());
    for (size_t r = 0; r < keys.size(); ++r) idx[r] = static_cast<uint32_t>(keys[r] & 0xffffffffu);
    return idx;
  }
  std::vector<uint32_t> idx(scores.size());
  std::iota(idx.begin(), idx.end(), 0u);
  auto row = [&](uint32_t i) { return rows.empty() ? i : rows[i]; };
  const size_t k = std::min(keep, idx.size());
  std::partial_sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(k), idx.end(),
                    [&](uint32_t a, uint32_t b) {
                      return scores[a] > scores[b] || (scores[a] == scores[b] && row(a) < row(b));
                    });
  idx.resize(k);
  return idx;
}

RankStageResult run_rank_stage(const FeatureBuilder& fb, const RankRequest& req,
                               std::span<const FusedCandidate> pool, const Ranker& pre,
                               const Ranker& fine, const RankCuts& cuts, bool attention) {
  RankStageResult r;
  if (pool.empty()) return r;
  Stopwatch sw;
  RankBatch batch = fb.empty_batch();
  fb.add_pool(req, pool, batch);
  r.features_ms = sw.lap_ms();

  r.pre.resize(batch.rows());
  if (attention) {
    const auto h = batch.group_history(0);
    r.history.assign(h.begin(), h.end());
    r.pre_attended = pre.score_attended(batch, r.pre, r.pre_attention);
  } else {
    pre.score(batch, r.pre);
  }
  r.kept = best_rows(r.pre, cuts.pre_keep);
  // Ascending rows keep the fine-ranker's batch in fused order (its groups' row order); a
  // mark per pool row is cheaper than sorting the kept rows.
  std::vector<uint8_t> is_kept(r.pre.size(), 0);
  for (uint32_t row : r.kept) is_kept[row] = 1;
  r.kept.clear();
  for (uint32_t row = 0; row < is_kept.size(); ++row)
    if (is_kept[row]) r.kept.push_back(row);
  r.pre_rank_ms = sw.lap_ms();

  const RankBatch sub = batch.take_rows(r.kept);
  r.fine.resize(sub.rows());
  if (attention) {
    r.fine_attended = fine.score_attended(sub, r.fine, r.fine_attention);
  } else {
    fine.score(sub, r.fine);
  }
  r.order = best_rows(r.fine, cuts.fine_keep, r.kept);
  r.fine_rank_ms = sw.lap_ms();
  return r;
}

}  // namespace cascade
