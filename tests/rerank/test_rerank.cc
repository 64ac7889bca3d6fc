// Re-rank stage: hand-computed MMR / IPS / caps examples, the diversity-knob direction, rules
// and error cases.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "support/test_util.h"
#include "cascade/core/error.h"
#include "cascade/eval/metrics.h"
#include "cascade/rerank/rerank.h"

namespace cascade {
namespace {

using test::error_of;
using Items = std::vector<ItemId>;
using Scores = std::vector<float>;

Items ids_of(const std::vector<RerankedItem>& out) {
  Items r;
  for (const RerankedItem& x : out) r.push_back(x.item);
  return r;
}

std::vector<bool> relaxed_of(const std::vector<RerankedItem>& out) {
  std::vector<bool> r;
  for (const RerankedItem& x : out) r.push_back(x.relaxed);
  return r;
}

RerankOptions with_diversity(double lambda) {
  RerankOptions o;
  o.diversity = lambda;
  return o;
}

// 2-D example: 0 = (1,0), 1 = (1,0.1) (almost parallel to 0), 2 = (0,1) (orthogonal to 0),
// 3 = (1,1); scores 1.0, 0.9, 0.5, 0.0 -> min-max relevance 1, 0.9, 0.5, 0.
const std::vector<float> kVec2d = {1, 0, 1, 0.1f, 0, 1, 1, 1};
const Items kItems2d = {0, 1, 2, 3};
const Scores kScores2d = {1.0f, 0.9f, 0.5f, 0.0f};

RerankItems side_2d(const Catalog* catalog = nullptr) {
  RerankItems s;
  s.vectors = kVec2d.data();
  s.dim = 2;
  s.n_items = 4;
  s.catalog = catalog;
  return s;
}

TEST(Rerank, DiversityZeroIsInputOrderWithMinMaxRelevance) {
  // Scores 2, 1.5, 1.5, 0.5, 0 -> (s - 0) / 2 = 1, .75, .75, .25, 0. The tie keeps input order.
  const Items items = {7, 3, 9, 1, 5};
  const Scores scores = {2.0f, 1.5f, 1.5f, 0.5f, 0.0f};
  std::vector<float> vec(10 * 3);
  std::mt19937 rng(1);
  std::normal_distribution<float> g;
  for (float& v : vec) v = g(rng);
  RerankItems side;
  side.vectors = vec.data();
  side.dim = 3;
  side.n_items = 10;
  const auto out = rerank(items, scores, {}, 4, side, RerankOptions{});
  ASSERT_EQ(ids_of(out), (Items{7, 3, 9, 1}));
  const float rel[] = {1.0f, 0.75f, 0.75f, 0.25f};
  for (size_t i = 0; i < out.size(); ++i) {
    EXPECT_FLOAT_EQ(out[i].relevance, rel[i]) << i;
    EXPECT_FLOAT_EQ(out[i].final_score, rel[i]) << i;  // λ = 0: the objective is the relevance
    EXPECT_EQ(out[i].input_rank, i);
    EXPECT_FALSE(out[i].relaxed);
  }
  // All scores equal -> all relevance 1, input order.
  const auto flat = rerank(items, Scores(5, 3.0f), {}, 5, side, RerankOptions{});
  EXPECT_EQ(ids_of(flat), items);
  for (const auto& x : flat) EXPECT_FLOAT_EQ(x.relevance, 1.0f);
  // Input not sorted by score: the output is by score.
  const auto unsorted = rerank(Items{4, 6}, Scores{0.1f, 0.2f}, {}, 2, side, RerankOptions{});
  EXPECT_EQ(ids_of(unsorted), (Items{6, 4}));
  EXPECT_EQ(unsorted[0].input_rank, 1u);
}

TEST(Rerank, WithoutVectorsMmrIsSkipped) {
  RerankItems side;  // no side data at all
  const auto out = rerank(kItems2d, kScores2d, {}, 4, side, with_diversity(1.0));
  EXPECT_EQ(ids_of(out), kItems2d);
  EXPECT_FLOAT_EQ(out[1].final_score, 0.9f);  // the relevance, not an MMR objective
}

TEST(Rerank, MmrHandComputed2d) {
  // λ = 0.5, objective 0.5·rel - 0.5·maxsim.
  //  pick 1: 0.5·rel -> item 0 (0.5).
  //  pick 2: cos(1,0) = 1/sqrt(1.01) = 0.995037, cos(2,0) = 0, cos(3,0) = 1/sqrt(2) = 0.707107
  //          item 1: 0.45 - 0.497519 = -0.047519; item 2: 0.25 - 0 = 0.25; item 3: -0.353553
  //          -> item 2, less relevant than item 1 but orthogonal to item 0.
  //  pick 3: maxsim 1 = max(.995037, cos(1,2) = .0995037) -> -0.047519;
  //          maxsim 3 = max(.707107, cos(3,2) = .707107) -> -0.353553  -> item 1.
  //  pick 4: maxsim 3 = max(.707107, cos(3,1) = 1.1/sqrt(2.02) = .773957) -> -0.386979.
  const auto out = rerank(kItems2d, kScores2d, {}, 4, side_2d(), with_diversity(0.5));
  ASSERT_EQ(ids_of(out), (Items{0, 2, 1, 3}));
  EXPECT_NEAR(out[0].final_score, 0.5, 1e-6);
  EXPECT_NEAR(out[1].final_score, 0.25, 1e-6);
  EXPECT_NEAR(out[2].final_score, 0.45 - 0.5 / std::sqrt(1.01), 1e-6);
  EXPECT_NEAR(out[3].final_score, -0.5 * 1.1 / std::sqrt(2.02), 1e-6);
  EXPECT_NEAR(out[1].relevance, 0.5, 1e-6);
  EXPECT_EQ(out[1].input_rank, 2u);

  // λ = 0: relevance order.
  EXPECT_EQ(ids_of(rerank(kItems2d, kScores2d, {}, 4, side_2d(), with_diversity(0.0))), kItems2d);
  // λ = 1: the most relevant first, then minimise maxsim: 2 (0), 3 (.707107), 1 (.995037).
  const auto div = rerank(kItems2d, kScores2d, {}, 4, side_2d(), with_diversity(1.0));
  ASSERT_EQ(ids_of(div), (Items{0, 2, 3, 1}));
  EXPECT_NEAR(div[2].final_score, -1 / std::sqrt(2.0), 1e-6);
  EXPECT_NEAR(div[3].final_score, -1 / std::sqrt(1.01), 1e-6);
  // The first pick is the most relevant even when it is last in the input (λ = 1 ties all
  // first-pick objectives at 0; the tie goes to relevance, not input position).
  const auto rev = rerank(Items{3, 2, 1, 0}, Scores{0.0f, 0.5f, 0.9f, 1.0f}, {}, 4, side_2d(), with_diversity(1.0));
  EXPECT_EQ(ids_of(rev), (Items{0, 2, 3, 1}));
  // k = 2 stops after the orthogonal pick.
  EXPECT_EQ(ids_of(rerank(kItems2d, kScores2d, {}, 2, side_2d(), with_diversity(0.5))), (Items{0, 2}));
}

TEST(Rerank, ZeroVectorHasSimilarityZero) {
  // 0 and 1 point the same way, 2 is the zero vector: at λ = 1 the second pick is 2 (sim 0 < 1).
  const std::vector<float> vec = {1, 0, 2, 0, 0, 0};
  RerankItems side;
  side.vectors = vec.data();
  side.dim = 2;
  side.n_items = 3;
  const auto out = rerank(Items{0, 1, 2}, Scores{3, 2, 1}, {}, 3, side, with_diversity(1.0));
  ASSERT_EQ(ids_of(out), (Items{0, 2, 1}));
  EXPECT_FLOAT_EQ(out[1].final_score, 0.0f);
  EXPECT_NEAR(out[2].final_score, -1.0, 1e-6);
  for (const auto& x : out) EXPECT_TRUE(std::isfinite(x.final_score));
}

// The "diversity knob does not work backwards" test: the mean ILS@10 of the output over 200
// random requests never rises with λ, and λ = 1 is clearly more diverse than λ = 0.
TEST(Rerank, MeanIlsIsNonIncreasingInDiversity) {
  constexpr uint32_t kItems = 1000, kDim = 8, kRequests = 200, kCands = 20, kK = 10;
  std::mt19937 rng(42);
  std::normal_distribution<float> gauss;
  std::uniform_real_distribution<float> unif(0, 1);
  std::vector<float> vec(kItems * kDim);
  for (float& v : vec) v = gauss(rng);
  RerankItems side;
  side.vectors = vec.data();
  side.dim = kDim;
  side.n_items = kItems;
  const Reranker reranker(side);

  std::vector<Items> reqs(kRequests);
  std::vector<Scores> req_scores(kRequests);
  for (uint32_t r = 0; r < kRequests; ++r) {
    Items all(kItems);
    for (uint32_t i = 0; i < kItems; ++i) all[i] = i;
    std::shuffle(all.begin(), all.end(), rng);
    reqs[r].assign(all.begin(), all.begin() + kCands);
    for (uint32_t i = 0; i < kCands; ++i) req_scores[r].push_back(unif(rng));
    std::sort(req_scores[r].rbegin(), req_scores[r].rend());  // best first
  }
  const double lambdas[] = {0, 0.25, 0.5, 0.75, 1};
  std::vector<double> mean_ils;
  for (double lambda : lambdas) {
    double sum = 0;
    for (uint32_t r = 0; r < kRequests; ++r) {
      const auto out = reranker.rerank(reqs[r], req_scores[r], {}, kK, with_diversity(lambda));
      ASSERT_EQ(out.size(), kK);
      const Items ranked = ids_of(out);
      sum += ils_at(ranked, vec.data(), kDim, kK);
    }
    mean_ils.push_back(sum / kRequests);
  }
  for (size_t j = 1; j < mean_ils.size(); ++j)
    EXPECT_LE(mean_ils[j], mean_ils[j - 1] + 1e-9) << "λ " << lambdas[j - 1] << " -> " << lambdas[j];
  // Random 8-d directions: ILS about 0 at λ = 0 (-0.003 with this seed), -0.063 at λ = 1.
  EXPECT_LT(mean_ils.back(), mean_ils.front() - 0.04)
      << "ILS λ=0 " << mean_ils.front() << ", λ=1 " << mean_ils.back();
}

TEST(Rerank, IpsDemotesPopularItemHandComputed) {
  // counts 100, 10, 50 -> p = 1, 0.1, 0.5 (max_count 100). Scores 1.0, 0.95, 0.0 -> r = 1, .95, 0.
  const std::vector<float> counts = {100, 10, 50};
  RerankItems side;
  side.n_items = 3;
  side.counts = counts;
  RerankOptions o;
  o.ips_exponent = 0.5;
  // e = .5, clip .01: r·p^-e = 1, .95/sqrt(.1) = 3.004164, 0 -> rel = .332871, 1, 0.
  auto out = rerank(Items{0, 1, 2}, Scores{1.0f, 0.95f, 0.0f}, {}, 3, side, o);
  ASSERT_EQ(ids_of(out), (Items{1, 0, 2}));
  EXPECT_NEAR(out[0].relevance, 1.0, 1e-6);
  EXPECT_NEAR(out[1].relevance, std::sqrt(0.1) / 0.95, 1e-6);
  EXPECT_NEAR(out[2].relevance, 0.0, 1e-6);

  // Scores 1.0, 0.6, 0: unclipped the boost sqrt(10) = 3.16 lifts item 1 (0.6·3.16 = 1.897);
  // clip .5 bounds it at sqrt(2) = 1.414: 0.6·1.414 = .848528 < 1 keeps item 0 first.
  const Scores close = {1.0f, 0.6f, 0.0f};
  out = rerank(Items{0, 1, 2}, close, {}, 3, side, o);
  ASSERT_EQ(ids_of(out), (Items{1, 0, 2}));
  EXPECT_NEAR(out[1].relevance, 1 / (0.6 * std::sqrt(10.0)), 1e-6);
  o.ips_clip = 0.5;
  out = rerank(Items{0, 1, 2}, close, {}, 3, side, o);
  ASSERT_EQ(ids_of(out), (Items{0, 1, 2}));
  EXPECT_NEAR(out[1].relevance, 0.6 * std::sqrt(2.0), 1e-6);
  // clip 1: every propensity is 1, no change at all.
  o.ips_clip = 1.0;
  out = rerank(Items{0, 1, 2}, close, {}, 3, side, o);
  ASSERT_EQ(ids_of(out), (Items{0, 1, 2}));
  EXPECT_NEAR(out[1].relevance, 0.6, 1e-6);

  // Equal scores: the order is by propensity alone. p^-.5 = 1, 3.162278, 1.414214
  // -> rel 0, 1, (1.414214 - 1) / 2.162278 = .191556.
  o.ips_clip = 0.01;
  out = rerank(Items{0, 1, 2}, Scores{5, 5, 5}, {}, 3, side, o);
  ASSERT_EQ(ids_of(out), (Items{1, 2, 0}));
  EXPECT_NEAR(out[1].relevance, (std::sqrt(2.0) - 1) / (std::sqrt(10.0) - 1), 1e-6);
  EXPECT_NEAR(out[2].relevance, 0.0, 1e-6);
}

TEST(Rerank, IpsExponentZeroChangesNothing) {
  constexpr uint32_t kItems = 50, kDim = 4;
  std::mt19937 rng(7);
  std::normal_distribution<float> gauss;
  std::uniform_real_distribution<float> unif(0, 100);
  std::vector<float> vec(kItems * kDim), counts(kItems);
  for (float& v : vec) v = gauss(rng);
  for (float& c : counts) c = unif(rng);
  RerankItems with_counts;
  with_counts.vectors = vec.data();
  with_counts.dim = kDim;
  with_counts.n_items = kItems;
  with_counts.counts = counts;
  RerankItems without = with_counts;
  without.counts = {};
  Items items;
  Scores scores;
  for (ItemId i = 0; i < 20; ++i) {
    items.push_back(i * 2);
    scores.push_back(unif(rng));
  }
  for (double lambda : {0.0, 0.7}) {
    RerankOptions o = with_diversity(lambda);
    o.ips_exponent = 0;
    o.ips_clip = 0.01;
    const auto a = rerank(items, scores, {}, 10, with_counts, o);
    const auto b = rerank(items, scores, {}, 10, without, o);
    ASSERT_EQ(ids_of(a), ids_of(b));
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].relevance, b[i].relevance);
      EXPECT_EQ(a[i].final_score, b[i].final_score);
    }
    // ...and a positive exponent does change this request (the test can fail).
    o.ips_exponent = 1;
    EXPECT_NE(ids_of(rerank(items, scores, {}, 10, with_counts, o)), ids_of(a));
  }
}

// Items 0..6, scores 1.0 .. 0.4 step .1 -> rel (s - .4) / .6.
//   item  genres  year  bucket
//   0     {0}     1995  3
//   1     {0,1}   1996  3
//   2     {1}     1985  2
//   3     {2}     1994  3
//   4     {}      -1    unknown
//   5     {0}     1975  1
//   6     {}      -1    unknown
Catalog caps_catalog() {
  Catalog c;
  c.genre_names = {"a", "b", "c"};
  const std::vector<std::vector<uint16_t>> genres = {{0}, {0, 1}, {1}, {2}, {}, {0}, {}};
  const int32_t years[] = {1995, 1996, 1985, 1994, -1, 1975, -1};
  for (size_t i = 0; i < genres.size(); ++i) {
    ItemInfo it;
    it.year = years[i];
    it.genres = genres[i];
    c.items.push_back(it);
  }
  return c;
}
const Items kCapItems = {0, 1, 2, 3, 4, 5, 6};
const Scores kCapScores = {1.0f, 0.9f, 0.8f, 0.7f, 0.6f, 0.5f, 0.4f};

TEST(Rerank, GenreCapWithRelaxation) {
  const Catalog cat = caps_catalog();
  RerankItems side;
  side.n_items = 7;
  side.catalog = &cat;
  RerankOptions o;
  o.max_per_genre = 1;
  // 0 (genre 0), 1 blocked (0), 2 (1), 3 (2), 4, 5 blocked (0), 6; then relaxed 1, 5 by rel.
  auto out = rerank(kCapItems, kCapScores, {}, 7, side, o);
  ASSERT_EQ(ids_of(out), (Items{0, 2, 3, 4, 6, 1, 5}));
  EXPECT_EQ(relaxed_of(out), (std::vector<bool>{false, false, false, false, false, true, true}));
  EXPECT_NEAR(out[5].final_score, 0.5 / 0.6, 1e-6);  // relaxed picks may score above earlier ones
  EXPECT_NEAR(out[6].final_score, 0.1 / 0.6, 1e-6);
  // k = 5 needs no relaxation.
  out = rerank(kCapItems, kCapScores, {}, 5, side, o);
  EXPECT_EQ(ids_of(out), (Items{0, 2, 3, 4, 6}));
  EXPECT_EQ(relaxed_of(out), std::vector<bool>(5, false));
  // Cap 2: item 1 counts towards genres 0 and 1; 5 is the third genre-0 item.
  o.max_per_genre = 2;
  out = rerank(kCapItems, kCapScores, {}, 7, side, o);
  EXPECT_EQ(ids_of(out), (Items{0, 1, 2, 3, 4, 6, 5}));
  EXPECT_EQ(relaxed_of(out), (std::vector<bool>{false, false, false, false, false, false, true}));
  // A multi-genre item picked first blocks both of its genres: 1 {0,1} blocks 0 {0} and 2 {1}.
  o.max_per_genre = 1;
  out = rerank(Items{1, 0, 2, 3}, Scores{4, 3, 2, 1}, {}, 4, side, o);
  EXPECT_EQ(ids_of(out), (Items{1, 3, 0, 2}));
  EXPECT_EQ(relaxed_of(out), (std::vector<bool>{false, false, true, true}));
}

TEST(Rerank, YearBucketCapLeavesUnknownYearsUncapped) {
  const Catalog cat = caps_catalog();
  RerankItems side;
  side.n_items = 7;
  side.catalog = &cat;
  RerankOptions o;
  o.max_per_year_bucket = 1;
  // 0 (1990s), 1 blocked, 2 (1980s), 3 blocked, 4 (unknown), 5 (1970s), 6 (unknown again).
  const auto out = rerank(kCapItems, kCapScores, {}, 7, side, o);
  ASSERT_EQ(ids_of(out), (Items{0, 2, 4, 5, 6, 1, 3}));
  EXPECT_EQ(relaxed_of(out), (std::vector<bool>{false, false, false, false, false, true, true}));
  // Both caps: genre cap 1 also blocks 5 (genre 0): 0, 2, 4, 6, then relaxed 1, 3, 5.
  o.max_per_genre = 1;
  const auto both = rerank(kCapItems, kCapScores, {}, 7, side, o);
  EXPECT_EQ(ids_of(both), (Items{0, 2, 4, 6, 1, 3, 5}));
  EXPECT_EQ(relaxed_of(both), (std::vector<bool>{false, false, false, false, true, true, true}));
}

TEST(Rerank, CapsApplyInsideMmr) {
  // The 2-D example with λ = .5, item 2 sharing genre 0 with item 0 and cap 1: the second pick
  // can no longer be 2 (it was, above); 1 (-.047519) beats 3 (-.353553), then 3 (-.386979),
  // then 2 relaxed: maxsim max(0, .0995, .707107) -> .25 - .353553 = -.103553.
  Catalog cat;
  cat.genre_names = {"x", "y", "z"};
  const std::vector<std::vector<uint16_t>> genres = {{0}, {1}, {0}, {2}};
  for (const auto& g : genres) {
    ItemInfo it;
    it.genres = g;
    cat.items.push_back(it);
  }
  RerankOptions o = with_diversity(0.5);
  o.max_per_genre = 1;
  const auto out = rerank(kItems2d, kScores2d, {}, 4, side_2d(&cat), o);
  ASSERT_EQ(ids_of(out), (Items{0, 1, 3, 2}));
  EXPECT_EQ(relaxed_of(out), (std::vector<bool>{false, false, false, true}));
  EXPECT_NEAR(out[2].final_score, -0.5 * 1.1 / std::sqrt(2.02), 1e-6);
  EXPECT_NEAR(out[3].final_score, 0.25 - 0.5 / std::sqrt(2.0), 1e-6);
}

TEST(Rerank, DropsWatchedAndHandlesSmallInputs) {
  const Items items = {0, 1, 2, 3, 4};
  const Scores scores = {1.0f, 0.8f, 0.6f, 0.4f, 0.2f};
  const Items watched = {1, 3, 17};  // sorted; 17 is not a candidate
  RerankItems side;
  side.n_items = 20;
  // Min-max over what is left (1.0, 0.6, 0.2): 1, .5, 0.
  auto out = rerank(items, scores, watched, 10, side, RerankOptions{});
  ASSERT_EQ(ids_of(out), (Items{0, 2, 4}));
  EXPECT_EQ(out[1].input_rank, 2u);
  EXPECT_NEAR(out[1].relevance, 0.5, 1e-6);
  RerankOptions keep;
  keep.drop_watched = false;
  EXPECT_EQ(ids_of(rerank(items, scores, watched, 10, side, keep)), items);
  // k larger than the candidates, k = 0, empty input, everything watched.
  EXPECT_EQ(rerank(items, scores, {}, 100, side, RerankOptions{}).size(), 5u);
  EXPECT_TRUE(rerank(items, scores, {}, 0, side, RerankOptions{}).empty());
  EXPECT_TRUE(rerank({}, {}, watched, 10, side, RerankOptions{}).empty());
  EXPECT_TRUE(rerank(items, scores, items, 10, side, RerankOptions{}).empty());
  // A single candidate has relevance 1.
  out = rerank(Items{4}, Scores{-3.0f}, {}, 10, side, with_diversity(1.0));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FLOAT_EQ(out[0].relevance, 1.0f);
}

TEST(Rerank, InvalidOptionsNameTheField) {
  const auto bad = [](auto mutate) {
    RerankOptions o;
    mutate(o);
    return error_of([&] { o.validate(); });
  };
  EXPECT_NE(bad([](RerankOptions& o) { o.diversity = 1.5; }).find("rerank.diversity"), std::string::npos);
  EXPECT_NE(bad([](RerankOptions& o) { o.diversity = -0.1; }).find("rerank.diversity"), std::string::npos);
  EXPECT_NE(bad([](RerankOptions& o) { o.diversity = std::nan(""); }).find("rerank.diversity"), std::string::npos);
  EXPECT_NE(bad([](RerankOptions& o) { o.ips_exponent = -1; }).find("rerank.ips_exponent"), std::string::npos);
  EXPECT_NE(bad([](RerankOptions& o) { o.ips_exponent = INFINITY; }).find("rerank.ips_exponent"),
            std::string::npos);
  EXPECT_NE(bad([](RerankOptions& o) { o.ips_clip = 0; }).find("rerank.ips_clip"), std::string::npos);
  EXPECT_NE(bad([](RerankOptions& o) { o.ips_clip = 1.5; }).find("rerank.ips_clip"), std::string::npos);
  RerankOptions ok;
  ok.diversity = 1;
  ok.ips_clip = 1;
  EXPECT_NO_THROW(ok.validate());
  // rerank() validates too.
  RerankOptions o;
  o.diversity = 2;
  EXPECT_NE(error_of([&] { rerank(Items{0}, Scores{1}, {}, 1, RerankItems{}, o); }).find("rerank.diversity"),
            std::string::npos);
}

TEST(Rerank, InvalidInputsThrowWithReason) {
  const std::vector<float> counts = {1, 2, 3};
  RerankItems side;
  side.n_items = 3;
  const RerankOptions def;
  auto msg = [&](const Items& items, const Scores& scores, const Items& watched = {},
                 const RerankOptions& o = RerankOptions{}, const RerankItems* s = nullptr) {
    return error_of([&] { rerank(items, scores, watched, 5, s ? *s : side, o); });
  };
  EXPECT_NE(msg({0, 1}, {1}).find("2 items but 1 scores"), std::string::npos);
  EXPECT_NE(msg({0, 3}, {1, 2}).find("item id 3"), std::string::npos);
  EXPECT_NE(msg({0, 1}, {1, std::nanf("")}).find("scores[1]"), std::string::npos);
  EXPECT_NE(msg({0, 1}, {INFINITY, 1}).find("scores[0]"), std::string::npos);
  EXPECT_NE(msg({0, 1, 0}, {3, 2, 1}).find("item 0 appears twice"), std::string::npos);
  EXPECT_NE(msg({0, 1}, {1, 2}, {2, 1}).find("sorted"), std::string::npos);
  RerankOptions o;
  o.ips_exponent = 1;
  EXPECT_NE(msg({0}, {1}, {}, o).find("rerank.ips_exponent"), std::string::npos);  // no counts
  o = def;
  o.max_per_genre = 2;
  EXPECT_NE(msg({0}, {1}, {}, o).find("rerank.max_per_genre"), std::string::npos);  // no catalogue
  o = def;
  o.max_per_year_bucket = 2;
  EXPECT_NE(msg({0}, {1}, {}, o).find("rerank.max_per_year_bucket"), std::string::npos);
  // Side data of the wrong size, a negative count, vectors without dim, n_items 0.
  RerankItems s = side;
  s.counts = std::span<const float>(counts.data(), 2);
  EXPECT_NE(msg({0}, {1}, {}, def, &s).find("counts has 2 entries"), std::string::npos);
  const std::vector<float> neg = {1, -2, 3};
  s.counts = neg;
  o = def;
  o.ips_exponent = 1;
  EXPECT_NE(msg({0}, {1}, {}, o, &s).find("counts[1]"), std::string::npos);
  EXPECT_NE(error_of([&] { Reranker r(s); }).find("counts[1]"), std::string::npos);
  const Catalog cat = caps_catalog();  // 7 items
  s = side;
  s.catalog = &cat;
  EXPECT_NE(msg({0}, {1}, {}, def, &s).find("the catalogue has 7 items"), std::string::npos);
  const std::vector<float> vec = {1, 2, 3};
  s = side;
  s.vectors = vec.data();
  EXPECT_NE(msg({0}, {1}, {}, def, &s).find("dim 0"), std::string::npos);
  s.n_items = 0;
  s.dim = 1;
  EXPECT_NE(msg({0}, {1}, {}, def, &s).find("n_items is 0"), std::string::npos);
  const std::vector<float> nan_vec = {1, std::nanf(""), 3};
  s = side;
  s.vectors = nan_vec.data();
  s.dim = 1;
  EXPECT_NE(error_of([&] { Reranker r(s); }).find("item 1 has a non-finite vector"), std::string::npos);
  EXPECT_NE(msg({1}, {1}, {}, with_diversity(0.5), &s).find("item 1 has a non-finite vector"), std::string::npos);
  // The same checks through Reranker.
  const Reranker r(side);
  EXPECT_NE(error_of([&] { r.rerank(Items{0, 5}, Scores{1, 2}, {}, 2, def); }).find("item id 5"),
            std::string::npos);
}

TEST(Rerank, OptionsFromYaml) {
  const auto o = RerankOptions::from_yaml(YAML::Load(
      "{diversity: 0.7, ips_exponent: 0.5, ips_clip: 0.05, max_per_genre: 5, max_per_year_bucket: 3, "
      "drop_watched: false}"));
  EXPECT_DOUBLE_EQ(o.diversity, 0.7);
  EXPECT_DOUBLE_EQ(o.ips_exponent, 0.5);
  EXPECT_DOUBLE_EQ(o.ips_clip, 0.05);
  EXPECT_EQ(o.max_per_genre, 5u);
  EXPECT_EQ(o.max_per_year_bucket, 3u);
  EXPECT_FALSE(o.drop_watched);
  // Absent / null node = defaults.
  const auto d = RerankOptions::from_yaml(YAML::Node());
  EXPECT_DOUBLE_EQ(d.diversity, 0);
  EXPECT_DOUBLE_EQ(d.ips_clip, 0.01);
  EXPECT_TRUE(d.drop_watched);
  EXPECT_EQ(RerankOptions::from_yaml(YAML::Load("~")).max_per_genre, 0u);
  // Errors name the key.
  EXPECT_NE(error_of([] { RerankOptions::from_yaml(YAML::Load("{diversty: 0.5}")); }).find("unknown key 'diversty'"),
            std::string::npos);
  EXPECT_NE(error_of([] { RerankOptions::from_yaml(YAML::Load("{diversity: 2}")); }).find("rerank.diversity"),
            std::string::npos);
  EXPECT_NE(error_of([] { RerankOptions::from_yaml(YAML::Load("{diversity: high}")); }).find("rerank.diversity"),
            std::string::npos);
  EXPECT_NE(error_of([] { RerankOptions::from_yaml(YAML::Load("{max_per_genre: -1}")); }).find("rerank.max_per_genre"),
            std::string::npos);
  EXPECT_NE(error_of([] { RerankOptions::from_yaml(YAML::Load("{drop_watched: maybe}")); }).find("rerank.drop_watched"),
            std::string::npos);
  EXPECT_NE(error_of([] { RerankOptions::from_yaml(YAML::Load("[1, 2]")); }).find("expected a map"), std::string::npos);
}

TEST(Rerank, RerankerMatchesFreeFunctionAndOwnsItsData) {
  constexpr uint32_t kItems = 300, kDim = 16;
  std::mt19937 rng(3);
  std::normal_distribution<float> gauss;
  std::uniform_real_distribution<float> unif(0, 1);
  std::vector<float> vec(kItems * kDim), counts(kItems);
  for (float& v : vec) v = gauss(rng);
  for (uint32_t d = 0; d < kDim; ++d) vec[5 * kDim + d] = 0;  // one zero vector
  for (float& c : counts) c = std::floor(unif(rng) * 500);
  Catalog cat;
  cat.genre_names = {"a", "b", "c", "d", "e", "f"};
  for (uint32_t i = 0; i < kItems; ++i) {
    ItemInfo it;
    it.year = (i % 7 == 0) ? -1 : 1960 + static_cast<int32_t>(i % 50);
    for (uint16_t g = 0; g < 6; ++g)
      if (unif(rng) < 0.3) it.genres.push_back(g);
    cat.items.push_back(it);
  }
  RerankItems side;
  side.vectors = vec.data();
  side.dim = kDim;
  side.n_items = kItems;
  side.counts = counts;
  side.catalog = &cat;
  RerankOptions o;
  o.diversity = 0.6;
  o.ips_exponent = 0.3;
  o.ips_clip = 0.02;
  o.max_per_genre = 3;
  o.max_per_year_bucket = 4;

  std::vector<Items> reqs;
  std::vector<Scores> req_scores;
  std::vector<Items> watched;
  for (int r = 0; r < 50; ++r) {
    Items all(kItems);
    for (uint32_t i = 0; i < kItems; ++i) all[i] = i;
    std::shuffle(all.begin(), all.end(), rng);
    reqs.emplace_back(all.begin(), all.begin() + 20);
    reqs.back()[0] = 5;  // the zero vector in every request
    if (std::find(reqs.back().begin() + 1, reqs.back().end(), 5u) != reqs.back().end()) reqs.back()[0] = all[20];
    Scores s;
    for (int i = 0; i < 20; ++i) s.push_back(unif(rng) * 4 - 2);
    req_scores.push_back(s);
    watched.emplace_back(all.begin() + 15, all.begin() + 40);  // 5 of the candidates and others
    std::sort(watched.back().begin(), watched.back().end());
  }
  std::vector<std::vector<RerankedItem>> expected;
  size_t relaxed = 0;
  for (size_t r = 0; r < reqs.size(); ++r) {
    expected.push_back(rerank(reqs[r], req_scores[r], watched[r], 10, side, o));
    ASSERT_EQ(expected.back().size(), 10u);
    for (const auto& x : expected.back()) relaxed += x.relaxed;
  }
  // The Reranker copies what it needs: wipe the caller's data before using it.
  const Reranker reranker(side);
  std::fill(vec.begin(), vec.end(), 0.f);
  std::fill(counts.begin(), counts.end(), 0.f);
  cat.items.assign(kItems, ItemInfo{});
  for (size_t r = 0; r < reqs.size(); ++r) {
    const auto got = reranker.rerank(reqs[r], req_scores[r], watched[r], 10, o);
    ASSERT_EQ(ids_of(got), ids_of(expected[r])) << "request " << r;
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_NEAR(got[i].relevance, expected[r][i].relevance, 1e-5);
      EXPECT_NEAR(got[i].final_score, expected[r][i].final_score, 1e-5);
      EXPECT_EQ(got[i].relaxed, expected[r][i].relaxed);
      EXPECT_EQ(got[i].input_rank, expected[r][i].input_rank);
    }
  }
  EXPECT_GT(relaxed, 0u);  // the caps did bind somewhere, so the comparison covers relaxation
}

TEST(Rerank, MethodsAreRegisteredByName) {
  EXPECT_EQ(rerank_method_names(), (std::vector<std::string>{"mmr", "none"}));
  EXPECT_NE(error_of([] { make_rerank_method("shuffle", Params()); }).find("unknown re-ranker 'shuffle'; known: mmr, none"),
            std::string::npos);
  // Options are read and checked like the `rerank` group.
  EXPECT_NE(error_of([] { make_rerank_method("mmr", Params::parse("diversity=2")); }).find("rerank.diversity"),
            std::string::npos);
  EXPECT_NE(error_of([] { make_rerank_method("none", Params::parse("diversty=0.5")); }).find("diversty"),
            std::string::npos);
  const Reranker side(side_2d());
  // mmr: the configured λ unless the call gives one; the same lists as the free function.
  const auto mmr = make_rerank_method("mmr", Params::parse("diversity=0.5"));
  EXPECT_DOUBLE_EQ(mmr->options().diversity, 0.5);
  EXPECT_EQ(ids_of(mmr->rerank(side, kItems2d, kScores2d, {}, 4, -1)), (Items{0, 2, 1, 3}));
  EXPECT_EQ(ids_of(mmr->rerank(side, kItems2d, kScores2d, {}, 4, 1.0)), (Items{0, 2, 3, 1}));
  // none: the relevance order whatever λ, watched items dropped unless told otherwise.
  const auto none = make_rerank_method("none", Params::parse("diversity=0.9"));
  EXPECT_EQ(ids_of(none->rerank(side, kItems2d, kScores2d, {}, 4, 1.0)), kItems2d);
  const Items watched = {2};
  EXPECT_EQ(ids_of(none->rerank(side, kItems2d, kScores2d, watched, 4, -1)), (Items{0, 1, 3}));
  const auto keep = make_rerank_method("none", Params::parse("drop_watched=false"));
  EXPECT_EQ(ids_of(keep->rerank(side, kItems2d, kScores2d, watched, 4, -1)), kItems2d);
}

}  // namespace
}  // namespace cascade
