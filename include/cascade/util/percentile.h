// The one latency percentile every benchmark reports.
#pragma once

#include <algorithm>
#include <vector>

namespace cascade {

/// The value at rank floor(q * n) of the sorted values (nearest rank from below; 0 when empty):
/// p50 of {1, 2, 3, 4} is 3, p99 of 100 values is the largest.
inline double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

}  // namespace cascade
