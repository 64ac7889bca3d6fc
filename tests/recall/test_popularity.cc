// Popularity channel: hand-counted scores, time-decay weights, tie order, persistence.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>
#include <vector>

#include "cascade/core/error.h"
#include "cascade/io/artifact.h"
#include "cascade/util/topk.h"
#include "recall/popularity.h"
#include "support/tiny_data.h"
#include "support/test_util.h"

namespace cascade {
namespace {

using test::TempDir;

// Rows: u0 = {0, 1, 2}, u1 = {1, 2}, u2 = {2, 4}; 5 items, item 3 never seen.
// Counts: item0 1, item1 2, item2 3, item3 0, item4 1.
Interactions hand_matrix() {
  Interactions m;
  m.n_cols = 5;
  auto add = [&](std::vector<uint32_t> items) {
    std::vector<float> v(items.size(), 1.0f);
    std::vector<int64_t> t(items.size());
    for (size_t i = 0; i < t.size(); ++i) t[i] = static_cast<int64_t>(i);
    m.append_row(items, v, t);
  };
  add({0, 1, 2});
  add({1, 2});
  add({2, 4});
  return m;
}

std::vector<float> all_scores(const Recaller& r, const UserQuery& q) {
  std::vector<float> s(r.n_items());
  r.score(q, s);
  return s;
}

TEST(Popularity, RawCountsAreTheSameForEveryUser) {
  Interactions m = hand_matrix();
  Catalog cat;
  PopularityRecaller pop{Params()};
  pop.fit(test::fit_input_of(m, cat));
  ASSERT_EQ(pop.n_items(), 5u);
  const std::vector<float> expected = {1, 2, 3, 0, 1};
  for (UserId u = 0; u < 3; ++u) {
    EXPECT_EQ(all_scores(pop, UserQuery{u, m.row(u), {}}), expected) << "user " << u;
  }
  // An unknown user with no history gets the same scores.
  EXPECT_EQ(all_scores(pop, UserQuery{}), expected);
}

TEST(Popularity, TopNMasksHistoryAndBreaksTiesByLowerId) {
  Interactions m = hand_matrix();
  Catalog cat;
  PopularityRecaller pop{Params()};
  pop.fit(test::fit_input_of(m, cat));

  // Cold query: 2 (3), 1 (2), then the tie 0 vs 4 (1 each) -> 0 first, then 3 (0).
  auto top = pop.top_n(UserQuery{}, 10);
  ASSERT_EQ(top.size(), 5u);
  const std::vector<ItemId> order = {2, 1, 0, 4, 3};
  for (size_t i = 0; i < order.size(); ++i) EXPECT_EQ(top[i].item, order[i]) << "rank " << i;

  // User 2 has seen {2, 4}: left are 1, 0, 3; excluding 0 leaves 1, 3.
  auto top2 = pop.top_n(UserQuery{2, m.row(2), {}}, 10, std::vector<ItemId>{0});
  ASSERT_EQ(top2.size(), 2u);
  EXPECT_EQ(top2[0].item, 1u);
  EXPECT_EQ(top2[0].score, 2.0f);
  EXPECT_EQ(top2[1].item, 3u);
}

// top_n() walks the precomputed static ranking; it must equal a masked scan of score().
TEST(Popularity, StaticRankingTopNEqualsAMaskedScan) {
  std::mt19937 rng(11);
  std::vector<std::vector<uint32_t>> rows(60);
  for (auto& r : rows) {
    std::set<uint32_t> items;
    while (items.size() < 8) items.insert(static_cast<uint32_t>(rng() % 40));  // many count ties
    r.assign(items.begin(), items.end());
  }
  const Interactions m = test::make_rows(300, rows);
  Catalog cat;
  PopularityRecaller pop{Params()};
  pop.fit(test::fit_input_of(m, cat));
  ASSERT_EQ(pop.static_ranking().size(), 300u);
  for (uint32_t u = 0; u < 60; ++u) {
    const std::vector<ItemId> exclude = {static_cast<ItemId>(rng() % 300), static_cast<ItemId>(rng() % 300)};
    for (size_t k : {1u, 7u, 50u, 400u}) {
      const auto got = pop.top_n(UserQuery{u, m.row(u), {}}, k, exclude);
      std::vector<uint8_t> skip(300, 0);
      for (ItemId i : m.row(u)) skip[i] = 1;
      for (ItemId i : exclude) skip[i] = 1;
      const auto want = top_k(all_scores(pop, UserQuery{u, m.row(u), {}}), k, skip);
      ASSERT_EQ(got.size(), want.size()) << "user " << u << " k " << k;
      for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].item, want[i].item) << "user " << u << " k " << k << " rank " << i;
        EXPECT_EQ(got[i].score, want[i].score);
      }
    }
  }
}

TEST(Popularity, HalfLifeDecayWeights) {
  // t_max = T. Interactions (item, age): (0, 0d), (0, 2d), (1, 1d), (1, 3d), (2, 4d).
  // half_life 2 days: item0 = 1 + 0.5 = 1.5; item1 = 0.5^0.5 + 0.5^1.5 = 1.0606601718;
  // item2 = 0.5^2 = 0.25; item3 = 0.
  const int64_t T = 1'600'000'000, D = 86400;
  Interactions m;
  m.n_cols = 4;
  m.append_row(std::vector<uint32_t>{2, 0, 1}, std::vector<float>{1, 1, 1},
               std::vector<int64_t>{T - 4 * D, T - 2 * D, T - D});
  m.append_row(std::vector<uint32_t>{1, 0}, std::vector<float>{5, 5},
               std::vector<int64_t>{T - 3 * D, T});
  Catalog cat;
  cat.items.resize(4);

  PopularityRecaller pop{Params::parse("half_life_days=2")};
  pop.fit(test::fit_input_of(m, cat));
  auto s = all_scores(pop, UserQuery{});
  ASSERT_EQ(s.size(), 4u);
  EXPECT_NEAR(s[0], 1.5, 1e-6);
  EXPECT_NEAR(s[1], 1.0606601718, 1e-6);
  EXPECT_NEAR(s[2], 0.25, 1e-6);
  EXPECT_EQ(s[3], 0.0f);

  // half_life 0 (default) = raw counts; the ratings (5) do not weight them.
  PopularityRecaller raw{Params::parse("half_life_days=0")};
  raw.fit(test::fit_input_of(m, cat));
  EXPECT_EQ(all_scores(raw, UserQuery{}), (std::vector<float>{2, 2, 1, 0}));
}

TEST(Popularity, ParamsAreCheckedAndResolved) {
  EXPECT_THROW(PopularityRecaller{Params::parse("half_life_days=-1")}, Error);
  EXPECT_THROW(PopularityRecaller{Params::parse("half_life_days=abc")}, Error);
  EXPECT_THROW(PopularityRecaller{Params::parse("halflife=3")}, Error);
  PopularityRecaller pop{Params()};
  EXPECT_EQ(pop.params().raw().at("half_life_days"), "0");
  PopularityRecaller pop2{Params::parse("half_life_days=7.5")};
  EXPECT_EQ(pop2.half_life_days(), 7.5);
}

TEST(Popularity, RejectsMismatchedCatalogueAndScoreBuffer) {
  Interactions m = hand_matrix();
  Catalog cat;
  cat.items.resize(3);  // the matrix has 5 columns
  PopularityRecaller pop{Params()};
  EXPECT_THROW(pop.fit(test::fit_input_of(m, cat)), Error);
  cat.items.resize(5);
  pop.fit(test::fit_input_of(m, cat));
  std::vector<float> wrong(4);
  EXPECT_THROW(pop.score(UserQuery{}, wrong), Error);
  std::vector<ItemId> bad = {7};
  std::vector<float> out(1);
  EXPECT_THROW(pop.score_items(UserQuery{}, bad, out), Error);
}

TEST(Popularity, SaveLoadRoundTripWritesManifest) {
  test::TinyData d = test::make_tiny_data();
  PopularityRecaller pop{Params::parse("half_life_days=3")};
  pop.fit(d.fit_input());
  TempDir tmp("popularity");
  pop.save(tmp.path());

  auto manifest = nlohmann::json::parse(read_file(tmp.path() / "manifest.json"));
  EXPECT_EQ(manifest["kind"], "popularity");
  EXPECT_EQ(manifest["format_version"], 1);
  EXPECT_EQ(manifest["dataset_hash"], d.hash);
  EXPECT_EQ(manifest["params"]["half_life_days"], "3");

  auto loaded = load_recaller(tmp.path());
  ASSERT_EQ(loaded->kind(), "popularity");
  auto* p = dynamic_cast<PopularityRecaller*>(loaded.get());
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->half_life_days(), 3.0);
  EXPECT_EQ(p->dataset_hash(), d.hash);
  EXPECT_EQ(all_scores(*loaded, UserQuery{}), all_scores(pop, UserQuery{}));
}

TEST(Popularity, LoadRejectsOtherKindsAndBadManifests) {
  test::TinyData d = test::make_tiny_data();
  PopularityRecaller pop{Params()};
  pop.fit(d.fit_input());
  TempDir tmp("popularity_bad");
  pop.save(tmp.path());

  // A manifest of another kind.
  auto manifest = nlohmann::json::parse(read_file(tmp.path() / "manifest.json"));
  auto other = manifest;
  other["kind"] = "content";
  write_file_atomic(tmp.path() / "manifest.json", other.dump());
  PopularityRecaller fresh{Params()};
  EXPECT_THROW(fresh.load(tmp.path()), Error);

  // A manifest whose params are out of range leaves the model unchanged.
  auto bad = manifest;
  bad["params"]["half_life_days"] = "-5";
  write_file_atomic(tmp.path() / "manifest.json", bad.dump());
  EXPECT_THROW(fresh.load(tmp.path()), Error);
  EXPECT_EQ(fresh.n_items(), 0u);

  // A manifest whose n_items disagrees with the array.
  auto wrong_n = manifest;
  wrong_n["n_items"] = 41;
  write_file_atomic(tmp.path() / "manifest.json", wrong_n.dump());
  EXPECT_THROW(fresh.load(tmp.path()), Error);

  write_file_atomic(tmp.path() / "manifest.json", manifest.dump());
  EXPECT_NO_THROW(fresh.load(tmp.path()));
  EXPECT_EQ(fresh.n_items(), test::TinyData::kItems);
}

}  // namespace
}  // namespace cascade
