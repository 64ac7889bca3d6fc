// Offline evaluation of the ranking stage on held-out items: every evaluated user's pool is
// turned into feature rows exactly as a live request would be (history = the user's training
// row, request time by request_time.h's policy: serving's unless an ablation asks for the
// held-out event's time), scored by each ranker, and the held-out
// item's position is read off any ordering: the pool's own, a ranker's, or a funnel's.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "cascade/data/interactions.h"
#include "cascade/pipeline/request_time.h"
#include "cascade/rank/features.h"
#include "cascade/rank/ranker.h"

namespace cascade {

struct HeldoutScores {
  std::vector<UserId> users;  ///< users with a held-out item, ascending
  std::vector<int32_t>
      target;                  ///< per user: pool row of the held-out item, -1 when not in the pool
  std::vector<uint32_t> rows;  ///< per user: pool rows scored
  /// scores[k][i]: ranker k's score of each pool row of users[i]
  std::vector<std::vector<std::vector<float>>> scores;
  std::vector<double>
      ranker_seconds;  ///< per ranker: scoring time summed over users (single-threaded calls)
  double feature_seconds = 0;  ///< feature building time summed over users
};

/// `pools[u]` is user u's pool for the history `history.row(u)`; the held-out item of a seed
/// split is heldout.row(u)[0] (the first one for several). Users run in parallel; every
/// score() call covers one user's group, as in serving. The serving clock is the newest time
/// in `history`.
HeldoutScores score_heldout(const FeatureBuilder& fb,
                            const std::vector<std::vector<FusedCandidate>>& pools,
                            const Interactions& history, const Interactions& heldout,
                            const std::vector<const Ranker*>& rankers, int threads,
                            TimePolicy policy = TimePolicy::kServing);

/// 0-based position of `target` in `order`, or -1.
int64_t position_in(std::span<const uint32_t> order, int32_t target);

/// Rows sorted by score, best first; ties keep the lower row (the better fused rank).
std::vector<uint32_t> order_by(std::span<const float> scores);

/// In-pool AUC of user i under `scores`: share of the other pool rows scored below the
/// held-out item (ties 1/2); NaN when the item is not in the pool or the pool has one row.
double pool_auc(std::span<const float> scores, int32_t target);

}  // namespace cascade
