// Tests for the SASRec training losses (src/recall/sasrec_loss.cc) on hand-computed cases:
// the full and the sampled softmax, the masking of accidental hits, and that padded positions
// neither enter the loss nor receive a gradient.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <tuple>

#include "cascade/core/error.h"
#include "recall/sasrec_loss.h"

namespace cascade {
namespace {

// d = 2, three items; row 0 is the padding row. Item ids + 1: 1 = (1, 0), 2 = (0, 1), 3 = (1, 1).
torch::Tensor table() {
  return torch::tensor({0.f, 0.f, 1.f, 0.f, 0.f, 1.f, 1.f, 1.f}).view({4, 2});
}

// Two positions: h_a = (1, 2) with target 1, h_b = (2, 0) with target 3.
torch::Tensor outputs() {
  return torch::tensor({1.f, 2.f, 2.f, 0.f}).view({2, 2});
}
torch::Tensor targets() {
  return torch::tensor({1, 3}, torch::kInt64);
}

double lse(std::initializer_list<double> xs) {
  double s = 0;
  for (double x : xs) s += std::exp(x);
  return std::log(s);
}

TEST(SasrecLossTest, FullSoftmaxEqualsHandComputed) {
  // Scores h . E[i]: a -> (1, 2, 3), target 1; b -> (2, 0, 2), target 3.
  const double expected = ((lse({1, 2, 3}) - 1) + (lse({2, 0, 2}) - 2)) / 2;
  const double got = sasrec::full_softmax_loss(outputs(), targets(), table()).item<double>();
  EXPECT_NEAR(got, expected, 1e-5);
  EXPECT_NEAR(got, 1.583114, 1e-5);
}

TEST(SasrecLossTest, SampledSoftmaxEqualsHandComputedAndMasksHits) {
  // Negatives (3, 2) shared by both rows. a: positive 1, negatives 3 and 2 -> lse(1, 3, 2) - 1.
  // b: target 3, so the negative 3 is an accidental hit and masked: lse(2, 0) - 2.
  const auto neg = torch::tensor({3, 2}, torch::kInt64);
  const double expected = ((lse({1, 3, 2}) - 1) + (lse({2, 0}) - 2)) / 2;
  const double got =
      sasrec::sampled_softmax_loss(outputs(), targets(), table(), neg).item<double>();
  EXPECT_NEAR(got, expected, 1e-5);
  EXPECT_NEAR(got, 1.267267, 1e-5);
  // With every catalogue item as a negative (the positive masked), it is the full softmax.
  const auto all = torch::tensor({1, 2, 3}, torch::kInt64);
  EXPECT_NEAR(sasrec::sampled_softmax_loss(outputs(), targets(), table(), all).item<double>(),
              sasrec::full_softmax_loss(outputs(), targets(), table()).item<double>(), 1e-5);
}

// The logQ correction on a hand-computed case: log_kq = (-, 0, log 2, log 0.5) lowers the
// logits of items 1, 2, 3 by 0, log 2 and log 0.5 (the positive's too).
TEST(SasrecLossTest, SampledSoftmaxAppliesLogQ) {
  const auto neg = torch::tensor({3, 2}, torch::kInt64);
  const auto log_kq = torch::tensor({0.f, 0.f, std::log(2.f), std::log(0.5f)});
  const double l2 = std::log(2.0), lh = std::log(0.5);
  // a: positive 1 -> 1, negatives 3 -> 3 - lh, 2 -> 2 - l2. b: positive 3 -> 2 - lh, the hit
  // masked, 2 -> 0 - l2.
  const double expected = ((lse({1, 3 - lh, 2 - l2}) - 1) + (lse({2 - lh, -l2}) - (2 - lh))) / 2;
  EXPECT_NEAR(
      sasrec::sampled_softmax_loss(outputs(), targets(), table(), neg, log_kq).item<double>(),
      expected, 1e-5);
}

// The fused op gives cross_entropy's loss and gradients, with a workspace reused by a second,
// smaller batch, on one thread and split between two.
class SasrecFullSoftmaxTest : public ::testing::TestWithParam<int> {};

TEST_P(SasrecFullSoftmaxTest, MatchesCrossEntropyWithGradients) {
  const int previous = torch::get_num_threads();
  torch::set_num_threads(GetParam());
  torch::manual_seed(5);
  const int64_t n = 300, d = 4, P = 70;
  const auto E0 = torch::randn({n + 1, d}), h0 = torch::randn({P, d});
  const auto t = torch::randint(1, n + 1, {P}, torch::kInt64);
  nn::LossWorkspace ws;
  for (int64_t rows : {P, P / 2}) {
  const auto hr = h0.narrow(0, 0, rows), tr = t.narrow(0, 0, rows);
  auto E = E0.clone().requires_grad_(true), h = hr.clone().requires_grad_(true);
  auto loss = sasrec::full_softmax_loss(h, tr, E, &ws) * 3.0;  // an upstream gradient of 3
  loss.backward();
  auto E2 = E0.clone().requires_grad_(true), h2 = hr.clone().requires_grad_(true);
  auto ref = torch::nn::functional::cross_entropy(torch::matmul(h2, E2.narrow(0, 1, n).t()), tr - 1) * 3.0;
  ref.backward();
  EXPECT_NEAR(loss.item<double>(), ref.item<double>(), 1e-5);
  EXPECT_LT((E.grad() - E2.grad()).abs().max().item<float>(), 1e-6f);
  EXPECT_LT((h.grad() - h2.grad()).abs().max().item<float>(), 1e-6f);
  EXPECT_EQ(E.grad()[0].abs().sum().item<float>(), 0.f);  // the padding row
  }
  torch::set_num_threads(previous);
}

INSTANTIATE_TEST_SUITE_P(Threads, SasrecFullSoftmaxTest, ::testing::Values(1, 2));

// The straightforward form of the sampled softmax ([P, K + 1] logits, a [P, K] hit mask):
// the fast form in sasrec_loss.cc must give the same loss and the same gradients.
torch::Tensor reference_sampled_loss(const torch::Tensor& h, const torch::Tensor& t,
                                     const torch::Tensor& E, const torch::Tensor& neg,
                                     const torch::Tensor& log_kq) {
  auto pos = (h * E.index_select(0, t)).sum(-1, true) - log_kq.index_select(0, t).unsqueeze(1);
  auto negs = torch::matmul(h, E.index_select(0, neg).t()) - log_kq.index_select(0, neg).unsqueeze(0);
  negs = negs.masked_fill(t.unsqueeze(1).eq(neg.unsqueeze(0)), -std::numeric_limits<float>::infinity());
  return (torch::logsumexp(torch::cat({pos, negs}, 1), 1) - pos.squeeze(1)).mean();
}

TEST(SasrecLossTest, SampledSoftmaxMatchesReferenceWithGradients) {
  torch::manual_seed(11);
  const int64_t n = 7, d = 5, P = 40;
  const auto E0 = torch::randn({n + 1, d}), h0 = torch::randn({P, d});
  const auto t = torch::randint(1, n + 1, {P}, torch::kInt64);
  const auto neg = torch::randint(1, n + 1, {12}, torch::kInt64);  // many accidental hits
  const auto log_kq = torch::randn({n + 1});
  auto run = [&](bool fast) {
    auto E = E0.clone().requires_grad_(true), h = h0.clone().requires_grad_(true);
    auto loss = fast ? sasrec::sampled_softmax_loss(h, t, E, neg, log_kq)
                     : reference_sampled_loss(h, t, E, neg, log_kq);
    loss.backward();
    return std::make_tuple(loss.item<double>(), E.grad(), h.grad());
  };
  const auto [lf, gEf, ghf] = run(true);
  const auto [lr, gEr, ghr] = run(false);
  EXPECT_NEAR(lf, lr, 1e-5);
  EXPECT_LT((gEf - gEr).abs().max().item<float>(), 1e-5f);
  EXPECT_LT((ghf - ghr).abs().max().item<float>(), 1e-5f);
  // A row whose every negative is its own target: loss 0 for that row, finite gradients.
  const auto same = torch::full({3}, 2, torch::kInt64);
  auto h = h0.narrow(0, 0, 1).clone().requires_grad_(true);
  auto loss = sasrec::sampled_softmax_loss(h, torch::tensor({2}, torch::kInt64), E0, same);
  loss.backward();
  EXPECT_NEAR(loss.item<double>(), 0.0, 1e-6);
  EXPECT_TRUE(torch::isfinite(h.grad()).all().item<bool>());
}

// Q = 0.5 uniform + 0.5 the items' share of the counts: counts (1, 1, 2) -> Q = (1/6 + 1/8,
// 1/6 + 1/8, 1/6 + 1/4); the padding row is never drawn.
TEST(SasrecLossTest, SamplerMixesUniformAndPopularity) {
  const sasrec::NegativeSampler s({1.0, 1.0, 2.0}, 0.5, 4);
  EXPECT_EQ(s.probs[0].item<float>(), 0.f);
  EXPECT_NEAR(s.probs[1].item<float>(), 1.0 / 6 + 1.0 / 8, 1e-6);
  EXPECT_NEAR(s.probs[3].item<float>(), 1.0 / 6 + 1.0 / 4, 1e-6);
  EXPECT_NEAR(s.log_kq[3].item<float>(), std::log(4 * (1.0 / 6 + 1.0 / 4)), 1e-5);
  torch::manual_seed(3);
  const auto d = s.draw();
  EXPECT_EQ(d.size(0), 4);
  EXPECT_GE(d.min().item<int64_t>(), 1);
  EXPECT_LE(d.max().item<int64_t>(), 3);
}

TEST(SasrecLossTest, BprEqualsHandComputed) {
  // a: pos 1, neg item 2 -> 2; b: pos 2 (item 3), neg item 1 -> 2.
  const auto neg = torch::tensor({2, 1}, torch::kInt64);
  const double expected = (std::log1p(std::exp(2.0 - 1.0)) + std::log1p(std::exp(0.0))) / 2;
  EXPECT_NEAR(sasrec::bpr_loss(outputs(), targets(), table(), neg).item<double>(), expected, 1e-5);
}

TEST(SasrecLossTest, TargetRowsSkipPadding) {
  const auto rows = sasrec::target_rows(torch::tensor({0, 0, 2, 0, 1}, torch::kInt64));
  ASSERT_EQ(rows.size(0), 2);
  EXPECT_EQ(rows[0].item<int64_t>(), 2);
  EXPECT_EQ(rows[1].item<int64_t>(), 4);
}

// A batch of one window of four positions, the first two padded (target 0). Their outputs are
// NaN: had they entered the loss, it would be NaN; they also get an exactly zero gradient.
TEST(SasrecLossTest, PaddedPositionsDoNotContribute) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  torch::manual_seed(7);
  for (const char* kind : {"ce", "sampled", "bpr"}) {
    auto H =
        torch::tensor({nan, nan, nan, nan, 1.f, 2.f, 2.f, 0.f}).view({4, 2}).requires_grad_(true);
    const auto tg = torch::tensor({0, 0, 1, 3}, torch::kInt64);
    int64_t positions = 0;
    const sasrec::NegativeSampler sampler({1.0, 1.0, 2.0}, 0.5, 2);
    auto loss = sasrec::batch_loss(H, tg, table(), kind, &sampler, &positions);
    EXPECT_EQ(positions, 2) << kind;
    ASSERT_TRUE(std::isfinite(loss.item<double>())) << kind;
    if (std::string(kind) == "ce") {
      EXPECT_NEAR(loss.item<double>(), 1.583114, 1e-5);
    }
    loss.backward();
    const auto g = H.grad();
    EXPECT_EQ(g.narrow(0, 0, 2).abs().sum().item<float>(), 0.f) << kind;
    // (A drawn negative may equal the target and leave a row without gradient: ce only.)
    if (std::string(kind) == "ce") {
      EXPECT_GT(g.narrow(0, 2, 2).abs().sum().item<float>(), 0.f);
    }
  }
  int64_t positions = 0;
  EXPECT_THROW(sasrec::batch_loss(outputs(), targets(), table(), "mse", nullptr, &positions),
               Error);
  EXPECT_THROW(sasrec::batch_loss(outputs(), targets(), table(), "sampled", nullptr, &positions),
               Error);
}

}  // namespace
}  // namespace cascade
