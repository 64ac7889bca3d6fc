// Dense-feature preprocessing for the rankers that need inputs on one scale (LR, DeepFM,
// DIN, BST): each column is standardised with the training rows' mean and standard
// deviation (NaN ignored), clipped to [-clip, clip]; a missing value becomes 0, and every
// column that had a missing value in training gets an extra 0/1 "present" indicator, so
// "not retrieved by channel c" stays distinguishable from "an average score".
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "cascade/io/artifact.h"
#include "cascade/rank/rank_batch.h"

namespace cascade {

class DenseNormalizer {
 public:
  /// Statistics from the rows of `batch` (columns with no finite value get mean 0, scale 1).
  void fit(const RankBatch& batch, float clip = 5.0f);
  /// n_dense + number of indicator columns.
  size_t out_dim() const { return mean_.size() + indicator_of_.size(); }
  size_t in_dim() const { return mean_.size(); }
  /// Writes out_dim() values for one raw dense row (in.size() == in_dim()).
  void apply(std::span<const float> in, float* out) const;
  /// Same, unchecked: `in` holds in_dim() values (the per-row hot path of the rankers).
  void apply_row(const float* in, float* out) const;
  /// The whole batch: rows x out_dim(), row-major.
  std::vector<float> apply_batch(const RankBatch& batch) const;

  /// Arrays "<prefix>norm_mean.f32", "<prefix>norm_scale.f32", "<prefix>norm_ind.u32" and
  /// the clip in meta()["<prefix>norm_clip"].
  void save(ArtifactWriter& w, const std::string& prefix = "") const;
  void load(const ArtifactReader& r, const std::string& prefix = "");

 private:
  std::vector<float> mean_, inv_scale_;
  std::vector<uint32_t> indicator_of_;  // input columns that get a present-indicator, ascending
  float clip_ = 5.0f;
};

}  // namespace cascade
