#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "cascade/core/error.h"
#include "cascade/eval/evaluator.h"
#include "cascade/eval/metrics.h"
#include "cascade/recall/recaller.h"

namespace cascade {
namespace {

namespace fs = std::filesystem;

/// A channel with a fixed score table (scores[u][i]; users past the table get `fallback`).
/// Records each query's history and values per user so the test can check what it was given.
class FixedScores : public Recaller {
 public:
  FixedScores(std::vector<std::vector<float>> scores, std::vector<float> fallback)
      : scores_(std::move(scores)), fallback_(std::move(fallback)), seen_(64) {}

  std::string kind() const override { return "test_fixed_scores"; }
  void fit(const FitInput&) override {}
  void score(const UserQuery& q, std::span<float> out) const override {
    const std::vector<float>& row = q.user < scores_.size() ? scores_[q.user] : fallback_;
    std::copy(row.begin(), row.end(), out.begin());
    if (q.user < seen_.size()) {  // each user is queried once: no two threads share a slot
      seen_[q.user].called = true;
      seen_[q.user].history.assign(q.history.begin(), q.history.end());
      seen_[q.user].values.assign(q.values.begin(), q.values.end());
    }
  }
  Params params() const override { return Params(); }
  void save(const fs::path&) const override { throw NotSupported("test model"); }
  void load(const fs::path&) override { throw NotSupported("test model"); }
  uint32_t n_items() const override { return static_cast<uint32_t>(fallback_.size()); }

  struct Seen {
    bool called = false;
    std::vector<ItemId> history;
    std::vector<float> values;
  };
  const Seen& seen(UserId u) const { return seen_[u]; }

 private:
  std::vector<std::vector<float>> scores_;
  std::vector<float> fallback_;
  mutable std::vector<Seen> seen_;
};

Interactions make_matrix(uint32_t n_cols, const std::vector<std::vector<ItemId>>& rows,
                         float value = 1.0f) {
  Interactions m;
  m.n_cols = n_cols;
  for (const auto& r : rows) {
    std::vector<float> vals(r.size(), value);
    std::vector<int64_t> ts(r.size());
    for (size_t i = 0; i < ts.size(); ++i) ts[i] = static_cast<int64_t>(i);
    m.append_row(r, vals, ts);
  }
  return m;
}

// 6 items scored 6 - i for everybody (item 0 best). Users:
//   u0 train {0}      valid {1}  test {2}
//   u1 train {1, 3}   valid {0}  test {}
//   u2 train {}       valid {2}  test {5}
//   u3 train {0, 1}   valid {}   test {}
struct Tiny {
  std::vector<float> base = {6, 5, 4, 3, 2, 1};
  FixedScores model{{}, base};
  Interactions train = make_matrix(6, {{0}, {1, 3}, {}, {0, 1}}, 4.0f);
  Interactions valid = make_matrix(6, {{1}, {0}, {2}, {}});
  Interactions test = make_matrix(6, {{2}, {}, {5}, {}});
};

TEST(Evaluator, MasksTrainItemsButNotValidationItems) {
  Tiny t;
  EvalOptions opt;
  opt.ks = {3, 1, 2, 2};  // unsorted with a duplicate: normalised to 1, 2, 3
  opt.threads = 1;
  EvalResult r = evaluate(t.model, t.train, t.test, opt);
  ASSERT_EQ(r.users, (std::vector<UserId>{0, 2}));
  // u0's list is [1, 2, 3, ...]: train item 0 masked, validation item 1 kept, so test item 2
  // sits at rank 2 (it would be rank 1 if validation items were masked too).
  EXPECT_EQ(r.per_user.at("recall@1"), (std::vector<double>{0, 0}));
  EXPECT_EQ(r.per_user.at("recall@2"), (std::vector<double>{1, 0}));
  EXPECT_EQ(r.per_user.at("hitrate@2"), (std::vector<double>{1, 0}));
  EXPECT_NEAR(r.per_user.at("ndcg@2")[0], 1.0 / std::log2(3.0), 1e-12);
  EXPECT_DOUBLE_EQ(r.per_user.at("mrr@3")[0], 0.5);
  // u2 has no history: item 5 is last of 6.
  EXPECT_DOUBLE_EQ(r.per_user.at("ndcg@3")[1], 0.0);
  EXPECT_NEAR(r.summary.at("ndcg@2"), 0.5 / std::log2(3.0), 1e-12);
  EXPECT_DOUBLE_EQ(r.summary.at("recall@3"), 0.5);

  // The query carried the dense id, the train row and its values.
  EXPECT_EQ(t.model.seen(0).history, (std::vector<ItemId>{0}));
  EXPECT_EQ(t.model.seen(0).values, (std::vector<float>{4.0f}));
  EXPECT_TRUE(t.model.seen(2).called);
  EXPECT_TRUE(t.model.seen(2).history.empty());
  EXPECT_FALSE(t.model.seen(1).called);  // no test item: not evaluated
  EXPECT_FALSE(t.model.seen(3).called);

  // Top lists: u0 [1, 2, 3], u2 [0, 1, 2].
  EXPECT_DOUBLE_EQ(r.summary.at("coverage@1"), 2.0 / 6);
  EXPECT_DOUBLE_EQ(r.summary.at("coverage@2"), 3.0 / 6);
  EXPECT_DOUBLE_EQ(r.summary.at("coverage@3"), 4.0 / 6);

  // Popularity over 4 train users: item 0 and 1 have 2 users, item 3 one, others 0 (floor 1).
  EXPECT_DOUBLE_EQ(r.per_user.at("novelty@1")[0], 1.0);
  EXPECT_DOUBLE_EQ(r.per_user.at("novelty@2")[0], 1.5);
  EXPECT_DOUBLE_EQ(r.per_user.at("novelty@3")[0], 5.0 / 3);
  EXPECT_DOUBLE_EQ(r.per_user.at("novelty@3")[1], 4.0 / 3);
  EXPECT_DOUBLE_EQ(r.summary.at("novelty@3"), 1.5);

  EXPECT_EQ(r.per_user.count("ils@3"), 0u);  // no vectors given
  EXPECT_EQ(r.per_user.size(), 5u * 3);
  EXPECT_EQ(r.summary.size(), 6u * 3);
  EXPECT_GE(r.seconds, 0.0);
}

TEST(Evaluator, ValidationSplitAndRepeatedTrainEvents) {
  Tiny t;
  // u3 saw item 0 twice: popularity counts distinct users, so it stays 2.
  t.train = make_matrix(6, {{0}, {1, 3}, {}, {0, 1, 0}});
  EvalOptions opt;
  opt.ks = {1};
  EvalResult r = evaluate(t.model, t.train, t.valid, opt);
  ASSERT_EQ(r.users, (std::vector<UserId>{0, 1, 2}));
  // u0 [1..], u1 [0..] (1 and 3 masked), u2 [0..]: the first two hit at rank 1.
  EXPECT_EQ(r.per_user.at("recall@1"), (std::vector<double>{1, 1, 0}));
  EXPECT_DOUBLE_EQ(r.per_user.at("novelty@1")[1], 1.0);  // item 0: 2 of 4 users
  EXPECT_DOUBLE_EQ(r.summary.at("coverage@1"), 2.0 / 6);
}

TEST(Evaluator, IlsFromItemVectors) {
  Tiny t;
  // Items on the unit circle at angles 0, 30, ..., 150 degrees.
  std::vector<float> vec;
  for (int i = 0; i < 6; ++i) {
    vec.push_back(static_cast<float>(std::cos(i * std::numbers::pi / 6)));
    vec.push_back(static_cast<float>(std::sin(i * std::numbers::pi / 6)));
  }
  EvalOptions opt;
  opt.ks = {2, 3};
  opt.ils_vectors = {vec.data(), 6, 2};
  EvalResult r = evaluate(t.model, t.train, t.test, opt);
  // u0's top 2 = items 1, 2: cos 30 degrees.
  EXPECT_NEAR(r.per_user.at("ils@2")[0], std::cos(std::numbers::pi / 6), 1e-6);
  EXPECT_NEAR(r.per_user.at("ils@3")[0], ils_at(std::vector<ItemId>{1, 2, 3}, vec.data(), 2, 3), 1e-12);
  EXPECT_NEAR(r.per_user.at("ils@3")[1], ils_at(std::vector<ItemId>{0, 1, 2}, vec.data(), 2, 3), 1e-12);
  EXPECT_TRUE(r.summary.count("ils@3"));

  opt.ils_vectors = {vec.data(), 5, 2};  // fewer rows than items
  EXPECT_THROW(evaluate(t.model, t.train, t.test, opt), Error);
}

TEST(Evaluator, RejectsBadOptionsAndInputs) {
  Tiny t;
  EvalOptions opt;
  opt.ks = {};
  EXPECT_THROW(evaluate(t.model, t.train, t.test, opt), Error);
  opt.ks = {0, 5};
  EXPECT_THROW(evaluate(t.model, t.train, t.test, opt), Error);
  opt.ks = {5};
  Interactions bad_train = make_matrix(9, {{8}});  // item outside the 6-item catalogue
  EXPECT_THROW(evaluate(t.model, bad_train, t.test, opt), Error);
}

// A random problem: 200 users, 300 items, per-user random scores, random train/held-out rows.
struct RandomProblem {
  static constexpr uint32_t kUsers = 200, kItems = 300;
  std::vector<std::vector<float>> scores;
  Interactions train, test;
  RandomProblem() {
    std::mt19937_64 rng(123);
    std::uniform_real_distribution<float> uni(0.0f, 1.0f);
    std::uniform_int_distribution<uint32_t> item(0, kItems - 1);
    scores.assign(kUsers, std::vector<float>(kItems));
    std::vector<std::vector<ItemId>> tr(kUsers), te(kUsers);
    for (uint32_t u = 0; u < kUsers; ++u) {
      for (float& s : scores[u]) s = uni(rng) * uni(rng);  // skewed, some near-ties
      for (int j = 0; j < 15; ++j) tr[u].push_back(item(rng));
      if (u % 7 != 3) {
        for (int j = 0; j < 1 + static_cast<int>(u % 3); ++j) te[u].push_back(item(rng));
      }
    }
    train = make_matrix(kItems, tr);
    test = make_matrix(kItems, te);
  }
};

TEST(Evaluator, ThreadCountDoesNotChangeResults) {
  RandomProblem p;
  FixedScores model(p.scores, std::vector<float>(RandomProblem::kItems, 0.0f));
  std::vector<float> vec(RandomProblem::kItems * 4);
  std::mt19937 rng(5);
  std::normal_distribution<float> g;
  for (float& x : vec) x = g(rng);
  EvalOptions opt;
  opt.ks = {5, 20, 100};
  opt.ils_vectors = {vec.data(), RandomProblem::kItems, 4};
  opt.threads = 1;
  EvalResult one = evaluate(model, p.train, p.test, opt);
  opt.threads = 2;
  EvalResult two = evaluate(model, p.train, p.test, opt);
  opt.threads = 5;
  EvalResult five = evaluate(model, p.train, p.test, opt);
  EXPECT_EQ(one.users.size(), 200u - 29u);  // u % 7 == 3 has no held-out items
  EXPECT_EQ(one.users, two.users);
  EXPECT_EQ(one.per_user, two.per_user);  // bitwise equal
  EXPECT_EQ(one.summary, two.summary);
  EXPECT_EQ(one.per_user, five.per_user);
  EXPECT_EQ(one.summary, five.summary);
  EXPECT_GT(one.summary.at("recall@100"), one.summary.at("recall@5"));
  EXPECT_GE(one.summary.at("coverage@100"), one.summary.at("coverage@20"));
}

TEST(Evaluator, PrecomputedListsMatchModelEvaluation) {
  RandomProblem p;
  FixedScores model(p.scores, std::vector<float>(RandomProblem::kItems, 0.0f));
  EvalOptions opt;
  opt.ks = {10, 50};
  EvalResult direct = evaluate(model, p.train, p.test, opt);
  std::vector<std::vector<ItemId>> lists(RandomProblem::kUsers);
  for (UserId u = 0; u < RandomProblem::kUsers; ++u) {
    UserQuery q;
    q.user = u;
    q.history = p.train.row(u);
    for (const ScoredItem& s : model.top_n(q, 80)) lists[u].push_back(s.item);  // longer than max K
  }
  EvalResult from_lists = evaluate_lists(lists, p.train, p.test, RandomProblem::kItems, opt);
  EXPECT_EQ(direct.users, from_lists.users);
  EXPECT_EQ(direct.per_user, from_lists.per_user);
  EXPECT_EQ(direct.summary, from_lists.summary);

  lists.resize(10);  // users with held-out items but no list
  EXPECT_THROW(evaluate_lists(lists, p.train, p.test, RandomProblem::kItems, opt), Error);
  lists.assign(RandomProblem::kUsers, {0, 1, 9999});  // item outside the catalogue
  EXPECT_THROW(evaluate_lists(lists, p.train, p.test, RandomProblem::kItems, opt), Error);
}

class PerUserCsv : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("cascade_eval_csv_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    fs::path p = dir_ / name;
    std::ofstream(p) << text;
    return p.string();
  }
  fs::path dir_;
};

TEST_F(PerUserCsv, RoundTripIsExact) {
  RandomProblem p;
  FixedScores model(p.scores, std::vector<float>(RandomProblem::kItems, 0.0f));
  EvalOptions opt;
  opt.ks = {3, 10};
  EvalResult r = evaluate(model, p.train, p.test, opt);
  r.per_user["weird"] = std::vector<double>(r.users.size(), 1.0 / 3.0);
  r.per_user["weird"][0] = 1e-300;
  r.per_user["weird"][1] = -0.1;
  const std::string path = (dir_ / "sub" / "per_user.csv").string();
  save_per_user_csv(r, path);
  {
    std::ifstream in(path);
    std::string header;
    std::getline(in, header);
    EXPECT_EQ(header.rfind("user,hitrate@10,hitrate@3,mrr@10,", 0), 0u) << header;
  }
  EvalResult back = load_per_user_csv(path);
  EXPECT_EQ(back.users, r.users);
  EXPECT_EQ(back.per_user, r.per_user);  // %.17g round-trips every double
  for (const auto& [name, mean] : r.summary) {
    if (name.rfind("coverage@", 0) == 0) continue;  // catalogue-level: not in the CSV
    EXPECT_DOUBLE_EQ(back.summary.at(name), mean) << name;
  }
}

TEST_F(PerUserCsv, EmptyResultRoundTrips) {
  EvalResult r;
  r.per_user["recall@10"] = {};
  const std::string path = (dir_ / "empty.csv").string();
  save_per_user_csv(r, path);
  EvalResult back = load_per_user_csv(path);
  EXPECT_TRUE(back.users.empty());
  ASSERT_EQ(back.per_user.count("recall@10"), 1u);
  EXPECT_TRUE(back.per_user.at("recall@10").empty());
}

TEST_F(PerUserCsv, ErrorsNameFileAndLine) {
  auto expect_error = [&](const std::string& name, const std::string& text, size_t line) {
    const std::string path = write(name, text);
    try {
      load_per_user_csv(path);
      ADD_FAILURE() << name << ": expected a DataError";
    } catch (const DataError& e) {
      EXPECT_EQ(e.file(), path) << name;
      EXPECT_EQ(e.line(), line) << name << ": " << e.what();
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  };
  expect_error("bad_number.csv", "user,recall@10\n0,0.5\n1,abc\n", 3);
  expect_error("trailing.csv", "user,recall@10\n0,0.5x\n", 2);
  expect_error("fields.csv", "user,recall@10,ndcg@10\n0,1,0.5\n1,1\n", 3);
  expect_error("header.csv", "id,recall@10\n0,1\n", 1);
  expect_error("empty.csv", "", 1);
  expect_error("order.csv", "user,recall@10\n4,1\n2,0\n", 3);
  expect_error("dup_col.csv", "user,a,a\n", 1);
  expect_error("bad_user.csv", "user,recall@10\n-1,1\n", 2);
  expect_error("empty_value.csv", "user,recall@10\r\n0,\r\n", 2);
  EXPECT_THROW(load_per_user_csv((dir_ / "missing.csv").string()), Error);
}

TEST_F(PerUserCsv, AcceptsCrlfAndComputesMeans) {
  const std::string path = write("crlf.csv", "user,recall@10\r\n0,1\r\n3,0\r\n7,0.5\r\n");
  EvalResult r = load_per_user_csv(path);
  EXPECT_EQ(r.users, (std::vector<UserId>{0, 3, 7}));
  EXPECT_EQ(r.per_user.at("recall@10"), (std::vector<double>{1, 0, 0.5}));
  EXPECT_DOUBLE_EQ(r.summary.at("recall@10"), 0.5);
}

TEST_F(PerUserCsv, SaveRejectsMismatchedColumns) {
  EvalResult r;
  r.users = {0, 1};
  r.per_user["recall@10"] = {1.0};
  EXPECT_THROW(save_per_user_csv(r, (dir_ / "x.csv").string()), Error);
  r.per_user["recall@10"] = {1.0, 0.0};
  r.per_user["bad,name"] = {1.0, 0.0};
  EXPECT_THROW(save_per_user_csv(r, (dir_ / "x.csv").string()), Error);
}

}  // namespace
}  // namespace cascade
