// Kernels of implicit-feedback ALS (Hu, Koren & Volinsky 2008, "Collaborative Filtering for
// Implicit Feedback Datasets"), with the conjugate-gradient row solver of Takács, Pilászy &
// Tikk 2011 ("Applications of the conjugate gradient method for implicit feedback
// collaborative filtering") as popularised by the `implicit` library.
//
// One half-step solves, for every row u of a confidence matrix C (users given item factors,
// or items given user factors — the same function serves both sides):
//
//     (YtY + reg I + Y^T (C_u - I) Y) x_u = Y^T C_u p_u,     p_ui = 1 for observed entries,
//
// where YtY + reg I is precomputed once per half-step (gram()) and only the (c - 1)
// correction of the observed entries is added per row. Rows are independent: each reads Y
// and YtY and writes its own x_u, so the result does not depend on the thread count.
//
// Layouts: every factor matrix is row-major, n x f floats; YtY is f x f row-major.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cascade::ials {

/// A borrowed CSR matrix of confidences: row -> (column id, confidence c >= 0).
/// Columns index the rows of the fixed factor matrix Y.
struct ConfidenceRows {
  uint32_t n_rows = 0;
  const uint64_t* indptr = nullptr;   ///< size n_rows + 1
  const uint32_t* indices = nullptr;  ///< size nnz
  const float* conf = nullptr;        ///< size nnz, c_ui = 1 + alpha * r_ui
};

/// out = Y^T Y + reg I (f x f, exactly symmetric). Y is n x f. Partial sums are taken over
/// fixed chunks of rows and added in chunk order in double, so the result is identical for
/// every thread count. threads <= 0 means hardware concurrency.
void gram(const float* Y, uint32_t n, uint32_t f, double reg, float* out, int threads);

/// One half-step by conjugate gradient: `cg_steps` CG iterations per row, warm-started from
/// the current X (n_rows x f, updated in place). YtY must come from gram(Y, ..., reg).
/// Rows without entries get x = 0 (the exact solution: the right-hand side is zero).
void solve_cg(const ConfidenceRows& C, const float* Y, const float* YtY, uint32_t f, int cg_steps,
              float* X, int threads);

/// One half-step solved exactly (Cholesky of the f x f system per row, in double). Slower;
/// the reference for tests and the `use_cg=false` option.
void solve_cholesky(const ConfidenceRows& C, const float* Y, const float* YtY, uint32_t f, float* X,
                    int threads);

/// Exact solve for one row (fold-in of a history): `items`/`conf` of length n (duplicates
/// accumulate), YtY (f x f, reg included) in double. Writes x (f floats). `work` must hold
/// f * f + 2 f doubles. Throws cascade::Error if the system is not positive definite.
void solve_row_exact(const float* Y, const double* YtY, uint32_t f, const uint32_t* items,
                     const float* conf, size_t n, double* work, float* x);

/// The iALS objective  sum_u sum_i c_ui (p_ui - x_u . y_i)^2 + reg (|X|^2 + |Y|^2)  over ALL
/// (u, i) pairs (unobserved pairs have c = 1, p = 0), computed in O(nnz f + (n_x + n_y) f^2).
/// X is C.n_rows x f, Y is n_y x f. For tests and diagnostics.
double loss(const ConfidenceRows& C, const float* X, const float* Y, uint32_t n_y, uint32_t f,
            double reg);

}  // namespace cascade::ials
