#include "rank/din_simd.h"

#include <immintrin.h>

#include "cascade/util/blas_core.h"

namespace cascade::din_simd {

bool cpu_has_avx2() {
  static const bool has = cpu_vector_support().avx2;
  return has;
}

// The target has no "fma", so GCC cannot contract a multiply and an add into one rounding.
__attribute__((target("avx2"))) void pair_products(const float* H, int d, int L, const float* t,
                                                   float* X) {
  for (int l = 0; l < L; ++l) {
    const float* h = H + static_cast<size_t>(l) * d;
    float* x = X + static_cast<size_t>(l) * d;
    for (int k = 0; k < d; k += 8)
      _mm256_storeu_ps(x + k, _mm256_mul_ps(_mm256_loadu_ps(h + k), _mm256_loadu_ps(t + k)));
  }
}

__attribute__((target("avx2"))) void add_pair_terms(float* Z, int a, int L, const float* AH,
                                                    const float* bt) {
  for (int l = 0; l < L; ++l) {
    float* z = Z + static_cast<size_t>(l) * a;
    const float* ah = AH + static_cast<size_t>(l) * a;
    for (int k = 0; k < a; k += 8) {
      const __m256 s = _mm256_add_ps(_mm256_loadu_ps(ah + k), _mm256_loadu_ps(bt + k));
      _mm256_storeu_ps(z + k, _mm256_add_ps(_mm256_loadu_ps(z + k), s));
    }
  }
}

__attribute__((target("avx2"))) void bias_prelu(float* x, int rows, size_t cols, const float* bias,
                                                const float* slope) {
  const __m256 zero = _mm256_setzero_ps();
  for (size_t c = 0; c < cols; ++c) {
    float* col = x + c * static_cast<size_t>(rows);
    for (int k = 0; k < rows; k += 8) {
      __m256 v = _mm256_loadu_ps(col + k);
      if (bias) v = _mm256_add_ps(v, _mm256_loadu_ps(bias + k));
      // Eigen's pmax(a, b) / pmin(a, b) are max_ps(b, a) / min_ps(b, a); here b is the 0.
      const __m256 pos = _mm256_max_ps(zero, v), neg = _mm256_min_ps(zero, v);
      _mm256_storeu_ps(col + k, _mm256_add_ps(pos, _mm256_mul_ps(neg, _mm256_loadu_ps(slope + k))));
    }
  }
}

__attribute__((target("avx2"))) void add_columns(float* x, const float* const* src, int n_src,
                                                 int h) {
  for (int k = 0; k < h; k += 8) {
    __m256 v = _mm256_loadu_ps(x + k);
    for (int i = 0; i < n_src; ++i) v = _mm256_add_ps(v, _mm256_loadu_ps(src[i] + k));
    _mm256_storeu_ps(x + k, v);
  }
}

__attribute__((target("avx2"))) void add_scaled(float* acc, const float* h, float w, int d) {
  const __m256 s = _mm256_set1_ps(w);
  for (int k = 0; k < d; k += 8) {
    const __m256 p = _mm256_mul_ps(s, _mm256_loadu_ps(h + k));
    _mm256_storeu_ps(acc + k, _mm256_add_ps(_mm256_loadu_ps(acc + k), p));
  }
}

__attribute__((target("avx2"))) float dot(const float* w, const float* x, int n, float bias) {
  auto prod = [&](int i) { return _mm_mul_ps(_mm_loadu_ps(w + i), _mm_loadu_ps(x + i)); };
  __m128 r0 = prod(0), r1 = prod(4);
  for (int i = 8; i < n; i += 8) {
    r0 = _mm_add_ps(r0, prod(i));
    r1 = _mm_add_ps(r1, prod(i + 4));
  }
  r0 = _mm_add_ps(r0, r1);
  const __m128 t = _mm_add_ps(r0, _mm_movehl_ps(r0, r0));  // (l0 + l2, l1 + l3, ..)
  return bias + _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
}

}  // namespace cascade::din_simd
