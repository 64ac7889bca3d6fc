#include "cascade/pipeline/bench_breakdown.h"

#include <fmt/format.h>

#include <optional>

#include "cascade/core/error.h"
#include "cascade/eval/compare.h"

namespace cascade {
namespace {

using Json = nlohmann::ordered_json;

void check_runs(const std::vector<std::string>& names,
                const std::vector<std::vector<double>>& values, size_t users, const char* what) {
  CASCADE_CHECK(names.size() == values.size(),
                fmt::format("{}: {} names for {} runs", what, names.size(), values.size()));
  for (size_t k = 0; k < values.size(); ++k) {
    CASCADE_CHECK(values[k].size() == users, fmt::format("{}: run '{}' has {} users, expected {}",
                                                         what, names[k], values[k].size(), users));
  }
}

}  // namespace

Json pairwise_bootstrap_json(const std::vector<std::string>& names,
                             const std::vector<std::vector<double>>& values,
                             const std::string& metric, const std::string& split) {
  check_runs(names, values, values.empty() ? 0 : values[0].size(), "pairwise comparison");
  const size_t n = names.size();
  using Matrix = std::vector<std::vector<double>>;
  Matrix diff(n, std::vector<double>(n, 0.0)), lo = diff, hi = diff,
                                               p(n, std::vector<double>(n, 1.0));
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < i; ++j) {
      // paired_bootstrap(a, b) reports mean(b - a): base j, other i.
      const BootstrapResult b = paired_bootstrap(values[j], values[i], 1000, 42, 0.95);
      diff[i][j] = b.diff, lo[i][j] = b.ci_low, hi[i][j] = b.ci_high, p[i][j] = b.p_value;
      diff[j][i] = -b.diff, lo[j][i] = -b.ci_high, hi[j][i] = -b.ci_low, p[j][i] = b.p_value;
    }
  }
  return Json{{"metric", metric}, {"split", split}, {"names", names}, {"diff", diff},
              {"ci_low", lo},     {"ci_high", hi},  {"p_value", p}};
}

Json user_buckets_json(const std::vector<size_t>& history, const std::vector<size_t>& edges,
                       const std::vector<std::string>& names,
                       const std::vector<std::vector<double>>& values, const std::string& metric) {
  CASCADE_CHECK(!edges.empty(), "user buckets: no bucket edges");
  for (size_t b = 1; b < edges.size(); ++b)
    CASCADE_CHECK(
        edges[b] > edges[b - 1],
        fmt::format("user buckets: edges must ascend ({} after {})", edges[b], edges[b - 1]));
  check_runs(names, values, history.size(), "user buckets");
  struct Bucket {
    size_t min;
    std::optional<size_t> max;  // none = open
  };
  std::vector<Bucket> buckets;
  bool below = false;
  for (size_t h : history) below = below || h < edges[0];
  if (below && edges[0] > 0) buckets.push_back({0, edges[0] - 1});
  for (size_t b = 0; b < edges.size(); ++b)
    buckets.push_back(
        {edges[b], b + 1 < edges.size() ? std::optional<size_t>(edges[b + 1] - 1) : std::nullopt});

  Json out{{"by", "train history length"}, {"metric", metric}, {"buckets", Json::array()}};
  for (const Bucket& bk : buckets) {
    std::vector<double> sum(names.size(), 0.0);
    size_t users = 0;
    for (size_t u = 0; u < history.size(); ++u) {
      if (history[u] < bk.min || (bk.max && history[u] > *bk.max)) continue;
      ++users;
      for (size_t k = 0; k < names.size(); ++k) sum[k] += values[k][u];
    }
    Json j{{"label", bk.max ? fmt::format("{}-{}", bk.min, *bk.max) : fmt::format("{}+", bk.min)},
           {"min", bk.min},
           {"max", bk.max ? Json(*bk.max) : Json(nullptr)},
           {"users", users}};
    j[metric] = Json::object();
    for (size_t k = 0; k < names.size(); ++k)
      j[metric][names[k]] = users ? Json(sum[k] / static_cast<double>(users)) : Json(nullptr);
    out["buckets"].push_back(j);
  }
  return out;
}

}  // namespace cascade
