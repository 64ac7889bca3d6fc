#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "cascade/core/error.h"
#include "cascade/eval/metrics.h"

namespace cascade {
namespace {

using Items = std::vector<ItemId>;

TEST(Metrics, SingleRelevantItemAtRankThree) {
  const Items ranked = {5, 3, 9, 1};
  const Items rel = {9};
  EXPECT_DOUBLE_EQ(recall_at(ranked, rel, 2), 0.0);
  EXPECT_DOUBLE_EQ(recall_at(ranked, rel, 3), 1.0);
  EXPECT_DOUBLE_EQ(hit_rate_at(ranked, rel, 2), 0.0);
  EXPECT_DOUBLE_EQ(hit_rate_at(ranked, rel, 3), 1.0);
  EXPECT_DOUBLE_EQ(ndcg_at(ranked, rel, 2), 0.0);
  EXPECT_DOUBLE_EQ(ndcg_at(ranked, rel, 3), 0.5);  // 1 / log2(4)
  EXPECT_DOUBLE_EQ(mrr_at(ranked, rel, 2), 0.0);
  EXPECT_DOUBLE_EQ(mrr_at(ranked, rel, 3), 1.0 / 3.0);
  // First place is perfect.
  EXPECT_DOUBLE_EQ(ndcg_at(ranked, Items{5}, 1), 1.0);
  EXPECT_DOUBLE_EQ(mrr_at(ranked, Items{5}, 1), 1.0);
}

TEST(Metrics, KLargerThanListUsesWholeList) {
  const Items ranked = {5, 3, 9, 1};
  EXPECT_DOUBLE_EQ(recall_at(ranked, Items{9}, 100), 1.0);
  EXPECT_DOUBLE_EQ(ndcg_at(ranked, Items{9}, 100), 0.5);
  EXPECT_DOUBLE_EQ(mrr_at(ranked, Items{9}, 100), 1.0 / 3.0);
  // Missing relevant items still count in the denominator.
  EXPECT_DOUBLE_EQ(recall_at(ranked, Items{9, 42}, 100), 0.5);
  EXPECT_DOUBLE_EQ(recall_at(Items{}, Items{9}, 10), 0.0);
}

TEST(Metrics, MultipleRelevantItemsUseIdealDcg) {
  const Items ranked = {1, 2, 3, 4, 5};
  const Items rel = {2, 5, 7};
  const double l3 = 1.0 / std::log2(3.0), l6 = 1.0 / std::log2(6.0);
  EXPECT_DOUBLE_EQ(recall_at(ranked, rel, 1), 0.0);
  EXPECT_DOUBLE_EQ(recall_at(ranked, rel, 2), 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(recall_at(ranked, rel, 5), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(hit_rate_at(ranked, rel, 5), 1.0);
  // IDCG@2 over min(2, 3) = 2 ideal positions.
  EXPECT_NEAR(ndcg_at(ranked, rel, 2), l3 / (1.0 + l3), 1e-12);
  // IDCG@5 over min(5, 3) = 3 ideal positions: 1 + 1/log2(3) + 1/log2(4).
  EXPECT_NEAR(ndcg_at(ranked, rel, 5), (l3 + l6) / (1.0 + l3 + 0.5), 1e-12);
  EXPECT_DOUBLE_EQ(mrr_at(ranked, rel, 5), 0.5);
  // All relevant items on top gives NDCG 1.
  EXPECT_NEAR(ndcg_at(Items{7, 2, 5, 1}, rel, 10), 1.0, 1e-12);
  EXPECT_NEAR(ndcg_at(Items{7, 2, 5, 1}, rel, 2), 1.0, 1e-12);
}

TEST(Metrics, DuplicatesCountOnce) {
  const Items ranked = {1, 2, 3, 4, 5};
  // Relevant {2, 2, 5} is the set {2, 5}.
  EXPECT_DOUBLE_EQ(recall_at(ranked, Items{2, 2, 5}, 5), 1.0);
  EXPECT_NEAR(ndcg_at(ranked, Items{2, 2, 5}, 5), ndcg_at(ranked, Items{2, 5}, 5), 1e-15);
  // A relevant item repeated in the list is one hit.
  EXPECT_DOUBLE_EQ(recall_at(Items{2, 2, 3}, Items{2, 3}, 2), 0.5);
  EXPECT_LE(ndcg_at(Items{2, 2, 2}, Items{2, 3}, 3), 1.0);
}

TEST(Metrics, EmptyRelevantAndZeroK) {
  const Items ranked = {1, 2, 3};
  EXPECT_DOUBLE_EQ(recall_at(ranked, Items{}, 3), 0.0);
  EXPECT_DOUBLE_EQ(ndcg_at(ranked, Items{}, 3), 0.0);
  EXPECT_DOUBLE_EQ(mrr_at(ranked, Items{}, 3), 0.0);
  EXPECT_DOUBLE_EQ(recall_at(ranked, Items{1}, 0), 0.0);
  EXPECT_DOUBLE_EQ(ndcg_at(ranked, Items{1}, 0), 0.0);
}

TEST(Metrics, NoveltyHandComputed) {
  // 4 training users; item 0 seen by all, item 1 by 2, item 2 by 1, item 3 by none (floored to 1).
  const std::vector<uint32_t> pop = {4, 2, 1, 0};
  EXPECT_DOUBLE_EQ(novelty_at(Items{0}, pop, 4, 10), 0.0);
  EXPECT_DOUBLE_EQ(novelty_at(Items{1, 2, 0}, pop, 4, 1), 1.0);
  EXPECT_DOUBLE_EQ(novelty_at(Items{1, 2, 0}, pop, 4, 2), 1.5);
  EXPECT_DOUBLE_EQ(novelty_at(Items{1, 2, 0}, pop, 4, 3), 1.0);
  EXPECT_DOUBLE_EQ(novelty_at(Items{1, 2, 0}, pop, 4, 50), 1.0);  // mean over the 3 items
  EXPECT_DOUBLE_EQ(novelty_at(Items{3}, pop, 4, 1), 2.0);
  EXPECT_DOUBLE_EQ(novelty_at(Items{}, pop, 4, 5), 0.0);
  EXPECT_THROW(novelty_at(Items{7}, pop, 4, 1), Error);
  EXPECT_THROW(novelty_at(Items{0}, pop, 0, 1), Error);
}

TEST(Metrics, IlsHandComputed) {
  // Rows: e0 (1,0), e1 (0,1), (1,1), zero vector, (2,0).
  const std::vector<float> v = {1, 0, 0, 1, 1, 1, 0, 0, 2, 0};
  const double r = 1.0 / std::sqrt(2.0);
  EXPECT_NEAR(ils_at(Items{0, 1}, v.data(), 2, 10), 0.0, 1e-12);
  EXPECT_NEAR(ils_at(Items{0, 2}, v.data(), 2, 10), r, 1e-12);
  EXPECT_NEAR(ils_at(Items{0, 4}, v.data(), 2, 10), 1.0, 1e-12);  // cosine ignores length
  EXPECT_NEAR(ils_at(Items{0, 3}, v.data(), 2, 10), 0.0, 1e-12);  // zero vector: similarity 0
  EXPECT_NEAR(ils_at(Items{0, 1, 2}, v.data(), 2, 3), 2 * r / 3, 1e-12);
  EXPECT_NEAR(ils_at(Items{0, 1, 2, 3}, v.data(), 2, 4), 2 * r / 6, 1e-12);
  EXPECT_NEAR(ils_at(Items{0, 1, 2, 3}, v.data(), 2, 2), 0.0, 1e-12);  // only the top 2
  EXPECT_DOUBLE_EQ(ils_at(Items{2}, v.data(), 2, 10), 0.0);
  EXPECT_DOUBLE_EQ(ils_at(Items{2, 0}, v.data(), 2, 1), 0.0);
  EXPECT_DOUBLE_EQ(ils_at(Items{}, v.data(), 2, 10), 0.0);
}

TEST(Metrics, IlsMatchesBruteForcePairs) {
  std::mt19937_64 rng(7);
  std::normal_distribution<float> g(0.0f, 1.0f);
  const uint32_t n = 40, dim = 5;
  std::vector<float> v(n * dim);
  for (float& x : v) x = g(rng);
  for (uint32_t d = 0; d < dim; ++d) v[11 * dim + d] = 0;  // one zero vector
  Items ranked;
  for (ItemId i = 0; i < n; i += 3) ranked.push_back(i);
  for (size_t k : {2, 5, 14}) {
    const size_t m = std::min(k, ranked.size());
    double sum = 0;
    for (size_t a = 0; a < m; ++a) {
      for (size_t b = a + 1; b < m; ++b) {
        double dot = 0, na = 0, nb = 0;
        for (uint32_t d = 0; d < dim; ++d) {
          const double x = v[ranked[a] * dim + d], y = v[ranked[b] * dim + d];
          dot += x * y;
          na += x * x;
          nb += y * y;
        }
        sum += (na > 0 && nb > 0) ? dot / std::sqrt(na * nb) : 0.0;
      }
    }
    const double expect = sum / (m * (m - 1) / 2.0);
    EXPECT_NEAR(ils_at(ranked, v.data(), dim, k), expect, 1e-9) << "k=" << k;
  }
}

}  // namespace
}  // namespace cascade
