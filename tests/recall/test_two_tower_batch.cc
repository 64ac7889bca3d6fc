// Tests for the Two-Tower training batches (src/recall/two_tower_batch.h: shuffle, negatives,
// logit bias with logQ and masks) and the history pooling op (src/recall/two_tower_pool.h),
// against hand-computed values and the previous embedding_bag formulation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>
#include <vector>

#include "cascade/core/error.h"
#include "cascade/recall/recaller.h"
#include "recall/two_tower_batch.h"
#include "recall/two_tower_loss.h"
#include "recall/two_tower_model.h"
#include "recall/two_tower_pool.h"
#include "support/test_util.h"
#include "support/tiny_data.h"

namespace cascade {
namespace {

using test::make_rows;

// user 0: items 1, 2, 3, 2 (a duplicate of 2); user 1: item 4 only; user 2: 0, 5.
Interactions hand_rows() {
  return make_rows(6, {{1, 2, 3, 2}, {4}, {0, 5}});
}

TEST(TwoTowerPoolOp, MatchesHandComputedValuesAndGradient) {
  const Interactions R = hand_rows();
  const std::vector<uint32_t> users = {0, 2, 0, 1, 0};
  const std::vector<uint32_t> targets = {2, 5, 1, 4, 3};
  const auto hb = two_tower::build_history_batch(R, users, targets, 0.0, 7);
  // H = identity (dim = n_items): the pooled rows are the samples' weights per item.
  const torch::Tensor H = torch::eye(6).requires_grad_(true);
  const torch::Tensor t = torch::tensor(std::vector<int64_t>(targets.begin(), targets.end()));
  const torch::Tensor pooled = two_tower::pool_history(H, hb, t);
  const std::vector<std::vector<float>> want = {
      {0, 0.5f, 0, 0.5f, 0, 0},         // (0, 2): both 2s removed
      {1, 0, 0, 0, 0, 0},               // (2, 5)
      {0, 0, 2.f / 3, 1.f / 3, 0, 0},   // (0, 1)
      {0, 0, 0, 0, 0, 0},               // (1, 4): empty history
      {0, 1.f / 3, 2.f / 3, 0, 0, 0}};  // (0, 3)
  for (int64_t b = 0; b < 5; ++b)
    for (int64_t i = 0; i < 6; ++i)
      EXPECT_NEAR(pooled[b][i].item<float>(), want[b][i], 1e-6) << b << "," << i;
  // d(sum of pooled)/dH[i][j] = the total weight of item i over the samples (for every j).
  pooled.sum().backward();
  const std::vector<float> item_weight = {
      1.f, 0.5f + 1.f / 3, 2.f / 3 + 2.f / 3, 0.5f + 1.f / 3, 0.f, 0.f};
  for (int64_t i = 0; i < 6; ++i)
    for (int64_t j = 0; j < 6; ++j)
      EXPECT_NEAR(H.grad()[i][j].item<float>(), item_weight[i], 1e-6) << i << "," << j;
}

// The op against embedding_bag and the one-sample reference, at a width of plain loops (8) and
// at the default dim (64), which has its own vector kernels (two_tower_pool.cc).
void check_pool_against_references(int64_t d) {
  std::vector<std::vector<uint32_t>> rows;
  two_tower::Rng rng(3);
  for (uint32_t u = 0; u < 12; ++u) {
    std::vector<uint32_t> r;
    for (uint32_t k = 0; k < 3 + u; ++k) r.push_back(static_cast<uint32_t>(rng.below(20)));
    rows.push_back(r);
  }
  const Interactions R = make_rows(20, rows);
  std::vector<uint32_t> users, targets;
  for (uint32_t k = 0; k < 40; ++k) {
    const auto u = static_cast<uint32_t>(rng.below(12));
    users.push_back(u);
    targets.push_back(R.row(u)[rng.below(R.row_size(u))]);
  }
  const auto hb = two_tower::build_history_batch(R, users, targets, 0.5, 99);
  torch::manual_seed(1);
  const torch::Tensor H0 = torch::randn({20, d});
  const torch::Tensor g = torch::randn({40, d});
  const torch::Tensor t = torch::tensor(std::vector<int64_t>(targets.begin(), targets.end()));
  const torch::Tensor Ha = H0.clone().requires_grad_(true), Hb = H0.clone().requires_grad_(true);
  const torch::Tensor pa = two_tower::pool_history(Ha, hb, t);
  const torch::Tensor pb = two_tower::pool_history_embedding_bag(Hb, hb, t);
  EXPECT_LT((pa - pb).abs().max().item<float>(), 1e-5);
  std::vector<float> ref(static_cast<size_t>(d));
  const torch::Tensor Hc = H0.contiguous();
  for (size_t b = 0; b < 40; ++b) {
    two_tower::pool_sample(hb, b, targets[b], Hc.data_ptr<float>(), static_cast<int>(d), ref);
    for (int64_t j = 0; j < d; ++j) EXPECT_NEAR(pa[b][j].item<float>(), ref[j], 1e-5);
  }
  (pa * g).sum().backward();
  (pb * g).sum().backward();
  EXPECT_LT((Ha.grad() - Hb.grad()).abs().max().item<float>(), 1e-5);
  EXPECT_GT(Ha.grad().abs().sum().item<float>(), 0.f);
}

TEST(TwoTowerPoolOp, MatchesEmbeddingBagAndPoolSampleWithDropout) {
  check_pool_against_references(8);
}

TEST(TwoTowerPoolOp, MatchesTheReferencesAtTheDefaultDimOfSixtyFour) {
  check_pool_against_references(64);
}

TEST(TwoTowerPoolOp, RejectsMismatchedBatches) {
  const Interactions R = hand_rows();
  const std::vector<uint32_t> users = {0, 2}, targets = {2, 5};
  const auto hb = two_tower::build_history_batch(R, users, targets, 0.0, 7);
  EXPECT_THROW(
      two_tower::pool_history(torch::zeros({6, 4}), hb, torch::tensor(std::vector<int64_t>{2})),
      Error);
  EXPECT_THROW(
      two_tower::pool_history(torch::zeros({5, 4}), hb, torch::tensor(std::vector<int64_t>{2, 5})),
      Error);
}

// The fused loss equals cross_entropy(addmm(bias, u, v^T, 1, 1/T), arange(B)) in value and in
// both gradients, including masked (-1e9) entries and a reused, larger workspace.
TEST(TwoTowerLossOp, MatchesCrossEntropyOfAddmm) {
  torch::manual_seed(4);
  nn::LossWorkspace ws;
  for (int64_t B : {6, 4}) {  // the second call reuses the first call's larger buffer
    const int64_t M = B + 3, d = 5;
    const torch::Tensor u0 = torch::randn({B, d}), v0 = torch::randn({M, d});
    torch::Tensor bias = torch::randn({B, M});
    bias[0][2] = two_tower::BatchMaker::kMasked;
    bias[1][M - 1] = two_tower::BatchMaker::kMasked;
    const torch::Tensor ua = u0.clone().requires_grad_(true), va = v0.clone().requires_grad_(true);
    const torch::Tensor ub = u0.clone().requires_grad_(true), vb = v0.clone().requires_grad_(true);
    const torch::Tensor la = two_tower::softmax_loss(ua, va, bias, 1.0 / 0.3, ws);
    const torch::Tensor lb = torch::nn::functional::cross_entropy(
        torch::addmm(bias, ub, vb.t(), 1.0, 1.0 / 0.3), torch::arange(B, torch::kInt64));
    EXPECT_NEAR(la.item<float>(), lb.item<float>(), 1e-5) << "B " << B;
    (la * 2.5).backward();
    (lb * 2.5).backward();
    EXPECT_LT((ua.grad() - ub.grad()).abs().max().item<float>(), 1e-5);
    EXPECT_LT((va.grad() - vb.grad()).abs().max().item<float>(), 1e-5);
    EXPECT_GT(va.grad().abs().sum().item<float>(), 0.f);
  }
  // Hand case: B = 1, M = 2, logits {0, log 3} -> loss = log(1 + 3) = log 4.
  const torch::Tensor u = torch::ones({1, 1}), v = torch::tensor({0.f, 1.f}).view({2, 1});
  const torch::Tensor bias = torch::tensor({0.f, static_cast<float>(std::log(3.0))}).view({1, 2}) -
                             torch::tensor({0.f, 1.f}).view({1, 2});
  EXPECT_NEAR(two_tower::softmax_loss(u, v, bias, 1.0, ws).item<float>(), std::log(4.0), 1e-6);
  EXPECT_THROW(two_tower::softmax_loss(u, v, torch::zeros({1, 3}), 1.0, ws), Error);
}

// The normalisation op against torch's normalize (values and gradient), with a zero row, whose
// gradient at the clamp is dy / 1e-12 in both.
TEST(TwoTowerLoss, L2NormalizeRowsMatchesTorchNormalizeAndItsGradient) {
  torch::manual_seed(5);
  torch::Tensor x0 = torch::randn({6, 64});
  x0[3].zero_();
  const torch::Tensor g = torch::randn({6, 64}) * 1e-14;  // keeps the zero row's gradient finite
  const torch::Tensor xa = x0.clone().requires_grad_(true), xb = x0.clone().requires_grad_(true);
  const torch::Tensor ya = two_tower::l2_normalize_rows(xa);
  const torch::Tensor yb =
      torch::nn::functional::normalize(xb, torch::nn::functional::NormalizeFuncOptions().dim(1));
  EXPECT_LT((ya - yb).abs().max().item<float>(), 1e-6);
  EXPECT_NEAR(ya[0].norm().item<float>(), 1.f, 1e-6);
  EXPECT_EQ(ya[3].abs().sum().item<float>(), 0.f);
  (ya * g).sum().backward();
  (yb * g).sum().backward();
  EXPECT_TRUE(torch::allclose(xa.grad(), xb.grad(), 1e-4, 1e-6));
  EXPECT_GT(xa.grad()[3].abs().sum().item<float>(), 0.f);
  EXPECT_THROW(two_tower::l2_normalize_rows(torch::zeros({4})), Error);
}

TEST(TwoTowerBatch, BuildHistoryWithScratchEqualsTheAllocatingForm) {
  const Interactions R = hand_rows();
  const std::vector<uint32_t> users = {0, 2, 0, 1, 0}, targets = {2, 5, 1, 4, 3};
  std::vector<uint32_t> count(6, 0);
  two_tower::HistoryBatch hb;
  for (uint64_t seed : {1u, 2u, 3u}) {
    two_tower::build_history_batch(R, users, targets, 0.4, seed, count, hb);
    const auto ref = two_tower::build_history_batch(R, users, targets, 0.4, seed);
    EXPECT_EQ(hb.bag_items, ref.bag_items);
    EXPECT_EQ(hb.bag_offsets, ref.bag_offsets);
    EXPECT_EQ(hb.sample_bag, ref.sample_bag);
    EXPECT_EQ(hb.target_weight, ref.target_weight);
    EXPECT_EQ(hb.inv_count, ref.inv_count);
    EXPECT_EQ(count, std::vector<uint32_t>(6, 0)) << "the scratch is left zero";
  }
}

// history_cap: a bag that keeps more than the cap is cut to a sample of the cap (drawn from the
// user's kept entries, so every kept item is one of the user's); the leave-target-out weights
// count the target's occurrences among the entries that stayed; the scratch is left zero; a
// cap at or above the bag size changes nothing, and the same seed gives the same sample.
TEST(TwoTowerBatch, HistoryCapKeepsAUniformSampleOfTheBagAndConsistentWeights) {
  std::vector<uint32_t> long_row;
  for (uint32_t i = 0; i < 40; ++i) long_row.push_back(i);
  const Interactions R = make_rows(40, {long_row, {3, 7, 9}});
  const std::vector<uint32_t> users = {0, 1, 0}, targets = {5, 7, 11};
  const auto full = two_tower::build_history_batch(R, users, targets, 0.0, 4);
  EXPECT_EQ(full.bag_items.size(), 43u);
  EXPECT_EQ(two_tower::build_history_batch(R, users, targets, 0.0, 4, 40).bag_items,
            full.bag_items);

  std::vector<uint32_t> count(40, 0);
  two_tower::HistoryBatch hb;
  std::set<int64_t> drawn;
  for (uint64_t seed : {1u, 2u, 3u, 4u, 5u}) {
    two_tower::build_history_batch(R, users, targets, 0.0, seed, count, hb, 8);
    ASSERT_EQ(hb.bag_offsets, (std::vector<int64_t>{0, 8}));  // user 0 cut to 8, user 1 keeps 3
    ASSERT_EQ(hb.bag_items.size(), 11u);
    const std::set<int64_t> bag0(hb.bag_items.begin(), hb.bag_items.begin() + 8);
    EXPECT_EQ(bag0.size(), 8u) << "a sample without repeats";
    for (int64_t i : bag0) EXPECT_LT(i, 40);
    drawn.insert(bag0.begin(), bag0.end());
    for (size_t b : {size_t{0}, size_t{2}}) {
      const float occ = bag0.count(targets[b]) ? 1.f : 0.f;
      EXPECT_EQ(hb.target_weight[b], occ) << "seed " << seed << " sample " << b;
      EXPECT_FLOAT_EQ(hb.inv_count[b], 1.f / (8.f - occ));
    }
    EXPECT_EQ(hb.target_weight[1], 1.f);
    EXPECT_FLOAT_EQ(hb.inv_count[1], 0.5f);
    EXPECT_EQ(count, std::vector<uint32_t>(40, 0)) << "the scratch is left zero";
    EXPECT_EQ(two_tower::build_history_batch(R, users, targets, 0.0, seed, 8).bag_items,
              hb.bag_items);
  }
  EXPECT_GT(drawn.size(), 16u) << "five seeds draw different samples";
}

TEST(TwoTowerBatch, EpochCoversEveryEntryOnceAndBiasHasLogQAndMasks) {
  const Interactions R = hand_rows();  // 7 entries, item frequencies 1/7, 1/7, 2/7, 1/7, 1/7, 1/7
  two_tower::BatchSpec spec{.batch = 8, .n_items = 7, .use_history = true, .negatives = 3};
  two_tower::BatchMaker maker(R, spec, 5);
  ASSERT_EQ(maker.batches(), 1u);
  maker.shuffle();
  two_tower::HostBatch hb;
  maker.make(0, hb);
  ASSERT_EQ(hb.size, 7);
  std::multiset<std::pair<uint32_t, uint32_t>> seen, want;
  for (int64_t b = 0; b < 7; ++b) seen.insert({hb.users[b], hb.targets[b]});
  for (uint32_t u = 0; u < 3; ++u)
    for (uint32_t i : R.row(u)) want.insert({u, i});
  EXPECT_EQ(seen, want);
  ASSERT_EQ(hb.columns.size(), 10u);
  ASSERT_EQ(hb.logit_bias.size(), 70u);
  for (int64_t b = 0; b < 7; ++b) EXPECT_EQ(hb.columns[b], hb.targets[b]);
  const double freq[7] = {1. / 7, 1. / 7, 2. / 7, 1. / 7, 1. / 7, 1. / 7, 0.};
  for (int64_t b = 0; b < 7; ++b) {
    const auto own = R.row(hb.users[b]);
    for (int64_t c = 0; c < 10; ++c) {
      const auto item = static_cast<uint32_t>(hb.columns[c]);
      const bool masked = c != b && std::find(own.begin(), own.end(), item) != own.end();
      const float bias = hb.logit_bias[b * 10 + c];
      if (masked) {
        EXPECT_EQ(bias, two_tower::BatchMaker::kMasked) << b << "," << c;
      } else {
        EXPECT_NEAR(bias, -std::log(7 * freq[item] + 3.0 / 7.0), 1e-6) << b << "," << c;
      }
    }
  }
  // Same seed -> same batches.
  two_tower::BatchMaker again(R, spec, 5);
  again.shuffle();
  two_tower::HostBatch hb2;
  again.make(0, hb2);
  EXPECT_EQ(hb2.columns, hb.columns);
  EXPECT_EQ(hb2.logit_bias, hb.logit_bias);
}

TEST(TwoTowerBatch, WithoutMaskHistoryOnlyDuplicatesOfThePositiveAreMasked) {
  const Interactions R = hand_rows();
  two_tower::BatchSpec spec{.batch = 8,
                            .n_items = 6,
                            .use_history = false,
                            .negatives = 0,
                            .logq = false,
                            .mask_history = false};
  two_tower::BatchMaker maker(R, spec, 9);
  maker.shuffle();
  two_tower::HostBatch hb;
  maker.make(0, hb);
  // User 0 has item 2 twice: the two (0, 2) samples mask each other's column, nothing else.
  int masked = 0;
  ASSERT_EQ(hb.size, 7);
  ASSERT_EQ(hb.logit_bias.size(), 49u);
  for (int64_t b = 0; b < 7; ++b)
    for (int64_t c = 0; c < 7; ++c) {
      const float bias = hb.logit_bias[b * 7 + c];
      const bool dup = c != b && hb.columns[c] == hb.targets[b];
      EXPECT_EQ(bias, dup ? two_tower::BatchMaker::kMasked : 0.f) << b << "," << c;
      masked += dup ? 1 : 0;
    }
  EXPECT_EQ(masked, 2);
}

TEST(TwoTowerBatch, LastBatchIsShortAndBatchesPastTheEpochThrow) {
  const Interactions R = hand_rows();
  two_tower::BatchMaker maker(R, {.batch = 3, .n_items = 6, .negatives = 2}, 1);
  ASSERT_EQ(maker.batches(), 3u);
  maker.shuffle();
  two_tower::HostBatch hb;
  maker.make(2, hb);  // 7 entries: batches of 3, 3, 1
  EXPECT_EQ(hb.size, 1);
  EXPECT_EQ(hb.columns.size(), 3u);
  EXPECT_EQ(hb.logit_bias.size(), 3u);
  EXPECT_THROW(maker.make(3, hb), Error);
}

// The next batch is built on a second thread when the fit has >= 2 threads; the batches are a
// function of the seed only, so 1 and 2 threads (libtorch at 1 in both) give the same model.
TEST(TwoTowerBatch, PrefetchingGivesTheSameModel) {
  const test::TinyData d = test::make_tiny_data();
  const std::string spec =
      "two_tower:dim=16,feat_dim=4,epochs=3,batch=16,negatives=8,lr=0.02,eval_every=0,history_"
      "dropout=0.3,"
      "torch_threads=1";
  auto fit = [&](int threads) {
    auto m = make_recaller(spec);
    FitInput in = d.fit_input(threads);
    in.seed = 3;
    m->fit(in);
    return m;
  };
  auto a = fit(1), b = fit(2);
  const ItemVectorsView va = a->item_vectors(), vb = b->item_vectors();
  ASSERT_EQ(va.rows, vb.rows);
  EXPECT_EQ(std::memcmp(va.data, vb.data, sizeof(float) * va.rows * va.dim), 0);
}

}  // namespace
}  // namespace cascade
