// /stats' reading of the exposition text: the parser, the bucket quantile estimate (hand-computed
// cases) and the request/latency summary.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "serve/stats.h"

namespace cascade::stats {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

TEST(StatsQuantile, InterpolatesInsideTheBucketHoldingTheRank) {
  // 8 observations: 2 in (0,1], 4 in (1,2], 2 in (2,4].
  const std::vector<std::pair<double, double>> b = {{1, 2}, {2, 6}, {4, 8}, {kInf, 8}};
  EXPECT_DOUBLE_EQ(*histogram_quantile(0.25, b), 1.0);   // rank 2: the end of the first bucket
  EXPECT_DOUBLE_EQ(*histogram_quantile(0.5, b), 1.5);    // rank 4: 1 + 1 * (4 - 2) / (6 - 2)
  EXPECT_DOUBLE_EQ(*histogram_quantile(0.95, b), 3.6);   // rank 7.6: 2 + 2 * (7.6 - 6) / (8 - 6)
  EXPECT_DOUBLE_EQ(*histogram_quantile(0.125, b), 0.5);  // rank 1: 0 + 1 * 1 / 2
}

TEST(StatsQuantile, TheInfBucketGivesTheLastFiniteBoundAndEmptyGivesNothing) {
  EXPECT_DOUBLE_EQ(*histogram_quantile(0.9, {{1, 1}, {5, 1}, {kInf, 4}}), 5.0);
  EXPECT_FALSE(histogram_quantile(0.5, {{1, 0}, {kInf, 0}}).has_value());
  EXPECT_FALSE(histogram_quantile(0.5, {}).has_value());
}

TEST(StatsExposition, ParsesSamplesLabelsAndEscapes) {
  const auto s = parse_exposition(
      "# HELP x_total help\n# TYPE x_total counter\n"
      "x_total{route=\"a\\\"b\",status=\"200\"} 3\n"
      "up 1\n"
      "h_bucket{le=\"+Inf\"} 7 1700000000\n"
      "broken{le=\"1\" 4\n"
      "\n");
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].name, "x_total");
  EXPECT_EQ(s[0].labels.at("route"), "a\"b");
  EXPECT_EQ(s[0].labels.at("status"), "200");
  EXPECT_DOUBLE_EQ(s[0].value, 3);
  EXPECT_EQ(s[1].name, "up");
  EXPECT_TRUE(s[1].labels.empty());
  EXPECT_EQ(s[2].labels.at("le"), "+Inf");
  EXPECT_DOUBLE_EQ(s[2].value, 7);
}

TEST(StatsSummary, TotalsByStatusClassAndStagePercentiles) {
  const auto j =
      summarise(parse_exposition("cascade_requests_total{route=\"recommend\",status=\"200\"} 10\n"
                                 "cascade_requests_total{route=\"recommend\",status=\"400\"} 3\n"
                                 "cascade_requests_total{route=\"events\",status=\"503\"} 2\n"
                                 "cascade_stage_latency_ms_bucket{stage=\"recall\",le=\"1\"} 2\n"
                                 "cascade_stage_latency_ms_bucket{stage=\"recall\",le=\"2\"} 6\n"
                                 "cascade_stage_latency_ms_bucket{stage=\"recall\",le=\"4\"} 8\n"
                                 "cascade_stage_latency_ms_bucket{stage=\"recall\",le=\"+Inf\"} 8\n"
                                 "cascade_stage_latency_ms_sum{stage=\"recall\"} 12\n"
                                 "cascade_stage_latency_ms_count{stage=\"recall\"} 8\n"
                                 "cascade_stage_latency_ms_bucket{stage=\"rerank\",le=\"1\"} 0\n"
                                 "cascade_stage_latency_ms_bucket{stage=\"rerank\",le=\"+Inf\"} 0\n"
                                 "cascade_stage_latency_ms_count{stage=\"rerank\"} 0\n"));
  EXPECT_EQ(j["requests"]["total"], 15);
  EXPECT_EQ(j["requests"]["client_errors"], 3);
  EXPECT_EQ(j["requests"]["server_errors"], 2);
  ASSERT_EQ(j["requests"]["by_route"].size(), 3u);
  EXPECT_EQ(j["requests"]["by_route"][1]["status"], 400);
  EXPECT_EQ(j["requests"]["by_route"][1]["count"], 3);
  const auto& stages = j["latency_ms"]["stages"];
  ASSERT_EQ(stages.size(), 2u);
  EXPECT_EQ(stages[0]["stage"], "recall");
  EXPECT_EQ(stages[0]["count"], 8);
  EXPECT_DOUBLE_EQ(stages[0]["mean"].get<double>(), 1.5);
  EXPECT_DOUBLE_EQ(stages[0]["p50"].get<double>(), 1.5);
  EXPECT_DOUBLE_EQ(stages[0]["p95"].get<double>(), 3.6);
  EXPECT_TRUE(stages[1]["p50"].is_null());
  EXPECT_TRUE(stages[1]["mean"].is_null());
  EXPECT_NE(j["latency_ms"]["note"].get<std::string>().find("estimated from histogram buckets"),
            std::string::npos);
}

}  // namespace
}  // namespace cascade::stats
