// parallel_for / parallel_for_dynamic workers run their items single-threaded for OpenMP (so for
// Eigen and libtorch); one thread runs on the caller and leaves its setting alone.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>

#include "cascade/util/parallel.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace cascade {
namespace {

TEST(ParallelOpenMpTest, WorkersRunItemsOnOneOpenMpThread) {
#ifndef _OPENMP
  GTEST_SKIP() << "built without OpenMP";
#else
  const int previous = omp_get_max_threads();
  omp_set_num_threads(3);
  std::atomic<int> max_seen{0}, calls{0};
  parallel_for_dynamic(8, 2, 1, [&](size_t, int) {
    max_seen = std::max(max_seen.load(), omp_get_max_threads());
    ++calls;
  });
  EXPECT_EQ(calls.load(), 8);
  EXPECT_EQ(max_seen.load(), 1);
  parallel_for(4, 2, [&](size_t, size_t, int) { max_seen = std::max(max_seen.load(), omp_get_max_threads()); });
  EXPECT_EQ(max_seen.load(), 1);
  int inline_threads = 0;
  parallel_for(4, 1, [&](size_t, size_t, int) { inline_threads = omp_get_max_threads(); });
  EXPECT_EQ(inline_threads, 3);
  EXPECT_EQ(omp_get_max_threads(), 3);  // the caller's own setting is untouched
  omp_set_num_threads(previous);
#endif
}

}  // namespace
}  // namespace cascade
