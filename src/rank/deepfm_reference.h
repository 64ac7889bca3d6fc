// The libtorch forward of a fitted DeepFM ranker, for tests: the serving path of
// src/rank/deepfm.cc is an Eigen re-implementation of it and must agree with it.
#pragma once

#include <string>
#include <vector>

#include "cascade/rank/ranker.h"

namespace cascade::deepfm {

/// One logit per row of `batch` from the eval-mode libtorch module (no group-constant
/// shortcut, no precomputed tables). Throws cascade::Error if `model` is not a fitted
/// deepfm ranker or the batch's schema differs from the fitted one.
std::vector<float> torch_scores(const Ranker& model, const RankBatch& batch);

/// Selects the serving matrix-product kernel for every deepfm ranker in the process: "auto"
/// (the default: AVX-512, else AVX2+FMA, else Eigen), "avx512", "avx2" or "eigen". Returns
/// false (and changes nothing) for an unknown name or a kernel this CPU lacks. For tests; not thread-safe against
/// a concurrent score() of a test expecting another kernel.
bool set_kernel_for_testing(const std::string& name);

}  // namespace cascade::deepfm
