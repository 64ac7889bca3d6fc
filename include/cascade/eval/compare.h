// Paired comparison of two runs over the same users: bootstrap of the mean difference
// (seeded resampling of users, percentile interval, two-sided p-value) and a paired t-test.
#pragma once

#include <cstdint>
#include <span>

namespace cascade {

struct BootstrapResult {
  double mean_a = 0, mean_b = 0;
  double diff = 0;              ///< mean(b - a)
  double ci_low = 0, ci_high = 0;
  double p_value = 1;           ///< two-sided: 2 * min(P(d* <= 0), P(d* >= 0)), capped at 1
  int resamples = 0;
  double confidence = 0.95;
};

/// a[i], b[i] belong to the same user. Throws when sizes differ or are zero, or a value is
/// not finite. Resampling draws indices from std::mt19937_64(seed) with an exact bounded
/// mapping, so a seed gives the same result on every platform.
BootstrapResult paired_bootstrap(std::span<const double> a, std::span<const double> b,
                                 int resamples = 1000, uint64_t seed = 42, double confidence = 0.95);

struct TTestResult {
  double diff = 0;   ///< mean(b - a)
  double se = 0;     ///< its standard error: sample sd / sqrt(n) (0 for a constant difference)
  double t = 0;
  double df = 0;
  double p_value = 1;  ///< two-sided
};

/// Needs at least 2 pairs. A constant difference (sd = 0) gives p = 1 when it is 0 and
/// p = 0 (t = +-inf) otherwise.
TTestResult paired_t_test(std::span<const double> a, std::span<const double> b);

/// Two-sided p-value of Student's t with df degrees of freedom (regularized incomplete beta
/// I_x(df/2, 1/2), x = df/(df+t^2), by continued fraction). Throws when df <= 0.
double student_t_two_sided_p(double t, double df);

}  // namespace cascade
