// The libtorch forward of a fitted BST ranker, for tests: the serving path of src/rank/bst.cc
// is an Eigen re-implementation that computes only the target position's output of the
// transformer block, and this is what it must agree with.
#pragma once

#include <vector>

#include "cascade/rank/ranker.h"

namespace cascade::bst {

/// One score per row of `batch`: the eval-mode libtorch forward of the fitted net with the
/// literal transformer block (self-attention with every position as a query, i.e. the full
/// [S x S] attention matrix; padded positions masked as keys), of which the target
/// position's output feeds the head. The row's own item is removed from its history, as in
/// training. Throws cascade::Error if `model` is not a fitted bst ranker or the batch does
/// not match its schema.
std::vector<float> torch_scores(const Ranker& model, const RankBatch& batch);

}  // namespace cascade::bst
