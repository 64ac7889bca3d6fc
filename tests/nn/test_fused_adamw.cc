// The one-pass AdamW against torch::optim::AdamW: same trajectory to float rounding, gradients
// released after each step, parameters without a gradient left alone.
#include "nn/fused_adamw.h"

#include <gtest/gtest.h>

namespace cascade::nn {
namespace {

// A small least-squares problem with an embedding-like table: loss = |W x - y|^2 over rows.
torch::Tensor loss_of(const torch::Tensor& w, const torch::Tensor& x, const torch::Tensor& y) {
  return (w.mm(x) - y).pow(2).sum();
}

TEST(FusedAdamW, FollowsTorchAdamWToFloatRoundingAndReleasesGradients) {
  torch::manual_seed(3);
  const torch::Tensor init = torch::randn({50, 8});
  const torch::Tensor x = torch::randn({8, 4}), y = torch::randn({50, 4});
  torch::Tensor a = init.clone().set_requires_grad(true);
  torch::Tensor b = init.clone().set_requires_grad(true);
  torch::Tensor untouched = torch::randn({3}).set_requires_grad(true);
  const torch::Tensor untouched0 = untouched.detach().clone();
  const AdamWSettings s{.lr = 0.01, .weight_decay = 0.1};
  torch::optim::AdamW reference({a}, torch::optim::AdamWOptions(s.lr).weight_decay(s.weight_decay));
  FusedAdamW fused({b, untouched}, s);
  for (int step = 0; step < 30; ++step) {
    reference.zero_grad();
    loss_of(a, x, y).backward();
    reference.step();
    loss_of(b, x, y).backward();
    fused.step();
    ASSERT_FALSE(b.grad().defined()) << "gradient not released after step " << step;
  }
  EXPECT_EQ(fused.steps(), 30);
  const float moved = (a - init).abs().max().item<float>();
  EXPECT_GT(moved, 0.1f) << "the parameters barely moved: the comparison sees nothing";
  EXPECT_LT((a - b).abs().max().item<float>(), 2e-5f * moved);
  EXPECT_TRUE(torch::equal(untouched.detach(), untouched0)) << "a parameter without gradient changed";
  // Later steps use the bias corrections of their own step count: a lower loss than at the start.
  EXPECT_LT(loss_of(b, x, y).item<float>(), loss_of(init, x, y).item<float>());
}

TEST(FusedAdamW, RefusesNonFloatParameters) {
  EXPECT_THROW(FusedAdamW({torch::zeros({3}, torch::kInt64)}, {}), std::exception);
}

}  // namespace
}  // namespace cascade::nn
