#include "cascade/data/interactions.h"

#include <fmt/format.h>

#include <algorithm>
#include <random>

#include "cascade/core/error.h"

namespace cascade {

void Interactions::append_row(std::span<const uint32_t> cols, std::span<const float> vals,
                              std::span<const int64_t> ts) {
  CASCADE_CHECK(cols.size() == vals.size() && cols.size() == ts.size(),
                "append_row: columns, values and times differ in length");
  indices.insert(indices.end(), cols.begin(), cols.end());
  values.insert(values.end(), vals.begin(), vals.end());
  times.insert(times.end(), ts.begin(), ts.end());
  indptr.push_back(indices.size());
  ++n_rows;
}

Interactions Interactions::transpose() const {
  Interactions t;
  t.n_rows = n_cols;
  t.n_cols = n_rows;
  t.indptr.assign(static_cast<size_t>(n_cols) + 1, 0);
  for (uint32_t c : indices) ++t.indptr[c + 1];
  for (uint32_t c = 0; c < n_cols; ++c) t.indptr[c + 1] += t.indptr[c];
  t.indices.resize(nnz());
  t.values.resize(nnz());
  t.times.resize(nnz());
  std::vector<uint64_t> next(t.indptr.begin(), t.indptr.end() - 1);
  for (uint32_t r = 0; r < n_rows; ++r) {
    for (uint64_t j = indptr[r]; j < indptr[r + 1]; ++j) {
      uint64_t dst = next[indices[j]]++;
      t.indices[dst] = r;
      t.values[dst] = values[j];
      t.times[dst] = times[j];
    }
  }
  return t;
}

void Interactions::validate() const {
  CASCADE_CHECK(indptr.size() == static_cast<size_t>(n_rows) + 1,
                fmt::format("indptr has {} entries for {} rows", indptr.size(), n_rows));
  CASCADE_CHECK(indptr.front() == 0 && indptr.back() == indices.size(), "indptr does not span nnz");
  CASCADE_CHECK(values.size() == indices.size() && times.size() == indices.size(),
                "values/times differ in length from indices");
  for (uint32_t r = 0; r < n_rows; ++r) {
    CASCADE_CHECK(indptr[r] <= indptr[r + 1], fmt::format("indptr decreases at row {}", r));
  }
  for (uint32_t c : indices) {
    CASCADE_CHECK(c < n_cols, fmt::format("column id {} out of range (n_cols {})", c, n_cols));
  }
}

size_t nonempty_rows(const Interactions& m) {
  size_t n = 0;
  for (uint32_t r = 0; r < m.n_rows; ++r) n += m.row_size(r) > 0;
  return n;
}

Interactions sample_rows(const Interactions& m, size_t max_rows, uint64_t seed) {
  std::vector<uint32_t> rows;
  for (uint32_t r = 0; r < m.n_rows; ++r)
    if (m.row_size(r) > 0) rows.push_back(r);
  std::vector<char> keep(m.n_rows, 1);
  if (max_rows > 0 && max_rows < rows.size()) {
    // A partial Fisher-Yates shuffle: the first max_rows entries are a uniform sample.
    std::mt19937_64 rng(seed);
    for (size_t k = 0; k < max_rows; ++k) {
      std::uniform_int_distribution<size_t> pick(k, rows.size() - 1);
      std::swap(rows[k], rows[pick(rng)]);
    }
    std::fill(keep.begin(), keep.end(), 0);
    for (size_t k = 0; k < max_rows; ++k) keep[rows[k]] = 1;
  }
  return m.slice_rows([](uint32_t) { return 0u; },
                      [&](uint32_t r) { return keep[r] ? m.row_size(r) : 0u; });
}

void merge_by_time(std::span<const uint32_t> a, std::span<const int64_t> a_times,
                   std::span<const uint32_t> b, std::span<const int64_t> b_times,
                   std::vector<uint32_t>& out, std::vector<uint8_t>* from_a) {
  CASCADE_CHECK(a.size() == a_times.size() && b.size() == b_times.size(),
                "merge_by_time: items and times differ in length");
  out.clear();
  if (from_a) from_a->clear();
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    const bool take_a = j == b.size() || (i < a.size() && a_times[i] <= b_times[j]);
    out.push_back(take_a ? a[i++] : b[j++]);
    if (from_a) from_a->push_back(take_a ? 1 : 0);
  }
}

}  // namespace cascade
