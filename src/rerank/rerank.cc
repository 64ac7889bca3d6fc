// The re-rank stage: drop watched, inverse-propensity debias, min-max, MMR (Carbonell &
// Goldstein 1998, SIGIR) with genre / year-bucket caps. Definitions in rerank.h.
#include "cascade/rerank/rerank.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <string>

#include "cascade/core/error.h"

namespace cascade {
namespace {

constexpr double kMaxIpsExponent = 100;  // beyond a few, the propensity alone decides the order
constexpr int32_t kYearBuckets = 5;      // cascade::year_bucket: 0..4, -1 unknown
constexpr size_t kSmallDuplicateScan = 32;

/// One candidate that survived the watched rule, with its side data gathered (so the
/// selection loop touches only this small array).
struct Cand {
  const float* vec = nullptr;  // row of dim floats, nullptr = no vectors
  float inv_norm = 0;          // 1 / |vec| (1 for pre-normalised rows), 0 for a zero vector
  double propensity = 1;       // count / max_count before clipping
  const uint16_t* genres = nullptr;
  uint32_t n_genres = 0;
  int32_t year_bucket = -1;
  ItemId item = 0;
  uint32_t input_rank = 0;
  double score = 0;
  double rel = 0;
  double max_sim = -std::numeric_limits<double>::infinity();
  bool taken = false;
};

/// What a caller of run() has: which side data is present, the catalogue size, vector dim.
struct SideInfo {
  uint32_t n_items = 0;
  uint32_t dim = 0;
  bool vectors = false;
  bool counts = false;
  bool catalog = false;
};

float dot(const float* a, const float* b, uint32_t dim) {
  // `omp simd` allows the reassociation that vectorises the sum (plain loops stay scalar).
  float s = 0;
#pragma omp simd reduction(+ : s)
  for (uint32_t d = 0; d < dim; ++d) s += a[d] * b[d];
  return s;
}

/// 1 / |v| in double (no overflow for large components), 0 for a zero vector.
double inv_norm_of(const float* v, uint32_t dim, ItemId item) {
  double norm2 = 0;
#pragma omp simd reduction(+ : norm2)
  for (uint32_t d = 0; d < dim; ++d) norm2 += static_cast<double>(v[d]) * v[d];
  CASCADE_CHECK(std::isfinite(norm2), fmt::format("rerank: item {} has a non-finite vector", item));
  return norm2 > 0 ? 1.0 / std::sqrt(norm2) : 0.0;
}

/// Min-max scaling of `get(c)` into c.rel over all candidates; all equal -> all 1.
template <class Get>
void minmax_into_rel(std::vector<Cand>& cands, Get get) {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -lo;
  for (const Cand& c : cands) {
    lo = std::min(lo, get(c));
    hi = std::max(hi, get(c));
  }
  const double range = hi - lo;
  for (Cand& c : cands) c.rel = range > 0 ? (get(c) - lo) / range : 1.0;
}

void check_side(const RerankItems& side) {
  const bool any = side.vectors != nullptr || !side.counts.empty() || side.catalog != nullptr;
  CASCADE_CHECK(!any || side.n_items > 0, "rerank: RerankItems::n_items is 0 but side data is given");
  CASCADE_CHECK(side.vectors == nullptr || side.dim > 0, "rerank: RerankItems::vectors given with dim 0");
  CASCADE_CHECK(side.counts.empty() || side.counts.size() == side.n_items,
                fmt::format("rerank: RerankItems::counts has {} entries for {} items", side.counts.size(),
                            side.n_items));
  CASCADE_CHECK(side.catalog == nullptr || side.catalog->items.size() == side.n_items,
                fmt::format("rerank: the catalogue has {} items, RerankItems::n_items is {}",
                            side.catalog ? side.catalog->items.size() : 0, side.n_items));
}

/// Max of the counts; throws on a negative or non-finite count.
double max_count_of(std::span<const float> counts) {
  // One vectorised pass: c * 0 is NaN exactly for NaN and infinite c.
  float mx = 0, mn = 0, probe = 0;
  const float* c = counts.data();
#pragma omp simd reduction(max : mx) reduction(min : mn) reduction(+ : probe)
  for (size_t i = 0; i < counts.size(); ++i) {
    mx = std::max(mx, c[i]);
    mn = std::min(mn, c[i]);
    probe += c[i] * 0.f;
  }
  if (mn < 0 || std::isnan(probe)) {
    for (size_t i = 0; i < counts.size(); ++i)
      CASCADE_CHECK(std::isfinite(counts[i]) && counts[i] >= 0,
                    fmt::format("rerank: counts[{}] = {} (expected a finite count >= 0)", i, counts[i]));
  }
  return mx;
}

/// Steps 1-5 of rerank.h. `fill(cand)` gathers the side data of cand.item.
template <class Fill>
std::vector<RerankedItem> run(std::span<const ItemId> items, std::span<const float> scores,
                              std::span<const ItemId> watched, size_t k, const SideInfo& side,
                              const RerankOptions& opt, Fill fill) {
  opt.validate();
  CASCADE_CHECK(items.size() == scores.size(),
                fmt::format("rerank: {} items but {} scores", items.size(), scores.size()));
  const bool ips = opt.ips_exponent > 0;
  CASCADE_CHECK(!ips || side.counts,
                "rerank.ips_exponent: inverse-propensity debias needs per-item counts (RerankItems::counts)");
  CASCADE_CHECK(opt.max_per_genre == 0 || side.catalog,
                "rerank.max_per_genre: the genre cap needs the catalogue (RerankItems::catalog)");
  CASCADE_CHECK(opt.max_per_year_bucket == 0 || side.catalog,
                "rerank.max_per_year_bucket: the year cap needs the catalogue (RerankItems::catalog)");
  const bool drop = opt.drop_watched && !watched.empty();
  CASCADE_CHECK(!drop || std::is_sorted(watched.begin(), watched.end()),
                "rerank: the watched list must be sorted ascending");

  // Duplicates would be output twice: an upstream bug worth a clear error.
  if (items.size() <= kSmallDuplicateScan) {
    for (size_t i = 1; i < items.size(); ++i)
      for (size_t j = 0; j < i; ++j)
        CASCADE_CHECK(items[i] != items[j],
                      fmt::format("rerank: item {} appears twice in the candidates (positions {} and {})",
                                  items[i], j, i));
  } else {
    std::vector<ItemId> sorted(items.begin(), items.end());
    std::sort(sorted.begin(), sorted.end());
    auto dup = std::adjacent_find(sorted.begin(), sorted.end());
    CASCADE_CHECK(dup == sorted.end(), fmt::format("rerank: item {} appears twice in the candidates", *dup));
  }

  std::vector<Cand> cands;
  cands.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    CASCADE_CHECK(std::isfinite(scores[i]),
                  fmt::format("rerank: scores[{}] (item {}) is {}", i, items[i], scores[i]));
    CASCADE_CHECK(side.n_items == 0 || items[i] < side.n_items,
                  fmt::format("rerank: item id {} at position {} is outside the catalogue of {} items",
                              items[i], i, side.n_items));
    if (drop && std::binary_search(watched.begin(), watched.end(), items[i])) continue;
    Cand c;
    c.item = items[i];
    c.input_rank = static_cast<uint32_t>(i);
    c.score = scores[i];
    fill(c);
    cands.push_back(c);
  }
  const size_t n = cands.size();
  k = std::min(k, n);
  std::vector<RerankedItem> out;
  if (k == 0) return out;
  out.reserve(k);

  // Steps 2-3. With IPS: rel = minmax(r * p^-e), computed as exp(log r - e log p - max) so
  // that no exponent / clip combination overflows (minmax ignores the common factor).
  minmax_into_rel(cands, [](const Cand& c) { return c.score; });
  if (ips) {
    double top = -std::numeric_limits<double>::infinity();
    for (Cand& c : cands) {
      const double p = std::max(c.propensity, opt.ips_clip);
      c.score = std::log(c.rel) - opt.ips_exponent * std::log(p);  // -inf for rel 0
      top = std::max(top, c.score);
    }
    for (Cand& c : cands) c.score = std::exp(c.score - top);
    minmax_into_rel(cands, [](const Cand& c) { return c.score; });
  }

  // Steps 4-5: greedy MMR with caps.
  const double lambda = opt.diversity;
  const bool mmr = side.vectors && lambda > 0;
  const bool genre_cap = opt.max_per_genre > 0;
  const bool year_cap = opt.max_per_year_bucket > 0;
  std::vector<uint32_t> genre_count;
  std::array<uint32_t, kYearBuckets> year_count{};
  if (genre_cap) {
    uint32_t n_genres = 0;
    for (const Cand& c : cands)
      for (uint32_t g = 0; g < c.n_genres; ++g) n_genres = std::max<uint32_t>(n_genres, c.genres[g] + 1u);
    genre_count.assign(n_genres, 0);
  }
  auto eligible = [&](const Cand& c) {
    if (genre_cap)
      for (uint32_t g = 0; g < c.n_genres; ++g)
        if (genre_count[c.genres[g]] >= opt.max_per_genre) return false;
    if (year_cap && c.year_bucket >= 0 && year_count[c.year_bucket] >= opt.max_per_year_bucket) return false;
    return true;
  };

  bool relaxing = false;  // once no candidate is eligible, none becomes eligible again
  for (size_t pick = 0; pick < k; ++pick) {
    size_t best = n;
    double best_obj = 0;
    for (int pass = relaxing ? 1 : 0; pass < 2 && best == n; ++pass) {
      for (size_t i = 0; i < n; ++i) {
        const Cand& c = cands[i];
        if (c.taken || (pass == 0 && !eligible(c))) continue;
        double obj = c.rel;
        if (mmr) obj = (1 - lambda) * c.rel - (pick > 0 ? lambda * c.max_sim : 0.0);
        // Ties: higher rel, then earlier input (cands are in input order, so strict > keeps it).
        if (best == n || obj > best_obj || (obj == best_obj && c.rel > cands[best].rel)) {
          best = i;
          best_obj = obj;
        }
      }
      if (best == n) relaxing = true;
    }
    Cand& b = cands[best];
    b.taken = true;
    out.push_back(RerankedItem{b.item, static_cast<float>(b.rel), static_cast<float>(best_obj), b.input_rank,
                               relaxing});
    if (genre_cap)
      for (uint32_t g = 0; g < b.n_genres; ++g) ++genre_count[b.genres[g]];
    if (year_cap && b.year_bucket >= 0) ++year_count[b.year_bucket];
    if (mmr && pick + 1 < k) {
      for (Cand& c : cands) {
        if (c.taken) continue;
        const double s = static_cast<double>(dot(c.vec, b.vec, side.dim)) * c.inv_norm * b.inv_norm;
        c.max_sim = std::max(c.max_sim, s);
      }
    }
  }
  return out;
}

int32_t checked_year_bucket(int32_t year) {
  const int32_t b = year_bucket(year);
  CASCADE_CHECK(b < kYearBuckets, fmt::format("rerank: year bucket {} out of range", b));
  return b;
}

std::string bad_value(const char* key, const char* expected, double v) {
  return fmt::format("rerank.{}: expected {}, got {}", key, expected, v);
}

}  // namespace

void RerankOptions::validate() const {
  CASCADE_CHECK(diversity >= 0 && diversity <= 1, bad_value("diversity", "a number in [0, 1]", diversity));
  CASCADE_CHECK(ips_exponent >= 0 && ips_exponent <= kMaxIpsExponent,
                bad_value("ips_exponent", "a number in [0, 100]", ips_exponent));
  CASCADE_CHECK(ips_clip > 0 && ips_clip <= 1, bad_value("ips_clip", "a number in (0, 1]", ips_clip));
}

RerankOptions RerankOptions::from_yaml(const YAML::Node& node) {
  RerankOptions o;
  if (!node || node.IsNull()) return o;
  CASCADE_CHECK(node.IsMap(), "rerank: expected a map of options");
  auto number = [](const YAML::Node& v, const std::string& key) {
    try {
      return v.as<double>();
    } catch (const std::exception&) {
      throw Error(fmt::format("rerank.{}: expected a number, got '{}'", key, YAML::Dump(v)));
    }
  };
  auto count = [](const YAML::Node& v, const std::string& key) {
    int64_t x = -1;
    try {
      x = v.as<int64_t>();
    } catch (const std::exception&) {
      x = -1;
    }
    constexpr int64_t kMax = 1'000'000;
    if (x < 0 || x > kMax)
      throw Error(fmt::format("rerank.{}: expected an integer in [0, {}] (0 = off), got '{}'", key, kMax,
                              YAML::Dump(v)));
    return static_cast<uint32_t>(x);
  };
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    if (key == "diversity") {
      o.diversity = number(v, key);
    } else if (key == "ips_exponent") {
      o.ips_exponent = number(v, key);
    } else if (key == "ips_clip") {
      o.ips_clip = number(v, key);
    } else if (key == "max_per_genre") {
      o.max_per_genre = count(v, key);
    } else if (key == "max_per_year_bucket") {
      o.max_per_year_bucket = count(v, key);
    } else if (key == "drop_watched") {
      try {
        o.drop_watched = v.as<bool>();
      } catch (const std::exception&) {
        throw Error(fmt::format("rerank.drop_watched: expected true or false, got '{}'", YAML::Dump(v)));
      }
    } else {
      throw Error(fmt::format("rerank: unknown key '{}' (known: diversity, ips_exponent, ips_clip, "
                              "max_per_genre, max_per_year_bucket, drop_watched)",
                              key));
    }
  }
  o.validate();
  return o;
}

std::vector<RerankedItem> rerank(std::span<const ItemId> items, std::span<const float> scores,
                                 std::span<const ItemId> watched_sorted, size_t k, const RerankItems& side,
                                 const RerankOptions& opt) {
  check_side(side);
  SideInfo info{side.n_items, side.dim, side.vectors != nullptr, !side.counts.empty(), side.catalog != nullptr};
  const bool ips = opt.ips_exponent > 0 && info.counts;
  // The one O(n_items) pass of this form (Reranker precomputes it).
  const double max_count = ips ? max_count_of(side.counts) : 0.0;
  return run(items, scores, watched_sorted, k, info, opt, [&](Cand& c) {
    if (side.vectors) {
      c.vec = side.vectors + static_cast<size_t>(c.item) * side.dim;
      c.inv_norm = static_cast<float>(inv_norm_of(c.vec, side.dim, c.item));
    }
    if (ips) c.propensity = max_count > 0 ? side.counts[c.item] / max_count : 1.0;
    if (side.catalog) {
      const ItemInfo& it = side.catalog->items[c.item];
      c.genres = it.genres.data();
      c.n_genres = static_cast<uint32_t>(it.genres.size());
      c.year_bucket = checked_year_bucket(it.year);
    }
  });
}

Reranker::Reranker(const RerankItems& side) : n_items_(side.n_items), dim_(side.dim) {
  check_side(side);
  if (side.vectors) {
    unit_.assign(side.vectors, side.vectors + static_cast<size_t>(n_items_) * dim_);
    for (uint32_t i = 0; i < n_items_; ++i) {
      float* row = unit_.data() + static_cast<size_t>(i) * dim_;
      const double inv = inv_norm_of(row, dim_, i);  // zero rows stay zero
      for (uint32_t d = 0; d < dim_; ++d) row[d] = static_cast<float>(row[d] * inv);
    }
  }
  if (!side.counts.empty()) {
    const double mx = max_count_of(side.counts);
    propensity_.resize(n_items_);
    for (uint32_t i = 0; i < n_items_; ++i)
      propensity_[i] = mx > 0 ? side.counts[i] / mx : 1.0;
  }
  if (side.catalog) {
    year_bucket_.resize(n_items_);
    genre_offset_.assign(1, 0);
    genre_offset_.reserve(n_items_ + 1);
    for (uint32_t i = 0; i < n_items_; ++i) {
      const ItemInfo& it = side.catalog->items[i];
      year_bucket_[i] = static_cast<int8_t>(checked_year_bucket(it.year));
      genre_ids_.insert(genre_ids_.end(), it.genres.begin(), it.genres.end());
      genre_offset_.push_back(static_cast<uint32_t>(genre_ids_.size()));
    }
  }
}

std::vector<RerankedItem> Reranker::rerank(std::span<const ItemId> items, std::span<const float> scores,
                                           std::span<const ItemId> watched_sorted, size_t k,
                                           const RerankOptions& opt) const {
  SideInfo info{n_items_, dim_, !unit_.empty(), !propensity_.empty(), !year_bucket_.empty()};
  return run(items, scores, watched_sorted, k, info, opt, [&](Cand& c) {
    if (!unit_.empty()) {
      c.vec = unit_.data() + static_cast<size_t>(c.item) * dim_;
      c.inv_norm = 1.f;  // rows are unit or zero: the dot product is the cosine
    }
    if (!propensity_.empty()) c.propensity = propensity_[c.item];
    if (!year_bucket_.empty()) {
      c.genres = genre_ids_.data() + genre_offset_[c.item];
      c.n_genres = genre_offset_[c.item + 1] - genre_offset_[c.item];
      c.year_bucket = year_bucket_[c.item];
    }
  });
}

}  // namespace cascade
