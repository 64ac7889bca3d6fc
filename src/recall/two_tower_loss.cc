// Sampled-softmax loss op of the Two-Tower channel; see two_tower_loss.h.
#include "recall/two_tower_loss.h"

#include <fmt/format.h>

#include "cascade/core/error.h"

namespace cascade::two_tower {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct SoftmaxLossFn : torch::autograd::Function<SoftmaxLossFn> {
  // `work` is a [B, M] view of the workspace; after forward it holds G = (softmax - I) / B.
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& u, const torch::Tensor& v,
                               const torch::Tensor& bias, const torch::Tensor& work,
                               double inv_temperature) {
    torch::NoGradGuard no_grad;
    const int64_t B = u.size(0);
    work.copy_(bias);
    work.addmm_(u, v.t(), 1.0, inv_temperature);
    // Row-wise log-sum-exp, in place: work <- exp(logits - row max).
    const torch::Tensor row_max = std::get<0>(work.max(1, /*keepdim=*/true));
    work.sub_(row_max);
    const torch::Tensor pos = work.diagonal().clone();  // logits[b][b] - max_b
    work.exp_();
    const torch::Tensor row_sum = work.sum(1, /*keepdim=*/true);
    const torch::Tensor loss = (row_sum.log().squeeze(1) - pos).mean();
    // G = (softmax - I) / B.
    work.div_(row_sum * static_cast<double>(B));
    work.diagonal().sub_(1.0 / static_cast<double>(B));
    ctx->save_for_backward({u, v, work});
    ctx->saved_data["inv_t"] = inv_temperature;
    return loss;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &u = saved[0], &v = saved[1], &G = saved[2];
    const double scale = ctx->saved_data["inv_t"].toDouble();
    const torch::Tensor g = grads[0] * scale;  // scalar
    const torch::Tensor gu = torch::mm(G, v).mul_(g);
    const torch::Tensor gv = torch::mm(G.t(), u).mul_(g);
    return {gu, gv, torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor softmax_loss(const torch::Tensor& u, const torch::Tensor& v,
                           const torch::Tensor& bias, double inv_temperature,
                           nn::LossWorkspace& ws) {
  CASCADE_CHECK(u.dim() == 2 && v.dim() == 2 && u.size(1) == v.size(1) && v.size(0) >= u.size(0),
                "two_tower: softmax_loss needs u [B, d] and v [M >= B, d]");
  const int64_t B = u.size(0), M = v.size(0);
  CASCADE_CHECK(bias.dim() == 2 && bias.size(0) == B && bias.size(1) == M,
                fmt::format("two_tower: softmax_loss bias must be [{}, {}]", B, M));
  const torch::Tensor work = ws.matrix(B, M);
  return SoftmaxLossFn::apply(u, v, bias, work, inv_temperature);
}

}  // namespace cascade::two_tower
