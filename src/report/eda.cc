#include "cascade/report/eda.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <unordered_set>

#include "cascade/util/percentile.h"

namespace cascade::report {

Summary summarize(const std::vector<uint64_t>& values) {
  Summary s;
  if (values.empty()) return s;
  std::vector<double> v(values.begin(), values.end());
  s.p10 = percentile(v, 0.10);
  s.p50 = percentile(v, 0.50);
  s.p90 = percentile(v, 0.90);
  s.mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  s.min = *lo;
  s.max = *hi;
  return s;
}

Histogram bucket_histogram(const std::vector<uint64_t>& values,
                           const std::vector<uint64_t>& edges) {
  Histogram h;
  for (size_t b = 0; b < edges.size(); ++b) {
    const uint64_t lo = edges[b];
    const uint64_t hi = b + 1 < edges.size() ? edges[b + 1] - 1 : 0;
    h.lo.push_back(lo);
    h.hi.push_back(hi);
    h.labels.push_back(hi == 0    ? std::to_string(lo) + "+"
                       : hi == lo ? std::to_string(lo)
                                  : std::to_string(lo) + "-" + std::to_string(hi));
    h.counts.push_back(0);
  }
  for (uint64_t v : values) {
    if (edges.empty() || v < edges[0]) continue;
    // The last edge <= v.
    const size_t b =
        static_cast<size_t>(std::upper_bound(edges.begin(), edges.end(), v) - edges.begin()) - 1;
    ++h.counts[b];
  }
  return h;
}

Histogram log2_histogram(const std::vector<uint64_t>& values) {
  const uint64_t top = values.empty() ? 0 : *std::max_element(values.begin(), values.end());
  std::vector<uint64_t> edges;
  for (uint64_t e = 1; e <= top; e *= 2) edges.push_back(e);
  Histogram h = bucket_histogram(values, edges);
  // Close the last bin at its power-of-two bound so every label reads as a range.
  if (!edges.empty()) {
    h.hi.back() = edges.back() * 2 - 1;
    h.labels.back() =
        edges.back() == 1 ? "1" : std::to_string(edges.back()) + "-" + std::to_string(h.hi.back());
  }
  return h;
}

ZipfFit fit_zipf(const std::vector<uint64_t>& freq_desc) {
  ZipfFit f;
  std::vector<double> x, y;
  // Ranks 10^(k/10) rounded, each once: every decade of ranks weighs the same, where all ranks
  // would let the thousands of tail items (ranks 1000-10000) decide the slope alone.
  size_t last = 0;
  for (int k = 0;; ++k) {
    const auto r = static_cast<size_t>(std::llround(std::pow(10.0, k / 10.0)));
    if (r > freq_desc.size()) break;
    if (r == last || freq_desc[r - 1] == 0) continue;
    last = r;
    x.push_back(std::log(static_cast<double>(r)));
    y.push_back(std::log(static_cast<double>(freq_desc[r - 1])));
  }
  f.points = x.size();
  if (x.size() < 2) return f;
  const double n = static_cast<double>(x.size());
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n;
  const double my = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxx = 0, sxy = 0, syy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sxx += (x[i] - mx) * (x[i] - mx);
    sxy += (x[i] - mx) * (y[i] - my);
    syy += (y[i] - my) * (y[i] - my);
  }
  f.slope = sxy / sxx;
  f.intercept = my - f.slope * mx;
  // All frequencies equal: the flat line explains everything there is.
  f.r2 = syy == 0 ? 1.0 : (sxy * sxy) / (sxx * syy);
  return f;
}

double gini(std::vector<uint64_t> amounts) {
  std::sort(amounts.begin(), amounts.end());
  const double n = static_cast<double>(amounts.size());
  double total = 0, weighted = 0;
  for (size_t i = 0; i < amounts.size(); ++i) {
    const double x = static_cast<double>(amounts[i]);
    total += x;
    weighted += (2.0 * static_cast<double>(i + 1) - n - 1.0) * x;
  }
  return total == 0 ? 0.0 : weighted / (n * total);
}

Lorenz lorenz_curve(std::vector<uint64_t> amounts, size_t points) {
  Lorenz l;
  std::sort(amounts.begin(), amounts.end());
  std::vector<double> cum(amounts.size() + 1, 0.0);
  for (size_t i = 0; i < amounts.size(); ++i) cum[i + 1] = cum[i] + static_cast<double>(amounts[i]);
  const double total = cum.back();
  const double n = static_cast<double>(amounts.size());
  for (size_t k = 0; k <= points; ++k) {
    const double share = static_cast<double>(k) / static_cast<double>(points);
    const auto first = static_cast<size_t>(std::llround(share * n));
    l.x.push_back(share);
    l.y.push_back(total == 0 ? share : cum[first] / total);
  }
  return l;
}

std::vector<uint64_t> distinct_days_per_user(const RawLog& log) {
  std::vector<std::unordered_set<int64_t>> days(log.user_keys.size());
  for (size_t i = 0; i < log.size(); ++i) {
    // Floor division: timestamps before 1970 still map to their own day.
    const int64_t t = log.timestamp[i];
    days[log.user[i]].insert(t >= 0 ? t / 86400 : -((-t + 86399) / 86400));
  }
  std::vector<uint64_t> out;
  out.reserve(days.size());
  for (const auto& d : days) out.push_back(d.size());
  return out;
}

std::vector<GenreShare> genre_shares(const RawLog& log) {
  const size_t none = log.genre_names.size();
  std::vector<double> weight(none + 1, 0.0);
  std::vector<uint64_t> items(none + 1, 0);
  for (const auto& [key, info] : log.item_meta) {
    for (uint16_t g : info.genres) ++items[g];
  }
  // The genres of each interned item, looked up once.
  std::vector<const std::vector<uint16_t>*> genres_of(log.item_keys.size(), nullptr);
  for (size_t i = 0; i < log.item_keys.size(); ++i) {
    const auto it = log.item_meta.find(log.item_keys[i]);
    if (it != log.item_meta.end() && !it->second.genres.empty()) genres_of[i] = &it->second.genres;
  }
  for (size_t r = 0; r < log.size(); ++r) {
    const auto* g = genres_of[log.item[r]];
    if (g == nullptr) {
      weight[none] += 1.0;
      continue;
    }
    for (uint16_t x : *g) weight[x] += 1.0 / static_cast<double>(g->size());
  }
  std::vector<GenreShare> out;
  const double total = static_cast<double>(log.size());
  for (size_t g = 0; g <= none; ++g) {
    if (g == none && weight[g] == 0) continue;
    out.push_back({g == none ? "(none)" : log.genre_names[g], total == 0 ? 0.0 : weight[g] / total,
                   items[g]});
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.share > b.share; });
  return out;
}

Eda compute_eda(const RawLog& log) {
  Eda e;
  e.source = log.source;
  e.rows = log.size();
  e.has_rating = log.has_rating;
  e.has_timestamp = log.has_timestamp;

  std::map<float, uint64_t> ratings;
  for (float r : log.rating) ++ratings[r];
  for (const auto& [r, c] : ratings) {
    e.rating_values.push_back(r);
    e.rating_counts.push_back(c);
  }

  e.user_activity.assign(log.user_keys.size(), 0);
  std::vector<uint64_t> item_freq(log.item_keys.size(), 0);
  for (size_t i = 0; i < log.size(); ++i) {
    ++e.user_activity[log.user[i]];
    ++item_freq[log.item[i]];
  }
  // Interned keys may include ids seen only in side files; only ids with rows count.
  std::erase(e.user_activity, 0);
  std::erase(item_freq, 0);
  e.users = e.user_activity.size();
  e.items = item_freq.size();
  e.activity = summarize(e.user_activity);
  e.activity_hist = log2_histogram(e.user_activity);

  e.item_freq_desc = item_freq;
  std::sort(e.item_freq_desc.begin(), e.item_freq_desc.end(), std::greater<>());
  e.zipf = fit_zipf(e.item_freq_desc);

  if (log.has_timestamp) {
    e.active_days = distinct_days_per_user(log);
    std::erase(e.active_days, 0);
    e.days = summarize(e.active_days);
    e.days_hist = log2_histogram(e.active_days);
  }

  e.genres = genre_shares(log);

  e.cold_edges = {1, 5, 10, 20, 50, 100, 200, 500};
  e.cold_users = bucket_histogram(e.user_activity, e.cold_edges);
  e.cold_items = bucket_histogram(item_freq, e.cold_edges);

  e.lorenz = lorenz_curve(item_freq, 100);
  e.gini = gini(item_freq);
  return e;
}

}  // namespace cascade::report
