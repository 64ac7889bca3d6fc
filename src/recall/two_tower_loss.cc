// Sampled-softmax loss op of the Two-Tower channel; see two_tower_loss.h.
#include "recall/two_tower_loss.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "cascade/core/error.h"
#include "recall/two_tower_model.h"

namespace cascade::two_tower {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Row pass 1 over the raw products w = u . v^T (in place): x = bias + w * scale, then
// x - max_c x. Returns the row's positive (x[b] - max) through `pos`.
void shift_logits(float* __restrict w, const float* __restrict bias, int64_t B, int64_t M,
                  float scale, float* __restrict pos) {
  for (int64_t b = 0; b < B; ++b) {
    float* __restrict row = w + b * M;
    const float* __restrict brow = bias + b * M;
    float mx = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : mx)
    for (int64_t c = 0; c < M; ++c) {
      const float x = brow[c] + row[c] * scale;
      row[c] = x;
      mx = std::max(mx, x);
    }
#pragma omp simd
    for (int64_t c = 0; c < M; ++c) row[c] -= mx;
    pos[b] = row[b];
  }
}

// Row pass 2 over e = exp(x - max) (in place): G = (e / sum_c e - I) / B. Returns the summed
// log-sum-exp minus positive over the rows, in double.
double to_gradient(float* __restrict e, const float* __restrict pos, int64_t B, int64_t M) {
  double loss = 0.0;
  const float inv_b = 1.f / static_cast<float>(B);
  for (int64_t b = 0; b < B; ++b) {
    float* __restrict row = e + b * M;
    float sum = 0.f;
#pragma omp simd reduction(+ : sum)
    for (int64_t c = 0; c < M; ++c) sum += row[c];
    loss += std::log(static_cast<double>(sum)) - static_cast<double>(pos[b]);
    const float k = inv_b / sum;
#pragma omp simd
    for (int64_t c = 0; c < M; ++c) row[c] *= k;
    row[b] -= inv_b;
  }
  return loss;
}

struct SoftmaxLossFn : torch::autograd::Function<SoftmaxLossFn> {
  // `work` is a [B, M] view of the workspace; after forward it holds G = (softmax - I) / B.
  // Three passes over B x M after the product (two row passes around one vectorised exp) where
  // libtorch's ops took nine: a copy of the bias, max with its indices, a subtraction, exp, a
  // sum, a division and their temporaries (1.4 s of an 8.6-s epoch at 1M rows).
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& u, const torch::Tensor& v,
                               const torch::Tensor& bias, const torch::Tensor& work,
                               double inv_temperature) {
    torch::NoGradGuard no_grad;
    const int64_t B = u.size(0), M = v.size(0);
    torch::Tensor out = work;  // a handle on the same storage (mm_out takes a mutable one)
    torch::mm_out(out, u, v.t());
    const torch::Tensor bias_c = bias.contiguous();
    std::vector<float> pos(static_cast<size_t>(B));
    shift_logits(work.data_ptr<float>(), bias_c.data_ptr<float>(), B, M,
                 static_cast<float>(inv_temperature), pos.data());
    work.exp_();
    const double loss =
        to_gradient(work.data_ptr<float>(), pos.data(), B, M) / static_cast<double>(B);
    ctx->save_for_backward({u, v, work});
    ctx->saved_data["inv_t"] = inv_temperature;
    return torch::full({}, loss, torch::kFloat32);
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

struct L2NormalizeFn : torch::autograd::Function<L2NormalizeFn> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x_in) {
    const torch::Tensor x = x_in.contiguous();
    const int64_t N = x.size(0), d = x.size(1);
    torch::Tensor y = torch::empty({N, d}, torch::kFloat32);
    torch::Tensor inv = torch::empty({N}, torch::kFloat32);
    const float* xp = x.data_ptr<float>();
    float* yp = y.data_ptr<float>();
    float* ip = inv.data_ptr<float>();
    for (int64_t r = 0; r < N; ++r) ip[r] = normalize_row(xp + r * d, yp + r * d, d);
    ctx->save_for_backward({y, inv});
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &y = saved[0], &inv = saved[1];
    const torch::Tensor gy = grads[0].contiguous();
    const int64_t N = y.size(0), d = y.size(1);
    torch::Tensor gx = torch::empty({N, d}, torch::kFloat32);
    const float* yp = y.data_ptr<float>();
    const float* ip = inv.data_ptr<float>();
    const float* gp = gy.data_ptr<float>();
    float* op = gx.data_ptr<float>();
    for (int64_t r = 0; r < N; ++r) {
      const float* yr = yp + r * d;
      const float* gr = gp + r * d;
      float* o = op + r * d;
      // At the clamp (|x| <= 1e-12) y = x / 1e-12 does not depend on |x|: dx = dy / 1e-12.
      const bool clamped = ip[r] >= 1e12f;
      float dot = 0.f;
      if (!clamped) {
        for (int64_t j = 0; j < d; ++j) dot += yr[j] * gr[j];
      }
      for (int64_t j = 0; j < d; ++j) o[j] = (gr[j] - yr[j] * dot) * ip[r];
    }
    return {gx};
  }
};

}  // namespace

torch::Tensor l2_normalize_rows(const torch::Tensor& x) {
  CASCADE_CHECK(x.dim() == 2 && x.scalar_type() == torch::kFloat32,
                "two_tower: l2_normalize_rows needs a 2-D float tensor");
  return L2NormalizeFn::apply(x);
}

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
