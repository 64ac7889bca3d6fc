// Gbdt (XGBoost C API): learns what it should, round-trips through bytes, rejects bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "cascade/rank/gbdt.h"
#include "support/test_util.h"

namespace cascade {
namespace {

using test::error_of;

// rows x 3 features in [0, 1): label = (f0 > 0.5) XOR (f1 > 0.5); f2 is noise. No linear
// model separates it; two levels of trees do.
struct Xor {
  std::vector<float> x, y;
  size_t rows;
  explicit Xor(size_t n, uint32_t seed) : rows(n) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(0.f, 1.f);
    for (size_t i = 0; i < n; ++i) {
      const float a = u(rng), b = u(rng), c = u(rng);
      x.insert(x.end(), {a, b, c});
      y.push_back(((a > 0.5f) != (b > 0.5f)) ? 1.f : 0.f);
    }
  }
};

double accuracy(const std::vector<float>& p, const std::vector<float>& y) {
  size_t ok = 0;
  for (size_t i = 0; i < p.size(); ++i) ok += ((p[i] > 0.5f) == (y[i] > 0.5f));
  return static_cast<double>(ok) / p.size();
}

GbdtOptions small(const std::string& objective) {
  GbdtOptions o;
  o.objective = objective;
  o.rounds = 30;
  o.max_depth = 3;
  o.eta = 0.3;
  o.threads = 1;
  return o;
}

TEST(Gbdt, LearnsXorAndGeneralises) {
  Xor train(2000, 1), test(500, 2);
  Gbdt g;
  g.fit(train.x, train.rows, 3, train.y, {}, small("binary:logistic"));
  const auto p = g.predict(test.x, test.rows);
  ASSERT_EQ(p.size(), test.rows);
  for (float v : p) ASSERT_TRUE(v >= 0.f && v <= 1.f);
  EXPECT_GE(accuracy(p, test.y), 0.95);  // chance is 0.5
}

// rank:ndcg inside query groups: the relevant item is the one whose feature 0 is closest to
// the group's feature 1 (a relation between features, not one feature's value).
TEST(Gbdt, RankObjectiveOrdersWithinGroups) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  auto make = [&](size_t n_groups, std::vector<float>& x, std::vector<float>& y, std::vector<uint32_t>& g) {
    for (size_t q = 0; q < n_groups; ++q) {
      const float target = u(rng);
      const size_t k = 8;
      std::vector<float> f0(k);
      for (auto& v : f0) v = u(rng);
      size_t best = 0;
      for (size_t i = 1; i < k; ++i) if (std::fabs(f0[i] - target) < std::fabs(f0[best] - target)) best = i;
      for (size_t i = 0; i < k; ++i) {
        x.insert(x.end(), {f0[i], target, std::fabs(f0[i] - target)});
        y.push_back(i == best ? 1.f : 0.f);
      }
      g.push_back(static_cast<uint32_t>(k));
    }
  };
  std::vector<float> x, y, tx, ty;
  std::vector<uint32_t> groups, tgroups;
  make(300, x, y, groups);
  make(100, tx, ty, tgroups);
  Gbdt g;
  g.fit(x, y.size(), 3, y, groups, small("rank:ndcg"));
  const auto s = g.predict(tx, ty.size());
  size_t hits = 0, off = 0;
  for (uint32_t k : tgroups) {
    const size_t top = std::max_element(s.begin() + off, s.begin() + off + k) - (s.begin() + off);
    hits += ty[off + top] > 0.5f;
    off += k;
  }
  EXPECT_GE(static_cast<double>(hits) / tgroups.size(), 0.9);  // chance is 1/8
}

TEST(Gbdt, BytesRoundTripGiveIdenticalPredictionsAndFitsAreDeterministic) {
  Xor train(500, 4), test(100, 5);
  Gbdt a, b;
  a.fit(train.x, train.rows, 3, train.y, {}, small("binary:logistic"));
  b.fit(train.x, train.rows, 3, train.y, {}, small("binary:logistic"));
  EXPECT_EQ(a.predict(test.x, test.rows), b.predict(test.x, test.rows));
  Gbdt c = Gbdt::from_bytes(a.to_bytes(), 3);
  EXPECT_EQ(c.n_features(), 3u);
  EXPECT_EQ(a.predict(test.x, test.rows), c.predict(test.x, test.rows));
  EXPECT_NE(error_of([&] { Gbdt::from_bytes(a.to_bytes(), 4); }).find("trained on 3 features"), std::string::npos);
  EXPECT_FALSE(error_of([&] { Gbdt::from_bytes("not a model", 3); }).empty());
}

TEST(Gbdt, BadInputNamesTheProblem) {
  Xor d(10, 6);
  Gbdt g;
  EXPECT_NE(error_of([&] { g.fit(d.x, d.rows, 3, std::vector<float>(9, 0.f), {}, small("binary:logistic")); })
                .find("9 labels for 10 rows"),
            std::string::npos);
  EXPECT_NE(error_of([&] { g.fit(d.x, d.rows, 4, d.y, {}, small("binary:logistic")); }).find("30 feature values"),
            std::string::npos);
  std::vector<float> bad = d.y;
  bad[3] = 2.f;
  EXPECT_NE(error_of([&] { g.fit(d.x, d.rows, 3, bad, {}, small("binary:logistic")); }).find("row 3"),
            std::string::npos);
  EXPECT_NE(error_of([&] { g.fit(d.x, d.rows, 3, d.y, {}, small("rank:ndcg")); }).find("needs query groups"),
            std::string::npos);
  const std::vector<uint32_t> groups = {4, 4};
  EXPECT_NE(error_of([&] { g.fit(d.x, d.rows, 3, d.y, groups, small("rank:ndcg")); }).find("cover 8 rows"),
            std::string::npos);
  EXPECT_NE(error_of([&] { g.predict(d.x, d.rows); }).find("before fit"), std::string::npos);
  Params p(std::map<std::string, std::string>{{"objective", "reg:squarederror"}});
  EXPECT_NE(error_of([&] { GbdtOptions::from_params(p); }).find("objective"), std::string::npos);
}

}  // namespace
}  // namespace cascade
