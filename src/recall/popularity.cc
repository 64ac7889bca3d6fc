// Popularity recall channel; see popularity.h. Baseline of the reference system
// (SYSTEM.md: "Popularity: raw training counts"); optional exponential time decay
// (Koren 2009, "Collaborative filtering with temporal dynamics").
#include "recall/popularity.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "cascade/core/error.h"
#include "cascade/core/registry.h"
#include "cascade/io/artifact.h"
#include "cascade/util/topk.h"

namespace cascade {

namespace {
constexpr double kSecondsPerDay = 86400.0;
}  // namespace

PopularityRecaller::PopularityRecaller(Params params) { read_params(std::move(params)); }

void PopularityRecaller::read_params(Params p) {
  half_life_days_ = p.get_double("half_life_days", 0.0, 0.0, 1e6);
  p.check_unused(kKind);
  params_ = std::move(p);
}

void PopularityRecaller::fit(const FitInput& in) {
  const Interactions& train = in.train;
  train.validate();
  CASCADE_CHECK(in.catalog.items.empty() || in.catalog.items.size() == train.n_cols,
                fmt::format("popularity: catalogue has {} items but the training matrix {} columns",
                            in.catalog.items.size(), train.n_cols));
  // Accumulate in double: weighted sums of ~1e5 terms lose integer exactness in float.
  std::vector<double> acc(train.n_cols, 0.0);
  if (half_life_days_ <= 0.0) {
    for (uint32_t c : train.indices) acc[c] += 1.0;
  } else {
    int64_t t_max = train.nnz() ? *std::max_element(train.times.begin(), train.times.end()) : 0;
    const double half_life_s = half_life_days_ * kSecondsPerDay;
    for (uint64_t j = 0; j < train.nnz(); ++j) {
      double age = static_cast<double>(t_max - train.times[j]);
      acc[train.indices[j]] += std::exp2(-age / half_life_s);
    }
  }
  scores_.assign(acc.begin(), acc.end());
  dataset_hash_ = in.dataset_hash;
  build_ranking();
}

void PopularityRecaller::build_ranking() {
  ranking_ = top_k(scores_, scores_.size());
}

void PopularityRecaller::score(const UserQuery&, std::span<float> out) const {
  CASCADE_CHECK(out.size() == scores_.size(),
                fmt::format("popularity: score buffer has {} entries for {} items (fitted?)",
                            out.size(), scores_.size()));
  std::copy(scores_.begin(), scores_.end(), out.begin());
}

void PopularityRecaller::score_items(const UserQuery&, std::span<const ItemId> items,
                                     std::span<float> out) const {
  CASCADE_CHECK(items.size() == out.size(), "score_items: items and out differ in size");
  for (size_t i = 0; i < items.size(); ++i) {
    CASCADE_CHECK(items[i] < scores_.size(),
                  fmt::format("score_items: item {} out of range ({} items)", items[i], scores_.size()));
    out[i] = scores_[items[i]];
  }
}

void PopularityRecaller::save(const std::filesystem::path& dir) const {
  ArtifactWriter w = model_writer(dir, kKind, kFormatVersion, params_.resolved(), dataset_hash_);
  w.meta()["n_items"] = scores_.size();
  w.add_array<float>("scores.f32", scores_);
  w.finish();
}

void PopularityRecaller::load(const std::filesystem::path& dir) {
  const ModelReader r(dir, kKind, kFormatVersion);
  std::map<std::string, std::string> values = r.params();
  std::vector<float> s = r.array<float>("scores.f32");
  const auto n = r.field<uint64_t>("n_items");
  CASCADE_CHECK(s.size() == n, fmt::format("{}: scores.f32 has {} entries, manifest n_items {}",
                                           dir.string(), s.size(), n));
  PopularityRecaller validated{Params(values)};  // throws on bad params before we change anything
  read_params(Params(std::move(values)));
  scores_ = std::move(s);
  dataset_hash_ = r.dataset_hash();
  build_ranking();
}

CASCADE_REGISTER_RECALLER(PopularityRecaller, "popularity");

}  // namespace cascade
