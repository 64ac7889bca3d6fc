#include "nn/simd_gemm.h"

#include <immintrin.h>

#include <Eigen/Core>
#include <algorithm>

#include "cascade/util/blas_core.h"
#include "nn/avx512_ops.h"

namespace cascade::nn {
namespace {

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using CMap = Eigen::Map<const RowMat>;

#define CASCADE_SIMD_GEMM_KERNELS(NS, TARGET, V, W, MAXCB, LOAD, STORE, SET1, FMA, ZERO)          \
  namespace NS {                                                                                  \
  template <int RB, int CB>                                                                       \
  __attribute__((target(TARGET))) inline void block(const float* A, size_t lda, const float* B,   \
                                                    size_t ldb, size_t k, float* C, size_t ldc) { \
    V acc[RB][CB];                                                                                \
    for (int r = 0; r < RB; ++r)                                                                  \
      for (int c = 0; c < CB; ++c) acc[r][c] = ZERO();                                            \
    for (size_t p = 0; p < k; ++p) {                                                              \
      V b[CB];                                                                                    \
      for (int c = 0; c < CB; ++c) b[c] = LOAD(B + p * ldb + c * W);                              \
      for (int r = 0; r < RB; ++r) {                                                              \
        const V a = SET1(A[r * lda + p]);                                                         \
        for (int c = 0; c < CB; ++c) acc[r][c] = FMA(a, b[c], acc[r][c]);                         \
      }                                                                                           \
    }                                                                                             \
    for (int r = 0; r < RB; ++r)                                                                  \
      for (int c = 0; c < CB; ++c) STORE(C + r * ldc + c * W, acc[r][c]);                         \
  }                                                                                               \
  template <int RB>                                                                               \
  __attribute__((target(TARGET))) inline void row_block(const float* A, size_t lda, size_t k,     \
                                                        const float* B, size_t M, float* C) {     \
    const size_t nv = M / W;                                                                      \
    for (size_t j = 0; j < nv; j += MAXCB) {                                                      \
      const float* Bj = B + j * W;                                                                \
      float* Cj = C + j * W;                                                                      \
      switch (std::min<size_t>(MAXCB, nv - j)) {                                                  \
        case 1:                                                                                   \
          block<RB, 1>(A, lda, Bj, M, k, Cj, M);                                                  \
          break;                                                                                  \
        case 2:                                                                                   \
          block<RB, (MAXCB >= 2 ? 2 : 1)>(A, lda, Bj, M, k, Cj, M);                               \
          break;                                                                                  \
        case 3:                                                                                   \
          block<RB, (MAXCB >= 3 ? 3 : 1)>(A, lda, Bj, M, k, Cj, M);                               \
          break;                                                                                  \
        default:                                                                                  \
          block<RB, MAXCB>(A, lda, Bj, M, k, Cj, M);                                              \
          break;                                                                                  \
      }                                                                                           \
    }                                                                                             \
  }                                                                                               \
  __attribute__((target(TARGET))) void gemm(const float* A, size_t n, size_t lda, size_t k,       \
                                            const float* B, size_t M, float* C) {                 \
    size_t i = 0;                                                                                 \
    for (; i + 4 <= n; i += 4) row_block<4>(A + i * lda, lda, k, B, M, C + i * M);                \
    for (; i < n; ++i) row_block<1>(A + i * lda, lda, k, B, M, C + i * M);                        \
  }                                                                                               \
  }

CASCADE_SIMD_GEMM_KERNELS(k512, "avx512f", __m512, 16, 4, _mm512_loadu_ps, _mm512_storeu_ps,
                          _mm512_set1_ps, _mm512_fmadd_ps, _mm512_setzero_ps)
CASCADE_SIMD_GEMM_KERNELS(k256, "avx2,fma", __m256, 8, 2, _mm256_loadu_ps, _mm256_storeu_ps,
                          _mm256_set1_ps, _mm256_fmadd_ps, _mm256_setzero_ps)
// The target has AVX2 but not FMA, so GCC cannot contract this multiply and add into one
// fused (differently rounded) instruction.
__attribute__((target("avx2"))) inline __m256 mul_add_unfused256(__m256 a, __m256 b, __m256 acc) {
  return _mm256_add_ps(acc, _mm256_mul_ps(a, b));
}
CASCADE_SIMD_GEMM_KERNELS(k256u, "avx2", __m256, 8, 2, _mm256_loadu_ps, _mm256_storeu_ps,
                          _mm256_set1_ps, mul_add_unfused256, _mm256_setzero_ps)
CASCADE_SIMD_GEMM_KERNELS(k512u, "avx512f", __m512, 16, 4, _mm512_loadu_ps, _mm512_storeu_ps,
                          _mm512_set1_ps, mul_add_unfused, _mm512_setzero_ps)
#undef CASCADE_SIMD_GEMM_KERNELS

void gemm_eigen(const float* A, size_t n, size_t lda, size_t k, const float* B, size_t M,
                float* C) {
  using Strided = Eigen::Map<const RowMat, 0, Eigen::OuterStride<>>;
  const auto rows = static_cast<Eigen::Index>(n), depth = static_cast<Eigen::Index>(k),
             cols = static_cast<Eigen::Index>(M);
  Eigen::Map<RowMat>(C, rows, cols).noalias() =
      Strided(A, rows, depth, Eigen::OuterStride<>(static_cast<Eigen::Index>(lda))) *
      CMap(B, depth, cols);
}

}  // namespace

GemmFn gemm_kernel(const std::string& name) {
  const CpuVectorSupport cpu = cpu_vector_support();
  const bool has512 = cpu.avx512f;
  const bool has256 = cpu.avx2 && cpu.fma;
  if (name == "avx512") return has512 ? &k512::gemm : nullptr;
  if (name == "avx512-unfused") return has512 ? &k512u::gemm : nullptr;
  if (name == "avx2") return has256 ? &k256::gemm : nullptr;
  if (name == "avx2-unfused") return cpu.avx2 ? &k256u::gemm : nullptr;
  if (name == "unfused") return has512 ? &k512u::gemm : cpu.avx2 ? &k256u::gemm : nullptr;
  if (name == "eigen") return &gemm_eigen;
  if (name != "auto") return nullptr;
  return has512 ? &k512::gemm : has256 ? &k256::gemm : &gemm_eigen;
}

GemmFn best_gemm() {
  static const GemmFn k = gemm_kernel("auto");
  return k;
}

}  // namespace cascade::nn
