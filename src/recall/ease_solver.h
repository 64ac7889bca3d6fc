// Dense kernels of the EASE recall channel (Steck 2019, "Embarrassingly Shallow Autoencoders
// for Sparse Data"), defined in ease.cc and declared here for tests.
//
// Matrices are row-major float with a leading dimension `ld` >= n (row r starts at r * ld);
// ld must be a multiple of kEaseAlign so the 32-column tiles never straddle a row end.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cascade/data/interactions.h"

namespace cascade::ease {

/// Leading dimensions must be multiples of this (floats).
inline constexpr size_t kEaseAlign = 32;

/// Rounds n up to a multiple of kEaseAlign.
inline size_t padded_ld(size_t n) { return (n + kEaseAlign - 1) / kEaseAlign * kEaseAlign; }

/// G = X^T X for the user x item matrix X of `train` (n_rows x n_items), with X_ui = 1
/// (binary) or the stored value (rating). G is n_items x n_items at stride ld, fully written
/// (padding columns zero). Parallel over item rows, deterministic for any thread count.
/// Cost: sum over users of |row|^2.
void gram(const Interactions& train, uint32_t n_items, bool rating, float* G, size_t ld,
          int threads);

/// In-place inverse of a symmetric positive definite n x n matrix. Only the lower triangle
/// is read; on return the full inverse is stored (both triangles). A blocked Gauss-Jordan
/// sweep (Goodnight 1979, "A tutorial on the SWEEP operator"): after sweeping every pivot
/// block the matrix holds -A^-1. About n^3 / 2 multiply-adds, done as lower-triangular
/// rank-64 updates in 32-column tiles, in parallel; identical results for any thread count.
/// Throws cascade::Error if a pivot block is not positive definite.
void spd_inverse(float* a, uint32_t n, size_t ld, int threads);

}  // namespace cascade::ease
