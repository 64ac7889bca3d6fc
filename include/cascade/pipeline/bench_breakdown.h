// Breakdowns of per-user benchmark figures shared by the bench commands (bench funnel):
//  - every pair of runs compared by the paired bootstrap (eval/compare.h), as a matrix;
//  - one metric's mean per bucket of the users' training-history length (cold vs warm users).
// Both take runs as per-user values over the same users in the same order.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace cascade {

/// {"metric","split","names","diff","ci_low","ci_high","p_value"}: [i][j] compares names[i]
/// with names[j], diff = mean(values[i] - values[j]) and its 95% interval (1000 resamples, seed
/// 42: the resampling every bench comparison uses, so [i][j] equals the bench's "vs" figure of i
/// against base j); the diagonal is 0 with p 1. Computed for i > j and mirrored, so the matrix is
/// exactly antisymmetric (ci_low[j][i] = -ci_high[i][j]) and p symmetric. Throws when the runs'
/// lengths differ.
nlohmann::ordered_json pairwise_bootstrap_json(const std::vector<std::string>& names,
                                               const std::vector<std::vector<double>>& values,
                                               const std::string& metric, const std::string& split);

/// Default bucket edges of the training-history length: 1-19, 20-49, 50-99, 100-199, 200+.
/// (MovieLens keeps users with >= 20 ratings, so after the rating filter most users have
/// 10-100 positives; the edges split cold, typical, heavy and very heavy users.)
inline const std::vector<size_t> kDefaultHistoryEdges = {1, 20, 50, 100, 200};

/// {"by":"train history length","buckets":[{"label":"1-19","min":1,"max":19,"users":n,
///   "<metric>":{names[k]: mean over the bucket's users, ...}}, ...]}. `edges` (ascending, at
/// least one) start the buckets; the last is open ("200+", "max": null). Users with a history
/// shorter than edges[0] get a leading bucket "0-<edges[0]-1>", written only when not empty, so
/// the buckets' users always sum to history.size(). An empty bucket has users 0 and null means.
/// Throws when edges are not strictly ascending or a run's length is not history.size().
nlohmann::ordered_json user_buckets_json(const std::vector<size_t>& history,
                                         const std::vector<size_t>& edges,
                                         const std::vector<std::string>& names,
                                         const std::vector<std::vector<double>>& values,
                                         const std::string& metric);

}  // namespace cascade
