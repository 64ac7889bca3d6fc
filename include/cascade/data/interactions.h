// Interactions: a compressed sparse row matrix of (row -> column, value, time).
//
// Rows are users and columns items (or the transpose, for item-side solvers).
// Within a user row, entries are kept in time order (oldest first; ties in file
// order), which is the order sequence models and "most recent item" features need.
// CSR rows are contiguous id ranges, so the matrix shards by user without copying.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "cascade/core/types.h"

namespace cascade {

struct Interactions {
  uint32_t n_rows = 0;
  uint32_t n_cols = 0;
  std::vector<uint64_t> indptr{0};  ///< size n_rows + 1
  std::vector<uint32_t> indices;    ///< size nnz: column ids
  std::vector<float> values;        ///< size nnz: rating (1 when the log has none)
  std::vector<int64_t> times;       ///< size nnz: timestamp (row number when the log has none)

  uint64_t nnz() const { return indices.size(); }
  uint32_t row_size(uint32_t r) const { return static_cast<uint32_t>(indptr[r + 1] - indptr[r]); }
  std::span<const uint32_t> row(uint32_t r) const {
    return {indices.data() + indptr[r], indices.data() + indptr[r + 1]};
  }
  std::span<const float> row_values(uint32_t r) const {
    return {values.data() + indptr[r], values.data() + indptr[r + 1]};
  }
  std::span<const int64_t> row_times(uint32_t r) const {
    return {times.data() + indptr[r], times.data() + indptr[r + 1]};
  }

  /// Appends one row (already in the desired order). Rows are appended in id order.
  void append_row(std::span<const uint32_t> cols, std::span<const float> vals,
                  std::span<const int64_t> ts);

  /// Column-major view: rows become columns. Within each new row, entries are ordered by
  /// the old row id. `times` are carried along.
  Interactions transpose() const;

  /// A copy that keeps, for every row r, only the entries [begin(r), end(r)) of that row
  /// (positions counted from the start of the row). Used to cut the seed-oof slices.
  template <class Begin, class End>
  Interactions slice_rows(Begin begin, End end) const {
    Interactions out;
    out.n_cols = n_cols;
    for (uint32_t r = 0; r < n_rows; ++r) {
      uint64_t b = indptr[r] + begin(r), e = indptr[r] + end(r);
      out.append_row({indices.data() + b, indices.data() + e}, {values.data() + b, values.data() + e},
                     {times.data() + b, times.data() + e});
    }
    return out;
  }

  /// Throws cascade::Error if the structure is inconsistent (sizes, ids out of range).
  void validate() const;
};

/// A copy of `m` that keeps at most `max_rows` of its non-empty rows, a uniform sample drawn
/// with `seed`, and empties the others (the shape and every kept row are unchanged, so user ids
/// still index it). `max_rows` 0, or at least the non-empty rows, keeps them all. Used to bound
/// tuning and training work on big logs by the number of users, never silently: callers log it.
Interactions sample_rows(const Interactions& m, size_t max_rows, uint64_t seed);

/// Rows of `m` with at least one entry.
size_t nonempty_rows(const Interactions& m);

/// The events of two time-ordered item lists interleaved by time, oldest first; on equal times
/// the `a` event comes first. Writes the items to `out` (cleared first) and, when `from_a` is
/// given, whether each came from `a` (1) or `b` (0). Used to place seen events (keep_seen) among
/// a history, the same way for fitting and for requests.
void merge_by_time(std::span<const uint32_t> a, std::span<const int64_t> a_times,
                   std::span<const uint32_t> b, std::span<const int64_t> b_times,
                   std::vector<uint32_t>& out, std::vector<uint8_t>* from_a = nullptr);

}  // namespace cascade
