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
