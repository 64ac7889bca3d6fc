// DIN's attention under explain, end to end: a bundle whose fine-ranker is DIN answers an
// explained request with the history DIN attended over and, per recommended item, the
// weights its fine-rank score used; the route writes them as the dashboard reads them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>

#include "cascade/pipeline/recommender.h"
#include "serve/handlers.h"
#include "support/tiny_bundle.h"

namespace cascade {
namespace {

class AttentionExplain : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    testing::build_tiny_bundle(dir_->path() / "din", 7, 0.0, "din");
    state_ = ServingState::load(dir_->path() / "din");
  }
  static void TearDownTestSuite() {
    state_.reset();
    delete dir_;
  }
  static testing::TempDir* dir_;
  static std::shared_ptr<const ServingState> state_;
};
testing::TempDir* AttentionExplain::dir_ = nullptr;
std::shared_ptr<const ServingState> AttentionExplain::state_;

TEST_F(AttentionExplain, TheFineRankersWeightsCoverItsHistoryAndSumToOne) {
  const Dataset& ds = state_->bundle->data();
  const std::string user = ds.user_ids[3];
  RecommendRequest req;
  req.user = user;
  req.k = 10;
  req.explain = true;
  const RecommendResponse r = state_->rec->recommend(req);
  ASSERT_EQ(r.attention_stage, "fine_rank");
  EXPECT_EQ(r.attention_ranker, "din");
  EXPECT_TRUE(r.attention_normalised);
  // The history DIN saw: the newest max_history (30) items of the user's training row.
  const auto row = ds.train.row(3);
  ASSERT_GT(row.size(), 0u);
  const size_t len = std::min<size_t>(row.size(), 30);
  ASSERT_EQ(r.attention_history.size(), len);
  EXPECT_TRUE(std::equal(r.attention_history.begin(), r.attention_history.end(),
                         row.end() - static_cast<std::ptrdiff_t>(len)));
  ASSERT_EQ(r.items.size(), 10u);
  for (const RecommendedItem& it : r.items) {
    ASSERT_EQ(it.attention.size(), len);
    const double sum = std::accumulate(it.attention.begin(), it.attention.end(), 0.0);
    EXPECT_NEAR(sum, 1.0, 1e-5);
    for (float w : it.attention) EXPECT_GE(w, 0.0f);
  }
  // Different candidates attend differently (the weights depend on the target).
  EXPECT_NE(r.items[0].attention, r.items[1].attention);
  // The scores are those of the unexplained request: explaining changes nothing.
  req.explain = false;
  const RecommendResponse plain = state_->rec->recommend(req);
  ASSERT_EQ(plain.items.size(), r.items.size());
  for (size_t i = 0; i < r.items.size(); ++i) {
    EXPECT_EQ(plain.items[i].item, r.items[i].item);
    EXPECT_EQ(plain.items[i].fine_rank, r.items[i].fine_rank);
    EXPECT_TRUE(plain.items[i].attention.empty());
  }
  EXPECT_TRUE(plain.attention_stage.empty());
}

TEST_F(AttentionExplain, TheRouteWritesOneWeightPerHistoryItem) {
  FeatureStore store{FeatureStoreOptions{}};
  RequestLimits limits;
  RouteContext c;
  c.state = state_;
  c.store = &store;
  c.limits = &limits;
  const std::string user = state_->bundle->data().user_ids[3];
  const auto j =
      nlohmann::json::parse(handle_recommend(c, user, {{"k", "5"}, {"explain", "true"}}).body);
  ASSERT_TRUE(j.contains("attention")) << j.dump();
  EXPECT_EQ(j["attention"]["ranker"], "din");
  EXPECT_EQ(j["attention"]["stage"], "fine_rank");
  const size_t n = j["attention"]["history"].size();
  ASSERT_GT(n, 0u);
  for (const auto& it : j["items"]) EXPECT_EQ(it["attention"].size(), n);
  const auto plain = nlohmann::json::parse(handle_recommend(c, user, {{"k", "5"}}).body);
  EXPECT_FALSE(plain.contains("attention"));
  EXPECT_FALSE(plain["items"][0].contains("attention"));
}

}  // namespace
}  // namespace cascade
