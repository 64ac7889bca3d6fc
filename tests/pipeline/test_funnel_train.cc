// What every funnel is trained from: fusion weights are a function of the channel quota alone
// (tuned on validation at that quota), and the training pools do not depend on the served
// quota or pool depth, so the funnel `bench funnel` evaluates at some quota is the one a bundle
// configured for that quota builds.
#include "cascade/pipeline/funnel_train.h"

#include <gtest/gtest.h>

#include "support/tiny_bundle.h"

namespace cascade {
namespace {

YAML::Node config_with_quota(size_t quota) {
  YAML::Node cfg = testing::tiny_config();
  cfg["recall"]["fusion"]["tune"] = true;
  cfg["recall"]["fusion"]["quota"] = quota;
  cfg["recall"]["fusion"]["tune_metric"] = "recall@10";  // sensitive enough for weights to move
  cfg["rank"]["examples"]["pool_quota"] = 100;
  return cfg;
}

TEST(FunnelInputs, FusionWeightsDependOnTheQuotaOnlyAndTrainingPoolsOnNeither) {
  const Dataset ds = testing::tiny_dataset();
  FunnelTrainOptions to;
  to.threads = 1;
  const FunnelInputs a = prepare_funnel_inputs(config_with_quota(100), ds, to);
  const FunnelInputs b = prepare_funnel_inputs(config_with_quota(20), ds, to);
  // The experiment's fusion at quota 20 is the fusion a bundle configured with quota 20 serves.
  const FusionOptions a_at_20 = fusion_at_quota(a, ds, 20, 1);
  EXPECT_EQ(a_at_20.weights, b.fusion.weights);
  EXPECT_EQ(a_at_20.quotas, b.fusion.quotas);
  EXPECT_NE(a.fusion.weights, b.fusion.weights) << "the two quotas tune to the same weights: the test sees nothing";
  // Training pools come from rank.examples.pool_quota, whatever the served quota.
  ASSERT_EQ(a.train_pools.size(), b.train_pools.size());
  size_t rows = 0;
  for (size_t u = 0; u < a.train_pools.size(); ++u) {
    ASSERT_EQ(a.train_pools[u].size(), b.train_pools[u].size()) << "user " << u;
    for (size_t r = 0; r < a.train_pools[u].size(); ++r) {
      ASSERT_EQ(a.train_pools[u][r].item, b.train_pools[u][r].item);
      ASSERT_EQ(a.train_pools[u][r].score, b.train_pools[u][r].score);
      ++rows;
    }
  }
  EXPECT_GT(rows, 1000u);
}

}  // namespace
}  // namespace cascade
