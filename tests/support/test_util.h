// Helpers shared by the test files.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <exception>
#include <functional>
#include <string>
#include <vector>

#include "cascade/core/error.h"
#include "cascade/data/interactions.h"

namespace cascade::test {

/// The message of the cascade::Error that `fn` throws. Fails the test when `fn` does not
/// throw, or throws anything other than a cascade::Error.
inline std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw a non-cascade exception: " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected a cascade::Error";
  return "";
}

/// A CSR matrix from rows of column ids: values 1 (or `vals[r]`), times = position in the
/// row (so rows are in time order).
inline Interactions make_rows(uint32_t n_cols, const std::vector<std::vector<uint32_t>>& rows,
                              const std::vector<std::vector<float>>& vals = {}) {
  Interactions m;
  m.n_cols = n_cols;
  for (size_t r = 0; r < rows.size(); ++r) {
    std::vector<float> v = vals.empty() ? std::vector<float>(rows[r].size(), 1.f) : vals[r];
    std::vector<int64_t> t(rows[r].size());
    for (size_t k = 0; k < t.size(); ++k) t[k] = static_cast<int64_t>(k);
    m.append_row(rows[r], v, t);
  }
  return m;
}

}  // namespace cascade::test
