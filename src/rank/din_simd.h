// AVX2 versions of the small per-pair loops of DIN's serving path (din.cc: the attention unit
// over every (candidate, history item) pair, and the head's output layer).
//
// Why: the default build has no -march, so Eigen emits these loops as SSE2 over tiny
// dynamic-size columns (16 or 8 floats), and with the GEMMs already in SIMD kernels
// (nn/simd_gemm.h) they were half of a DIN request (din_bench: score_rows and prelu_rows 49% of
// the time, the GEMM kernels 26%).
//
// Every function gives exactly the floats of the Eigen expression it replaces (named at each
// function): the same IEEE operations in the same order, multiply and add never fused, max/min
// with Eigen's operand order. So DIN's scores do not depend on whether these kernels run
// (tests/rank/test_din.cc checks it against fast_paths() off, which takes the Eigen loops).
// Columns are column-major and their heights multiples of 8 (din.cc checks the model's widths).
#pragma once

#include <cstddef>

namespace cascade::din_simd {

/// The CPU runs AVX2 (cached cpuid).
bool cpu_has_avx2();

/// X.col(l) = H.col(l).cwiseProduct(t) for l < L (H and X: d rows, column stride d).
void pair_products(const float* H, int d, int L, const float* t, float* X);

/// Z.col(l) += AH.col(l) + bt for l < L (Z and AH: a rows, column stride a).
void add_pair_terms(float* Z, int a, int L, const float* AH, const float* bt);

/// With `bias` (nullable): x.colwise() += bias; then PReLU with one slope per row,
/// x.array() = x.array().max(0) + x.array().min(0).colwise() * slope, over `cols` columns.
void bias_prelu(float* x, int rows, size_t cols, const float* bias, const float* slope);

/// x += src[0]; x += src[1]; ... over h floats, in that order (Eigen's `x.col(j) += T.col(..)`
/// and then one `+=` per categorical field), x kept in registers between the adds.
void add_columns(float* x, const float* const* src, int n_src, int h);

/// acc += w * h over d floats (Eigen's `acc += w * h.col(l)`).
void add_scaled(float* acc, const float* h, float w, int d);

/// bias + w.dot(x) over n floats, with Eigen's summation order for a dynamic-size float dot
/// in an SSE build (two 4-lane partial sums, each over every other packet; then added, and the
/// four lanes reduced as (l0 + l2) + (l1 + l3)). A build with wider Eigen packets sums in
/// another order: din.cc uses this only when Eigen's float packets are 4 wide.
float dot(const float* w, const float* x, int n, float bias);

}  // namespace cascade::din_simd
