// The Two-Tower's sampled-softmax loss as one libtorch autograd op (two_tower.cc):
//     logits = bias + (u . v^T) * inv_temperature          (B x M; bias: two_tower_batch.h)
//     loss   = mean_b [ logsumexp_c logits[b][c] - logits[b][b] ]
// i.e. cross_entropy(addmm(bias, u, v^T, 1, inv_temperature), arange(B)), with the gradients
//     d loss / d u = G v * inv_temperature,  d loss / d v = G^T u * inv_temperature,
//     G = (softmax(logits) - I) / B.
// The forward pass is the product into the workspace, one row pass (bias, scale, row max),
// libtorch's vectorised exp, and one row pass (row sum, loss, G). The B x M logits,
// probabilities and G share one workspace that lives across batches: the
// autograd form allocated and first-touched four fresh B x M buffers per step (addmm's
// output, log_softmax's, nll_loss's zero-filled gradient, log_softmax's backward), and on
// the 1M-row log (B x M = 512 x 768) those passes were ~50% of the step in libtorch's
// profiler while the GEMMs were ~10%.
//
// Includes <torch/torch.h>: for the channel's .cc files and tests only.
#pragma once

#include <torch/torch.h>

#include "nn/torch_util.h"

namespace cascade::two_tower {


/// u: [B, d], v: [M, d] (M >= B; column b is row b's positive), bias: [B, M] float (not
/// differentiated). Returns the scalar mean loss; differentiable in u and v. The workspace
/// must not be used by another softmax_loss before this loss's backward pass has run.
torch::Tensor softmax_loss(const torch::Tensor& u, const torch::Tensor& v,
                           const torch::Tensor& bias, double inv_temperature, nn::LossWorkspace& ws);

/// Row-wise L2 normalisation as one autograd op: y = x / max(|x|, 1e-12), the norm summed in
/// double (normalize_row, as the inference towers), with the hand-written gradient
///     dx = (dy - y (y . dy)) / |x|   (dx = dy / 1e-12 for a row at the clamp).
/// torch::nn::functional::normalize is five ops (norm, clamp_min, expand, div and their
/// backward passes), ≈ 0.45 ms of a 5-ms step at 1M rows for two [512 | 768, 64] matrices.
/// x: [N, d] float, contiguous or not.
torch::Tensor l2_normalize_rows(const torch::Tensor& x);

}  // namespace cascade::two_tower
