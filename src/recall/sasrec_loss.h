// The training losses of the SASRec channel (src/recall/sasrec.cc), apart from the model so
// tests can check them on hand-computed cases. Every loss takes the encoder outputs h [P, d]
// of the P positions that carry a target (target_rows), their targets t [P] (item id + 1) and
// the shared item table E [n_items + 1, d] (row 0 = padding, never a class); the result is
// the mean over the P positions.
//
// Includes <torch/torch.h>: for the channel's .cc files and its tests only.
#pragma once

#include <string>
#include <vector>

#include "nn/torch_util.h"

namespace cascade::sasrec {

/// The rows of flattened targets [B * L] (item id + 1, 0 = padding) that carry a target: the
/// only positions a loss sees, so padded positions neither cost a logit nor move a weight.
torch::Tensor target_rows(const torch::Tensor& targets);

/// Full softmax cross-entropy over the whole catalogue (E's rows 1..n), as one autograd op
/// whose [P, n] logits, softmax and gradient live in `ws` (nullptr = a buffer of its own).
torch::Tensor full_softmax_loss(const torch::Tensor& h, const torch::Tensor& t,
                                const torch::Tensor& E, nn::LossWorkspace* ws = nullptr);

/// Sampled softmax: each row's positive against the K negatives neg [K] (item ids + 1, drawn
/// with replacement from a proposal Q and shared by the batch). A negative equal to the row's
/// own target (an accidental hit) is masked out of that row. logQ correction: every logit,
/// the positive's too, is lowered by log_kq[i] = log(K * Q(i)) ([n_items + 1]), so the sampled
/// softmax estimates the full one; an undefined log_kq = the uniform proposal, whose
/// correction is one constant for every item and cancels in the softmax.
torch::Tensor sampled_softmax_loss(const torch::Tensor& h, const torch::Tensor& t,
                                   const torch::Tensor& E, const torch::Tensor& neg,
                                   const torch::Tensor& log_kq = {});

/// The proposal of the shared negatives: probs [n_items + 1] (row 0, the padding, 0) and
/// log_kq = log(K * probs). mix * uniform + (1 - mix) * the items' share of `counts` (how often
/// each item is a training target): popular items, which hold most of the softmax's mass, are
/// drawn often and corrected for it; the uniform part keeps every item a possible negative.
struct NegativeSampler {
  torch::Tensor probs, log_kq;
  int64_t negatives = 0;

  NegativeSampler(const std::vector<double>& counts, double mix, int64_t negatives);
  /// K draws with replacement from libtorch's global generator.
  torch::Tensor draw() const;
};

/// Per-position BPR against one negative per row, neg [P] (item ids + 1).
torch::Tensor bpr_loss(const torch::Tensor& h, const torch::Tensor& t, const torch::Tensor& E,
                       const torch::Tensor& neg);

/// The loss of one batch of windows: H [B * L, d] encoder outputs, targets [B * L] (item id
/// + 1, 0 = padding). Only the target_rows enter `kind` (ce | sampled | bpr); sampled draws
/// its shared negatives from `sampler` (required then), bpr one uniform negative per row, both
/// from libtorch's global generator. *positions gets the number of rows that carried a target;
/// ce keeps its logits in `ws` when given.
torch::Tensor batch_loss(const torch::Tensor& H, const torch::Tensor& targets,
                         const torch::Tensor& E, const std::string& kind,
                         const NegativeSampler* sampler, int64_t* positions,
                         nn::LossWorkspace* ws = nullptr);

}  // namespace cascade::sasrec
