// The nn layer's serving GEMM: every kernel this CPU runs agrees with a plain triple loop (to
// float rounding), a row's result does not depend on the other rows, and unknown kernels are
// refused.
#include "nn/simd_gemm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace cascade {
namespace {

TEST(SimdGemm, EveryAvailableKernelMatchesTheNaiveProduct) {
  constexpr size_t n = 7, k = 13, M = 32, lda = 15;  // lda > k: A is a strided view
  std::mt19937 rng(4);
  std::normal_distribution<float> g;
  std::vector<float> A(n * lda), B(k * M);
  for (float& x : A) x = g(rng);
  for (float& x : B) x = g(rng);
  std::vector<float> want(n * M, 0.f);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < M; ++j)
      for (size_t p = 0; p < k; ++p) want[i * M + j] += A[i * lda + p] * B[p * M + j];
  int ran = 0;
  for (const char* name : {"eigen", "avx2", "avx512", "auto"}) {
    const nn::GemmFn f = nn::gemm_kernel(name);
    if (!f) continue;  // this CPU lacks the instruction set
    ++ran;
    std::vector<float> C(n * M, -1.f);
    f(A.data(), n, lda, k, B.data(), M, C.data());
    for (size_t i = 0; i < C.size(); ++i) ASSERT_NEAR(C[i], want[i], 1e-4f) << name << " at " << i;
    // One row alone gives the same bits as inside the batch.
    std::vector<float> row(M);
    f(A.data() + 3 * lda, 1, lda, k, B.data(), M, row.data());
    for (size_t j = 0; j < M; ++j) ASSERT_EQ(row[j], C[3 * M + j]) << name;
  }
  EXPECT_GE(ran, 2);  // eigen and auto always exist
  EXPECT_EQ(nn::gemm_kernel("sse9"), nullptr);
  EXPECT_NE(nn::best_gemm(), nullptr);
}

}  // namespace
}  // namespace cascade
