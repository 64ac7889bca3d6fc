// Offline = online: the funnel that offline evaluation scores is the funnel the server runs.
// Held-out users of a real bundle go through (a) the offline path (`bench funnel`: candidates
// per channel, fused pools, every pool row scored by the rankers under the request-time policy,
// the funnel's cuts applied to the scores) and (b) Recommender::recommend, what /recommend runs,
// at serving's request time. Their lists must be identical, item for item.
#include <gtest/gtest.h>

#include <random>

#include "cascade/pipeline/funnel_eval.h"
#include "cascade/pipeline/rank_job.h"
#include "cascade/pipeline/rank_stage.h"
#include "cascade/pipeline/recommender.h"
#include "cascade/util/fast_paths.h"
#include "support/tiny_bundle.h"

namespace cascade {
namespace {

using testing::TempDir;

class OfflineOnline : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    testing::build_tiny_bundle(dir_->path() / "b");
    rec_ = new Recommender(Bundle::load(dir_->path() / "b"));
  }
  static void TearDownTestSuite() {
    delete rec_;
    delete dir_;
  }

  // The offline lists (top k of the funnel's order) of every user held out in `heldout`.
  static std::map<UserId, std::vector<ItemId>> offline_lists(const Interactions& heldout,
                                                             TimePolicy policy, size_t k) {
    return offline_lists_of(*rec_, heldout, policy, k);
  }

 public:
  static std::map<UserId, std::vector<ItemId>> offline_lists_of(const Recommender& rec,
                                                                const Interactions& heldout,
                                                                TimePolicy policy, size_t k) {
    const Bundle& b = rec.bundle();
    const Dataset& ds = b.data();
    const Interactions none;
    const PoolCandidates pc = collect_candidates(b.channels(), b.channel_names(), ds.train, heldout,
                                                 none, b.fusion().quotas.at(0), 1);
    const auto pools = fused_pools(pc, ds.train, b.fusion(), b.pool_depth(), 1);
    const HeldoutScores hs = score_heldout(b.features(), pools, ds.train, heldout,
                                           {&b.pre_ranker(), &b.fine_ranker()}, 1, policy);
    std::map<UserId, std::vector<ItemId>> out;
    for (size_t i = 0; i < hs.users.size(); ++i) {
      const auto rows = funnel_order(hs.scores[0][i], std::max(b.pre_keep(), k), hs.scores[1][i],
                                     std::max(b.fine_keep(), k));
      auto& list = out[hs.users[i]];
      for (size_t r = 0; r < std::min(k, rows.size()); ++r)
        list.push_back(pools[hs.users[i]][rows[r]].item);
    }
    return out;
  }

  // Every user of `split`: the served list equals the offline one.
  static void expect_served_equals_offline(const Recommender& rec, const Interactions& split) {
    constexpr size_t kK = 10;
    const Dataset& ds = rec.bundle().data();
    const auto offline = offline_lists_of(rec, split, TimePolicy::kServing, kK);
    ASSERT_GT(offline.size(), 300u);
    for (const auto& [u, list] : offline) {
      RecommendRequest r;
      r.user = ds.user_ids[u];
      r.k = kK;
      r.diversity = 0;  // re-ranking is a later stage; at λ = 0 it keeps the funnel's order
      const RecommendResponse resp = rec.recommend(r);
      std::vector<ItemId> served;
      for (const auto& it : resp.items) served.push_back(it.item);
      ASSERT_EQ(served, list) << "user " << r.user;
    }
  }

 protected:
  static TempDir* dir_;
  static Recommender* rec_;
};
TempDir* OfflineOnline::dir_ = nullptr;
Recommender* OfflineOnline::rec_ = nullptr;

TEST_F(OfflineOnline, RecommenderReturnsTheListOfflineEvaluationScored) {
  const Dataset& ds = rec_->bundle().data();
  for (const Interactions* split : {&ds.test, &ds.valid})
    expect_served_equals_offline(*rec_, *split);
}

// The stacked scorer scores the pre-ranker's kept rows when served and the whole pool offline;
// its scales are fixed at fit time, so both give one order.
TEST(OfflineOnlineBlend, ABlendFineRankerServesTheListOfflineEvaluationScored) {
  TempDir dir;
  testing::build_tiny_bundle(dir.path() / "b", 7, 0.0, "blend");
  const Recommender rec(Bundle::load(dir.path() / "b"));
  EXPECT_EQ(rec.bundle().fine_ranker().kind(), "blend");
  OfflineOnline::expect_served_equals_offline(rec, rec.bundle().data().test);
}

TEST_F(OfflineOnline, TheComparisonSeesTheRequestTime) {
  // Under the event-time ablation the rankers see other time features, and some lists change:
  // so the equality above depends on both paths using serving's request time.
  const Dataset& ds = rec_->bundle().data();
  const auto serving = offline_lists(ds.test, TimePolicy::kServing, 10);
  const auto event = offline_lists(ds.test, TimePolicy::kEvent, 10);
  ASSERT_EQ(serving.size(), event.size());
  size_t differ = 0;
  for (const auto& [u, list] : serving) differ += event.at(u) != list;
  EXPECT_GT(differ, 0u);
}

TEST(RankStage, BestRowsBreakTiesByTheLowerPoolRow) {
  const std::vector<float> s = {0.5f, 0.9f, 0.5f, 0.1f, 0.9f};
  EXPECT_EQ(best_rows(s, 3), (std::vector<uint32_t>{1, 4, 0}));
  EXPECT_EQ(best_rows(s, 10), (std::vector<uint32_t>{1, 4, 0, 2, 3}));
  // With pool rows given (kept rows 7, 2, 9 scoring equal), ties follow the pool row.
  const std::vector<float> tied = {1.f, 1.f, 1.f};
  const std::vector<uint32_t> rows = {7, 2, 9};
  EXPECT_EQ(best_rows(tied, 2, rows), (std::vector<uint32_t>{1, 0}));
  EXPECT_TRUE(best_rows(s, 0).empty());
}

// The packed-key path (ascending pool rows) against the comparator, with ties and signed zeros.
TEST(RankStage, BestRowsKeyPathEqualsTheComparator) {
  std::mt19937 rng(5);
  for (int trial = 0; trial < 300; ++trial) {
    const size_t n = 1 + rng() % 400;
    std::vector<float> s(n);
    for (float& v : s)
      v = rng() % 4 == 0 ? (rng() % 2 ? 0.f : -0.f)
                         : static_cast<float>(static_cast<int>(rng() % 21) - 10) / 4;
    std::vector<uint32_t> rows;
    if (trial % 2) {
      for (uint32_t r = 0; rows.size() < n; ++r)
        if (rng() % 3) rows.push_back(r);
    }
    const size_t keep = rng() % (n + 3);
    set_fast_paths(true);
    const auto fast = best_rows(s, keep, rows);
    set_fast_paths(false);
    const auto ref = best_rows(s, keep, rows);
    set_fast_paths(true);
    ASSERT_EQ(fast, ref) << "trial " << trial;
  }
}

}  // namespace
}  // namespace cascade
