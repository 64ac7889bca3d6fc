// The per-user breakdowns of the bench JSONs on hand-computed runs: the pairwise bootstrap
// matrix and the means per training-history bucket.
#include <gtest/gtest.h>

#include "cascade/core/error.h"
#include "cascade/eval/compare.h"
#include "cascade/pipeline/bench_breakdown.h"

namespace cascade {
namespace {

using Json = nlohmann::ordered_json;

// Four users; "a" hits one more than the pool, "b" one fewer.
const std::vector<std::string> kNames = {"pool", "a", "b"};
const std::vector<std::vector<double>> kValues = {{0, 1, 0, 1}, {1, 1, 0, 1}, {0, 0, 0, 1}};

TEST(BenchBreakdown, PairwiseIsAntisymmetricWithTheBenchComparisonInTheBaseColumn) {
  const Json j = pairwise_bootstrap_json(kNames, kValues, "recall@10", "test");
  EXPECT_EQ(j["metric"], "recall@10");
  EXPECT_EQ(j["split"], "test");
  EXPECT_EQ(j["names"], Json(kNames));
  EXPECT_DOUBLE_EQ(j["diff"][1][0].get<double>(), 0.25);   // a - pool
  EXPECT_DOUBLE_EQ(j["diff"][2][0].get<double>(), -0.25);  // b - pool
  EXPECT_DOUBLE_EQ(j["diff"][1][2].get<double>(), 0.5);    // a - b
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(j["diff"][i][i].get<double>(), 0.0);
    EXPECT_EQ(j["p_value"][i][i].get<double>(), 1.0);
    for (size_t k = 0; k < 3; ++k) {
      EXPECT_EQ(j["diff"][i][k].get<double>(), -j["diff"][k][i].get<double>());
      EXPECT_EQ(j["ci_low"][i][k].get<double>(), -j["ci_high"][k][i].get<double>());
      EXPECT_EQ(j["p_value"][i][k].get<double>(), j["p_value"][k][i].get<double>());
      EXPECT_LE(j["ci_low"][i][k].get<double>(), j["diff"][i][k].get<double>());
      EXPECT_GE(j["ci_high"][i][k].get<double>(), j["diff"][i][k].get<double>());
    }
  }
  // Row k, column 0 is what a bench's "vs_pool" of k reports: paired_bootstrap(pool, k).
  for (size_t k = 1; k < 3; ++k) {
    const BootstrapResult b = paired_bootstrap(kValues[0], kValues[k], 1000, 42, 0.95);
    EXPECT_EQ(j["diff"][k][0].get<double>(), b.diff);
    EXPECT_EQ(j["ci_low"][k][0].get<double>(), b.ci_low);
    EXPECT_EQ(j["ci_high"][k][0].get<double>(), b.ci_high);
    EXPECT_EQ(j["p_value"][k][0].get<double>(), b.p_value);
  }
  EXPECT_THROW(pairwise_bootstrap_json(kNames, {{0, 1}, {1, 1}, {0}}, "recall@10", "test"), Error);
}

TEST(BenchBreakdown, BucketsSplitUsersByHistoryAndAverageWithin) {
  // Histories 5, 20, 49, 250 with edges 1, 20, 50: buckets 1-19 {u0}, 20-49 {u1, u2}, 50+ {u3}.
  const Json j = user_buckets_json({5, 20, 49, 250}, {1, 20, 50}, kNames, kValues, "recall@10");
  EXPECT_EQ(j["by"], "train history length");
  const auto& b = j["buckets"];
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0]["label"], "1-19");
  EXPECT_EQ(b[1]["label"], "20-49");
  EXPECT_EQ(b[2]["label"], "50+");
  EXPECT_EQ(b[1]["min"], 20);
  EXPECT_EQ(b[1]["max"], 49);
  EXPECT_TRUE(b[2]["max"].is_null());
  EXPECT_EQ(b[0]["users"], 1);
  EXPECT_EQ(b[1]["users"], 2);
  EXPECT_EQ(b[2]["users"], 1);
  EXPECT_DOUBLE_EQ(b[1]["recall@10"]["pool"].get<double>(), 0.5);  // users 1, 2: 1 and 0
  EXPECT_DOUBLE_EQ(b[1]["recall@10"]["a"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(b[0]["recall@10"]["a"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(b[0]["recall@10"]["b"].get<double>(), 0.0);
  // Weighted by users, the buckets give the overall means.
  for (size_t k = 0; k < kNames.size(); ++k) {
    double sum = 0, overall = 0;
    for (const auto& bk : b)
      sum += bk["users"].get<double>() * bk["recall@10"][kNames[k]].get<double>();
    for (double v : kValues[k]) overall += v;
    EXPECT_DOUBLE_EQ(sum / 4, overall / 4) << kNames[k];
  }
}

TEST(BenchBreakdown, UsersBelowTheFirstEdgeAndEmptyBuckets) {
  // History 2 is below the first edge 5: a leading bucket 0-4 keeps it; nobody in 5-9.
  const Json j = user_buckets_json({2, 12, 30, 40}, {5, 10, 20}, kNames, kValues, "recall@10");
  const auto& b = j["buckets"];
  ASSERT_EQ(b.size(), 4u);
  EXPECT_EQ(b[0]["label"], "0-4");
  EXPECT_EQ(b[0]["users"], 1);
  EXPECT_EQ(b[1]["users"], 0);
  EXPECT_TRUE(b[1]["recall@10"]["pool"].is_null());
  EXPECT_EQ(b[3]["label"], "20+");
  EXPECT_EQ(b[3]["users"], 2);
  // Without such users there is no leading bucket.
  EXPECT_EQ(user_buckets_json({12, 30, 40, 7}, {5, 10, 20}, kNames, kValues, "recall@10")["buckets"]
                .size(),
            3u);
  EXPECT_THROW(user_buckets_json({1, 2, 3, 4}, {10, 5}, kNames, kValues, "recall@10"), Error);
  EXPECT_THROW(user_buckets_json({1, 2, 3}, {1}, kNames, kValues, "recall@10"), Error);
}

}  // namespace
}  // namespace cascade
