// Exploratory statistics of a loaded interaction log (before filtering and splitting): what
// `cascade report` draws in its dataset section. Pure functions over plain vectors, so each
// statistic is tested on hand-computed cases; compute_eda() applies them to a RawLog.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cascade/data/raw_log.h"

namespace cascade::report {

/// Counts of values falling in labelled bins [lo, hi] (inclusive integer bounds; hi = 0 means
/// open-ended).
struct Histogram {
  std::vector<std::string> labels;
  std::vector<uint64_t> lo, hi;
  std::vector<uint64_t> counts;
};

/// p10 / p50 / p90 use cascade::percentile (the value at rank floor(q * n) of the sorted values).
struct Summary {
  double p10 = 0, p50 = 0, p90 = 0, mean = 0, min = 0, max = 0;
};
Summary summarize(const std::vector<uint64_t>& values);

/// Power-of-two bins 1, 2-3, 4-7, 8-15, ... up to the largest value (zeros are ignored).
Histogram log2_histogram(const std::vector<uint64_t>& values);

/// Bins with the given ascending lower edges (first >= 1); the last bin is open-ended, e.g.
/// edges {1, 5, 10} give "1-4", "5-9", "10+". Values below edges[0] are ignored.
Histogram bucket_histogram(const std::vector<uint64_t>& values, const std::vector<uint64_t>& edges);

/// Least-squares line through (ln rank, ln frequency) of the frequencies sorted descending
/// (rank 1 = most frequent), at the log-spaced ranks round(10^(k/10)) (1, 2, 3, 4, 5, 6, 8, 10,
/// 13, 16, 20, 25, ...; each once, zero frequencies left out), so every decade of ranks weighs
/// the same. For an exact power law f(r) = C r^-a the slope is -a.
struct ZipfFit {
  double slope = 0, intercept = 0;  ///< ln f = intercept + slope * ln r
  double r2 = 0;                    ///< coefficient of determination of the fit
  size_t points = 0;                ///< ranks the line was fitted on
};
ZipfFit fit_zipf(const std::vector<uint64_t>& freq_desc);

/// Gini coefficient of non-negative amounts: sum_i (2i - n - 1) x_(i) / (n sum x), x ascending,
/// i from 1 (0 for equal amounts, (n-1)/n when one holds everything; 0 when all are zero).
double gini(std::vector<uint64_t> amounts);

/// The Lorenz curve of the amounts at `points` + 1 evenly spaced population shares: x[k] = k /
/// points (share of items, poorest first), y[k] = share of the total held by the first
/// round(x[k] * n) of them.
struct Lorenz {
  std::vector<double> x, y;
};
Lorenz lorenz_curve(std::vector<uint64_t> amounts, size_t points);

/// Share of interactions per genre: each row's unit weight is split evenly over its item's
/// genres; rows whose item has no known genre count as "(none)" (listed only when > 0).
struct GenreShare {
  std::string genre;
  double share = 0;    ///< of all rows; the shares sum to 1
  uint64_t items = 0;  ///< catalogue items carrying the genre
};

struct Eda {
  std::string source;
  size_t rows = 0, users = 0, items = 0;  ///< items = distinct items with a row
  bool has_rating = true, has_timestamp = true;

  std::vector<double> rating_values;  ///< distinct ratings ascending
  std::vector<uint64_t> rating_counts;

  std::vector<uint64_t> user_activity;  ///< rows per user (raw user order)
  Summary activity;
  Histogram activity_hist;

  std::vector<uint64_t> item_freq_desc;  ///< rows per item, most frequent first
  ZipfFit zipf;

  std::vector<uint64_t>
      active_days;  ///< distinct UTC days with a row, per user (empty without timestamps)
  Summary days;
  Histogram days_hist;

  std::vector<GenreShare> genres;

  std::vector<uint64_t> cold_edges;  ///< lower edges of the cold-start buckets
  Histogram cold_users, cold_items;  ///< users / items by their number of rows

  Lorenz lorenz;  ///< of item popularity
  double gini = 0;
};

/// Distinct days (floor(timestamp / 86400)) with at least one row, per user id of the log.
std::vector<uint64_t> distinct_days_per_user(const RawLog& log);
std::vector<GenreShare> genre_shares(const RawLog& log);

Eda compute_eda(const RawLog& log);

}  // namespace cascade::report
