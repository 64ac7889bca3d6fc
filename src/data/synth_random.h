// Private random transforms shared by the synthetic generators (synth.cc, synth_logged.cc):
// hand-written maps of raw std::mt19937_64 output, so a seed gives the same data on every
// standard library (std::*_distribution output differs across them).
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>
#include <random>

namespace cascade::synth_detail {

using Rng = std::mt19937_64;

/// Uniform in [0, 1) with 53 random bits.
inline double uniform01(Rng& g) {
  return static_cast<double>(g() >> 11) * 0x1.0p-53;
}

/// Uniform integer in [0, n) (multiply-shift; the bias is below 2^-40 for n < 2^24).
inline uint64_t below(Rng& g, uint64_t n) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(g()) * n) >> 64);
}

/// Standard normal by Box-Muller (one value per call; simple and deterministic).
inline double normal(Rng& g) {
  const double u1 = 1.0 - uniform01(g);  // (0, 1]
  const double u2 = uniform01(g);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

}  // namespace cascade::synth_detail
