// The util layer: top-k selection (ties to the lower item id, skips and non-finite scores),
// the parallel loops (every index once, exceptions rethrown, results independent of the thread
// count), the one percentile and the stopwatch.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <stdexcept>
#include <thread>
#include <vector>

#include "cascade/util/parallel.h"
#include "cascade/util/percentile.h"
#include "cascade/util/stopwatch.h"
#include "cascade/util/topk.h"

namespace cascade {
namespace {

std::vector<ItemId> ids(const std::vector<ScoredItem>& v) {
  std::vector<ItemId> out;
  for (const auto& s : v) out.push_back(s.item);
  return out;
}

TEST(TopK, BestFirstTiesToTheLowerIdSkipsAndNonFinite) {
  const std::vector<float> s = {0.5f, 2.f, NAN, 2.f, -1.f, INFINITY, 0.7f};
  EXPECT_EQ(ids(top_k(s, 3)), (std::vector<ItemId>{1, 3, 6}));
  const std::vector<uint8_t> skip = {0, 1, 0, 0, 0, 0, 0};
  EXPECT_EQ(ids(top_k(s, 2, skip)), (std::vector<ItemId>{3, 6}));
  EXPECT_EQ(top_k(s, 100).size(), 5u);  // NaN and +inf are never returned
  EXPECT_TRUE(top_k(s, 0).empty());
  const std::vector<ItemId> cand = {9, 4, 7};
  const std::vector<float> cs = {1.f, 3.f, 1.f};
  EXPECT_EQ(ids(top_k_of(cand, cs, 2)), (std::vector<ItemId>{4, 7}));
}

TEST(Parallel, EveryIndexOnceAndExceptionsRethrown) {
  for (int threads : {1, 2, 3}) {
    std::vector<std::atomic<int>> hits(1000);
    parallel_for(hits.size(), threads, [&](size_t b, size_t e, int) {
      for (size_t i = b; i < e; ++i) hits[i]++;
    });
    for (auto& h : hits) ASSERT_EQ(h.load(), 1);
    std::vector<std::atomic<int>> dyn(777);
    parallel_for_dynamic(dyn.size(), threads, 16, [&](size_t i, int) { dyn[i]++; });
    for (auto& h : dyn) ASSERT_EQ(h.load(), 1);
  }
  EXPECT_THROW(parallel_for_dynamic(100, 2, 4,
                                    [](size_t i, int) {
                                      if (i == 57) throw std::runtime_error("boom");
                                    }),
               std::runtime_error);
  EXPECT_EQ(resolve_threads(3), 3);
  EXPECT_GE(resolve_threads(0), 1);
}

TEST(Percentile, NearestRankFromBelow) {
  EXPECT_DOUBLE_EQ(percentile({}, 0.5), 0.0);
  EXPECT_DOUBLE_EQ(percentile({4, 1, 3, 2}, 0.5), 3.0);  // rank floor(0.5 * 4) = 2 of 0..3
  std::vector<double> v;
  for (int i = 1; i <= 100; ++i) v.push_back(i);
  EXPECT_DOUBLE_EQ(percentile(v, 0.99), 100.0);
  EXPECT_DOUBLE_EQ(percentile(v, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(percentile(v, 1.0), 100.0);
}

TEST(Stopwatch, LapsAddUpToTheTotal) {
  Stopwatch sw;
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const double a = sw.lap_ms();
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const double b = sw.lap_ms();
  EXPECT_GE(a, 5.0);
  EXPECT_GE(b, 5.0);
  EXPECT_GE(sw.ms(), a + b - 1e-6);
}

}  // namespace
}  // namespace cascade
