// The fused pool over fixed-score channels: candidates mask training items, fusion weights
// are tuned on the validation split only, and the pool is evaluated like a channel.
#include <gtest/gtest.h>

#include "cascade/core/error.h"
#include "cascade/pipeline/fused_pool.h"
#include "test_util.h"

namespace cascade {
namespace {

// Scores every item with a fixed per-item table (same for every user).
class FixedRecaller : public Recaller {
 public:
  explicit FixedRecaller(std::vector<float> s) : scores_(std::move(s)) {}
  std::string kind() const override { return "fixed"; }
  void fit(const FitInput&) override {}
  void score(const UserQuery&, std::span<float> out) const override {
    std::copy(scores_.begin(), scores_.end(), out.begin());
  }
  Params params() const override { return {}; }
  void save(const std::filesystem::path&) const override {}
  void load(const std::filesystem::path&) override {}
  uint32_t n_items() const override { return static_cast<uint32_t>(scores_.size()); }

 private:
  std::vector<float> scores_;
};

TEST(FusedPool, CandidatesMaskTrainingItemsAndTuningUsesValidationOnly) {
  // 6 items. Channel A ranks 0>1>2>3>4>5, channel B ranks 5>4>3>2>1>0.
  FixedRecaller a({6, 5, 4, 3, 2, 1}), b({1, 2, 3, 4, 5, 6});
  const Interactions train = test::make_rows(6, {{0}, {0}});
  // Validation items favour channel B (item 5 is B's best); test items favour channel A.
  const Interactions valid = test::make_rows(6, {{5}, {5}});
  const Interactions test = test::make_rows(6, {{1}, {1}});
  PoolCandidates pc = collect_candidates({&a, &b}, {"a", "b"}, train, valid, test, 3, 1);
  ASSERT_EQ(pc.per_user.size(), 2u);
  for (const auto& user : pc.per_user) {
    ASSERT_EQ(user.size(), 2u);
    for (const auto& list : user)
      for (const auto& s : list.items) EXPECT_NE(s.item, 0u) << "training item returned";
  }

  FusionOptions base;
  base.pool_size = 3;
  EvalOptions eval;
  eval.ks = {1};
  eval.threads = 1;
  WeightSearch search;
  search.metric = "recall@1";
  search.grid = {0, 1};
  FusionOptions tuned = tune_fusion_weights(pc, train, valid, base, search, eval);
  ASSERT_EQ(tuned.weights.size(), 2u);
  // Only B puts item 5 first, so validation says: drop A.
  EXPECT_EQ(tuned.weights[0], 0.0);
  EXPECT_EQ(tuned.weights[1], 1.0);

  auto lists = fuse_pool(pc, train, tuned, 1);
  ASSERT_EQ(lists[0].size(), 3u);
  EXPECT_EQ(lists[0][0], 5u);
  for (const auto& l : lists)
    for (ItemId i : l) EXPECT_NE(i, 0u);
  // Test recall@1 is 0 with the validation-tuned weights: tuning never saw the test item.
  EvalResult r = evaluate_lists(lists, train, test, 6, eval);
  EXPECT_DOUBLE_EQ(r.summary.at("recall@1"), 0.0);
}

TEST(FusedPool, UnknownTuningMetricIsAnError) {
  FixedRecaller a({3, 2, 1}), b({1, 2, 3});
  const Interactions train = test::make_rows(3, {{0}});
  const Interactions held = test::make_rows(3, {{2}});
  PoolCandidates pc = collect_candidates({&a, &b}, {"a", "b"}, train, held, held, 3, 1);
  WeightSearch search;
  search.metric = "recall@999";
  EvalOptions eval;
  eval.ks = {1};
  EXPECT_THROW(tune_fusion_weights(pc, train, held, FusionOptions{}, search, eval), Error);
}

}  // namespace
}  // namespace cascade
