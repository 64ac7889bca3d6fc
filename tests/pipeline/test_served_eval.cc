// The served funnel evaluated offline: the popularity-debiased recall (IPS / SNIPS over the
// held-out item's propensity (n_i / max n)^γ, floored) against its definition, on a tiny bundle.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "cascade/core/error.h"
#include "cascade/pipeline/served_eval.h"
#include "support/tiny_bundle.h"

namespace cascade {
namespace {

using testing::TempDir;

class ServedEvalTest : public ::testing::Test {
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
  static TempDir* dir_;
  static Recommender* rec_;
};
TempDir* ServedEvalTest::dir_ = nullptr;
Recommender* ServedEvalTest::rec_ = nullptr;

TEST_F(ServedEvalTest, GammaZeroMakesBothDebiasedRecallsThePlainRecall) {
  ServedEvalOptions o;
  o.propensity_gamma = 0;
  const auto j = evaluate_served(*rec_, rec_->bundle().data().test, o).to_json(10);
  const double recall = j["recall@10"];
  EXPECT_NEAR(j["ips"]["recall@10"]["value"].get<double>(), recall, 1e-12);
  EXPECT_NEAR(j["snips"]["recall@10"]["value"].get<double>(), recall, 1e-12);
  EXPECT_LE(j["ips"]["recall@10"]["ci_low"].get<double>(), recall);
  EXPECT_GE(j["ips"]["recall@10"]["ci_high"].get<double>(), recall);
}

TEST_F(ServedEvalTest, DebiasedRecallWeighsEachHitByTheInversePopularityPropensity) {
  ServedEvalOptions o;
  o.propensity_gamma = 0.5;
  o.propensity_floor = 0.05;
  const Dataset& ds = rec_->bundle().data();
  const ServedEval e = evaluate_served(*rec_, ds.test, o);
  ASSERT_EQ(e.target_propensity.size(), e.recall.size());
  const auto pop = rec_->item_propensities();
  ASSERT_EQ(pop.size(), ds.n_items);
  double swr = 0, sw = 0;
  size_t n = 0, hits = 0;
  for (uint32_t u = 0; u < ds.test.n_rows && u < ds.train.n_rows; ++u) {
    if (ds.test.row_size(u) == 0) continue;
    const double p = std::max(std::sqrt(pop[ds.test.row(u)[0]]), 0.05);
    EXPECT_DOUBLE_EQ(e.target_propensity[n], p) << u;
    swr += e.recall[n] / p;
    sw += 1 / p;
    hits += e.recall[n] > 0;
    ++n;
  }
  ASSERT_EQ(n, e.users);
  ASSERT_GT(hits, 0u);  // the weighting has something to weigh
  const auto j = e.to_json(10);
  EXPECT_NEAR(j["ips"]["recall@10"]["value"].get<double>(), swr / static_cast<double>(n), 1e-12);
  EXPECT_NEAR(j["snips"]["recall@10"]["value"].get<double>(), swr / sw, 1e-12);
  // Hits are not all on items of one propensity, so the weighting changes the figure.
  EXPECT_NE(j["snips"]["recall@10"]["value"].get<double>(), j["recall@10"].get<double>());
}

// prior_events: each test request carries the user's validation item as a live event, so its
// figures are those of Recommender::recommend with that event (and the item is never listed).
TEST_F(ServedEvalTest, PriorEventsAreSentAsLiveEvents) {
  const Dataset& ds = rec_->bundle().data();
  ServedEvalOptions o;
  o.prior_events = &ds.valid;
  const ServedEval with = evaluate_served(*rec_, ds.test, o);
  const ServedEval without = evaluate_served(*rec_, ds.test, {});
  ASSERT_EQ(with.users, without.users);
  size_t n = 0, differ = 0;
  for (uint32_t u = 0; u < ds.test.n_rows && u < ds.train.n_rows; ++u) {
    if (ds.test.row_size(u) == 0) continue;
    RecommendRequest r;
    r.user = ds.user_ids[u];
    r.k = 10;
    std::vector<LiveEvent> live;
    if (u < ds.valid.n_rows && ds.valid.row_size(u) > 0)
      live.push_back({ds.item_ids[ds.valid.row(u)[0]], ds.valid.row_times(u)[0]});
    r.events = live;
    const RecommendResponse resp = rec_->recommend(r);
    std::vector<ItemId> list;
    for (const auto& it : resp.items) list.push_back(it.item);
    if (!live.empty()) {
      EXPECT_EQ(resp.live_events, 1u);
      EXPECT_EQ(std::count(list.begin(), list.end(), ds.valid.row(u)[0]), 0) << "user " << u;
    }
    const ItemId target = ds.test.row(u)[0];
    const double hit = std::find(list.begin(), list.end(), target) != list.end() ? 1.0 : 0.0;
    EXPECT_EQ(with.recall[n], hit) << "user " << u;
    differ += with.recall[n] != without.recall[n] || with.pool_recall[n] != without.pool_recall[n];
    ++n;
  }
  EXPECT_EQ(n, with.users);
  EXPECT_GT(differ, 0u) << "the live event changed no user's figures: the test sees nothing";
}

// The request the Recommender resolves is the training row plus the known live events, and its
// pool is what the served list is drawn from: the baseline evaluate_served measures against.
TEST_F(ServedEvalTest, ResolvedRequestAndPoolAreWhatTheServedListComesFrom) {
  const Dataset& ds = rec_->bundle().data();
  uint32_t u = 0;
  while (ds.train.row_size(u) == 0) ++u;
  RecommendRequest req;
  req.user = ds.user_ids[u];
  req.k = 5;
  const ResolvedRequest plain = rec_->resolve(req);
  EXPECT_TRUE(plain.known_user);
  EXPECT_EQ(plain.live_events, 0u);
  EXPECT_EQ(plain.history, std::vector<ItemId>(ds.train.row(u).begin(), ds.train.row(u).end()));
  EXPECT_EQ(plain.query().user, u);  // the trained id: the history is what the channels saw
  EXPECT_FALSE(plain.query().past_fit);

  ItemId unseen = 0;
  while (std::count(plain.history.begin(), plain.history.end(), unseen)) ++unseen;
  const std::vector<LiveEvent> events = {{ds.item_ids[unseen], 1}, {"no-such-item", 2}};
  req.events = events;
  const ResolvedRequest live = rec_->resolve(req);
  EXPECT_EQ(live.live_events, 1u);  // the unknown item is dropped
  EXPECT_EQ(live.history.size(), plain.history.size() + 1);
  EXPECT_EQ(live.history.back(), unseen);
  EXPECT_EQ(live.values.back(), 1.0f);
  // The history differs from the fitted row: the user keeps the id (demographics), trained
  // per-user state must not answer.
  EXPECT_EQ(live.query().user, u);
  EXPECT_TRUE(live.query().past_fit);

  for (const ResolvedRequest* r : {&plain, &live}) {
    const auto pool = rec_->pool(*r);
    ASSERT_FALSE(pool.empty());
    EXPECT_LE(pool.size(), rec_->bundle().pool_depth());
    std::vector<ItemId> ids;
    for (const auto& c : pool) ids.push_back(c.item);
    RecommendRequest again = req;
    if (r == &plain) again.events = {};
    again.pool_top = 7;
    const RecommendResponse resp = rec_->recommend(again);
    for (const auto& it : resp.items)
      EXPECT_TRUE(std::count(ids.begin(), ids.end(), it.item))
          << "item " << it.item << " not in the pool";
    // The response's pool_top is that pool's head, from the same recall pass.
    EXPECT_EQ(resp.pool_top,
              std::vector<ItemId>(ids.begin(), ids.begin() + std::min<size_t>(7, ids.size())));
    again.pool_top = 0;
    EXPECT_TRUE(rec_->recommend(again).pool_top.empty());
    for (ItemId h : r->history)
      EXPECT_FALSE(std::count(ids.begin(), ids.end(), h)) << "history item " << h << " in the pool";
  }
}

// The cut-off curve: only cuts with pool >= pre >= fine >= k, the bundle's own cut scoring what
// the bundle's offline evaluation scores, a frontier that holds the cheapest cut, and depths past
// the fused pool refused.
TEST_F(ServedEvalTest, CutsSweepCoversValidCutsAndMarksTheFrontier) {
  const Dataset& ds = rec_->bundle().data();
  const std::vector<size_t> pools = {30, 60}, pres = {10, 40}, fines = {5, 10, 20};
  const auto curve = cuts_sweep(*rec_, ds.valid, pools, pres, fines, {}, 1);
  // Every cut obeys the order, with k = 10.
  size_t frontier = 0;
  double cheapest = 1e300;
  bool cheapest_on_frontier = false;
  for (const auto& j : curve) {
    EXPECT_GE(j["pool_depth"].get<size_t>(), j["pre_keep"].get<size_t>());
    EXPECT_GE(j["pre_keep"].get<size_t>(), j["fine_keep"].get<size_t>());
    EXPECT_GE(j["fine_keep"].get<size_t>(), 10u);
    frontier += j["frontier"].get<bool>();
    if (j["ms_mean"].get<double>() < cheapest)
      cheapest = j["ms_mean"], cheapest_on_frontier = j["frontier"].get<bool>();
  }
  // (30,10,10), (60,10,10), (60,40,10), (60,40,20): pre 40 exceeds pool 30, fine 5 is below k,
  // fine 20 exceeds pre 10.
  EXPECT_EQ(curve.size(), 4u);
  EXPECT_GE(frontier, 1u);
  EXPECT_TRUE(cheapest_on_frontier);
  // The bundle's cuts (pool 60, pre 40, fine 20): the same Recall@10 as the default request.
  for (const auto& j : curve) {
    if (j["pool_depth"] == 60 && j["pre_keep"] == 40 && j["fine_keep"] == 20) {
      EXPECT_DOUBLE_EQ(j["recall@10"].get<double>(),
                       evaluate_served(*rec_, ds.valid, {}).to_json(10)["recall@10"].get<double>());
    }
  }
  const std::vector<size_t> too_deep = {151};
  EXPECT_THROW(cuts_sweep(*rec_, ds.valid, too_deep, pres, fines, {}, 1), Error);
  const std::vector<size_t> shallow = {5};
  EXPECT_THROW(cuts_sweep(*rec_, ds.valid, shallow, pres, fines, {}, 1), Error);  // no valid cut
}

// Requests served in parallel give the same per-user figures, in user order, and the same
// aggregates as one at a time; the latency block says how many were in flight.
TEST_F(ServedEvalTest, ParallelRequestsGiveTheSameFigures) {
  const Dataset& ds = rec_->bundle().data();
  ServedEvalOptions one, three;
  one.prior_events = three.prior_events = &ds.valid;
  three.threads = 3;
  const ServedEval a = evaluate_served(*rec_, ds.test, one);
  const ServedEval b = evaluate_served(*rec_, ds.test, three);
  ASSERT_GT(a.users, 10u);
  EXPECT_EQ(a.users, b.users);
  EXPECT_EQ(a.recall, b.recall);
  EXPECT_EQ(a.ndcg, b.ndcg);
  EXPECT_EQ(a.pool_recall, b.pool_recall);
  EXPECT_EQ(a.target_propensity, b.target_propensity);
  EXPECT_EQ(a.coverage, b.coverage);
  EXPECT_EQ(a.ils, b.ils);
  EXPECT_EQ(a.total_ms.size(), b.total_ms.size());
  EXPECT_EQ(a.to_json(10)["latency_ms"]["concurrent_requests"], 1);
  EXPECT_EQ(b.to_json(10)["latency_ms"]["concurrent_requests"], 3);
}

TEST_F(ServedEvalTest, BadPropensityOptionsThrow) {
  ServedEvalOptions o;
  o.propensity_gamma = -1;
  EXPECT_THROW(evaluate_served(*rec_, rec_->bundle().data().test, o), Error);
  o = {};
  o.propensity_floor = 0;
  EXPECT_THROW(evaluate_served(*rec_, rec_->bundle().data().test, o), Error);
}

}  // namespace
}  // namespace cascade
