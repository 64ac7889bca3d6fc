// The ranking stage of one request: features for the fused pool, the pre-ranker over all of it,
// its best `pre_keep` rows to the fine-ranker, the fine-ranker's best `fine_keep` out. The one
// implementation the server (Recommender), offline evaluation (bench funnel, bench rerank) and
// the benchmark programs run, so that the measured and the served stage are the same code.
//
// Order and ties: the pre-ranker keeps its best rows by score, ties to the lower pool row (the
// better fused rank); the fine-ranker orders those the same way. funnel_order() (rank_job.h)
// gives the same rows from precomputed scores of the whole pool, which offline experiments use
// to compare many funnels at once; rankers score rows independently, so both agree exactly.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "cascade/rank/features.h"
#include "cascade/rank/ranker.h"
#include "cascade/recall/fusion.h"

namespace cascade {

struct RankCuts {
  size_t pre_keep = 100;  ///< rows the pre-ranker hands on
  size_t fine_keep = 20;  ///< rows the fine-ranker hands on
};

struct RankStageResult {
  std::vector<float> pre;       ///< pre-ranker score of every pool row
  std::vector<uint32_t> kept;   ///< pool rows the pre-ranker kept, ascending
  std::vector<float> fine;      ///< fine-ranker score of each kept row (parallel to `kept`)
  std::vector<uint32_t> order;  ///< the stage's output: indices into `kept`, best first
  double features_ms = 0, pre_rank_ms = 0, fine_rank_ms = 0;
  /// With `attention` requested and a ranker that attends (DIN): the weights its scores used,
  /// per pool row (pre) or per kept row (fine), over `history` (the batch's group history).
  bool pre_attended = false, fine_attended = false;
  HistoryAttention pre_attention, fine_attention;
  std::vector<ItemId> history;  ///< the history the rankers saw (filled when attention was asked)

  size_t size() const { return order.size(); }
  /// Pool row of the i-th output.
  uint32_t pool_row(size_t i) const { return kept[order[i]]; }
  float fine_score(size_t i) const { return fine[order[i]]; }
};

/// The rows of `scores` with the best `keep` scores, ties to the lower row; `rows`
/// names the pool row of each score (empty = the identity). Best first.
std::vector<uint32_t> best_rows(std::span<const float> scores, size_t keep,
                                std::span<const uint32_t> rows = {});

/// Runs the stage for `req` over `pool` (an empty pool gives an empty result).
RankStageResult run_rank_stage(const FeatureBuilder& fb, const RankRequest& req,
                               std::span<const FusedCandidate> pool, const Ranker& pre,
                               const Ranker& fine, const RankCuts& cuts, bool attention = false);

}  // namespace cascade
