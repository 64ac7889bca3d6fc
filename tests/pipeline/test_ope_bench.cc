// bench ope on a small world: every policy valued, the JSON shape, the truth recovered by SNIPS
// and missed by the naive estimate for the popularity list the logging policy favours.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "cascade/core/error.h"
#include "cascade/pipeline/ope_bench.h"

namespace cascade {
namespace {

OpeBenchOptions small_bench() {
  OpeBenchOptions o;
  o.world.users = 300;
  o.world.items = 150;
  o.world.impressions = 60000;
  o.world.seed = 9;
  o.ope.resamples = 200;
  o.ials_spec = "ials:factors=8,iters=4";
  o.threads = 1;
  return o;
}

TEST(OpeBench, ValuesEveryPolicyAndWritesTheDocumentedJson) {
  const OpeBench b = run_ope_bench(small_bench());
  EXPECT_EQ(b.events, 60000u);
  EXPECT_EQ(b.training_events, 60000u);
  EXPECT_NEAR(b.logged_click_rate, b.logging_value, 0.01);
  std::set<std::string> names;
  for (const auto& p : b.policies) {
    names.insert(p.name);
    EXPECT_GT(p.truth, 0.0);
    EXPECT_LT(p.truth, 1.0);
    EXPECT_GT(p.estimate.ess, 0.0);
  }
  EXPECT_EQ(names, (std::set<std::string>{"top-k-true-affinity", "top-k-popularity",
                                          "uniform-random-k", "top-k-logged-ctr", "top-k-ials"}));
  // The oracle list is the best a top-K list can do.
  for (const auto& p : b.policies) EXPECT_LE(p.truth, b.policies[0].truth) << p.name;
  const OpePolicyResult& pop = b.policies[1];
  ASSERT_EQ(pop.name, "top-k-popularity");
  EXPECT_TRUE(pop.estimate.snips.covers(pop.truth));
  EXPECT_GT(pop.estimate.naive.ci_low, pop.truth);  // the logging policy's favourites inflate it

  const auto j = b.to_json();
  EXPECT_EQ(j["k"], 10);
  EXPECT_EQ(j["events"], 60000);
  EXPECT_EQ(j["policies"].size(), 5u);
  for (const char* key : {"naive", "ips", "clipped_ips", "snips"})
    for (const char* f : {"value", "ci_low", "ci_high"})
      EXPECT_TRUE(j["policies"][0][key].contains(f)) << key << f;
  EXPECT_TRUE(j["policies"][0].contains("true"));
  EXPECT_TRUE(j["policies"][0].contains("ess"));
}

TEST(OpeBench, BadKThrows) {
  OpeBenchOptions o = small_bench();
  o.k = 0;
  EXPECT_THROW(run_ope_bench(o), Error);
  o.k = 151;
  EXPECT_THROW(run_ope_bench(o), Error);
}

}  // namespace
}  // namespace cascade
