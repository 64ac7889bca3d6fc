// The fused pool over fixed-score channels: candidates mask training items, fusion weights
// are tuned on the validation split only, and the pool is evaluated like a channel.
#include <gtest/gtest.h>

#include "cascade/core/error.h"
#include "cascade/pipeline/fused_pool.h"
#include "support/test_util.h"

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

// Seen items (Dataset::seen_known): no channel list, fused list or evaluated list holds them,
// and the channels refill to the quota past them, as serving's top_n(q, k, exclude) does.
TEST(FusedPool, SeenItemsAreExcludedEverywhereAndListsRefill) {
  FixedRecaller a({6, 5, 4, 3, 2, 1}), b({1, 2, 3, 4, 5, 6});
  const Interactions train = test::make_rows(6, {{0}, {0}});
  const Interactions valid = test::make_rows(6, {{2}, {5}});
  const Interactions none;
  const Interactions seen = test::make_rows(6, {{1, 5}, {}});  // user 0 consumed 1 and 5
  const PoolCandidates pc =
      collect_candidates({&a, &b}, {"a", "b"}, train, valid, none, 3, 1, true, &seen);
  // User 0: A's top 3 past {0, 1, 5} is 2 3 4; B's is 4 3 2. User 1 only loses item 0.
  auto items = [](const ChannelCandidates& l) {
    std::vector<ItemId> out;
    for (const auto& s : l.items) out.push_back(s.item);
    return out;
  };
  EXPECT_EQ(items(pc.per_user[0][0]), (std::vector<ItemId>{2, 3, 4}));
  EXPECT_EQ(items(pc.per_user[0][1]), (std::vector<ItemId>{4, 3, 2}));
  EXPECT_EQ(items(pc.per_user[1][0]), (std::vector<ItemId>{1, 2, 3}));
  EXPECT_EQ(items(pc.per_user[1][1]), (std::vector<ItemId>{5, 4, 3}));
  EXPECT_EQ(pc.excluded(train.row(0), 0), (std::vector<ItemId>{0, 1, 5}));
  FusionOptions opt;
  opt.pool_size = 6;
  const auto lists = fuse_pool(pc, train, opt, 1);
  for (ItemId i : lists[0]) EXPECT_TRUE(i != 0 && i != 1 && i != 5) << i;
  EXPECT_EQ(lists[0].size(), 3u);
  // The evaluator skips them too: user 1's best unseen item under A is 1, user 0's is 2.
  EvalOptions eo;
  eo.ks = {1};
  eo.threads = 1;
  eo.exclude = &seen;
  const Interactions want = test::make_rows(6, {{2}, {1}});
  EXPECT_DOUBLE_EQ(evaluate(a, train, want, eo).summary.at("recall@1"), 1.0);
  eo.exclude = nullptr;
  EXPECT_DOUBLE_EQ(evaluate(a, train, want, eo).summary.at("recall@1"), 0.5);  // user 0 gets 1
}

// Scores item u + 1 highest for a known user u whose history is the fitted row, item 0 otherwise
// (a fitted factor model answers such a user from the user's trained vector, and folds the
// history in past the fit); with `side`, item u + 1 for any known user (side information, such
// as demographics, follows the id whatever the history).
class UserEcho : public FixedRecaller {
 public:
  explicit UserEcho(bool side = false) : FixedRecaller(std::vector<float>(5, 0.f)), side_(side) {}
  void score(const UserQuery& q, std::span<float> out) const override {
    std::fill(out.begin(), out.end(), 0.f);
    out[q.user == kUnknownUser || (q.past_fit && !side_) ? 0 : q.user + 1] = 1.f;
  }

 private:
  bool side_;
};

TEST(FusedPool, HistoriesPastTheFitKeepTheUserButNotItsTrainedState) {
  UserEcho echo;
  const Interactions rows = test::make_rows(5, {{3}, {3}});
  const Interactions held = test::make_rows(5, {{2}, {2}});
  const Interactions none;
  const auto fitted = collect_candidates({&echo}, {"e"}, rows, none, held, 2, 1);
  const auto extended =
      collect_candidates({&echo}, {"e"}, rows, none, held, 2, 1, /*fitted_rows=*/false);
  UserEcho side(true);
  const auto side_extended =
      collect_candidates({&side}, {"s"}, rows, none, held, 2, 1, /*fitted_rows=*/false);
  for (UserId u : {0u, 1u}) {
    EXPECT_EQ(fitted.per_user[u][0].items[0].item, u + 1) << u;
    EXPECT_EQ(extended.per_user[u][0].items[0].item, 0u) << u;
    EXPECT_EQ(side_extended.per_user[u][0].items[0].item, u + 1) << u;
  }
  // The evaluator follows the same rule.
  EvalOptions eo;
  eo.ks = {1};
  eo.threads = 1;
  const Interactions want_own = test::make_rows(5, {{1}, {2}});
  EXPECT_DOUBLE_EQ(evaluate(echo, rows, want_own, eo).summary.at("recall@1"), 1.0);
  eo.fitted_rows = false;
  EXPECT_DOUBLE_EQ(evaluate(echo, rows, want_own, eo).summary.at("recall@1"), 0.0);
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
  // "pool_recall" means recall@pool_size: with pool 1000 it needs recall@1000 evaluated...
  search.metric = "pool_recall";
  EXPECT_NE(test::error_of([&] { tune_fusion_weights(pc, train, held, FusionOptions{}, search, eval); })
                .find("recall@1000"),
            std::string::npos);
  // ...and with a pool of 1 it is recall@1: equal weights tie items 1 and 2 (lower id wins,
  // a miss), only b alone puts the held-out item 2 in the pool.
  FusionOptions base;
  base.pool_size = 1;
  eval.ks = {1};
  search.grid = {0, 1};
  FusionOptions tuned = tune_fusion_weights(pc, train, held, base, search, eval);
  EXPECT_EQ(tuned.weights, (std::vector<double>{0, 1}));
}

TEST(FusedPool, FusionConfigReadsWeightsByChannelName) {
  const std::vector<std::string> configured = {"popularity", "ials", "sasrec"};
  FusionConfig c = fusion_config_from_yaml(
      YAML::Load("{method: rrf, rrf_k: 10, quota: 50, pool_size: 300, tune: false,"
                 " weights: {ials: 2, popularity: 0.5}}"),
      configured);
  EXPECT_EQ(c.base.method, "rrf");
  EXPECT_EQ(c.base.rrf_k, 10);
  EXPECT_EQ(c.base.pool_size, 300u);
  EXPECT_FALSE(c.tune);
  // Channel order comes from the caller; unnamed channels get 1; a --channels subset that
  // leaves out a weighted channel is fine.
  FusionOptions o = c.options_for({"sasrec", "ials"});
  EXPECT_EQ(o.weights, (std::vector<double>{1, 2}));
  EXPECT_EQ(o.quotas, (std::vector<size_t>{50, 50}));
  // Absent group: defaults (norm, quota 500, pool 1000, tuned).
  FusionConfig d = fusion_config_from_yaml(YAML::Node(), configured);
  EXPECT_EQ(d.base.method, "norm");
  EXPECT_EQ(d.quota, 500u);
  EXPECT_EQ(d.base.pool_size, 1000u);
  EXPECT_TRUE(d.tune);
  EXPECT_EQ(d.search.metric, "pool_recall");
}

TEST(FusedPool, FusionConfigErrorsNameTheKey) {
  const std::vector<std::string> configured = {"popularity", "ials"};
  EXPECT_NE(test::error_of([&] { fusion_config_from_yaml(YAML::Load("{weights: {ease: 1}}"), configured); })
                .find("recall.fusion.weights.ease: no such channel"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { fusion_config_from_yaml(YAML::Load("{weights: {ials: -1}}"), configured); })
                .find("recall.fusion.weights.ials"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { fusion_config_from_yaml(YAML::Load("{method: sum}"), configured); }).find("method"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { fusion_config_from_yaml(YAML::Load("{pool: 10}"), configured); }).find("pool"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { fusion_config_from_yaml(YAML::Load("{pool_size: 0}"), configured); }).find("pool_size"),
            std::string::npos);
}

}  // namespace
}  // namespace cascade
