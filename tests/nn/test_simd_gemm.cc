// The nn layer's serving GEMM: every kernel this CPU runs agrees with a plain triple loop (to
// float rounding), a row's result does not depend on the other rows, and unknown kernels are
// refused.
#include <gtest/gtest.h>

#include <Eigen/Core>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "nn/simd_gemm.h"

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
  for (const char* name : {"eigen", "avx2", "avx512", "avx512-unfused", "avx2-unfused", "auto"}) {
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
  // The AVX2 kernels also take a width of 8 (DIN's 8-unit attention layer).
  for (const char* name : {"avx2", "avx2-unfused"}) {
    const nn::GemmFn f = nn::gemm_kernel(name);
    if (!f) continue;
    constexpr size_t M8 = 8;
    std::vector<float> B8(k * M8), C8(n * M8, -1.f), want8(n * M8, 0.f);
    for (float& x : B8) x = g(rng);
    for (size_t i = 0; i < n; ++i)
      for (size_t j = 0; j < M8; ++j)
        for (size_t p = 0; p < k; ++p) want8[i * M8 + j] += A[i * lda + p] * B8[p * M8 + j];
    f(A.data(), n, lda, k, B8.data(), M8, C8.data());
    for (size_t i = 0; i < C8.size(); ++i)
      ASSERT_NEAR(C8[i], want8[i], 1e-4f) << name << " width 8 at " << i;
  }
  EXPECT_GE(ran, 2);  // eigen and auto always exist
  EXPECT_EQ(nn::gemm_kernel("sse9"), nullptr);
  EXPECT_NE(nn::best_gemm(), nullptr);
}

// The unfused kernel replaces Eigen in SASRec's serving encoder because it gives Eigen's GEMM
// floats bit for bit (two rows or more; the encoder's shapes: 64 and 192 wide, 64 deep).
TEST(SimdGemm, UnfusedKernelsGiveEigensGemmBits) {
  int ran = 0;
  for (const char* name : {"avx512-unfused", "avx2-unfused"}) {
    const nn::GemmFn f = nn::gemm_kernel(name);
    if (!f) continue;
    ++ran;
    using RowMatF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    std::mt19937 rng(9);
    std::normal_distribution<float> g;
    for (int n : {2, 3, 7, 20})
      for (int M : {16, 64, 192}) {
        const int k = 64;
        RowMatF a(n, k), w(M, k);  // w: a torch Linear weight [out, in]
        for (int i = 0; i < a.size(); ++i) a.data()[i] = g(rng);
        for (int i = 0; i < w.size(); ++i) w.data()[i] = g(rng);
        const RowMatF want = a * w.transpose();
        const RowMatF wt = w.transpose();
        RowMatF got(n, M);
        f(a.data(), static_cast<size_t>(n), k, k, wt.data(), static_cast<size_t>(M), got.data());
        for (int i = 0; i < want.size(); ++i)
          ASSERT_EQ(std::memcmp(&got.data()[i], &want.data()[i], sizeof(float)), 0)
              << name << ": " << n << " x " << M << " at " << i << ": " << got.data()[i] << " vs "
              << want.data()[i];
      }
  }
  // "unfused" names the best of them this CPU runs (what SASRec's encoder asks for).
  const nn::GemmFn best = nn::gemm_kernel("unfused");
  const nn::GemmFn want = nn::gemm_kernel("avx512-unfused") ? nn::gemm_kernel("avx512-unfused")
                                                            : nn::gemm_kernel("avx2-unfused");
  EXPECT_EQ(best, want);
  if (ran == 0) GTEST_SKIP() << "neither AVX-512 nor AVX2 here";
}

}  // namespace
}  // namespace cascade
