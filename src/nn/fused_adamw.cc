// One-pass AdamW; see fused_adamw.h.
#include "nn/fused_adamw.h"

#include <cmath>

#include "cascade/core/error.h"

namespace cascade::nn {

FusedAdamW::FusedAdamW(std::vector<torch::Tensor> params, const AdamWSettings& s) : s_(s) {
  for (auto& p : params) {
    CASCADE_CHECK(p.scalar_type() == torch::kFloat32 && p.is_contiguous() && p.device().is_cpu(),
                  "FusedAdamW: parameters must be contiguous float32 CPU tensors");
    exp_avg_.push_back(torch::zeros_like(p));
    exp_avg_sq_.push_back(torch::zeros_like(p));
    params_.push_back(std::move(p));
  }
}

void FusedAdamW::step() {
  ++step_;
  const auto t = static_cast<double>(step_);
  // The scalars torch::optim::AdamW derives, in double, then applied in float.
  const auto decay = static_cast<float>(1.0 - s_.lr * s_.weight_decay);
  const auto b1 = static_cast<float>(s_.beta1), one_b1 = static_cast<float>(1.0 - s_.beta1);
  const auto b2 = static_cast<float>(s_.beta2), one_b2 = static_cast<float>(1.0 - s_.beta2);
  const auto inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(1.0 - std::pow(s_.beta2, t)));
  const auto step_size = static_cast<float>(s_.lr / (1.0 - std::pow(s_.beta1, t)));
  const auto eps = static_cast<float>(s_.eps);
  torch::NoGradGuard no_grad;
  for (size_t k = 0; k < params_.size(); ++k) {
    torch::Tensor& p = params_[k];
    torch::Tensor& g = p.mutable_grad();
    if (!g.defined()) continue;
    CASCADE_CHECK(g.is_contiguous() && !g.is_sparse() && g.numel() == p.numel(),
                  "FusedAdamW: gradients must be dense and contiguous");
    float* __restrict w = p.data_ptr<float>();
    const float* __restrict gr = g.data_ptr<float>();
    float* __restrict m = exp_avg_[k].data_ptr<float>();
    float* __restrict v = exp_avg_sq_[k].data_ptr<float>();
    const int64_t n = p.numel();
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) {
      const float gi = gr[i];
      const float wi = w[i] * decay;
      const float mi = m[i] * b1 + one_b1 * gi;
      const float vi = v[i] * b2 + one_b2 * gi * gi;
      m[i] = mi;
      v[i] = vi;
      w[i] = wi - step_size * mi / (std::sqrt(vi) * inv_sqrt_bc2 + eps);
    }
    // Released rather than zeroed: the next backward's gradient (an embedding's is a fresh dense
    // tensor anyway) is then taken as it is instead of being added into zeros.
    g = torch::Tensor();
  }
}

}  // namespace cascade::nn
