// sample_rows: the seeded user sample that bounds tuning and ranker training on big logs.
#include <gtest/gtest.h>

#include <set>

#include "cascade/data/interactions.h"

namespace cascade {
namespace {

// Row r holds r % 3 entries (rows 0, 3, 6, ... are empty): 20 of 30 rows are non-empty.
Interactions rows_of_varied_length() {
  Interactions m;
  m.n_cols = 10;
  for (uint32_t r = 0; r < 30; ++r) {
    std::vector<uint32_t> cols;
    std::vector<float> vals;
    std::vector<int64_t> ts;
    for (uint32_t k = 0; k < r % 3; ++k) {
      cols.push_back((r + k) % 10);
      vals.push_back(static_cast<float>(k + 1));
      ts.push_back(static_cast<int64_t>(100 * r + k));
    }
    m.append_row(cols, vals, ts);
  }
  return m;
}

std::set<uint32_t> kept(const Interactions& s) {
  std::set<uint32_t> out;
  for (uint32_t r = 0; r < s.n_rows; ++r)
    if (s.row_size(r) > 0) out.insert(r);
  return out;
}

TEST(SampleRows, KeepsExactlyTheCapOfNonEmptyRowsWholeAndEmptiesTheRest) {
  const Interactions m = rows_of_varied_length();
  ASSERT_EQ(nonempty_rows(m), 20u);
  const Interactions s = sample_rows(m, 7, 42);
  s.validate();
  EXPECT_EQ(s.n_rows, m.n_rows);  // user ids still index it
  EXPECT_EQ(s.n_cols, m.n_cols);
  EXPECT_EQ(nonempty_rows(s), 7u);
  for (uint32_t r : kept(s)) {
    ASSERT_EQ(s.row_size(r), m.row_size(r)) << "row " << r << " was cut, not kept whole";
    for (uint32_t k = 0; k < s.row_size(r); ++k) {
      EXPECT_EQ(s.row(r)[k], m.row(r)[k]);
      EXPECT_EQ(s.row_values(r)[k], m.row_values(r)[k]);
      EXPECT_EQ(s.row_times(r)[k], m.row_times(r)[k]);
    }
  }
}

TEST(SampleRows, IsASeededFunctionAndDifferentSeedsDrawDifferentUsers) {
  const Interactions m = rows_of_varied_length();
  EXPECT_EQ(kept(sample_rows(m, 7, 42)), kept(sample_rows(m, 7, 42)));
  EXPECT_NE(kept(sample_rows(m, 7, 42)), kept(sample_rows(m, 7, 43)));
  // Every non-empty row is drawn by some seed (the sample is not a fixed prefix).
  std::set<uint32_t> seen;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    const auto k = kept(sample_rows(m, 3, seed));
    seen.insert(k.begin(), k.end());
  }
  EXPECT_EQ(seen, kept(m));
}

TEST(SampleRows, ZeroOrACapAboveTheRowsKeepsEverything) {
  const Interactions m = rows_of_varied_length();
  for (size_t cap : {size_t{0}, size_t{20}, size_t{1000}}) {
    const Interactions s = sample_rows(m, cap, 1);
    EXPECT_EQ(s.indptr, m.indptr) << "cap " << cap;
    EXPECT_EQ(s.indices, m.indices) << "cap " << cap;
  }
}

}  // namespace
}  // namespace cascade
