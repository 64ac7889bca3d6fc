// The contract every registered ranker meets (LR, GBDT, DeepFM, DIN, ...): on a synthetic
// pool where one feature carries the signal and the pool order only a little of it, the
// ranker must learn the feature and beat the pool order; a save/load round trip gives
// identical scores; a batch with another schema and unknown parameters are refused.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <random>

#include "cascade/core/error.h"
#include "cascade/core/registry.h"
#include "cascade/io/artifact.h"
#include "cascade/rank/blend.h"
#include "cascade/rank/ranker.h"
#include "support/tiny_data.h"

namespace cascade {
namespace {

// Groups of `rows` candidates, 2 positives each. Columns: fused_rank (log1p position; the
// positives sit a little higher on average), signal (positives ~ N(1.5, 1), negatives
// ~ N(0, 1)), noise, and one column missing half the time. Fields: user, item, gender.
RankTrainSet synthetic(size_t groups, size_t rows, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0, 1);
  std::uniform_real_distribution<float> unit(0, 1);
  RankTrainSet t;
  RankBatch& b = t.batch;
  b.schema.dense = {"fused_rank", "signal", "noise", "sometimes"};
  b.schema.fields = {{"user", 51}, {"item", 101}, {"gender", 3}};
  b.schema.n_items = 100;
  b.schema.max_history = 5;
  for (size_t g = 0; g < groups; ++g) {
    // Pool order: shuffle, then move the positives up by a few places.
    std::vector<float> key(rows);
    for (size_t r = 0; r < rows; ++r) key[r] = unit(rng) + (r < 2 ? -0.15f : 0.0f);
    std::vector<size_t> order(rows);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](size_t a, size_t c) { return key[a] < key[c]; });
    std::vector<size_t> position(rows);
    for (size_t p = 0; p < rows; ++p) position[order[p]] = p;
    const auto user = static_cast<uint32_t>(1 + g % 50);
    for (size_t p = 0; p < rows; ++p) {
      const size_t r = order[p];  // rows in pool order, as a live pool arrives
      const bool pos = r < 2;
      b.items.push_back(static_cast<ItemId>((g * 7 + r * 13) % 100));
      b.dense.push_back(std::log1p(static_cast<float>(position[r] + 1)));
      b.dense.push_back(normal(rng) + (pos ? 1.5f : 0.0f));
      b.dense.push_back(normal(rng));
      b.dense.push_back(unit(rng) < 0.5f ? std::numeric_limits<float>::quiet_NaN() : normal(rng));
      b.cats.push_back(user);
      b.cats.push_back(b.items.back() + 1);
      b.cats.push_back(user % 3);
      t.labels.push_back(pos ? 1.0f : 0.0f);
    }
    for (size_t h = 0; h < 5; ++h) b.history.push_back(static_cast<ItemId>((g + h * 31) % 100));
    b.group_begin.push_back(static_cast<uint32_t>(b.items.size()));
    b.hist_begin.push_back(static_cast<uint32_t>(b.history.size()));
    b.group_user.push_back(user - 1);
  }
  return t;
}

// Small, fast settings per kind (defaults otherwise).
std::string fast_spec(const std::string& kind) {
  if (kind == "gbdt") return "gbdt:rounds=60,threads=1";  // OpenMP spin-waits on a busy machine
  if (kind == "deepfm" || kind == "din" || kind == "bst") return kind + ":epochs=4";
  return kind;
}

// The model of fast_spec(kind) plus `extra` parameters; a blend gets LR and GBDT as members.
std::unique_ptr<Ranker> make_fast(const std::string& kind, const std::string& extra = "") {
  const std::string base = kind == "blend" ? "blend:members=lr+gbdt" : fast_spec(kind);
  const std::string sep = base.find(':') == std::string::npos ? ":" : ",";
  auto model = make_ranker(extra.empty() ? base : base + sep + extra);
  if (auto* blend = dynamic_cast<BlendRanker*>(model.get())) {
    std::vector<std::unique_ptr<Ranker>> members;
    members.push_back(make_ranker(fast_spec("lr")));
    members.push_back(make_ranker(fast_spec("gbdt")));
    blend->set_members(std::move(members));
  }
  return model;
}

// The parameter a contract test sets to tell a fitted model's parameters from the defaults.
std::pair<std::string, std::string> non_default_param(const std::string& kind) {
  if (kind == "blend") return {"weights", "2/1"};
  return {"seed", "5"};
}

class RankerContract : public ::testing::TestWithParam<std::string> {};

TEST_P(RankerContract, LearnsTheSignalBeyondThePoolOrderAndRoundTrips) {
  const std::string kind = GetParam();
  const RankTrainSet train = synthetic(300, 30, 1), valid = synthetic(40, 30, 2), test = synthetic(150, 30, 3);
  auto model = make_fast(kind);
  EXPECT_EQ(model->kind(), kind);
  RankFitOptions fo;
  fo.threads = 2;
  fo.seed = 7;
  fo.valid = &valid;
  model->fit(train, fo);
  EXPECT_EQ(model->schema(), train.batch.schema);

  std::vector<float> s(test.batch.rows());
  model->score(test.batch, s);
  for (float x : s) ASSERT_TRUE(std::isfinite(x));
  // The pool order's own AUC (better rank = higher score) vs the ranker's.
  std::vector<float> pool(test.batch.rows());
  for (size_t r = 0; r < pool.size(); ++r) pool[r] = -test.batch.dense_row(r)[0];
  const double pool_auc = grouped_auc(test.batch, test.labels, pool);
  const double auc = grouped_auc(test.batch, test.labels, s);
  EXPECT_GT(pool_auc, 0.55);  // the pool order carries some signal...
  EXPECT_LT(pool_auc, 0.75);
  EXPECT_GT(auc, 0.80) << kind << " did not learn the signal column";  // ...the ranker learns more
  EXPECT_GT(auc, pool_auc + 0.1);

  const auto dir = std::filesystem::temp_directory_path() / ("cascade_ranker_" + kind + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  model->save(dir);
  auto loaded = load_ranker(dir);
  EXPECT_EQ(loaded->kind(), kind);
  std::vector<float> s2(test.batch.rows());
  loaded->score(test.batch, s2);
  for (size_t r = 0; r < s.size(); ++r) ASSERT_EQ(s[r], s2[r]) << kind << " row " << r;
  // A group scored alone scores as inside the batch (rankers score rows, not batches).
  const RankBatch one = test.batch.slice_groups(5, 6);
  std::vector<float> s3(one.rows());
  loaded->score(one, s3);
  for (size_t r = 0; r < s3.size(); ++r) EXPECT_NEAR(s3[r], s[test.batch.group_begin[5] + r], 1e-5) << kind;
  std::filesystem::remove_all(dir);

  // Another schema is refused with the column named.
  RankBatch other = test.batch;
  other.schema.dense[1] = "other_signal";
  std::vector<float> s4(other.rows());
  try {
    model->score(other, s4);
    FAIL() << kind << " scored a batch with another schema";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("other_signal"), std::string::npos) << e.what();
  }
}

// Same data, same seed, same threads -> the same model, bit for bit (scores and saved
// files). The printed fingerprint (a hash of the scores) is compared between processes and
// before/after refactors.
TEST_P(RankerContract, FitIsDeterministic) {
  const std::string kind = GetParam();
  const RankTrainSet train = synthetic(100, 30, 1), valid = synthetic(20, 30, 2), test = synthetic(40, 30, 3);
  std::string fingerprint;
  nlohmann::json files;
  for (int run = 0; run < 2; ++run) {
    auto model = make_fast(kind);
    RankFitOptions fo;
    fo.threads = 2;
    fo.seed = 7;
    fo.valid = &valid;
    model->fit(train, fo);
    std::vector<float> s(test.batch.rows());
    model->score(test.batch, s);
    const std::string fp =
        hash_hex(std::string_view(reinterpret_cast<const char*>(s.data()), s.size() * sizeof(float)));
    test::TempDir dir("ranker_determinism_" + kind);
    model->save(dir.path());
    const auto manifest = nlohmann::json::parse(read_file(dir.path() / "manifest.json"));
    if (run == 0) {
      fingerprint = fp;
      files = manifest.at("files");
      std::cout << "[fingerprint] ranker " << kind << " " << fp << "\n";
    } else {
      EXPECT_EQ(fp, fingerprint) << kind << ": a second fit scores differently";
      EXPECT_EQ(manifest.at("files"), files) << kind << ": a second fit saves other files";
    }
  }
}

// A loaded ranker reports the parameters it was fitted with (not its kind's defaults).
TEST_P(RankerContract, ParamsRoundTripThroughSaveLoad) {
  const std::string kind = GetParam();
  const auto defaults = make_ranker(kind)->params().resolved();
  const auto [key, value] = non_default_param(kind);
  ASSERT_TRUE(defaults.count(key)) << kind << " has no " << key << " parameter";
  auto model = make_fast(kind, key + "=" + value);
  ASSERT_NE(model->params().resolved(), defaults);
  const RankTrainSet train = synthetic(20, 30, 1);
  RankFitOptions fo;
  fo.threads = 1;
  model->fit(train, fo);
  test::TempDir dir("ranker_params_" + kind);
  model->save(dir.path());
  const auto loaded = load_ranker(dir.path());
  EXPECT_EQ(loaded->params().resolved(), model->params().resolved()) << kind;
  EXPECT_EQ(loaded->params().resolved().at(key), value) << kind;
}

// A validation set with nothing to evaluate (no group with a positive and a negative: the
// grouped AUC is NaN) is skipped, not scored 0: the fit equals one without validation.
TEST_P(RankerContract, ValidationWithNothingToEvaluateIsIgnored) {
  const std::string kind = GetParam();
  const RankTrainSet train = synthetic(60, 30, 1), test = synthetic(10, 30, 3);
  RankTrainSet valid = synthetic(10, 30, 2);
  std::fill(valid.labels.begin(), valid.labels.end(), 0.0f);
  ASSERT_TRUE(std::isnan(grouped_auc(valid.batch, valid.labels, std::vector<float>(valid.batch.rows(), 0.0f))));
  std::vector<std::vector<float>> scores;
  for (const RankTrainSet* v : std::vector<const RankTrainSet*>{nullptr, &valid}) {
    auto model = make_fast(kind);
    RankFitOptions fo;
    fo.threads = 1;
    fo.seed = 7;
    fo.valid = v;
    model->fit(train, fo);
    scores.emplace_back(test.batch.rows());
    model->score(test.batch, scores.back());
  }
  EXPECT_EQ(scores[0], scores[1]) << kind;
}

TEST_P(RankerContract, UnknownParameterIsRefused) {
  EXPECT_THROW(make_ranker(GetParam() + ":no_such_param=1"), Error);
}

INSTANTIATE_TEST_SUITE_P(AllRegistered, RankerContract,
                         ::testing::ValuesIn(Registry<Ranker>::instance().names()),
                         [](const auto& info) { return info.param; });

TEST(RankerRegistry, UnknownKindListsTheKnownOnes) {
  try {
    make_ranker("nope");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("gbdt"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("lr"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace cascade
