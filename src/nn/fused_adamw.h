// AdamW in one pass per parameter (Loshchilov & Hutter 2019, "Decoupled Weight Decay
// Regularization"; the update torch::optim::AdamW makes).
//
// torch::optim::AdamW updates a parameter with about eight whole-tensor passes (decay, two moment
// updates, sqrt, divide, add, addcdiv) and zero_grad() adds a memset: on the Two-Tower's item
// and history embeddings (2 x 26,744 x 64 floats at the ML-20M shape, ~55 MB with their moments)
// that traffic, every batch, cost more than the batch's own work. Here each element is read
// once, updated with the same formula in float and written once; then its gradient is released
// (as zero_grad(set_to_none) does), so no zero_grad() is needed before the next backward and the
// next gradient is not added into a zeroed buffer. The results match
// torch::optim::AdamW to float rounding (tests/nn/test_fused_adamw.cc), not bit for bit.
#pragma once

#include <torch/torch.h>

#include <vector>

namespace cascade::nn {

struct AdamWSettings {
  double lr = 1e-3;
  double weight_decay = 1e-2;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
};

class FusedAdamW {
 public:
  /// `params` must be contiguous float tensors (a module's parameters are).
  FusedAdamW(std::vector<torch::Tensor> params, const AdamWSettings& s);
  /// One step over every parameter with a defined gradient, then releases those gradients.
  void step();
  int64_t steps() const { return step_; }

 private:
  std::vector<torch::Tensor> params_, exp_avg_, exp_avg_sq_;
  AdamWSettings s_;
  int64_t step_ = 0;
};

}  // namespace cascade::nn
