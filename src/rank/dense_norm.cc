#include "dense_norm.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "cascade/core/error.h"

namespace cascade {

void DenseNormalizer::fit(const RankBatch& batch, float clip) {
  const size_t nd = batch.schema.n_dense(), n = batch.rows();
  clip_ = clip;
  mean_.assign(nd, 0.0f);
  inv_scale_.assign(nd, 1.0f);
  indicator_of_.clear();
  for (size_t d = 0; d < nd; ++d) {
    double sum = 0, sq = 0;
    size_t count = 0;
    bool missing = false;
    for (size_t r = 0; r < n; ++r) {
      const float v = batch.dense[r * nd + d];
      if (std::isnan(v)) {
        missing = true;
        continue;
      }
      sum += v;
      sq += static_cast<double>(v) * v;
      ++count;
    }
    if (missing) indicator_of_.push_back(static_cast<uint32_t>(d));
    if (count == 0) continue;
    const double mean = sum / static_cast<double>(count);
    const double var = std::max(0.0, sq / static_cast<double>(count) - mean * mean);
    mean_[d] = static_cast<float>(mean);
    inv_scale_[d] = var > 1e-12 ? static_cast<float>(1.0 / std::sqrt(var)) : 1.0f;
  }
}

void DenseNormalizer::apply(std::span<const float> in, float* out) const {
  CASCADE_CHECK(in.size() == mean_.size(),
                fmt::format("DenseNormalizer: {} values for {} columns", in.size(), mean_.size()));
  apply_row(in.data(), out);
}

// Branch-free on purpose: a branch on NaN per value mispredicts on every other missing value
// (it cost ~0.4 ms per 1000 rows x 90 inputs, as much as DeepFM's whole forward).
void DenseNormalizer::apply_row(const float* in, float* out) const {
  const size_t nd = mean_.size();
  const float c = clip_;
  for (size_t d = 0; d < nd; ++d) {
    const float v = in[d];
    float x = (v - mean_[d]) * inv_scale_[d];
    x = x < -c ? -c : (c < x ? c : x);
    out[d] = v != v ? 0.0f : x;
  }
  float* ind = out + nd;
  for (size_t i = 0; i < indicator_of_.size(); ++i) {
    // 1 when present, 0 for NaN, computed on the bits (a float compare here becomes a branch).
    uint32_t u;
    std::memcpy(&u, in + indicator_of_[i], sizeof u);
    ind[i] = static_cast<float>(1u - ((0x7f800000u - (u & 0x7fffffffu)) >> 31));
  }
}

std::vector<float> DenseNormalizer::apply_batch(const RankBatch& batch) const {
  const size_t n = batch.rows(), od = out_dim();
  std::vector<float> out(n * od);
  CASCADE_CHECK(batch.schema.n_dense() == mean_.size(),
                fmt::format("DenseNormalizer: the batch has {} dense columns, fitted on {}", batch.schema.n_dense(),
                            mean_.size()));
  for (size_t r = 0; r < n; ++r) apply_row(batch.dense.data() + r * mean_.size(), out.data() + r * od);
  return out;
}

void DenseNormalizer::save(ArtifactWriter& w, const std::string& prefix) const {
  w.add_array(prefix + "norm_mean.f32", mean_);
  w.add_array(prefix + "norm_scale.f32", inv_scale_);
  w.add_array(prefix + "norm_ind.u32", indicator_of_);
  w.meta()[prefix + "norm_clip"] = clip_;
}

void DenseNormalizer::load(const ArtifactReader& r, const std::string& prefix) {
  mean_ = r.array<float>(prefix + "norm_mean.f32");
  inv_scale_ = r.array<float>(prefix + "norm_scale.f32");
  indicator_of_ = r.array<uint32_t>(prefix + "norm_ind.u32");
  CASCADE_CHECK(mean_.size() == inv_scale_.size(), "DenseNormalizer: mean and scale differ in size");
  for (uint32_t c : indicator_of_) {
    CASCADE_CHECK(c < mean_.size(), "DenseNormalizer: indicator column out of range");
  }
  clip_ = r.meta().value(prefix + "norm_clip", 5.0f);
}

}  // namespace cascade
