// Content / cold-start recall channel; see content_tfidf.h. TF-IDF weighting and cosine
// scoring after Salton & Buckley 1988, "Term-weighting approaches in automatic text
// retrieval"; feature set (genres + 5 year buckets, plus tags) after the reference system.
#include "recall/content_tfidf.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <map>
#include <unordered_map>

#include "cascade/core/error.h"
#include "cascade/core/registry.h"
#include "cascade/io/artifact.h"
#include "cascade/util/fast_paths.h"

namespace cascade {

namespace {

uint64_t meta_uint(const nlohmann::json& meta, const char* key, const std::filesystem::path& dir) {
  CASCADE_CHECK(meta.contains(key) && meta[key].is_number_unsigned(),
                fmt::format("{}: manifest field '{}' is missing or not a non-negative integer",
                            dir.string(), key));
  return meta[key].get<uint64_t>();
}

}  // namespace

ContentRecaller::ContentRecaller(Params params) { read_params(std::move(params)); }

void ContentRecaller::read_params(Params p) {
  genre_weight_ = p.get_double("genre_weight", 1.0, 0.0, 1000.0);
  year_weight_ = p.get_double("year_weight", 1.0, 0.0, 1000.0);
  tag_weight_ = p.get_double("tag_weight", 1.0, 0.0, 1000.0);
  min_tag_items_ = p.get_int("min_tag_items", 2, 1, 1'000'000'000);
  max_tags_ = p.get_int("max_tags", 1000, 0, 10'000'000);
  recency_decay_ = p.get_double("recency_decay", 1.0, 0.0, 1.0);
  if (!(recency_decay_ > 0.0)) {
    throw Error(fmt::format("parameter 'recency_decay' = {} is out of range (0, 1]", recency_decay_));
  }
  use_ratings_ = p.get_bool("use_ratings", false);
  p.check_unused(kKind);
  params_ = std::move(p);
}

void ContentRecaller::index_tags() {
  uint32_t size = kept_tags_.empty() ? 0 : kept_tags_.back() + 1;
  tag_feature_.assign(size, -1);
  for (size_t j = 0; j < kept_tags_.size(); ++j) {
    tag_feature_[kept_tags_[j]] = static_cast<int32_t>(n_genres_ + kYearBuckets + j);
  }
}

void ContentRecaller::fit(const FitInput& in) {
  const Catalog& cat = in.catalog;
  const uint32_t n = static_cast<uint32_t>(cat.items.size());
  CASCADE_CHECK(in.train.n_cols == n,
                fmt::format("content: catalogue has {} items but the training matrix {} columns",
                            n, in.train.n_cols));
  const uint32_t n_genres = static_cast<uint32_t>(cat.genre_names.size());
  const size_t n_tag_ids = cat.tag_names.size();

  // Document frequencies: number of distinct items carrying each feature.
  std::vector<uint32_t> df_genre(n_genres, 0), df_year(kYearBuckets, 0), df_tag(n_tag_ids, 0);
  std::vector<uint32_t> seen_tag(n_tag_ids, UINT32_MAX);  // last item that counted the tag
  for (uint32_t i = 0; i < n; ++i) {
    const ItemInfo& it = cat.items[i];
    uint32_t prev = UINT32_MAX;
    for (uint16_t g : it.genres) {
      CASCADE_CHECK(g < n_genres, fmt::format("content: item {} has genre id {} but the catalogue "
                                              "names {} genres", i, g, n_genres));
      if (g != prev) ++df_genre[g];  // genres are ascending; skip duplicates
      prev = g;
    }
    int32_t b = year_bucket(it.year);
    if (b >= 0) ++df_year[static_cast<uint32_t>(b)];
    for (uint32_t t : it.tags) {
      CASCADE_CHECK(t < n_tag_ids, fmt::format("content: item {} has tag id {} but the catalogue "
                                               "names {} tags", i, t, n_tag_ids));
      if (seen_tag[t] != i) {
        seen_tag[t] = i;
        ++df_tag[t];
      }
    }
  }

  // Tag vocabulary: df >= min_tag_items, then the max_tags most frequent.
  std::vector<uint32_t> cand;
  for (uint32_t t = 0; t < n_tag_ids; ++t) {
    if (df_tag[t] >= static_cast<uint64_t>(min_tag_items_)) cand.push_back(t);
  }
  std::stable_sort(cand.begin(), cand.end(),
                   [&](uint32_t a, uint32_t b) { return df_tag[a] > df_tag[b]; });
  if (cand.size() > static_cast<size_t>(max_tags_)) cand.resize(static_cast<size_t>(max_tags_));
  std::sort(cand.begin(), cand.end());

  n_items_ = n;
  n_genres_ = n_genres;
  kept_tags_ = std::move(cand);
  n_features_ = n_genres_ + kYearBuckets + static_cast<uint32_t>(kept_tags_.size());
  index_tags();

  auto idf_of = [n](uint32_t df) {
    return static_cast<float>(std::log((1.0 + n) / (1.0 + df)) + 1.0);
  };
  idf_.assign(n_features_, 0.0f);
  for (uint32_t g = 0; g < n_genres_; ++g) idf_[g] = idf_of(df_genre[g]);
  for (uint32_t b = 0; b < kYearBuckets; ++b) idf_[n_genres_ + b] = idf_of(df_year[b]);
  for (size_t j = 0; j < kept_tags_.size(); ++j) {
    idf_[n_genres_ + kYearBuckets + j] = idf_of(df_tag[kept_tags_[j]]);
  }

  item_vecs_.assign(static_cast<size_t>(n_items_) * n_features_, 0.0f);
  for (uint32_t i = 0; i < n_items_; ++i) {
    build_row(cat.items[i], item_vecs_.data() + static_cast<size_t>(i) * n_features_);
  }
  index_rows();
  dataset_hash_ = in.dataset_hash;
}

void ContentRecaller::build_row(const ItemInfo& info, float* row) const {
  // Accumulate in double, round once, so vector_for() reproduces fit()'s rows exactly.
  std::vector<double> v(n_features_, 0.0);
  for (uint16_t g : info.genres) {
    CASCADE_CHECK(g < n_genres_, fmt::format("content: genre id {} out of range ({} genres)", g, n_genres_));
    v[g] = genre_weight_ * idf_[g];
  }
  int32_t b = year_bucket(info.year);
  if (b >= 0) v[n_genres_ + b] = year_weight_ * idf_[n_genres_ + b];
  // Count applications of kept tags; tf = 1 + ln(count) damps a tag applied many times.
  std::map<uint32_t, uint32_t> counts;
  for (uint32_t t : info.tags) {
    if (t < tag_feature_.size() && tag_feature_[t] >= 0) ++counts[static_cast<uint32_t>(tag_feature_[t])];
  }
  for (const auto& [f, c] : counts) v[f] = tag_weight_ * (1.0 + std::log(static_cast<double>(c))) * idf_[f];
  double norm2 = 0.0;
  for (double x : v) norm2 += x * x;
  if (norm2 <= 0.0) return;
  const double inv = 1.0 / std::sqrt(norm2);
  for (uint32_t f = 0; f < n_features_; ++f) row[f] = static_cast<float>(v[f] * inv);
}

std::vector<float> ContentRecaller::vector_for(const ItemInfo& info) const {
  std::vector<float> row(n_features_, 0.0f);
  build_row(info, row.data());
  return row;
}

std::vector<float> ContentRecaller::user_profile(const UserQuery& q) const {
  const size_t len = q.history.size();
  const bool weighted = use_ratings_ && !q.values.empty();
  CASCADE_CHECK(q.values.empty() || q.values.size() == len,
                fmt::format("content: query has {} values for {} history items", q.values.size(), len));
  std::vector<double> acc(n_features_, 0.0);
  double w = 1.0;  // recency_decay^(age), age counted from the newest item
  for (size_t k = 0; k < len; ++k) {
    const size_t p = len - 1 - k;  // newest first
    const ItemId item = q.history[p];
    CASCADE_CHECK(item < n_items_, fmt::format("content: history item {} out of range ({} items)",
                                               item, n_items_));
    const double wp = weighted ? w * q.values[p] : w;
    for (uint64_t j = nz_ptr_[item]; j < nz_ptr_[item + 1]; ++j) acc[nz_idx_[j]] += wp * nz_val_[j];
    w *= recency_decay_;
  }
  std::vector<float> out(n_features_, 0.0f);
  double norm2 = 0.0;
  for (double x : acc) norm2 += x * x;
  if (norm2 <= 0.0 || !std::isfinite(norm2)) return out;  // cold user: all-zero profile
  const double inv = 1.0 / std::sqrt(norm2);
  for (uint32_t f = 0; f < n_features_; ++f) out[f] = static_cast<float>(acc[f] * inv);
  return out;
}

void ContentRecaller::score(const UserQuery& q, std::span<float> out) const {
  CASCADE_CHECK(out.size() == n_items_,
                fmt::format("content: score buffer has {} entries for {} items (fitted?)",
                            out.size(), n_items_));
  std::vector<float> prof = user_profile(q);
  if (row_group_.empty() || !fast_paths()) {
    for (uint32_t i = 0; i < n_items_; ++i) out[i] = row_dot(i, prof.data());
    return;
  }
  thread_local std::vector<float> group_score;
  group_score.resize(group_item_.size());
  for (size_t g = 0; g < group_item_.size(); ++g)
    group_score[g] = row_dot(group_item_[g], prof.data());
  for (uint32_t i = 0; i < n_items_; ++i) out[i] = group_score[row_group_[i]];
}

void ContentRecaller::score_items(const UserQuery& q, std::span<const ItemId> items,
                                  std::span<float> out) const {
  CASCADE_CHECK(items.size() == out.size(), "score_items: items and out differ in size");
  std::vector<float> prof = user_profile(q);
  for (size_t k = 0; k < items.size(); ++k) {
    CASCADE_CHECK(items[k] < n_items_,
                  fmt::format("score_items: item {} out of range ({} items)", items[k], n_items_));
    out[k] = row_dot(items[k], prof.data());
  }
}

void ContentRecaller::index_rows() {
  nz_ptr_.assign(1, 0);
  nz_idx_.clear();
  nz_val_.clear();
  for (uint32_t i = 0; i < n_items_; ++i) {
    const float* row = item_vecs_.data() + static_cast<size_t>(i) * n_features_;
    for (uint32_t f = 0; f < n_features_; ++f) {
      if (row[f] != 0.0f) {
        nz_idx_.push_back(f);
        nz_val_.push_back(row[f]);
      }
    }
    nz_ptr_.push_back(nz_idx_.size());
  }
  // Distinct rows (bitwise equal non-zeros), keyed by a hash of the row and checked exactly.
  row_group_.assign(n_items_, 0);
  group_item_.clear();
  std::unordered_multimap<uint64_t, uint32_t> by_hash;
  auto same = [&](ItemId a, ItemId b) {
    const uint64_t na = nz_ptr_[a + 1] - nz_ptr_[a];
    if (na != nz_ptr_[b + 1] - nz_ptr_[b]) return false;
    for (uint64_t k = 0; k < na; ++k) {
      if (nz_idx_[nz_ptr_[a] + k] != nz_idx_[nz_ptr_[b] + k]) return false;
      if (std::bit_cast<uint32_t>(nz_val_[nz_ptr_[a] + k]) !=
          std::bit_cast<uint32_t>(nz_val_[nz_ptr_[b] + k]))
        return false;
    }
    return true;
  };
  for (uint32_t i = 0; i < n_items_; ++i) {
    uint64_t h = 1469598103934665603ull;
    for (uint64_t k = nz_ptr_[i]; k < nz_ptr_[i + 1]; ++k) {
      h = (h ^ nz_idx_[k]) * 1099511628211ull;
      h = (h ^ std::bit_cast<uint32_t>(nz_val_[k])) * 1099511628211ull;
    }
    int64_t found = -1;
    for (auto [it, end] = by_hash.equal_range(h); it != end; ++it) {
      if (same(group_item_[it->second], i)) {
        found = it->second;
        break;
      }
    }
    if (found < 0) {
      found = static_cast<int64_t>(group_item_.size());
      group_item_.push_back(i);
      by_hash.emplace(h, static_cast<uint32_t>(found));
    }
    row_group_[i] = static_cast<uint32_t>(found);
  }
  // Worth it only when rows repeat a lot (the copy per item is not free).
  if (group_item_.size() * 2 > n_items_) {
    row_group_.clear();
    group_item_.clear();
  }
}

float ContentRecaller::row_dot(ItemId i, const float* v) const {
  // One accumulation order (ascending feature) shared by score() and score_items(),
  // so both give bit-identical values.
  float s = 0.0f;
  for (uint64_t k = nz_ptr_[i]; k < nz_ptr_[i + 1]; ++k) s += nz_val_[k] * v[nz_idx_[k]];
  return s;
}

ItemVectorsView ContentRecaller::item_vectors() const {
  return {item_vecs_.data(), n_items_, n_features_};
}

void ContentRecaller::save(const std::filesystem::path& dir) const {
  ArtifactWriter w = model_writer(dir, kKind, kFormatVersion, params_.resolved(), dataset_hash_);
  w.meta()["n_items"] = n_items_;
  w.meta()["n_features"] = n_features_;
  w.meta()["n_genres"] = n_genres_;
  w.meta()["n_year_buckets"] = kYearBuckets;
  w.add_array<float>("item_vectors.f32", item_vecs_);
  w.add_array<float>("idf.f32", idf_);
  w.add_array<uint32_t>("kept_tags.u32", kept_tags_);
  w.finish();
}

void ContentRecaller::load(const std::filesystem::path& dir) {
  const ModelReader r(dir, kKind, kFormatVersion);
  const auto& meta = r.meta();
  std::map<std::string, std::string> values = r.params();
  const uint64_t n = meta_uint(meta, "n_items", dir);
  const uint64_t dim = meta_uint(meta, "n_features", dir);
  const uint64_t n_genres = meta_uint(meta, "n_genres", dir);
  CASCADE_CHECK(meta_uint(meta, "n_year_buckets", dir) == kYearBuckets,
                fmt::format("{}: n_year_buckets differs from this build's {}", dir.string(), kYearBuckets));
  CASCADE_CHECK(n <= UINT32_MAX && dim <= UINT32_MAX && n_genres <= 65536,
                fmt::format("{}: manifest sizes out of range", dir.string()));
  std::vector<float> vecs = r.array<float>("item_vectors.f32");
  std::vector<float> idf = r.array<float>("idf.f32");
  std::vector<uint32_t> tags = r.array<uint32_t>("kept_tags.u32");
  CASCADE_CHECK(vecs.size() == n * dim && idf.size() == dim &&
                    dim == n_genres + kYearBuckets + tags.size(),
                fmt::format("{}: array sizes do not match the manifest (n_items {}, n_features {}, "
                            "n_genres {}, {} tags)", dir.string(), n, dim, n_genres, tags.size()));
  for (size_t j = 1; j < tags.size(); ++j) {
    CASCADE_CHECK(tags[j - 1] < tags[j], fmt::format("{}: kept_tags.u32 is not strictly ascending", dir.string()));
  }
  ContentRecaller validated{Params(values)};  // throws on bad params before we change anything
  // Commit only after every check passed, so a failed load leaves the model unchanged.
  read_params(Params(std::move(values)));
  n_items_ = static_cast<uint32_t>(n);
  n_features_ = static_cast<uint32_t>(dim);
  n_genres_ = static_cast<uint32_t>(n_genres);
  item_vecs_ = std::move(vecs);
  idf_ = std::move(idf);
  kept_tags_ = std::move(tags);
  index_tags();
  index_rows();
  dataset_hash_ = r.dataset_hash();
}

CASCADE_REGISTER_RECALLER(ContentRecaller, "content");

}  // namespace cascade
