// Tests for the EASE recall channel (src/recall/ease.cc) and its dense kernels.
#include <gtest/gtest.h>
#include <unistd.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "cascade/core/error.h"
#include "cascade/recall/recaller.h"
#include "recall/ease_solver.h"
#include "support/test_util.h"

namespace cascade {
namespace {
using test::make_rows;

namespace fs = std::filesystem;

std::unique_ptr<Recaller> fit_spec(const std::string& spec, const Interactions& train,
                                   const Interactions* valid = nullptr, int threads = 2) {
  auto m = make_recaller(spec);
  Catalog cat;
  FitInput in{train, cat, threads, 42, valid, "hash-ease"};
  m->fit(in);
  return m;
}

std::vector<float> scores_of(const Recaller& m, std::span<const ItemId> hist,
                             std::span<const float> vals = {}) {
  UserQuery q;
  q.history = hist;
  q.values = vals;
  std::vector<float> s(m.n_items());
  m.score(q, s);
  return s;
}

// Row i of B from scoring a one-item history {i}.
Eigen::MatrixXd b_matrix(const Recaller& m) {
  const uint32_t n = m.n_items();
  Eigen::MatrixXd B(n, n);
  for (ItemId i = 0; i < n; ++i) {
    std::vector<ItemId> h = {i};
    auto s = scores_of(m, h);
    for (uint32_t j = 0; j < n; ++j) B(i, j) = s[j];
  }
  return B;
}

// Independent direct formula (Steck 2019, eq. 8): B = I - P diag(1/diag P), P = (G + lambda I)^-1.
Eigen::MatrixXd direct_b(const Eigen::MatrixXd& X, double lambda) {
  const Eigen::Index n = X.cols();
  Eigen::MatrixXd P = (X.transpose() * X + lambda * Eigen::MatrixXd::Identity(n, n)).inverse();
  Eigen::MatrixXd B = Eigen::MatrixXd::Identity(n, n) - P * P.diagonal().cwiseInverse().asDiagonal();
  B.diagonal().setZero();
  return B;
}

TEST(EaseSolver, SpdInverseMatchesEigenForAnySizeAndThreadCount) {
  // sizes below, at and across the 64-row pivot blocks and 32-column tiles
  for (uint32_t n : {1u, 5u, 31u, 64u, 65u, 130u, 200u}) {
    std::mt19937 gen(n);
    std::normal_distribution<double> d;
    Eigen::MatrixXd M(n + 3, n);
    for (Eigen::Index k = 0; k < M.size(); ++k) M.data()[k] = d(gen);
    Eigen::MatrixXd A = M.transpose() * M + 0.5 * Eigen::MatrixXd::Identity(n, n);
    Eigen::MatrixXd want = A.inverse();
    const size_t ld = ease::padded_ld(n);
    std::vector<float> a1(n * ld, 0.f);
    for (uint32_t i = 0; i < n; ++i)
      for (uint32_t j = 0; j <= i; ++j) a1[i * ld + j] = static_cast<float>(A(i, j));  // lower only
    auto a3 = a1;
    ease::spd_inverse(a1.data(), n, ld, 1);
    ease::spd_inverse(a3.data(), n, ld, 3);
    EXPECT_EQ(a1, a3) << "n=" << n;  // bitwise identical for any thread count
    const double scale = want.cwiseAbs().maxCoeff();
    for (uint32_t i = 0; i < n; ++i) {
      for (uint32_t j = 0; j < n; ++j) {
        ASSERT_NEAR(a1[i * ld + j], want(i, j), 2e-3 * scale) << "n=" << n << " i=" << i << " j=" << j;
        ASSERT_EQ(a1[i * ld + j], a1[j * ld + i]);
      }
    }
  }
}

TEST(EaseSolver, SpdInverseRejectsIndefiniteMatrices) {
  const uint32_t n = 3;
  const size_t ld = ease::padded_ld(n);
  std::vector<float> a(n * ld, 0.f);
  a[0] = 1.f;
  a[ld + 1] = -2.f;  // negative pivot
  a[2 * ld + 2] = 1.f;
  EXPECT_THROW(ease::spd_inverse(a.data(), n, ld, 1), Error);
}

TEST(EaseSolver, GramCountsCoOccurrences) {
  Interactions X = make_rows(3, {{0, 1}, {0}, {1, 2}, {0, 1, 2}}, {{2, 3}, {4}, {5, 1}, {1, 1, 1}});
  const size_t ld = ease::padded_ld(3);
  std::vector<float> g(3 * ld, -1.f);
  ease::gram(X, 3, false, g.data(), ld, 2);
  const float bin[3][3] = {{3, 2, 1}, {2, 3, 2}, {1, 2, 2}};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) EXPECT_EQ(g[i * ld + j], bin[i][j]) << i << "," << j;
  EXPECT_EQ(g[3], 0.f);  // padding cleared
  ease::gram(X, 3, true, g.data(), ld, 1);
  // ratings: G_00 = 4 + 16 + 1, G_01 = 2*3 + 1, G_12 = 5*1 + 1, G_11 = 9 + 25 + 1
  EXPECT_EQ(g[0], 21.f);
  EXPECT_EQ(g[1], 7.f);
  EXPECT_EQ(g[ld + 2], 6.f);
  EXPECT_EQ(g[ld + 1], 35.f);
}

TEST(Ease, HandComputedTwoItemModel) {
  // G = [[2,1],[1,2]]; lambda 1: P = (1/8) [[3,-1],[-1,3]]; B_01 = -P_01 / P_11 = 1/3.
  auto m = fit_spec("ease:lambda=1", make_rows(2, {{0, 1}, {0}, {1}}));
  auto B = b_matrix(*m);
  EXPECT_NEAR(B(0, 1), 1.0 / 3.0, 1e-6);
  EXPECT_NEAR(B(1, 0), 1.0 / 3.0, 1e-6);
  EXPECT_EQ(B(0, 0), 0.0);
  EXPECT_EQ(B(1, 1), 0.0);
}

TEST(Ease, MatchesTheDirectFormulaOnASmallMatrix) {
  const std::vector<std::vector<uint32_t>> rows = {{0, 1}, {1, 2}, {0, 2, 3}, {3}, {0, 1, 2}};
  Eigen::MatrixXd X = Eigen::MatrixXd::Zero(5, 4);
  for (size_t u = 0; u < rows.size(); ++u)
    for (uint32_t i : rows[u]) X(u, i) = 1.0;
  for (double lambda : {0.5, 3.0}) {
    auto m = fit_spec("ease:lambda=" + std::to_string(lambda), make_rows(4, rows));
    auto B = b_matrix(*m);
    auto want = direct_b(X, lambda);
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(B(i, i), 0.0);  // diag(B) = 0: an item never recommends itself
      for (int j = 0; j < 4; ++j) EXPECT_NEAR(B(i, j), want(i, j), 1e-5) << "lambda " << lambda;
    }
    // a history scores as the sum of its rows of B
    std::vector<ItemId> h = {0, 3};
    auto s = scores_of(*m, h);
    for (int j = 0; j < 4; ++j) EXPECT_NEAR(s[j], want(0, j) + want(3, j), 1e-5);
  }
}

TEST(Ease, RatingValuesWeightTheGramAndTheQuery) {
  const std::vector<std::vector<uint32_t>> rows = {{0, 1}, {1, 2}, {0, 2}};
  const std::vector<std::vector<float>> vals = {{5, 2}, {4, 1}, {3, 3}};
  Eigen::MatrixXd X = Eigen::MatrixXd::Zero(3, 3);
  for (size_t u = 0; u < rows.size(); ++u)
    for (size_t k = 0; k < rows[u].size(); ++k) X(u, rows[u][k]) = vals[u][k];
  auto m = fit_spec("ease:lambda=2,value=rating", make_rows(3, rows, vals));
  auto want = direct_b(X, 2.0);
  std::vector<ItemId> h = {0, 1};
  std::vector<float> v = {2, 3};
  auto s = scores_of(*m, h, v);
  for (int j = 0; j < 3; ++j) EXPECT_NEAR(s[j], 2 * want(0, j) + 3 * want(1, j), 1e-4);
}

// Two-community data with noise, 60 items: enough for Recall@20 to tell lambdas apart.
struct Split {
  Interactions train, valid;
};
Split community_split(uint32_t seed) {
  std::mt19937 gen(seed);
  std::vector<std::vector<uint32_t>> tr, va;
  for (uint32_t u = 0; u < 80; ++u) {
    std::set<uint32_t> items;
    const uint32_t base = u % 2 ? 30 : 0;
    while (items.size() < 9) {
      const bool noise = gen() % 5 == 0;
      items.insert(noise ? gen() % 60 : base + gen() % 30);
    }
    std::vector<uint32_t> v(items.begin(), items.end());
    std::shuffle(v.begin(), v.end(), gen);
    va.push_back({v.back()});
    v.pop_back();
    tr.push_back(v);
  }
  return {make_rows(60, tr), make_rows(60, va)};
}

TEST(Ease, TuningPicksTheGridLambdaWithTheBestValidationRecall) {
  const double grid[] = {50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000};
  for (uint32_t seed : {1u, 2u}) {
    Split s = community_split(seed);
    // the expected choice, computed here from the validation split only
    double best = -1, want = 0;
    for (double lam : grid) {
      auto m = fit_spec("ease:lambda=" + std::to_string(lam), s.train);
      double hits = 0;
      for (uint32_t u = 0; u < s.train.n_rows; ++u) {
        UserQuery q;
        q.user = u;
        q.history = s.train.row(u);
        for (const auto& r : m->top_n(q, 20)) hits += r.item == s.valid.row(u)[0] ? 1 : 0;
      }
      const double recall = hits / s.train.n_rows;
      if (recall > best) {
        best = recall;
        want = lam;
      }
    }
    auto tuned = fit_spec("ease:tune=true,lambda=123", s.train, &s.valid);
    EXPECT_DOUBLE_EQ(std::stod(tuned->params().resolved().at("lambda")), want) << "seed " << seed;
    // and the tuned model is the model of that lambda
    auto fixed = fit_spec("ease:lambda=" + std::to_string(want), s.train);
    std::vector<ItemId> h = {1, 2, 40};
    EXPECT_EQ(scores_of(*tuned, h), scores_of(*fixed, h));
  }
  // without a validation split, tune=true keeps the given lambda
  Split s = community_split(3);
  auto untuned = fit_spec("ease:tune=true,lambda=123", s.train, nullptr);
  EXPECT_DOUBLE_EQ(std::stod(untuned->params().resolved().at("lambda")), 123.0);
}

TEST(Ease, SaveLoadGivesIdenticalScores) {
  Split s = community_split(4);
  auto m = fit_spec("ease:lambda=50", s.train);
  fs::path dir = fs::temp_directory_path() / ("cascade_test_ease_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  m->save(dir);
  auto loaded = load_recaller(dir);
  EXPECT_EQ(loaded->kind(), "ease");
  EXPECT_EQ(loaded->n_items(), 60u);
  EXPECT_EQ(loaded->params().resolved(), m->params().resolved());
  for (uint32_t u : {0u, 1u, 17u}) {
    auto a = scores_of(*m, s.train.row(u)), b = scores_of(*loaded, s.train.row(u));
    EXPECT_EQ(a, b);
  }
  auto ials = make_recaller("ials");
  EXPECT_THROW(ials->load(dir), Error);
  fs::remove_all(dir);
}

TEST(Ease, RecommendsUnseenItemsFromTheUsersCommunity) {
  Split s = community_split(5);
  auto m = fit_spec("ease:lambda=10", s.train);
  int in_group = 0, total = 0;
  for (uint32_t u = 0; u < s.train.n_rows; ++u) {
    UserQuery q;
    q.user = u;
    q.history = s.train.row(u);
    auto top = m->top_n(q, 5);
    ASSERT_EQ(top.size(), 5u);
    std::set<ItemId> seen(q.history.begin(), q.history.end());
    for (const auto& r : top) {
      EXPECT_FALSE(seen.count(r.item));
      in_group += (r.item >= 30) == (u % 2 == 1);
      ++total;
    }
  }
  EXPECT_GT(in_group, total * 9 / 10);
}

TEST(Ease, RejectsBadParametersAndInput) {
  EXPECT_THROW(make_recaller("ease:lambda=-1"), Error);
  EXPECT_THROW(make_recaller("ease:tune=maybe"), Error);
  EXPECT_THROW(make_recaller("ease:value=counts"), Error);
  try {
    make_recaller("ease:lambda=10,alpha=3");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("alpha"), std::string::npos);
  }
  // a catalogue too large for a dense model is refused with a clear message
  auto m = make_recaller("ease:max_items=10");
  Interactions big = make_rows(11, {{0, 10}});
  Catalog cat;
  try {
    m->fit(FitInput{big, cat, 1, 42, nullptr, ""});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("max_items"), std::string::npos);
  }
  // the refusal comes before any work, with what a dense fit of ML-20M's shape would need:
  // 2 copies x 4 bytes x 26,744 x 26,752 (padded) = 5.72 GB; 11 inversions (10 tuning lambdas
  // + the final one) x 26,744^3 / 2 MACs at 26 GMAC/s = 67.4 min
  const std::string why = make_recaller("ease:tune=true")->cannot_fit({138493, 26744, 10000000});
  EXPECT_NE(why.find("26744 items exceed max_items=20000"), std::string::npos) << why;
  EXPECT_NE(why.find("about 5.7 GB"), std::string::npos) << why;
  EXPECT_NE(why.find("about 67 min"), std::string::npos) << why;
  EXPECT_EQ(make_recaller("ease")->cannot_fit({138493, 20000, 10000000}), "");  // at the limit: fits
  EXPECT_NE(make_recaller("ease:tune=false")->cannot_fit({1, 26744, 1}).find("about 2.9 GB"), std::string::npos);
  // lambda = 0 with an unused item makes X^T X singular
  auto z = make_recaller("ease:lambda=0");
  Interactions sing = make_rows(3, {{0, 1}});
  EXPECT_THROW(z->fit(FitInput{sing, cat, 1, 42, nullptr, ""}), Error);

  auto f = fit_spec("ease", make_rows(3, {{0, 1}, {1, 2}}));
  std::vector<float> wrong(2);
  UserQuery q;
  EXPECT_THROW(f->score(q, wrong), Error);
  std::vector<ItemId> bad = {7};
  std::vector<float> out(3);
  q.history = bad;
  EXPECT_THROW(f->score(q, out), Error);
  EXPECT_THROW(f->item_vectors(), NotSupported);
}

}  // namespace
}  // namespace cascade
