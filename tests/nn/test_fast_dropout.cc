// nn::FastDropout: torch's dropout semantics (kept elements scaled by 1 / (1 - p), dropped ones
// 0, identity outside training), a keep rate of 1 - p, the gradient through the same mask, and
// the same masks from the same seed.
#include <gtest/gtest.h>

#include <cmath>

#include "cascade/core/error.h"
#include "nn/fast_dropout.h"

namespace cascade::nn {
namespace {

TEST(FastDropout, KeepsOneMinusPOfTheElementsScaledAndZeroesTheRest) {
  FastDropout drop(0.2, 7);
  const torch::Tensor x = torch::ones({1000, 101});  // an odd element count: the tail path
  const torch::Tensor y = drop(x, /*training=*/true);
  const float scale = 1.f / 0.8f;
  const torch::Tensor kept = y.ne(0);
  EXPECT_TRUE(torch::all(y.eq(0) | (y - scale).abs().lt(1e-6)).item<bool>());
  const double rate = kept.to(torch::kFloat64).mean().item<double>();
  // 101,000 Bernoulli(0.8) draws: standard error 0.0013.
  EXPECT_NEAR(rate, 0.8, 0.006);
  EXPECT_NEAR(y.mean().item<double>(), 1.0, 0.008) << "the expectation is kept";
}

TEST(FastDropout, IsTheIdentityOutsideTrainingOrAtZero) {
  FastDropout drop(0.5, 1);
  const torch::Tensor x = torch::randn({4, 5});
  EXPECT_TRUE(drop(x, /*training=*/false).equal(x));
  FastDropout none(0.0, 1);
  EXPECT_TRUE(none(x, /*training=*/true).equal(x));
}

TEST(FastDropout, TheGradientPassesThroughTheSameMask) {
  FastDropout drop(0.3, 11);
  const torch::Tensor x = torch::randn({64, 32}).requires_grad_(true);
  const torch::Tensor y = drop(x, true);
  const torch::Tensor g = torch::randn({64, 32});
  (y * g).sum().backward();
  const torch::Tensor mask = (y / x).detach();  // x has no zeros (randn)
  EXPECT_TRUE(torch::allclose(x.grad(), g * mask, 1e-5, 1e-6));
}

TEST(FastDropout, TheSameSeedGivesTheSameMasksAndAnotherSeedOthers) {
  FastDropout a(0.4, 3), b(0.4, 3), c(0.4, 4);
  const torch::Tensor x = torch::ones({50, 50});
  for (int call = 0; call < 3; ++call) {
    const torch::Tensor ya = a(x, true), yb = b(x, true), yc = c(x, true);
    EXPECT_TRUE(ya.equal(yb)) << "call " << call;
    EXPECT_FALSE(ya.equal(yc)) << "call " << call;
  }
  FastDropout d(0.4, 3);
  EXPECT_FALSE(d(x, true).equal(a(x, true))) << "the stream moves on with every call";
}

TEST(FastDropout, RefusesRatesOutsideZeroToOne) {
  EXPECT_THROW(FastDropout(1.0, 1), Error);
  EXPECT_THROW(FastDropout(-0.1, 1), Error);
}

}  // namespace
}  // namespace cascade::nn
