// Paired comparison of two evaluation runs over the same users.
//  - paired bootstrap: Efron & Tibshirani, "An Introduction to the Bootstrap" (1993), ch. 13
//    (percentile interval) and ch. 16 (bootstrap tests), resampling users with replacement;
//  - paired t-test with the Student t tail from the regularized incomplete beta function,
//    evaluated by its continued fraction (Abramowitz & Stegun 26.5.8) with the modified
//    Lentz method (Lentz 1976; Thompson & Barnett 1986), as in Numerical Recipes §6.4.
#include "cascade/eval/compare.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "bootstrap_internal.h"
#include "cascade/core/error.h"

namespace cascade {

namespace {

void check_pair(std::span<const double> a, std::span<const double> b, const char* what) {
  CASCADE_CHECK(a.size() == b.size(),
                fmt::format("{}: the runs have {} and {} users; they must be paired", what, a.size(),
                            b.size()));
  CASCADE_CHECK(!a.empty(), fmt::format("{}: no users to compare", what));
  for (size_t i = 0; i < a.size(); ++i) {
    CASCADE_CHECK(std::isfinite(a[i]) && std::isfinite(b[i]),
                  fmt::format("{}: value {} is not finite (a = {}, b = {})", what, i, a[i], b[i]));
  }
}

double mean_of(std::span<const double> v) {
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

/// Continued fraction of I_x(a, b) (without the x^a (1-x)^b / (a B(a,b)) prefactor), modified
/// Lentz evaluation. Converges fast for x < (a + 1) / (a + b + 2).
double beta_continued_fraction(double a, double b, double x) {
  constexpr int kMaxIterations = 100000;
  constexpr double kEps = 1e-15;
  constexpr double kTiny = 1e-300;  // stands in for a zero denominator
  const double qab = a + b, qap = a + 1, qam = a - 1;
  double c = 1.0;
  double d = 1.0 - qab * x / qap;
  if (std::fabs(d) < kTiny) d = kTiny;
  d = 1.0 / d;
  double h = d;
  for (int m = 1; m <= kMaxIterations; ++m) {
    const double m2 = 2.0 * m;
    // Even step: d_{2m} = m (b - m) x / ((a + 2m - 1)(a + 2m)).
    double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
    d = 1.0 + aa * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1.0 + aa / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    h *= d * c;
    // Odd step: d_{2m+1} = -(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1)).
    aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
    d = 1.0 + aa * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1.0 + aa / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1.0 / d;
    const double step = d * c;
    h *= step;
    if (std::fabs(step - 1.0) < kEps) break;
  }
  return h;
}

/// Regularized incomplete beta I_x(a, b), with x and y = 1 - x passed separately so that
/// neither loses precision when the other is close to 1.
double regularized_beta(double a, double b, double x, double y) {
  if (x <= 0) return 0.0;
  if (y <= 0) return 1.0;
  const double log_front = std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) +
                           b * std::log(y);
  const double front = std::exp(log_front);
  if (x < (a + 1.0) / (a + b + 2.0)) return front * beta_continued_fraction(a, b, x) / a;
  return 1.0 - front * beta_continued_fraction(b, a, y) / b;
}

}  // namespace

double student_t_two_sided_p(double t, double df) {
  CASCADE_CHECK(df > 0, fmt::format("student_t_two_sided_p: degrees of freedom must be positive, got {}", df));
  if (std::isnan(t) || std::isnan(df)) return std::numeric_limits<double>::quiet_NaN();
  if (std::isinf(t)) return 0.0;
  if (t == 0) return 1.0;
  const double t2 = t * t;
  // Beyond ~1e7 degrees of freedom t is normal to double precision; the fraction would need
  // O(sqrt(df)) terms.
  if (df > 1e7 || std::isinf(df)) return std::erfc(std::fabs(t) / std::sqrt(2.0));
  // P(|T| > |t|) = I_x(df/2, 1/2) with x = df / (df + t^2).
  const double x = df / (df + t2);
  const double y = t2 / (df + t2);
  const double p = regularized_beta(0.5 * df, 0.5, x, y);
  return std::clamp(p, 0.0, 1.0);
}

TTestResult paired_t_test(std::span<const double> a, std::span<const double> b) {
  check_pair(a, b, "paired_t_test");
  const size_t n = a.size();
  CASCADE_CHECK(n >= 2, "paired_t_test: needs at least 2 users");
  std::vector<double> d(n);
  bool constant = true;
  for (size_t i = 0; i < n; ++i) {
    d[i] = b[i] - a[i];
    constant = constant && d[i] == d[0];
  }
  TTestResult r;
  r.df = static_cast<double>(n - 1);
  // A constant difference has sd exactly 0; testing it explicitly avoids a rounding-sized
  // sd from (d - mean) and the absurd t it would give.
  if (constant) {
    r.diff = d[0];  // r.se stays 0
    if (d[0] == 0) {
      r.t = 0;
      r.p_value = 1;
    } else {
      r.t = d[0] > 0 ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
      r.p_value = 0;
    }
    return r;
  }
  r.diff = mean_of(d);
  double ss = 0;
  for (double x : d) ss += (x - r.diff) * (x - r.diff);
  const double sd = std::sqrt(ss / r.df);
  r.se = sd / std::sqrt(static_cast<double>(n));
  r.t = r.diff / r.se;
  r.p_value = student_t_two_sided_p(r.t, r.df);
  return r;
}

BootstrapResult paired_bootstrap(std::span<const double> a, std::span<const double> b, int resamples,
                                 uint64_t seed, double confidence) {
  check_pair(a, b, "paired_bootstrap");
  CASCADE_CHECK(resamples >= 1, fmt::format("paired_bootstrap: resamples must be >= 1, got {}", resamples));
  CASCADE_CHECK(confidence > 0 && confidence < 1,
                fmt::format("paired_bootstrap: confidence must be in (0, 1), got {}", confidence));
  const size_t n = a.size();
  std::vector<double> d(n);
  for (size_t i = 0; i < n; ++i) d[i] = b[i] - a[i];

  BootstrapResult r;
  r.mean_a = mean_of(a);
  r.mean_b = mean_of(b);
  r.diff = mean_of(d);
  r.resamples = resamples;
  r.confidence = confidence;

  std::mt19937_64 rng(seed);
  std::vector<double> means(static_cast<size_t>(resamples));
  for (double& m : means) {
    double s = 0;
    for (size_t i = 0; i < n; ++i) s += d[eval_detail::bounded(rng, n)];
    m = s / static_cast<double>(n);
  }
  size_t le = 0, ge = 0;
  for (double m : means) {
    le += m <= 0 ? 1 : 0;
    ge += m >= 0 ? 1 : 0;
  }
  std::sort(means.begin(), means.end());
  const double alpha = 1.0 - confidence;
  r.ci_low = eval_detail::percentile_sorted(means, alpha / 2);
  r.ci_high = eval_detail::percentile_sorted(means, 1.0 - alpha / 2);
  const double share = static_cast<double>(std::min(le, ge)) / static_cast<double>(resamples);
  r.p_value = std::min(1.0, 2.0 * share);
  return r;
}

}  // namespace cascade
