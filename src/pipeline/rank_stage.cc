#include "cascade/pipeline/rank_stage.h"

#include <algorithm>
#include <numeric>

#include "cascade/util/stopwatch.h"

namespace cascade {

std::vector<uint32_t> best_rows(std::span<const float> scores, size_t keep,
                                std::span<const uint32_t> rows) {
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
  // Ascending rows keep the fine-ranker's batch in fused order (its groups' row order).
  std::sort(r.kept.begin(), r.kept.end());
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
