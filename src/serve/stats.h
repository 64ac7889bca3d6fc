// The dashboard's view of the server's own metrics (GET /stats): the Prometheus exposition
// text the server renders for /metrics, read back into JSON. Reading the rendered text (and
// not a second set of counters) means /stats and /metrics can never disagree, and the
// /recommend hot path records nothing extra for the dashboard.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cascade::stats {

/// One sample line of the text exposition format: `name{a="x",b="y"} value`.
struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

/// Every sample of an exposition text (comments and blank lines skipped; label values
/// unescaped). A malformed line is skipped: the text is our own renderer's.
std::vector<Sample> parse_exposition(std::string_view text);

/// The q-quantile (0 < q <= 1) of a histogram given as cumulative (upper bound, count) pairs
/// in increasing bound order, the last bound +Inf. Linear interpolation inside the bucket
/// that holds the rank q * count, as Prometheus' histogram_quantile() does (the first bucket
/// starts at 0; a rank in the +Inf bucket gives the last finite bound). nullopt when empty.
std::optional<double> histogram_quantile(double q,
                                         const std::vector<std::pair<double, double>>& buckets);

/// From the samples: "requests" (total, client_errors (4xx), server_errors (5xx), by_route:
/// [{route, status, count}]) and "latency_ms" ({note, stages: [{stage, count, mean, p50, p95,
/// p99}], routes: [{route, ...}]}, percentiles estimated from the histogram buckets, null when
/// a series has no observation).
nlohmann::ordered_json summarise(const std::vector<Sample>& samples);

}  // namespace cascade::stats
