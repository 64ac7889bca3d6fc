// The Two-Tower training-time history pooling as one libtorch autograd op (two_tower.cc).
//
//     pooled[b] = inv_count[b] * ( sum_{k in bag(b)} H[bag_items[k]] - target_weight[b] *
//     H[target_b] )
//
// (HistoryBatch, two_tower_model.h: the mean of the user's kept history with every kept
// occurrence of the target left out). The forward and backward passes are plain loops over the
// bags: O(bag items x dim) each. The same result as embedding_bag(sum) + index_select + the
// target correction, but without embedding_bag's backward, which sorts the batch's ~36K
// bag indices on every step to build the dense gradient (the 1M-row log: ~490 users of ~150
// entries per batch of 512). The gradient of H is dense (n_items x dim), as before, so
// AdamW's update is unchanged.
//
// Includes <torch/torch.h>: for the channel's .cc files and tests only.
#pragma once

#include <torch/torch.h>

#include "recall/two_tower_model.h"

namespace cascade::two_tower {

/// H: n_items x dim float (requires grad or not); targets: int64 [B]. Returns [B, dim].
/// Throws cascade::Error on mismatched sizes or ids out of range.
torch::Tensor pool_history(const torch::Tensor& H, const HistoryBatch& hb,
                           const torch::Tensor& targets);

/// The previous formulation (embedding_bag in sum mode, then the target correction), kept as
/// the reference the tests compare pool_history (values and gradients) with.
torch::Tensor pool_history_embedding_bag(const torch::Tensor& H, const HistoryBatch& hb,
                                         const torch::Tensor& targets);

}  // namespace cascade::two_tower
