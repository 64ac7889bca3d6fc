// Hand-computed cases for the ranking stage's small pieces: in-group AUC, the funnel's two
// cuts, orderings, the `rank` config group and RankBatch bookkeeping.
#include <gtest/gtest.h>

#include <cmath>

#include "cascade/core/error.h"
#include "cascade/pipeline/funnel_eval.h"
#include "cascade/pipeline/rank_job.h"
#include "cascade/rank/ranker.h"

namespace cascade {
namespace {

// Two groups: {rows 0-2}, {rows 3-4}; one dense column, no fields.
RankBatch two_groups() {
  RankBatch b;
  b.schema.dense = {"x"};
  b.schema.n_items = 10;
  b.schema.max_history = 3;
  b.items = {1, 2, 3, 4, 5};
  b.dense = {0, 1, 2, 3, 4};
  b.group_begin = {0, 3, 5};
  b.history = {7, 2, 8, 9};
  b.hist_begin = {0, 3, 4};
  b.group_user = {0, 1};
  return b;
}

TEST(RankBatchTest, GroupsHistoriesSlicesAndValidation) {
  RankBatch b = two_groups();
  ASSERT_NO_THROW(b.validate());
  EXPECT_EQ(b.groups(), 2u);
  EXPECT_EQ(b.group_of(0), 0u);
  EXPECT_EQ(b.group_of(2), 0u);
  EXPECT_EQ(b.group_of(3), 1u);
  std::vector<ItemId> h;
  b.row_history(1, h);  // row 1 is item 2, which is in group 0's history {7, 2, 8}
  EXPECT_EQ(h, (std::vector<ItemId>{7, 8}));
  b.row_history(0, h);
  EXPECT_EQ(h, (std::vector<ItemId>{7, 2, 8}));
  const RankBatch s = b.slice_groups(1, 2);
  EXPECT_EQ(s.items, (std::vector<ItemId>{4, 5}));
  EXPECT_EQ(s.history, (std::vector<ItemId>{9}));
  EXPECT_EQ(s.group_begin, (std::vector<uint32_t>{0, 2}));
  RankBatch joined = b.slice_groups(0, 1);
  joined.append(s);
  EXPECT_EQ(joined.items, b.items);
  EXPECT_EQ(joined.group_begin, b.group_begin);
  EXPECT_EQ(joined.hist_begin, b.hist_begin);
  const std::vector<uint32_t> rows = {2, 0};
  const RankBatch t = b.take_rows(rows);
  EXPECT_EQ(t.items, (std::vector<ItemId>{3, 1}));
  EXPECT_EQ(t.dense, (std::vector<float>{2, 0}));
  EXPECT_EQ(t.history, (std::vector<ItemId>{7, 2, 8}));
  const std::vector<uint32_t> mixed = {2, 3};
  EXPECT_THROW(b.take_rows(mixed), Error);

  RankBatch bad = b;
  bad.items[4] = 10;
  EXPECT_THROW(bad.validate(), Error);
  bad = b;
  bad.history = {7, 2, 8, 9, 1};
  bad.hist_begin = {0, 1, 5};  // group 1 carries 4 > max_history 3
  EXPECT_THROW(bad.validate(), Error);
  bad = b;
  bad.dense[0] = std::numeric_limits<float>::infinity();
  EXPECT_THROW(bad.validate(), Error);
  bad = b;
  bad.schema.fields = {{"f", 2}};
  bad.cats = {0, 1, 2, 0, 0};
  EXPECT_THROW(bad.validate(), Error);
}

TEST(RankMetrics, GroupedAucAndPoolAucHandComputed) {
  const RankBatch b = two_groups();
  // Group 0: positive row 1 (score 0.5) vs negatives 0.9 and 0.1 -> 1/2.
  // Group 1: positive row 3 (0.2) vs negative 0.2 (tie) -> 1/2 ... and a group with no negative is skipped.
  const std::vector<float> labels = {0, 1, 0, 1, 0};
  const std::vector<float> scores = {0.9f, 0.5f, 0.1f, 0.2f, 0.2f};
  EXPECT_DOUBLE_EQ(grouped_auc(b, labels, scores), 0.5);
  const std::vector<float> better = {0.1f, 0.5f, 0.2f, 0.3f, 0.2f};
  EXPECT_DOUBLE_EQ(grouped_auc(b, labels, better), 1.0);
  const std::vector<float> all_pos = {1, 1, 1, 1, 1};
  EXPECT_TRUE(std::isnan(grouped_auc(b, all_pos, scores)));
  // pool_auc: target row 2 of {3, 1, 2, 2}: below 1 (item 1), tie 1 (item 3) -> 1.5 / 3.
  const std::vector<float> pool = {3, 1, 2, 2};
  EXPECT_DOUBLE_EQ(pool_auc(pool, 2), 0.5);
  EXPECT_TRUE(std::isnan(pool_auc(pool, -1)));
}

TEST(RankFunnel, TwoCutsAndTies) {
  // Pre scores keep rows {4, 0, 2} (top 3), fine reorders them by its own scores.
  const std::vector<float> pre = {5, 1, 4, 0, 9};
  const std::vector<float> fine = {0.1f, 9, 0.7f, 9, 0.3f};
  EXPECT_EQ(funnel_order(pre, 3, fine, 2), (std::vector<uint32_t>{2, 4}));
  EXPECT_EQ(funnel_order(pre, 3, fine, 10), (std::vector<uint32_t>{2, 4, 0}));
  // Ties keep the lower row (= the better fused rank).
  const std::vector<float> flat = {1, 1, 1};
  EXPECT_EQ(funnel_order(flat, 2, flat, 2), (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(order_by(flat), (std::vector<uint32_t>{0, 1, 2}));
  const std::vector<uint32_t> ord = {3, 1, 2};
  EXPECT_EQ(position_in(ord, 2), 2);
  EXPECT_EQ(position_in(ord, 0), -1);
  EXPECT_EQ(position_in(ord, -1), -1);
}

TEST(RankConfigTest, ParsesRankersExamplesAndFunnel) {
  const YAML::Node n = YAML::Load(R"(
pool_depth: 300
examples: {hard_negatives: 10, hard_depth: 300, random_negatives: 5, max_users: 1000}
rankers:
  lr: {}
  tree: {kind: gbdt, rounds: 20, examples: {hard_negatives: 0, random_negatives: 15}}
funnel: {pre_rank: lr, pre_keep: 50, fine_rank: tree, fine_keep: 10}
request_time: event
)");
  const RankConfig c = rank_config_from_yaml(n, 7);
  EXPECT_EQ(c.pool_depth, 300u);
  ASSERT_EQ(c.rankers.size(), 2u);
  EXPECT_EQ(c.ranker("lr").examples.hard_negatives, 10u);
  EXPECT_EQ(c.ranker("lr").examples.seed, 7u);
  EXPECT_EQ(c.examples.max_users, 1000u);
  EXPECT_EQ(c.ranker("lr").examples.max_users, 1000u);
  EXPECT_FALSE(c.ranker("lr").own_examples);
  EXPECT_EQ(c.ranker("tree").kind, "gbdt");
  EXPECT_EQ(c.ranker("tree").spec(), "gbdt:rounds=20");
  EXPECT_TRUE(c.ranker("tree").own_examples);
  EXPECT_EQ(c.ranker("tree").examples.hard_negatives, 0u);
  EXPECT_EQ(c.ranker("tree").examples.random_negatives, 15u);
  EXPECT_EQ(c.ranker("tree").examples.hard_depth, 300u);  // inherited
  EXPECT_EQ(c.pre_keep, 50u);
  EXPECT_EQ(c.fine_rank, "tree");
  // The request-time policy reaches every ranker's examples; serving's rule is the default.
  EXPECT_EQ(c.ranker("lr").examples.request_time, TimePolicy::kEvent);
  EXPECT_EQ(c.ranker("tree").examples.request_time, TimePolicy::kEvent);
  EXPECT_EQ(rank_config_from_yaml(YAML::Load("{rankers: {lr: {}}, funnel: {pre_rank: lr, fine_rank: lr}}"), 1)
                .examples.request_time,
            TimePolicy::kServing);

  auto fails = [](const std::string& text, const std::string& needle) {
    try {
      rank_config_from_yaml(YAML::Load(text), 1);
      ADD_FAILURE() << "accepted: " << text;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  fails("{rankers: {lr: {}}, funnel: {pre_rank: lr, fine_rank: din}}", "'din'");
  fails("{rankers: {lr: {}}, colour: red, funnel: {pre_rank: lr, fine_rank: lr}}", "rank.colour");
  fails("{rankers: {lr: {}}, examples: {hard_negatives: 0, random_negatives: 0}, funnel: {pre_rank: lr, fine_rank: lr}}",
        "at least one negative");
  fails("{rankers: {lr: {}}, funnel: {pre_rank: lr, fine_rank: lr, pre_keep: 5, fine_keep: 10}}", "pre_keep");
  fails("{rankers: {lr: {}}, pool_depth: 0, funnel: {pre_rank: lr, fine_rank: lr}}", "rank.pool_depth");
  fails("{rankers: {lr: {x: [1]}}, funnel: {pre_rank: lr, fine_rank: lr}}", "rank.rankers.lr.x");
  fails("{rankers: {lr: {}}, request_time: now, funnel: {pre_rank: lr, fine_rank: lr}}", "rank.request_time");
}

}  // namespace
}  // namespace cascade
