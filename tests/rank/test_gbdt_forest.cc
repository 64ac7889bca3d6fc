// The in-process tree walk (rank/gbdt_forest.h) against XGBoost's own predictor: the same
// float, bit for bit, for every objective the ranker trains, with missing values (NaN) in
// training and in prediction, values exactly on thresholds (infinities refused by both), and after
// a byte round trip (the path a loaded bundle takes).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "cascade/core/error.h"
#include "cascade/rank/gbdt.h"
#include "rank/gbdt_forest.h"

namespace cascade {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// rows x cols values in [0, 1) with a fifth missing; the label depends on features 0-2 and on
// whether feature 3 is missing, so splits learn both directions for missing values.
struct Data {
  std::vector<float> x, y;
  std::vector<uint32_t> groups;
  size_t rows, cols = 6;
  Data(size_t n, uint32_t seed) : rows(n) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(0.f, 1.f);
    for (size_t i = 0; i < n; ++i) {
      for (size_t c = 0; c < cols; ++c) x.push_back(u(rng) < 0.2f ? kNaN : u(rng));
      const float* r = &x[i * cols];
      const bool pos = (r[0] > 0.5f) != (r[1] > 0.3f) || (std::isnan(r[3]) && r[2] > 0.7f);
      y.push_back(pos ? 1.f : 0.f);
    }
    for (size_t done = 0; done < n; done += 10)
      groups.push_back(static_cast<uint32_t>(std::min<size_t>(10, n - done)));
  }
};

uint32_t bits(float v) {
  uint32_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

// Every walk this CPU runs (the general node layout, complete trees, and the AVX-512 and AVX2
// walks where the CPU has them) gives `want` bit for bit on the first `rows` rows of `test`, for
// each count.
void expect_every_walk_gives(const std::string& model, const Data& test,
                             const std::vector<float>& want, std::vector<size_t> row_counts) {
  using Walk = GbdtForest::Walk;
  __builtin_cpu_init();
  std::vector<Walk> walks{Walk::kGeneral, Walk::kComplete};
  if (__builtin_cpu_supports("avx512f")) walks.push_back(Walk::kAvx512);
  if (__builtin_cpu_supports("avx2")) walks.push_back(Walk::kAvx2);
  for (Walk w : walks) {
    std::string why;
    const auto forest = GbdtForest::compile(model, test.cols, &why, w);
    ASSERT_TRUE(forest) << why;
    EXPECT_EQ(forest->walk(), w);
    for (size_t rows : row_counts) {
      std::vector<float> got(rows);
      forest->predict(std::span<const float>(test.x.data(), rows * test.cols), rows, got);
      for (size_t r = 0; r < rows; ++r)
        ASSERT_EQ(bits(got[r]), bits(want[r]))
            << "walk " << static_cast<int>(w) << ", " << rows << " rows, row " << r;
    }
  }
}

class GbdtForestTest : public ::testing::TestWithParam<const char*> {};

TEST_P(GbdtForestTest, PredictsBitIdenticallyToXgboost) {
  const Data train(3000, 1);
  GbdtOptions o;
  o.objective = GetParam();
  o.rounds = 40;
  o.max_depth = 5;
  o.eta = 0.2;
  o.subsample = 0.8;
  o.threads = 1;
  Gbdt fitted;
  fitted.fit(train.x, train.rows, train.cols, train.y, train.groups, o);
  ASSERT_TRUE(fitted.native()) << "the forest refused a plain gbtree model";
  const Gbdt loaded = Gbdt::from_bytes(fitted.to_bytes(), train.cols);
  ASSERT_TRUE(loaded.native());

  Data test(997, 2);  // a row count that is no multiple of the walk's block
  // Values exactly on some thresholds: both sides of `<`.
  std::mt19937 rng(3);
  for (size_t i = 0; i < test.x.size(); i += 7) test.x[i] = train.x[rng() % train.x.size()];
  // Infinite values: XGBoost refuses them, and so does the walk.
  {
    std::vector<float> bad(test.x.begin(), test.x.begin() + 2 * test.cols);
    bad[test.cols + 2] = -std::numeric_limits<float>::infinity();
    EXPECT_THROW(loaded.predict_xgboost(bad, 2), Error);
    EXPECT_THROW(loaded.predict(bad, 2), Error);
  }
  for (const Gbdt* g : {static_cast<const Gbdt*>(&fitted), &loaded}) {
    const auto want = g->predict_xgboost(test.x, test.rows);
    const auto got = g->predict(test.x, test.rows);
    ASSERT_EQ(got.size(), want.size());
    size_t differ = 0;
    for (size_t r = 0; r < got.size(); ++r) differ += bits(got[r]) != bits(want[r]);
    EXPECT_EQ(differ, 0u) << "first row: " << got[0] << " vs " << want[0];
    // A model that learned something: the predictions are not one constant.
    EXPECT_NE(*std::min_element(got.begin(), got.end()), *std::max_element(got.begin(), got.end()));
  }
  // Every walk (the general node layout, complete trees, and the AVX-512 walk where the CPU
  // has it) agrees with it, also on blocks shorter than its lanes.
  const std::string bytes = fitted.to_bytes();
  expect_every_walk_gives(bytes, test, fitted.predict_xgboost(test.x, test.rows),
                          {test.rows, 1, 17, 33});
  EXPECT_NE(GbdtForest::compile(bytes, test.cols, nullptr)->walk(), GbdtForest::Walk::kBest);
  // One row alone (the spare lanes of the block repeat it) gives that row's value.
  const auto one =
      loaded.predict(std::span<const float>(test.x.data() + 6 * test.cols, test.cols), 1);
  EXPECT_EQ(bits(one[0]), bits(loaded.predict_xgboost(test.x, test.rows)[6]));
}

INSTANTIATE_TEST_SUITE_P(Objectives, GbdtForestTest,
                         ::testing::Values("binary:logistic", "rank:ndcg", "rank:pairwise",
                                           "rank:map"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& c : s)
                             if (c == ':') c = '_';
                           return s;
                         });

// Trees 8 deep: the AVX-512 walk looks the first six levels up in registers and gathers the
// deeper ones; both parts, and the scalar layouts, give XGBoost's bits.
TEST(GbdtForest, DeepTreesGiveTheSameBitsInEveryWalk) {
  Data train(4000, 5);
  // A label no shallow tree fits (a fine checkerboard of two features), so splits go 8 deep.
  for (size_t i = 0; i < train.rows; ++i) {
    const float* r = &train.x[i * train.cols];
    const int a = std::isnan(r[0]) ? 0 : static_cast<int>(r[0] * 16);
    const int b = std::isnan(r[1]) ? 0 : static_cast<int>(r[1] * 16);
    train.y[i] = static_cast<float>((a + b) % 2);
  }
  GbdtOptions o;
  o.objective = "binary:logistic";
  o.rounds = 12;
  o.max_depth = 8;
  o.eta = 0.3;
  o.threads = 1;
  Gbdt g;
  g.fit(train.x, train.rows, train.cols, train.y, train.groups, o);
  const Data test(203, 6);
  expect_every_walk_gives(g.to_bytes(), test, g.predict_xgboost(test.x, test.rows), {test.rows});
}

TEST(GbdtForest, RefusesWhatItCannotReproduce) {
  std::string why;
  EXPECT_EQ(GbdtForest::compile("not ubjson", 3, &why), nullptr);
  EXPECT_NE(why.find("unreadable"), std::string::npos) << why;
  const Data train(500, 4);
  GbdtOptions o;
  o.rounds = 3;
  o.threads = 1;
  Gbdt g;
  g.fit(train.x, train.rows, train.cols, train.y, {}, o);
  EXPECT_EQ(GbdtForest::compile(g.to_bytes(), train.cols + 1, &why), nullptr);
  EXPECT_NE(why.find("feature count"), std::string::npos) << why;
  EXPECT_NE(GbdtForest::compile(g.to_bytes(), train.cols, &why), nullptr);
}

}  // namespace
}  // namespace cascade
