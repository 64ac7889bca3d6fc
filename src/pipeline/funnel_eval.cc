#include "cascade/pipeline/funnel_eval.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <numeric>

#include "cascade/core/error.h"
#include "cascade/util/parallel.h"
#include "cascade/util/stopwatch.h"

namespace cascade {

HeldoutScores score_heldout(const FeatureBuilder& fb, const std::vector<std::vector<FusedCandidate>>& pools,
                            const Interactions& history, const Interactions& heldout,
                            const std::vector<const Ranker*>& rankers, int threads, TimePolicy policy) {
  HeldoutScores hs;
  const int64_t clock = log_clock(history);
  for (uint32_t u = 0; u < heldout.n_rows; ++u) {
    if (heldout.row_size(u) > 0 && u < history.n_rows) hs.users.push_back(u);
  }
  const size_t n = hs.users.size(), R = rankers.size();
  hs.target.assign(n, -1);
  hs.rows.assign(n, 0);
  hs.scores.assign(R, std::vector<std::vector<float>>(n));
  std::vector<std::vector<double>> secs(R, std::vector<double>(n, 0.0));
  std::vector<double> feat(n, 0.0);
  parallel_for_dynamic(n, threads, 4, [&](size_t i, int) {
    const UserId u = hs.users[i];
    static const std::vector<FusedCandidate> kEmpty;
    const auto& pool = u < pools.size() ? pools[u] : kEmpty;
    const ItemId target = heldout.row(u)[0];
    for (size_t r = 0; r < pool.size(); ++r) {
      if (pool[r].item == target) hs.target[i] = static_cast<int32_t>(r);
    }
    hs.rows[i] = static_cast<uint32_t>(pool.size());
    if (pool.empty()) return;
    RankRequest req;
    req.user = u;
    req.history = history.row(u);
    req.times = history.row_times(u);
    req.now = request_time(policy, clock, req.times, heldout.row_times(u)[0]);
    Stopwatch sw;
    RankBatch b = fb.empty_batch();
    fb.add_pool(req, pool, b);
    feat[i] = sw.lap_ms() / 1000.0;
    for (size_t k = 0; k < R; ++k) {
      hs.scores[k][i].resize(pool.size());
      rankers[k]->score(b, hs.scores[k][i]);
      secs[k][i] = sw.lap_ms() / 1000.0;
    }
  });
  hs.ranker_seconds.assign(R, 0.0);
  for (size_t k = 0; k < R; ++k) hs.ranker_seconds[k] = std::accumulate(secs[k].begin(), secs[k].end(), 0.0);
  hs.feature_seconds = std::accumulate(feat.begin(), feat.end(), 0.0);
  return hs;
}

int64_t position_in(std::span<const uint32_t> order, int32_t target) {
  if (target < 0) return -1;
  for (size_t p = 0; p < order.size(); ++p) {
    if (order[p] == static_cast<uint32_t>(target)) return static_cast<int64_t>(p);
  }
  return -1;
}

std::vector<uint32_t> order_by(std::span<const float> scores) {
  std::vector<uint32_t> idx(scores.size());
  std::iota(idx.begin(), idx.end(), 0u);
  std::stable_sort(idx.begin(), idx.end(), [&](uint32_t a, uint32_t b) { return scores[a] > scores[b]; });
  return idx;
}

double pool_auc(std::span<const float> scores, int32_t target) {
  if (target < 0 || scores.size() < 2) return std::numeric_limits<double>::quiet_NaN();
  const float t = scores[static_cast<size_t>(target)];
  double below = 0;
  for (size_t r = 0; r < scores.size(); ++r) {
    if (r == static_cast<size_t>(target)) continue;
    below += scores[r] < t ? 1.0 : scores[r] == t ? 0.5 : 0.0;
  }
  return below / static_cast<double>(scores.size() - 1);
}

}  // namespace cascade
