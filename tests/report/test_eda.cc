// Dataset statistics of the report against hand-computed values.
#include <gtest/gtest.h>

#include <cmath>

#include "cascade/data/loaders.h"
#include "cascade/report/eda.h"

namespace cascade::report {
namespace {

TEST(ReportEda, GiniOfKnownDistributions) {
  EXPECT_DOUBLE_EQ(gini({0, 0, 0, 1}), 0.75);  // one of four holds everything: (n-1)/n
  EXPECT_DOUBLE_EQ(gini({2, 2, 2}), 0.0);
  EXPECT_DOUBLE_EQ(gini({3, 1, 2}), 2.0 / 9.0);  // (-2*1 + 0*2 + 2*3) / (3*6), order-free
  EXPECT_DOUBLE_EQ(gini({0, 0}), 0.0);
  EXPECT_DOUBLE_EQ(gini({}), 0.0);
}

TEST(ReportEda, LorenzCurveAtEvenShares) {
  const Lorenz l = lorenz_curve({3, 1, 2}, 3);
  ASSERT_EQ(l.x.size(), 4u);
  EXPECT_DOUBLE_EQ(l.x[1], 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(l.y[0], 0.0);
  EXPECT_DOUBLE_EQ(l.y[1], 1.0 / 6.0);
  EXPECT_DOUBLE_EQ(l.y[2], 3.0 / 6.0);
  EXPECT_DOUBLE_EQ(l.y[3], 1.0);
  const Lorenz one = lorenz_curve({0, 0, 0, 1}, 4);
  EXPECT_EQ(one.y, (std::vector<double>{0, 0, 0, 0, 1}));
  // With as many points as amounts, 1 - 2 * (trapezoid area under the curve) is the Gini.
  double area = 0;
  for (size_t k = 1; k < l.x.size(); ++k) area += (l.x[k] - l.x[k - 1]) * (l.y[k] + l.y[k - 1]) / 2;
  EXPECT_NEAR(1 - 2 * area, gini({3, 1, 2}), 1e-12);
}

TEST(ReportEda, ZipfSlopeOfAnExactPowerLawIsMinusTheExponent) {
  // 720720 is divisible by every rank 1..16, so the frequencies are exact integers.
  std::vector<uint64_t> a1, a2;
  for (uint64_t r = 1; r <= 16; ++r) {
    a1.push_back(720720 / r);
    a2.push_back(720720ull * 720720ull / (r * r));
  }
  const ZipfFit f1 = fit_zipf(a1), f2 = fit_zipf(a2);
  EXPECT_NEAR(f1.slope, -1.0, 1e-12);
  EXPECT_NEAR(f1.intercept, std::log(720720.0), 1e-9);
  EXPECT_NEAR(f1.r2, 1.0, 1e-12);
  EXPECT_NEAR(f2.slope, -2.0, 1e-12);
  // Log-spaced ranks 1, 2, 3, 4, 5, 6, 8, 10, 13, 16.
  EXPECT_EQ(f1.points, 10u);
  EXPECT_EQ(fit_zipf({5}).points, 1u);
  EXPECT_EQ(fit_zipf({5}).slope, 0.0);
}

TEST(ReportEda, SummaryUsesNearestRankFromBelow) {
  const Summary s = summarize({3, 1, 2});
  EXPECT_EQ(s.p10, 1);
  EXPECT_EQ(s.p50, 2);
  EXPECT_EQ(s.p90, 3);
  EXPECT_EQ(s.mean, 2);
  const Summary t = summarize({10, 9, 8, 7, 6, 5, 4, 3, 2, 1});
  EXPECT_EQ(t.p10, 2);  // rank floor(0.1 * 10) = 1 of the sorted values
  EXPECT_EQ(t.p50, 6);
  EXPECT_EQ(t.p90, 10);
  EXPECT_EQ(t.min, 1);
  EXPECT_EQ(t.max, 10);
}

TEST(ReportEda, HistogramsBinAsLabelled) {
  const Histogram h = log2_histogram({1, 2, 3, 4, 7, 8});
  EXPECT_EQ(h.labels, (std::vector<std::string>{"1", "2-3", "4-7", "8-15"}));
  EXPECT_EQ(h.counts, (std::vector<uint64_t>{1, 2, 2, 1}));
  const Histogram b = bucket_histogram({0, 1, 4, 5, 9, 10, 100}, {1, 5, 10});
  EXPECT_EQ(b.labels, (std::vector<std::string>{"1-4", "5-9", "10+"}));
  EXPECT_EQ(b.counts, (std::vector<uint64_t>{2, 2, 2}));  // 0 is below the first edge
}

TEST(ReportEda, DistinctDaysFloorNegativeTimestamps) {
  RawLog log;
  log.user_keys = {"a", "b"};
  log.item_keys = {"x"};
  log.user = {0, 0, 0, 1};
  log.item = {0, 0, 0, 0};
  log.rating = {1, 1, 1, 1};
  log.timestamp = {-1, 0, 86399, 86400};  // a: day -1 and day 0; b: day 1
  EXPECT_EQ(distinct_days_per_user(log), (std::vector<uint64_t>{2, 1}));
}

TEST(ReportEda, ComputedFromATinyLog) {
  // tests/fixtures/report/data: 3 users, 3 items, 6 rows (see the file).
  const Eda e = compute_eda(load_ml_latest(std::string(CASCADE_TEST_FIXTURES) + "/report/data"));
  EXPECT_EQ(e.rows, 6u);
  EXPECT_EQ(e.users, 3u);
  EXPECT_EQ(e.items, 3u);
  EXPECT_EQ(e.rating_values, (std::vector<double>{3, 4, 5}));
  EXPECT_EQ(e.rating_counts, (std::vector<uint64_t>{1, 3, 2}));
  EXPECT_EQ(e.activity.p10, 1);
  EXPECT_EQ(e.activity.p50, 2);
  EXPECT_EQ(e.activity.p90, 3);
  EXPECT_EQ(e.item_freq_desc, (std::vector<uint64_t>{3, 2, 1}));
  EXPECT_DOUBLE_EQ(e.gini, 2.0 / 9.0);
  // User 1 has rows on days 0, 0 and 1; user 2 on days 0 and 2; user 3 on day 0.
  EXPECT_EQ(e.active_days, (std::vector<uint64_t>{2, 2, 1}));
  // Item 10 (Comedy|Drama) has 3 rows, 20 (Drama) 2, 30 (Action) 1.
  ASSERT_EQ(e.genres.size(), 3u);
  EXPECT_EQ(e.genres[0].genre, "Drama");
  EXPECT_DOUBLE_EQ(e.genres[0].share, 3.5 / 6);
  EXPECT_EQ(e.genres[1].genre, "Comedy");
  EXPECT_DOUBLE_EQ(e.genres[1].share, 1.5 / 6);
  EXPECT_EQ(e.genres[2].genre, "Action");
  EXPECT_DOUBLE_EQ(e.genres[2].share, 1.0 / 6);
  EXPECT_EQ(e.genres[0].items, 2u);
  EXPECT_EQ(e.cold_users.counts[0], 3u);  // every user and item has 1-4 rows
  EXPECT_EQ(e.cold_items.counts[0], 3u);
  EXPECT_EQ(e.cold_users.counts[1], 0u);
}

}  // namespace
}  // namespace cascade::report
