// Private helpers shared by the bootstrap resamplers (compare.cc, counterfactual.cc): a
// platform-independent bounded draw and the type-7 percentile, so every interval in src/eval
// resamples and cuts the same way.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace cascade::eval_detail {

/// Uniform integer in [0, n) from one 64-bit generator (Lemire's multiply-and-reject), so the
/// resampling is identical on every standard library (uniform_int_distribution is not).
inline uint64_t bounded(std::mt19937_64& rng, uint64_t n) {
  uint64_t x = rng();
  unsigned __int128 m = static_cast<unsigned __int128>(x) * n;
  uint64_t low = static_cast<uint64_t>(m);
  if (low < n) {
    const uint64_t threshold = (0 - n) % n;
    while (low < threshold) {
      x = rng();
      m = static_cast<unsigned __int128>(x) * n;
      low = static_cast<uint64_t>(m);
    }
  }
  return static_cast<uint64_t>(m >> 64);
}

/// Linear-interpolation percentile (type 7) of sorted values, q in [0, 1].
inline double percentile_sorted(const std::vector<double>& sorted, double q) {
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(sorted.size() - 1, lo + 1);
  const double frac = pos - static_cast<double>(lo);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

}  // namespace cascade::eval_detail
