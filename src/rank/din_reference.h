// The libtorch forward of a fitted DIN ranker, for tests: the serving path of src/rank/din.cc
// is an Eigen re-implementation of it (with the attention unit's first layer split into
// per-history, per-candidate and per-pair parts), and this is what it must agree with.
#pragma once

#include <vector>

#include "cascade/rank/ranker.h"

namespace cascade::din {

/// One score per row of `batch`: the eval-mode libtorch forward of the fitted net, with the
/// attention unit fed the literal concatenation [h, t, h - t, h * t] (positions equal to the
/// row's own item masked, as in training). Throws cascade::Error if `model` is not a fitted
/// din ranker or the batch does not match its schema.
std::vector<float> torch_scores(const Ranker& model, const RankBatch& batch);

/// Per row, the weights the libtorch forward pools the row's group history with (same
/// literal attention input; masked positions 0): the reference for Ranker::score_attended.
std::vector<std::vector<float>> torch_attention(const Ranker& model, const RankBatch& batch);

}  // namespace cascade::din
