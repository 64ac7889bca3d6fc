// Small row-major GEMMs for model serving: C[n, M] = A[n, k] (row stride lda) x B[k, M],
// all row-major, M a multiple of 16 (callers pad B with zero columns); the AVX2 kernels also
// take a multiple of 8.
//
// Why: the default build has no -march=native, so Eigen only emits SSE2 here. These kernels
// are compiled for AVX-512 and AVX2+FMA through target attributes and chosen at run time
// (cpuid), Eigen being the fallback. Every output element is the same chain
// acc = fma(a_p, b_p, acc) over p = 0..k-1 whatever block it falls in, so a row's result does
// not depend on the other rows (a group scored alone equals the same group inside a batch,
// bit for bit). Results may differ in the last bits between kernels (FMA vs mul+add), i.e.
// between machines, never between runs. Used by DeepFM's and DIN's Eigen-free hot loops.
#pragma once

#include <cstddef>
#include <string>

namespace cascade::nn {

using GemmFn = void (*)(const float* A, size_t n, size_t lda, size_t k, const float* B, size_t M,
                        float* C);

/// "avx512" | "avx2" | "eigen" | "auto" (the best this CPU runs); nullptr when the CPU lacks
/// the named instruction set or the name is unknown. "avx512-unfused" multiplies and adds
/// in two rounded steps, not FMA: every element is the float of the scalar loop
/// `acc = 0; for p: acc += A[i,p] * B[p,j]`, which is also what Eigen's GEMM (two rows or
/// more) gives in this SSE2 build, so it can replace Eigen without changing a bit.
/// "avx2-unfused" is the same with AVX2 (hosts without AVX-512); "unfused" is the best of the
/// two this CPU runs (nullptr on a CPU with neither).
GemmFn gemm_kernel(const std::string& name);

/// The best kernel for this CPU (cached).
GemmFn best_gemm();

}  // namespace cascade::nn
