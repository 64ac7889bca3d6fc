// Two AVX-512 building blocks shared by the serving kernels that must give the same floats as
// scalar code (nn/simd_gemm.cc's unfused kernel, the GBDT walk, the recency cosines). Callers
// are compiled for the baseline and reach these from functions with target("avx512f"), chosen
// at run time by cpuid.
#pragma once

#include <immintrin.h>

namespace cascade::nn {

/// acc + a * b as a scalar `acc += a * b` computes it without FMA: multiply, round, add,
/// round. GCC contracts a multiply and an add into one FMA on an FMA target (its C++ default is
/// -ffp-contract=fast), even from intrinsics; the explicitly rounded forms are never contracted.
__attribute__((target("avx512f"))) inline __m512 mul_add_unfused(__m512 a, __m512 b, __m512 acc) {
  constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
  return _mm512_maskz_add_round_ps(0xFFFF, acc, _mm512_maskz_mul_round_ps(0xFFFF, a, b, kRound),
                                   kRound);
}

/// base[index[i]] for the 16 lanes (float elements). The masked gather with a zero source: the
/// unmasked intrinsic starts from an undefined register, which GCC 12 reports as used
/// uninitialised.
__attribute__((target("avx512f"))) inline __m512 gather16(__m512i index, const void* base) {
  return _mm512_mask_i32gather_ps(_mm512_setzero_ps(), 0xFFFF, index, base, 4);
}

}  // namespace cascade::nn
