// The libtorch forward of a fitted SASRec channel, for tests: the serving encoder is an Eigen
// re-implementation of it (src/recall/sasrec.cc), and this is what it must agree with.
#pragma once

#include <span>
#include <vector>

#include "cascade/recall/recaller.h"

namespace cascade::sasrec {

/// The eval-mode libtorch encoder output at the last position for `history` (its last
/// max_len items, left-padded to max_len with the training masks). Throws cascade::Error if
/// `model` is not a fitted sasrec channel or the history is empty.
std::vector<float> torch_user_vector(const Recaller& model, std::span<const ItemId> history);

}  // namespace cascade::sasrec
