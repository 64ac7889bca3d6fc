// Tests for the iALS kernels (src/recall/ials_solver.*) and the "ials" recall channel.
#include <gtest/gtest.h>
#include <unistd.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "cascade/core/error.h"
#include "cascade/recall/recaller.h"
#include "recall/ials_solver.h"
#include "support/test_util.h"

namespace cascade {
namespace {
using test::make_rows;

namespace fs = std::filesystem;

std::vector<float> random_matrix(size_t rows, size_t cols, uint32_t seed, float scale = 0.5f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> d(-scale, scale);
  std::vector<float> m(rows * cols);
  for (float& v : m) v = d(gen);
  return m;
}

// A random sparse confidence matrix: each row holds `per_row` distinct columns.
struct TestCsr {
  std::vector<uint64_t> indptr{0};
  std::vector<uint32_t> indices;
  std::vector<float> conf;
  ials::ConfidenceRows view(uint32_t n_rows) const {
    return {n_rows, indptr.data(), indices.data(), conf.data()};
  }
};

TestCsr random_csr(uint32_t n_rows, uint32_t n_cols, uint32_t per_row, uint32_t seed) {
  std::mt19937 gen(seed);
  TestCsr m;
  for (uint32_t r = 0; r < n_rows; ++r) {
    std::vector<uint32_t> cols(n_cols);
    for (uint32_t c = 0; c < n_cols; ++c) cols[c] = c;
    std::shuffle(cols.begin(), cols.end(), gen);
    // row 1 stays empty: its solution must be exactly zero
    const uint32_t n = r == 1 ? 0 : std::min(per_row, n_cols);
    for (uint32_t k = 0; k < n; ++k) {
      m.indices.push_back(cols[k]);
      m.conf.push_back(1.f + static_cast<float>(gen() % 20));  // c in [1, 20]
    }
    m.indptr.push_back(m.indices.size());
  }
  return m;
}

// Direct solution of one half-step from the dense normal equations, in double:
// x_u = (Y^T C_u Y + reg I)^-1 Y^T C_u p_u with C_u = diag(c_ui), c = 1 off the data.
std::vector<double> direct_half_step(const TestCsr& C, uint32_t n_rows, const std::vector<float>& Y,
                                     uint32_t n_y, uint32_t f, double reg) {
  using Mat = Eigen::MatrixXd;
  Mat Yd(n_y, f);
  for (uint32_t i = 0; i < n_y; ++i)
    for (uint32_t j = 0; j < f; ++j) Yd(i, j) = Y[static_cast<size_t>(i) * f + j];
  std::vector<double> X(static_cast<size_t>(n_rows) * f, 0.0);
  for (uint32_t u = 0; u < n_rows; ++u) {
    Eigen::VectorXd c = Eigen::VectorXd::Ones(n_y), p = Eigen::VectorXd::Zero(n_y);
    for (uint64_t k = C.indptr[u]; k < C.indptr[u + 1]; ++k) {
      c[C.indices[k]] = C.conf[k];
      p[C.indices[k]] = 1.0;
    }
    Mat A = Yd.transpose() * c.asDiagonal() * Yd + reg * Mat::Identity(f, f);
    Eigen::VectorXd b = Yd.transpose() * c.asDiagonal() * p;
    Eigen::VectorXd x = A.ldlt().solve(b);
    for (uint32_t j = 0; j < f; ++j) X[static_cast<size_t>(u) * f + j] = x[j];
  }
  return X;
}

// ---------------------------------------------------------------- kernels

TEST(IalsSolver, GramMatchesDirectProductAndIsThreadIndependent) {
  for (uint32_t f : {7u, 16u, 64u}) {
    const uint32_t n = 300;  // more than one fixed chunk
    auto Y = random_matrix(n, f, 1);
    std::vector<float> g1(f * f), g3(f * f);
    ials::gram(Y.data(), n, f, 0.25, g1.data(), 1);
    ials::gram(Y.data(), n, f, 0.25, g3.data(), 3);
    EXPECT_EQ(g1, g3) << "f=" << f;  // bitwise: summation order is fixed
    for (uint32_t a = 0; a < f; ++a) {
      for (uint32_t b = 0; b < f; ++b) {
        double want = a == b ? 0.25 : 0.0;
        for (uint32_t i = 0; i < n; ++i) want += double(Y[i * f + a]) * Y[i * f + b];
        ASSERT_NEAR(g1[a * f + b], want, 1e-4) << "f=" << f << " a=" << a << " b=" << b;
        ASSERT_EQ(g1[a * f + b], g1[b * f + a]);  // exactly symmetric
      }
    }
  }
}

TEST(IalsSolver, CholeskyHalfStepEqualsNormalEquations) {
  // f = 3 runs the generic kernels, f = 16 the vector ones.
  for (uint32_t f : {3u, 16u}) {
    const uint32_t n_rows = 6, n_y = 9;
    const double reg = 0.7;
    TestCsr C = random_csr(n_rows, n_y, 4, 7);
    auto Y = random_matrix(n_y, f, 3);
    std::vector<float> YtY(f * f);
    ials::gram(Y.data(), n_y, f, reg, YtY.data(), 1);
    std::vector<float> X = random_matrix(n_rows, f, 5);  // the exact solve ignores the start
    ials::solve_cholesky(C.view(n_rows), Y.data(), YtY.data(), f, X.data(), 2);
    auto want = direct_half_step(C, n_rows, Y, n_y, f, reg);
    for (size_t k = 0; k < X.size(); ++k) {
      EXPECT_NEAR(X[k], want[k], 1e-4 * (1.0 + std::abs(want[k]))) << "f=" << f << " k=" << k;
    }
    for (uint32_t j = 0; j < f; ++j) EXPECT_EQ(X[1 * f + j], 0.f);  // empty row
  }
}

TEST(IalsSolver, ConjugateGradientConvergesToCholesky) {
  for (uint32_t f : {5u, 16u, 64u}) {
    const uint32_t n_rows = 12, n_y = 80;
    TestCsr C = random_csr(n_rows, n_y, 10, 11);
    auto Y = random_matrix(n_y, f, 13, 0.3f);
    std::vector<float> YtY(f * f);
    ials::gram(Y.data(), n_y, f, 1.0, YtY.data(), 1);
    std::vector<float> exact(n_rows * f), few(n_rows * f, 0.f), many(n_rows * f, 0.f);
    ials::solve_cholesky(C.view(n_rows), Y.data(), YtY.data(), f, exact.data(), 1);
    ials::solve_cg(C.view(n_rows), Y.data(), YtY.data(), f, 1, few.data(), 1);
    ials::solve_cg(C.view(n_rows), Y.data(), YtY.data(), f, 200, many.data(), 1);
    double err_few = 0, err_many = 0, norm = 0;
    for (size_t k = 0; k < exact.size(); ++k) {
      err_few = std::max(err_few, std::abs(double(few[k]) - exact[k]));
      err_many = std::max(err_many, std::abs(double(many[k]) - exact[k]));
      norm = std::max(norm, std::abs(double(exact[k])));
    }
    EXPECT_LT(err_many, 1e-3 * norm) << "f=" << f;
    EXPECT_GT(err_few, err_many) << "f=" << f;  // one step is not yet converged
  }
}

TEST(IalsSolver, ConjugateGradientIsThreadIndependent) {
  const uint32_t f = 64, n_rows = 100, n_y = 50;
  TestCsr C = random_csr(n_rows, n_y, 8, 17);
  auto Y = random_matrix(n_y, f, 19, 0.1f);
  std::vector<float> YtY(f * f);
  ials::gram(Y.data(), n_y, f, 1.0, YtY.data(), 1);
  auto X1 = random_matrix(n_rows, f, 23, 0.01f);
  auto X4 = X1;
  ials::solve_cg(C.view(n_rows), Y.data(), YtY.data(), f, 3, X1.data(), 1);
  ials::solve_cg(C.view(n_rows), Y.data(), YtY.data(), f, 3, X4.data(), 4);
  EXPECT_EQ(X1, X4);
}

TEST(IalsSolver, ExactHalfStepsNeverIncreaseTheLoss) {
  const uint32_t f = 8, n_u = 30, n_i = 25;
  const double reg = 0.5;
  TestCsr Cu = random_csr(n_u, n_i, 6, 29);
  // item-side view of the same matrix
  TestCsr Ci;
  Ci.indptr.assign(n_i + 1, 0);
  for (uint32_t c : Cu.indices) ++Ci.indptr[c + 1];
  for (uint32_t i = 0; i < n_i; ++i) Ci.indptr[i + 1] += Ci.indptr[i];
  Ci.indices.resize(Cu.indices.size());
  Ci.conf.resize(Cu.conf.size());
  std::vector<uint64_t> next(Ci.indptr.begin(), Ci.indptr.end() - 1);
  for (uint32_t u = 0; u < n_u; ++u) {
    for (uint64_t k = Cu.indptr[u]; k < Cu.indptr[u + 1]; ++k) {
      uint64_t d = next[Cu.indices[k]]++;
      Ci.indices[d] = u;
      Ci.conf[d] = Cu.conf[k];
    }
  }
  auto X = random_matrix(n_u, f, 31, 0.1f);
  auto Y = random_matrix(n_i, f, 37, 0.1f);
  std::vector<float> G(f * f);
  double prev = ials::loss(Cu.view(n_u), X.data(), Y.data(), n_i, f, reg);
  for (int it = 0; it < 5; ++it) {
    ials::gram(Y.data(), n_i, f, reg, G.data(), 1);
    ials::solve_cholesky(Cu.view(n_u), Y.data(), G.data(), f, X.data(), 1);
    double l1 = ials::loss(Cu.view(n_u), X.data(), Y.data(), n_i, f, reg);
    EXPECT_LE(l1, prev * (1 + 1e-6)) << "users, iteration " << it;
    ials::gram(X.data(), n_u, f, reg, G.data(), 1);
    ials::solve_cholesky(Ci.view(n_i), X.data(), G.data(), f, Y.data(), 1);
    double l2 = ials::loss(Cu.view(n_u), X.data(), Y.data(), n_i, f, reg);
    EXPECT_LE(l2, l1 * (1 + 1e-6)) << "items, iteration " << it;
    prev = l2;
  }
}

// ---------------------------------------------------------------- the channel

// Two user groups, two item groups: the first `users` users like items [0, items), the
// others items [items, 2 items); each user has `seen` of their group's items.
Interactions block_data(uint32_t users = 10, uint32_t items = 10, uint32_t seen = 6) {
  std::mt19937 gen(99);
  std::vector<std::vector<uint32_t>> rows;
  for (uint32_t u = 0; u < 2 * users; ++u) {
    std::vector<uint32_t> group(items);
    for (uint32_t k = 0; k < items; ++k) group[k] = (u < users ? 0 : items) + k;
    std::shuffle(group.begin(), group.end(), gen);
    group.resize(seen);
    rows.push_back(group);
  }
  return make_rows(2 * items, rows);
}

struct Fitted {
  Interactions train;
  Catalog catalog;
  std::unique_ptr<Recaller> model;
};

Fitted fit_spec(const std::string& spec, Interactions train, int threads = 2) {
  Fitted f{std::move(train), Catalog{}, make_recaller(spec)};
  f.catalog.items.resize(f.train.n_cols);
  FitInput in{f.train, f.catalog, threads, 42, nullptr, "hash-1"};
  f.model->fit(in);
  return f;
}

std::vector<float> scores_of(const Recaller& m, const UserQuery& q) {
  std::vector<float> s(m.n_items());
  m.score(q, s);
  return s;
}

fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("cascade_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  return d;
}

TEST(Ials, RecommendsUnseenItemsOfTheUsersOwnGroup) {
  // factors=2 runs the generic kernel, 16 the vector one (on more data, so that 16 factors
  // cannot simply memorise the matrix).
  for (const auto& [spec, users, items, seen] :
       {std::tuple{"ials:factors=2,reg=0.1,alpha=10,iters=10", 10u, 10u, 6u},
        std::tuple{"ials:factors=16,reg=10,alpha=10,iters=10", 60u, 20u, 8u}}) {
    auto f = fit_spec(spec, block_data(users, items, seen));
    EXPECT_EQ(f.model->kind(), "ials");
    EXPECT_EQ(f.model->n_items(), 2 * items);
    const size_t k = items - seen;  // exactly the unseen items of the user's own group
    for (uint32_t u = 0; u < 2 * users; ++u) {
      UserQuery q;
      q.user = u;
      q.history = f.train.row(u);
      auto top = f.model->top_n(q, k);
      ASSERT_EQ(top.size(), k);
      std::set<ItemId> seen_items(q.history.begin(), q.history.end()), got;
      for (const auto& s : top) {
        EXPECT_FALSE(seen_items.count(s.item)) << spec << " user " << u << " got a seen item " << s.item;
        EXPECT_EQ(s.item < items, u < users) << spec << " user " << u << " got item " << s.item;
        got.insert(s.item);
      }
      EXPECT_EQ(got.size(), k);
    }
  }
}

TEST(Ials, FoldInOfAKnownHistoryRanksLikeTheFittedFactor) {
  auto f = fit_spec("ials:factors=16,reg=10,alpha=10,iters=30", block_data(60, 20, 8));
  for (uint32_t u : {0u, 7u, 65u, 119u}) {
    UserQuery known;
    known.user = u;
    known.history = f.train.row(u);
    UserQuery fresh;  // same history, unknown user: exact fold-in
    fresh.history = f.train.row(u);
    auto a = scores_of(*f.model, known);
    auto b = scores_of(*f.model, fresh);
    // A known user whose history is past the fit (live events) is folded in, like a new user.
    UserQuery past = known;
    past.past_fit = true;
    EXPECT_EQ(scores_of(*f.model, past), b) << "user " << u;
    float range = *std::max_element(a.begin(), a.end()) - *std::min_element(a.begin(), a.end());
    for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 0.02 * range) << "user " << u;
    // both rank the user's own unseen group items first
    auto ta = f.model->top_n(known, 12), tb = f.model->top_n(fresh, 12);
    std::set<ItemId> sa, sb;
    for (auto& s : ta) sa.insert(s.item);
    for (auto& s : tb) sb.insert(s.item);
    EXPECT_EQ(sa, sb) << "user " << u;
  }
}

TEST(Ials, FoldInUsesRatingsWhenValueIsRating) {
  auto f = fit_spec("ials:factors=16,reg=0.1,alpha=1,value=rating,iters=5",
                    make_rows(4, {{0, 1}, {1, 2}, {2, 3}, {0, 3}}, {{5, 1}, {1, 5}, {5, 1}, {1, 5}}));
  std::vector<ItemId> hist = {0, 1};
  std::vector<float> v1 = {5, 1}, v2 = {1, 5};
  UserQuery q1, q2;
  q1.history = hist;
  q1.values = v1;
  q2.history = hist;
  q2.values = v2;
  EXPECT_NE(scores_of(*f.model, q1), scores_of(*f.model, q2));
  std::vector<float> bad = {1};
  UserQuery q3;
  q3.history = hist;
  q3.values = bad;
  std::vector<float> out(4);
  EXPECT_THROW(f.model->score(q3, out), Error);
}

TEST(Ials, SaveLoadGivesIdenticalScores) {
  auto f = fit_spec("ials:factors=16,reg=0.5,alpha=5,iters=4", block_data());
  fs::path dir = temp_dir("ials_roundtrip");
  f.model->save(dir);
  auto loaded = load_recaller(dir);
  EXPECT_EQ(loaded->kind(), "ials");
  EXPECT_EQ(loaded->n_items(), f.model->n_items());
  EXPECT_EQ(loaded->params().resolved(), f.model->params().resolved());
  std::vector<ItemId> hist = {1, 2, 13};
  for (uint32_t u : {0u, 19u}) {
    UserQuery q;
    q.user = u;
    q.history = f.train.row(u);
    EXPECT_EQ(scores_of(*f.model, q), scores_of(*loaded, q));
  }
  UserQuery fold;
  fold.history = hist;
  EXPECT_EQ(scores_of(*f.model, fold), scores_of(*loaded, fold));
  auto iv = loaded->item_vectors();
  EXPECT_EQ(iv.rows, 20u);
  EXPECT_EQ(iv.dim, 16u);
  // a different kind refuses the directory
  auto ease = make_recaller("ease");
  EXPECT_THROW(ease->load(dir), Error);
  fs::remove_all(dir);
}

TEST(Ials, DeterministicForASeedWhateverTheThreadCount) {
  auto a = fit_spec("ials:factors=16,iters=3,seed=7", block_data(), 1);
  auto b = fit_spec("ials:factors=16,iters=3,seed=7", block_data(), 3);
  auto c = fit_spec("ials:factors=16,iters=3,seed=8", block_data(), 1);
  auto va = a.model->item_vectors(), vb = b.model->item_vectors(), vc = c.model->item_vectors();
  std::vector<float> xa(va.data, va.data + va.rows * va.dim), xb(vb.data, vb.data + vb.rows * vb.dim),
      xc(vc.data, vc.data + vc.rows * vc.dim);
  EXPECT_EQ(xa, xb);
  EXPECT_NE(xa, xc);
}

TEST(Ials, CholeskyAndCgModelsAgree) {
  auto cg = fit_spec("ials:factors=16,reg=0.1,alpha=10,iters=10,cg_steps=30", block_data());
  auto ch = fit_spec("ials:factors=16,reg=0.1,alpha=10,iters=10,use_cg=false", block_data());
  UserQuery q;
  q.user = 3;
  auto a = scores_of(*cg.model, q), b = scores_of(*ch.model, q);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-2);
}

TEST(Ials, UsersWithoutTrainingRowsAreFoldedIn) {
  auto f = fit_spec("ials:factors=16,reg=0.1,iters=5",
                    make_rows(20, {{0, 1, 2}, {}, {10, 11, 12}, {1, 2, 3}, {11, 12, 13}}));
  UserQuery empty_user;
  empty_user.user = 1;  // known id, no training entries, no history: no evidence
  auto s = scores_of(*f.model, empty_user);
  for (float v : s) EXPECT_EQ(v, 0.f);
  std::vector<ItemId> hist = {10, 11};
  empty_user.history = hist;  // now folded in from the history
  auto top = f.model->top_n(empty_user, 2);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_GE(top[0].item, 10u);
  UserQuery beyond;  // an id past the fitted users is treated as unknown
  beyond.user = 1000;
  beyond.history = hist;
  EXPECT_EQ(scores_of(*f.model, beyond), scores_of(*f.model, empty_user));
}

TEST(Ials, RejectsBadParametersAndInput) {
  try {
    make_recaller("ials:factors=8,bogus=1");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bogus"), std::string::npos);
  }
  EXPECT_THROW(make_recaller("ials:factors=0"), Error);
  EXPECT_THROW(make_recaller("ials:reg=-1"), Error);
  EXPECT_THROW(make_recaller("ials:value=counts"), Error);
  EXPECT_THROW(make_recaller("ials:cg_steps=0"), Error);
  EXPECT_THROW(make_recaller("ials:use_cg=perhaps"), Error);

  auto m = make_recaller("ials:factors=4");
  std::vector<float> out(3);
  UserQuery q;
  EXPECT_THROW(m->score(q, out), Error);  // before fit

  // negative ratings would make a confidence below zero
  Interactions neg = make_rows(3, {{0, 1}}, {{-1.f, 2.f}});
  Catalog cat;
  auto r = make_recaller("ials:factors=4,value=rating,alpha=5");
  EXPECT_THROW(r->fit(FitInput{neg, cat, 1, 42, nullptr, ""}), Error);

  auto f = fit_spec("ials:factors=4,iters=2", block_data());
  std::vector<float> wrong(5);
  EXPECT_THROW(f.model->score(q, wrong), Error);
  std::vector<ItemId> bad_hist = {3, 99};
  UserQuery qb;
  qb.history = bad_hist;
  std::vector<float> full(20);
  EXPECT_THROW(f.model->score(qb, full), Error);
}

}  // namespace
}  // namespace cascade
