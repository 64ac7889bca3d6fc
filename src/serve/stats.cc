#include "serve/stats.h"

#include <charconv>
#include <cmath>
#include <limits>

namespace cascade::stats {
namespace {

using Json = nlohmann::ordered_json;

double parse_value(std::string_view v) {
  if (v == "+Inf") return std::numeric_limits<double>::infinity();
  if (v == "-Inf") return -std::numeric_limits<double>::infinity();
  if (v == "NaN") return std::numeric_limits<double>::quiet_NaN();
  double d = 0;
  const auto r = std::from_chars(v.data(), v.data() + v.size(), d);
  if (r.ec != std::errc() || r.ptr != v.data() + v.size()) throw std::invalid_argument("value");
  return d;
}

// `a="x",b="y\"z"` -> labels; `pos` starts after '{' and ends after '}'.
std::map<std::string, std::string> parse_labels(std::string_view line, size_t& pos) {
  std::map<std::string, std::string> out;
  while (pos < line.size() && line[pos] != '}') {
    const size_t eq = line.find('=', pos);
    if (eq == std::string_view::npos || eq + 1 >= line.size() || line[eq + 1] != '"')
      throw std::invalid_argument("label");
    std::string name(line.substr(pos, eq - pos)), value;
    size_t i = eq + 2;
    for (; i < line.size() && line[i] != '"'; ++i) {
      if (line[i] == '\\' && i + 1 < line.size()) {
        ++i;
        value += line[i] == 'n' ? '\n' : line[i];
      } else {
        value += line[i];
      }
    }
    if (i >= line.size()) throw std::invalid_argument("label");
    out[std::move(name)] = std::move(value);
    pos = i + 1;
    if (pos < line.size() && line[pos] == ',') ++pos;
  }
  if (pos >= line.size()) throw std::invalid_argument("labels");
  ++pos;
  return out;
}

// Counters are whole numbers; JSON shows them so.
uint64_t count(double v) {
  return v > 0 ? static_cast<uint64_t>(std::llround(v)) : 0;
}

Json number_or_null(std::optional<double> v) {
  return v && std::isfinite(*v) ? Json(*v) : Json(nullptr);
}

// Summaries of one histogram family, one per value of `key` (the family's only other label).
Json histogram_summaries(const std::vector<Sample>& samples, const std::string& family,
                         const std::string& key) {
  struct H {
    std::vector<std::pair<double, double>> buckets;
    double sum = 0, count = 0;
  };
  std::vector<std::pair<std::string, H>> series;  // registration (render) order
  auto at = [&](const std::string& id) -> H& {
    for (auto& [k, h] : series)
      if (k == id) return h;
    return series.emplace_back(id, H{}).second;
  };
  for (const Sample& s : samples) {
    const auto it = s.labels.find(key);
    if (it == s.labels.end()) continue;
    if (s.name == family + "_bucket") {
      const auto le = s.labels.find("le");
      if (le != s.labels.end())
        at(it->second).buckets.emplace_back(parse_value(le->second), s.value);
    } else if (s.name == family + "_sum") {
      at(it->second).sum = s.value;
    } else if (s.name == family + "_count") {
      at(it->second).count = s.value;
    }
  }
  Json out = Json::array();
  for (const auto& [id, h] : series) {
    Json j;
    j[key] = id;
    j["count"] = count(h.count);
    j["mean"] = h.count > 0 ? Json(h.sum / h.count) : Json(nullptr);
    j["p50"] = number_or_null(histogram_quantile(0.5, h.buckets));
    j["p95"] = number_or_null(histogram_quantile(0.95, h.buckets));
    j["p99"] = number_or_null(histogram_quantile(0.99, h.buckets));
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace

std::vector<Sample> parse_exposition(std::string_view text) {
  std::vector<Sample> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(start, end - start);
    start = end + 1;
    if (line.empty() || line[0] == '#') continue;
    try {
      Sample s;
      size_t pos = line.find_first_of("{ ");
      if (pos == std::string_view::npos) continue;
      s.name = std::string(line.substr(0, pos));
      if (line[pos] == '{') {
        ++pos;
        s.labels = parse_labels(line, pos);
      }
      while (pos < line.size() && line[pos] == ' ') ++pos;
      std::string_view value = line.substr(pos);
      if (const size_t sp = value.find(' '); sp != std::string_view::npos)
        value = value.substr(0, sp);  // a timestamp may follow
      s.value = parse_value(value);
      out.push_back(std::move(s));
    } catch (const std::invalid_argument&) {
      continue;
    }
  }
  return out;
}

std::optional<double> histogram_quantile(double q,
                                         const std::vector<std::pair<double, double>>& buckets) {
  if (buckets.empty() || buckets.back().second <= 0) return std::nullopt;
  const double rank = q * buckets.back().second;
  double prev_bound = 0, prev_count = 0;
  for (size_t i = 0; i < buckets.size(); ++i) {
    const auto [bound, count] = buckets[i];
    if (count >= rank) {
      if (std::isinf(bound)) return i == 0 ? std::nullopt : std::optional<double>(prev_bound);
      if (count == prev_count) return bound;
      return prev_bound + (bound - prev_bound) * (rank - prev_count) / (count - prev_count);
    }
    prev_bound = bound;
    prev_count = count;
  }
  return prev_bound;
}

nlohmann::ordered_json summarise(const std::vector<Sample>& samples) {
  Json by_route = Json::array();
  double total = 0, client = 0, server = 0;
  for (const Sample& s : samples) {
    if (s.name != "cascade_requests_total") continue;
    const auto route = s.labels.find("route"), status = s.labels.find("status");
    if (route == s.labels.end() || status == s.labels.end()) continue;
    const int code = std::atoi(status->second.c_str());
    total += s.value;
    if (code >= 400 && code < 500) client += s.value;
    if (code >= 500) server += s.value;
    by_route.push_back({{"route", route->second}, {"status", code}, {"count", count(s.value)}});
  }
  Json out;
  out["requests"] = {{"total", count(total)},
                     {"client_errors", count(client)},
                     {"server_errors", count(server)},
                     {"by_route", std::move(by_route)}};
  out["latency_ms"] = {
      {"note", "percentiles estimated from histogram buckets (linear within a bucket)"},
      {"stages", histogram_summaries(samples, "cascade_stage_latency_ms", "stage")},
      {"routes", histogram_summaries(samples, "cascade_request_duration_ms", "route")}};
  return out;
}

}  // namespace cascade::stats
