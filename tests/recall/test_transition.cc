// Transition channel: hand-counted successor weights (lags, normalisations, self-transitions,
// the neighbour cut), query scoring over the newest window, thread invariance, persistence.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <vector>

#include "cascade/core/error.h"
#include "recall/transition.h"
#include "support/test_util.h"
#include "support/tiny_data.h"

namespace cascade {
namespace {

using test::TempDir;

// u0 = 0 1 2, u1 = 0 1 3, u2 = 1 2, u3 = 4 4 5. With max_lag 1 the counts are
// 0->1: 2, 1->2: 2, 1->3: 1, 4->5: 1 (4->4 is a self-transition, not counted).
Interactions hand_matrix() {
  return test::make_rows(6, {{0, 1, 2}, {0, 1, 3}, {1, 2}, {4, 4, 5}});
}

TransitionRecaller fitted(const std::string& params, const Interactions& m, int threads = 1) {
  TransitionRecaller t{Params::parse(params)};
  Catalog cat;
  t.fit(test::fit_input_of(m, cat, threads));
  return t;
}

std::vector<float> scores_of(const Recaller& r, std::vector<ItemId> history) {
  std::vector<float> s(r.n_items());
  r.score(UserQuery{kUnknownUser, history, {}}, s);
  return s;
}

TEST(Transition, RawCountsAtLagOne) {
  const TransitionRecaller t = fitted("max_lag=1,alpha=0,beta=0", hand_matrix());
  EXPECT_EQ(scores_of(t, {0}), (std::vector<float>{0, 2, 0, 0, 0, 0}));
  EXPECT_EQ(scores_of(t, {1}), (std::vector<float>{0, 0, 2, 1, 0, 0}));
  EXPECT_EQ(scores_of(t, {4}), (std::vector<float>{0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(scores_of(t, {2}), (std::vector<float>(6, 0.f)));  // nothing follows 2
  // Successors heaviest first.
  EXPECT_EQ(std::vector<uint32_t>(t.successors(1).begin(), t.successors(1).end()),
            (std::vector<uint32_t>{2, 3}));
}

TEST(Transition, WindowAndRecencyDecay) {
  // History 0 then 1 (1 newest): 1 with weight 1, 0 with weight 0.5.
  const TransitionRecaller t =
      fitted("max_lag=1,alpha=0,beta=0,window=2,recency_decay=0.5", hand_matrix());
  EXPECT_EQ(scores_of(t, {0, 1}), (std::vector<float>{0, 1, 2, 1, 0, 0}));
  // window 1: only the newest item counts.
  const TransitionRecaller w1 = fitted("max_lag=1,alpha=0,beta=0,window=1", hand_matrix());
  EXPECT_EQ(scores_of(w1, {0, 1}), (std::vector<float>{0, 0, 2, 1, 0, 0}));
  // Item ids the model does not know are skipped without using the window.
  EXPECT_EQ(scores_of(w1, {1, 99}), (std::vector<float>{0, 0, 2, 1, 0, 0}));
}

// keep_seen: seen events (value 0 in FitInput::context) lead to positives but are never led to,
// and a query's window reads UserQuery::context when it is given.
TEST(Transition, SeenEventsAreAntecedentsNeverTargets) {
  const Interactions train = hand_matrix();
  // u0 = 0 [5] 1 2: the seen 5 sits between 0 and 1; u3 = 4 4 [0] 5 (0 seen before 5).
  Interactions ctx = test::make_rows(6, {{0, 5, 1, 2}, {0, 1, 3}, {1, 2}, {4, 4, 0, 5}},
                                     {{1, 0, 1, 1}, {1, 1, 1}, {1, 1}, {1, 1, 0, 1}});
  TransitionRecaller t{Params::parse("max_lag=1,alpha=0,beta=0,prior=1")};
  Catalog cat;
  FitInput in = test::fit_input_of(train, cat, 1);
  in.context = &ctx;
  t.fit(in);
  // 0->1 now only once (u1; u0's 0 is followed by the seen 5), 5->1 once, 0->5 never (5 is a
  // seen event there), 0->5 once from u3's seen 0; 1->2 twice, 1->3 once, 4->0 never.
  // Popularity (prior 1) counts positives only: 1 and 2 appear 3 and 2 times (max 3).
  auto with_prior = [](std::vector<float> v, const std::vector<float>& pop) {
    for (size_t i = 0; i < v.size(); ++i) v[i] += pop[i];
    return v;
  };
  const std::vector<float> pop = {2.f / 3, 1, 2.f / 3, 1.f / 3, 2.f / 3, 1.f / 3};
  EXPECT_EQ(scores_of(t, {0}), with_prior({0, 1, 0, 0, 0, 1}, pop));
  EXPECT_EQ(scores_of(t, {5}), with_prior({0, 1, 0, 0, 0, 0}, pop));
  EXPECT_EQ(scores_of(t, {4}), with_prior({0, 0, 0, 0, 0, 0}, pop));
  // The query's window: history {1}, context {1, 5} (5 seen after 1, the newest event).
  const std::vector<ItemId> history = {1}, context = {1, 5};
  UserQuery q{kUnknownUser, history, {}};
  q.context = context;
  std::vector<float> s(6);
  TransitionRecaller w1{Params::parse("max_lag=1,alpha=0,beta=0,window=1")};
  w1.fit(in);
  w1.score(q, s);
  EXPECT_EQ(s, (std::vector<float>{0, 1, 0, 0, 0, 0}));  // from 5, not from 1
  // A context of another shape is an error naming both.
  const Interactions bad = test::make_rows(6, {{0}});
  in.context = &bad;
  EXPECT_THROW(w1.fit(in), Error);
  // Without a context the model is the plain one (the same successors as RawCountsAtLagOne).
  in.context = nullptr;
  w1.fit(in);
  EXPECT_EQ(scores_of(w1, {0}), (std::vector<float>{0, 2, 0, 0, 0, 0}));
}

TEST(Transition, LagsAreDecayed) {
  // max_lag 2, lag_decay 0.5 adds 0->2 (u0) and 0->3 (u1) at 0.5 each, and 4->5 at lag 2
  // (u3: 4 . 5) on top of lag 1.
  const TransitionRecaller t = fitted("max_lag=2,lag_decay=0.5,alpha=0,beta=0", hand_matrix());
  EXPECT_EQ(scores_of(t, {0}), (std::vector<float>{0, 2, 0.5f, 0.5f, 0, 0}));
  EXPECT_EQ(scores_of(t, {4}), (std::vector<float>{0, 0, 0, 0, 0, 1.5f}));
}

TEST(Transition, RowAndTargetNormalisation) {
  // alpha 1: a row is P(next | a): 1 -> {2: 2/3, 3: 1/3}.
  const TransitionRecaller a = fitted("max_lag=1,alpha=1,beta=0", hand_matrix());
  const std::vector<float> s = scores_of(a, {1});
  EXPECT_FLOAT_EQ(s[2], 2.f / 3);
  EXPECT_FLOAT_EQ(s[3], 1.f / 3);
  // beta 1 divides by the weight entering the target: in(2) = 2, in(3) = 1, so
  // 1 -> 2 = 2/2, 1 -> 3 = 1/1.
  const TransitionRecaller b = fitted("max_lag=1,alpha=0,beta=1", hand_matrix());
  const std::vector<float> sb = scores_of(b, {1});
  EXPECT_FLOAT_EQ(sb[2], 1.f);
  EXPECT_FLOAT_EQ(sb[3], 1.f);
}

TEST(Transition, PriorAddsScaledPopularity) {
  // Training counts: item 0: 2, 1: 3, 2: 2, 3: 1, 4: 2, 5: 1 (largest 3).
  const TransitionRecaller t = fitted("max_lag=1,alpha=0,beta=0,prior=0.3", hand_matrix());
  const std::vector<float> s = scores_of(t, {0});
  const std::vector<float> expected = {0.2f, 2 + 0.3f, 0.2f, 0.1f, 0.2f, 0.1f};
  for (size_t b = 0; b < 6; ++b) EXPECT_FLOAT_EQ(s[b], expected[b]) << b;
}

TEST(Transition, KeepsTheHeaviestNeighbours) {
  const TransitionRecaller t = fitted("max_lag=1,alpha=0,beta=0,max_neighbours=1", hand_matrix());
  EXPECT_EQ(scores_of(t, {1}), (std::vector<float>{0, 0, 2, 0, 0, 0}));
}

Interactions random_matrix(uint32_t users, uint32_t items, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::vector<uint32_t>> rows(users);
  for (auto& r : rows) {
    const size_t len = 1 + rng() % 40;
    for (size_t k = 0; k < len; ++k) r.push_back(static_cast<uint32_t>(rng() % items));
  }
  return test::make_rows(items, rows);
}

TEST(Transition, ThreadCountDoesNotChangeTheModel) {
  const Interactions m = random_matrix(300, 120, 7);
  const TransitionRecaller one = fitted("max_lag=3,max_neighbours=20", m, 1);
  const TransitionRecaller two = fitted("max_lag=3,max_neighbours=20", m, 2);
  for (ItemId a = 0; a < 120; ++a) {
    ASSERT_TRUE(std::ranges::equal(one.successors(a), two.successors(a))) << a;
    ASSERT_TRUE(std::ranges::equal(one.successor_weights(a), two.successor_weights(a))) << a;
    EXPECT_LE(one.successors(a).size(), 20u);
  }
}

TEST(Transition, SaveLoadGivesIdenticalScores) {
  const Interactions m = random_matrix(200, 80, 3);
  const TransitionRecaller t = fitted("window=4,max_lag=2,beta=0.5,prior=0.01", m);
  TempDir tmp("transition");
  t.save(tmp.path());
  auto loaded = load_recaller(tmp.path());
  ASSERT_EQ(loaded->kind(), "transition");
  EXPECT_EQ(loaded->params().resolved(), t.params().resolved());
  for (uint32_t u = 0; u < 200; u += 17) {
    const std::vector<ItemId> h(m.row(u).begin(), m.row(u).end());
    EXPECT_EQ(scores_of(*loaded, h), scores_of(t, h)) << "user " << u;
  }
  // A changed array file is refused (its hash no longer matches the manifest).
  {
    std::ofstream f(tmp.path() / "next.u32", std::ios::binary | std::ios::app);
    f.write("\0\0\0\0", 4);
  }
  TransitionRecaller fresh{Params()};
  EXPECT_THROW(fresh.load(tmp.path()), Error);
}

TEST(Transition, BadParametersAndBuffersAreErrors) {
  EXPECT_THROW(TransitionRecaller{Params::parse("window=0")}, Error);
  EXPECT_THROW(TransitionRecaller{Params::parse("lag_decay=0")}, Error);
  EXPECT_THROW(TransitionRecaller{Params::parse("nope=1")}, Error);
  const TransitionRecaller t = fitted("", hand_matrix());
  std::vector<float> small(3);
  std::vector<ItemId> h{0};
  EXPECT_THROW(t.score(UserQuery{kUnknownUser, h, {}}, small), Error);
}

}  // namespace
}  // namespace cascade
