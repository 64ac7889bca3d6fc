#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numbers>
#include <random>
#include <vector>

#include "cascade/core/error.h"
#include "cascade/eval/compare.h"

namespace cascade {
namespace {

using Vec = std::vector<double>;

// Two-sided p by Simpson integration of the t density over [0, |t|]: an independent check.
double t_p_by_integration(double t, double df) {
  const double c = std::exp(std::lgamma((df + 1) / 2) - std::lgamma(df / 2)) / std::sqrt(df * std::numbers::pi);
  auto pdf = [&](double x) { return c * std::pow(1 + x * x / df, -(df + 1) / 2); };
  const int n = 20000;
  const double h = std::fabs(t) / n;
  double s = pdf(0) + pdf(std::fabs(t));
  for (int i = 1; i < n; ++i) s += (i % 2 ? 4 : 2) * pdf(i * h);
  return 1 - 2 * s * h / 3;
}

TEST(StudentT, KnownValues) {
  EXPECT_NEAR(student_t_two_sided_p(2.0, 10), 0.0734, 1e-3);
  EXPECT_NEAR(student_t_two_sided_p(-2.0, 10), 0.0734, 1e-3);
  EXPECT_NEAR(student_t_two_sided_p(1.96, 1e6), 0.05, 1e-3);
  EXPECT_NEAR(student_t_two_sided_p(12.706, 1), 0.05, 1e-3);
  EXPECT_DOUBLE_EQ(student_t_two_sided_p(0.0, 5), 1.0);
  EXPECT_DOUBLE_EQ(student_t_two_sided_p(std::numeric_limits<double>::infinity(), 5), 0.0);
  // Huge df: the normal limit, 2 * (1 - Phi(1.96)) = 0.04999579.
  EXPECT_NEAR(student_t_two_sided_p(1.96, 1e9), 0.0499958, 1e-6);
  EXPECT_THROW(student_t_two_sided_p(1.0, 0), Error);
  EXPECT_THROW(student_t_two_sided_p(1.0, -3), Error);
}

TEST(StudentT, ClosedFormsForSmallDf) {
  const double pi = std::numbers::pi;
  for (double t : {0.01, 0.3, 1.0, 2.5, 7.0, 40.0, 1e3}) {
    // df = 1 (Cauchy): 1 - (2/pi) atan|t|.
    const double p1 = 1 - 2 / pi * std::atan(t);
    EXPECT_NEAR(student_t_two_sided_p(t, 1), p1, 1e-12 + 1e-9 * p1) << t;
    // df = 2: 1 - |t| / sqrt(t^2 + 2).
    const double p2 = 1 - t / std::sqrt(t * t + 2);
    EXPECT_NEAR(student_t_two_sided_p(t, 2), p2, 1e-12 + 1e-9 * p2) << t;
    // df = 3: 1 - (2/pi) (atan(x) + x / (1 + x^2)), x = t / sqrt(3).
    const double x = t / std::sqrt(3.0);
    const double p3 = 1 - 2 / pi * (std::atan(x) + x / (1 + x * x));
    EXPECT_NEAR(student_t_two_sided_p(t, 3), p3, 1e-12 + 1e-7 * p3) << t;
  }
}

TEST(StudentT, MatchesNumericalIntegration) {
  for (double df : {4.0, 7.5, 30.0, 937.0}) {
    for (double t : {0.2, 1.1, 2.0, 3.3}) {
      EXPECT_NEAR(student_t_two_sided_p(t, df), t_p_by_integration(t, df), 1e-9)
          << "t=" << t << " df=" << df;
    }
  }
  // Far tail keeps relative precision (no 1 - x cancellation): df = 4, t = 30 gives
  // p = 1 - |t|(6 + t^2) / (t^2 + 4)^{3/2}, evaluated here as a ratio to stay accurate.
  const double t = 30, s = t * t + 4;
  const double p4 = (std::pow(s, 1.5) - t * (6 + t * t)) / std::pow(s, 1.5);
  EXPECT_NEAR(student_t_two_sided_p(t, 4) / p4, 1.0, 1e-6);
}

TEST(PairedTTest, HandComputed) {
  // d = b - a = {1, 2, 0, 3}: mean 1.5, sample variance 5/3, t = 1.5 / sqrt(5/3 / 4), df = 3.
  const Vec a = {1, 2, 3, 4}, b = {2, 4, 3, 7};
  TTestResult r = paired_t_test(a, b);
  const double t = 1.5 / std::sqrt(5.0 / 3.0 / 4.0);
  EXPECT_DOUBLE_EQ(r.diff, 1.5);
  EXPECT_NEAR(r.se, std::sqrt(5.0 / 3.0 / 4.0), 1e-15);
  EXPECT_NEAR(r.t, t, 1e-12);
  EXPECT_DOUBLE_EQ(r.df, 3);
  const double x = t / std::sqrt(3.0);
  EXPECT_NEAR(r.p_value, 1 - 2 / std::numbers::pi * (std::atan(x) + x / (1 + x * x)), 1e-9);
  EXPECT_NEAR(r.p_value, 0.1028, 1e-3);
  // Swapping the runs flips the sign only.
  TTestResult s = paired_t_test(b, a);
  EXPECT_DOUBLE_EQ(s.diff, -1.5);
  EXPECT_NEAR(s.t, -t, 1e-12);
  EXPECT_NEAR(s.p_value, r.p_value, 1e-15);
}

TEST(PairedTTest, ZeroSpread) {
  const Vec a = {0.5, 1.0, 0.25};
  TTestResult same = paired_t_test(a, a);
  EXPECT_EQ(same.diff, 0.0);
  EXPECT_EQ(same.t, 0.0);
  EXPECT_EQ(same.p_value, 1.0);
  EXPECT_EQ(same.df, 2.0);
  const Vec c = {0.75, 1.25, 0.5};  // exactly a + 0.25 in binary
  TTestResult shifted = paired_t_test(a, c);
  EXPECT_EQ(shifted.p_value, 0.0);
  EXPECT_TRUE(std::isinf(shifted.t) && shifted.t > 0);
  EXPECT_EQ(shifted.diff, 0.25);
  EXPECT_EQ(shifted.se, 0.0);
  EXPECT_EQ(same.se, 0.0);
  EXPECT_TRUE(std::isinf(paired_t_test(c, a).t) && paired_t_test(c, a).t < 0);
  // Differences equal only up to rounding are still overwhelmingly significant.
  const Vec b = {a[0] + 0.1, a[1] + 0.1, a[2] + 0.1};
  EXPECT_LT(paired_t_test(a, b).p_value, 1e-6);
}

TEST(PairedTTest, RejectsBadInput) {
  EXPECT_THROW(paired_t_test(Vec{1, 2}, Vec{1}), Error);
  EXPECT_THROW(paired_t_test(Vec{}, Vec{}), Error);
  EXPECT_THROW(paired_t_test(Vec{1}, Vec{2}), Error);
  EXPECT_THROW(paired_t_test(Vec{1, std::nan("")}, Vec{1, 2}), Error);
}

Vec normal_sample(size_t n, double mean, double sd, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g(mean, sd);
  Vec v(n);
  for (double& x : v) x = g(rng);
  return v;
}

TEST(PairedBootstrap, DeterministicForASeed) {
  const Vec a = normal_sample(300, 0.1, 0.3, 1), b = normal_sample(300, 0.12, 0.3, 2);
  BootstrapResult r1 = paired_bootstrap(a, b, 500, 7);
  BootstrapResult r2 = paired_bootstrap(a, b, 500, 7);
  EXPECT_EQ(r1.ci_low, r2.ci_low);
  EXPECT_EQ(r1.ci_high, r2.ci_high);
  EXPECT_EQ(r1.p_value, r2.p_value);
  BootstrapResult r3 = paired_bootstrap(a, b, 500, 8);
  EXPECT_NE(r1.ci_low, r3.ci_low);
  EXPECT_EQ(r1.resamples, 500);
  EXPECT_DOUBLE_EQ(r1.confidence, 0.95);
  EXPECT_EQ(r1.diff, r3.diff);  // the point estimate does not depend on the seed
}

TEST(PairedBootstrap, ClearDifference) {
  // b = a + 0.05 + noise(sd 0.05), 500 users: the mean difference is ~14 standard errors.
  const size_t n = 500;
  const Vec a = normal_sample(n, 0.3, 0.1, 11);
  const Vec noise = normal_sample(n, 0.0, 0.05, 12);
  Vec b(n);
  for (size_t i = 0; i < n; ++i) b[i] = a[i] + 0.05 + noise[i];
  BootstrapResult r = paired_bootstrap(a, b, 2000, 42, 0.95);
  double ma = 0, mb = 0;
  for (size_t i = 0; i < n; ++i) ma += a[i], mb += b[i];
  EXPECT_NEAR(r.mean_a, ma / n, 1e-12);
  EXPECT_NEAR(r.mean_b, mb / n, 1e-12);
  EXPECT_NEAR(r.diff, (mb - ma) / n, 1e-12);
  EXPECT_LT(r.ci_low, 0.05);
  EXPECT_GT(r.ci_high, 0.05);
  EXPECT_LT(r.ci_low, r.diff);
  EXPECT_GT(r.ci_high, r.diff);
  EXPECT_GT(r.ci_low, 0.0);
  EXPECT_LT(r.p_value, 0.01);
  // The percentile interval is close to the normal one: diff +- 1.96 * sd / sqrt(n).
  double ss = 0;
  for (size_t i = 0; i < n; ++i) ss += std::pow(b[i] - a[i] - r.diff, 2);
  const double se = std::sqrt(ss / (n - 1)) / std::sqrt(double(n));
  EXPECT_NEAR(r.ci_high - r.ci_low, 2 * 1.96 * se, 0.15 * 2 * 1.96 * se);
  // A wider confidence gives a wider interval.
  BootstrapResult wide = paired_bootstrap(a, b, 2000, 42, 0.99);
  EXPECT_LT(wide.ci_low, r.ci_low);
  EXPECT_GT(wide.ci_high, r.ci_high);
  // Reversed runs: mirrored difference, same p.
  BootstrapResult rev = paired_bootstrap(b, a, 2000, 42, 0.95);
  EXPECT_NEAR(rev.diff, -r.diff, 1e-12);
  EXPECT_LT(rev.ci_high, 0.0);
}

TEST(PairedBootstrap, SameDistributionNoiseIsNotSignificant) {
  const Vec a = normal_sample(400, 0.5, 0.2, 21), b = normal_sample(400, 0.5, 0.2, 22);
  BootstrapResult r = paired_bootstrap(a, b, 2000, 3);
  EXPECT_GT(r.p_value, 0.2);
  EXPECT_LT(r.ci_low, 0.0);
  EXPECT_GT(r.ci_high, 0.0);
  // Identical runs: every resampled difference is 0, so p = 1 and the interval is [0, 0].
  BootstrapResult same = paired_bootstrap(a, a, 200, 3);
  EXPECT_EQ(same.p_value, 1.0);
  EXPECT_EQ(same.ci_low, 0.0);
  EXPECT_EQ(same.ci_high, 0.0);
}

TEST(PairedBootstrap, SingleUserAndPValueFormula) {
  // One user with d = 0.2: every resample has mean 0.2, none <= 0: p = 2 * min(0, 1) = 0.
  BootstrapResult r = paired_bootstrap(Vec{0.1}, Vec{0.3}, 50, 1);
  EXPECT_NEAR(r.ci_low, 0.2, 1e-15);
  EXPECT_NEAR(r.ci_high, 0.2, 1e-15);
  EXPECT_EQ(r.p_value, 0.0);
  // d = {-1, +1}: resample means are -1, 0, +1 with chances 1/4, 1/2, 1/4, so P(<= 0) and
  // P(>= 0) are both ~3/4 and p = min(1, 1.5) = 1.
  BootstrapResult s = paired_bootstrap(Vec{1, 0}, Vec{0, 1}, 4000, 9);
  EXPECT_EQ(s.p_value, 1.0);
  EXPECT_DOUBLE_EQ(s.ci_low, -1.0);
  EXPECT_DOUBLE_EQ(s.ci_high, 1.0);
  // d = {1, 1, -1}: P(mean <= 0) = P(at least 2 of 3 draws are -1) = 7/27, p ~ 14/27.
  BootstrapResult t = paired_bootstrap(Vec{0, 0, 1}, Vec{1, 1, 0}, 20000, 5);
  EXPECT_NEAR(t.p_value, 14.0 / 27.0, 0.02);
}

TEST(PairedBootstrap, RejectsBadInput) {
  EXPECT_THROW(paired_bootstrap(Vec{1, 2}, Vec{1}), Error);
  EXPECT_THROW(paired_bootstrap(Vec{}, Vec{}), Error);
  EXPECT_THROW(paired_bootstrap(Vec{1}, Vec{1}, 0), Error);
  EXPECT_THROW(paired_bootstrap(Vec{1}, Vec{1}, 10, 1, 1.0), Error);
  EXPECT_THROW(paired_bootstrap(Vec{1}, Vec{1}, 10, 1, 0.0), Error);
  EXPECT_THROW(paired_bootstrap(Vec{1, std::numeric_limits<double>::infinity()}, Vec{1, 1}), Error);
}

}  // namespace
}  // namespace cascade
