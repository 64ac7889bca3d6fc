// iALS kernels (see ials_solver.h; Hu et al. 2008, Takács et al. 2011).
//
// Performance notes (numbers: bench/ials_bench.cc):
//  - For f = 16, 32, 64, 128 the row state (x, r, p, Ap) lives in 16-float vectors (GCC
//    vector extensions), so a whole CG solve runs in registers; Y rows are streamed once per
//    CG pass with two independent accumulators. Other f use plain loops with a runtime count.
//  - The default build targets baseline x86-64 (SSE2). The hot functions are therefore
//    compiled three times (GCC target_clones: x86-64-v4 = AVX-512, x86-64-v3 = AVX2 + FMA,
//    baseline) and the dynamic loader picks one for the CPU at start-up; -march=native
//    builds (CASCADE_NATIVE) skip the clones. Measured: both builds within noise.
//    Results can differ in the last bits between CPUs (the reduction order follows the
//    vector width), never between runs or thread counts on one machine.
#include "recall/ials_solver.h"

#include <fmt/format.h>

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "cascade/core/error.h"
#include "cascade/util/parallel.h"
#include "cascade/util/target_clones.h"

#if defined(__GNUC__) && !defined(__clang__)
// 64-byte vectors are passed only between always-inline functions; the ABI note is moot.
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

#if defined(__GNUC__)
#define CASCADE_INLINE inline __attribute__((always_inline))
#else
#define CASCADE_INLINE inline
#endif

namespace cascade::ials {

namespace {

// Stop CG once the squared residual norm is this small (as `implicit` does): further steps
// would divide by ~0.
constexpr float kResidualEps = 1e-20f;
// Rows per gram() chunk: fixed so the summation order does not depend on the thread count.
constexpr uint32_t kGramChunk = 128;
// Rows per work unit of the dynamic schedule (user activity is heavy-tailed).
constexpr size_t kRowGrain = 8;

// ---- generic kernels: runtime factor count, plain loops the compiler vectorises ----

CASCADE_INLINE float dot_n(const float* __restrict a, const float* __restrict b, int n) {
  float s = 0.f;
#pragma omp simd reduction(+ : s)
  for (int j = 0; j < n; ++j) s += a[j] * b[j];
  return s;
}

// y += w * x
CASCADE_INLINE void axpy_n(float w, const float* __restrict x, float* __restrict y, int n) {
#pragma omp simd
  for (int j = 0; j < n; ++j) y[j] += w * x[j];
}

// out = A v for symmetric A (n x n row-major): column k of A is row k.
CASCADE_INLINE void symv_n(const float* __restrict A, const float* __restrict v,
                           float* __restrict out, int n) {
  for (int j = 0; j < n; ++j) out[j] = 0.f;
  for (int k = 0; k < n; ++k) {
    const float vk = v[k];
    const float* __restrict col = A + static_cast<size_t>(k) * n;
#pragma omp simd
    for (int j = 0; j < n; ++j) out[j] += col[j] * vk;
  }
}

struct HalfStep {
  const ConfidenceRows* C;
  const float* Y;
  const float* YtY;
  float* X;
  int f;
  int cg_steps;
};

// Conjugate gradient for rows [b, e), any f. `scratch` holds 3 f floats.
CASCADE_INLINE void cg_rows_generic(const HalfStep& h, uint32_t b, uint32_t e, float* scratch) {
  const int f = h.f;
  float* __restrict r = scratch;
  float* __restrict p = scratch + f;
  float* __restrict ap = scratch + 2 * f;
  const float* __restrict YtY = h.YtY;
  const float* __restrict Y = h.Y;
  const ConfidenceRows& C = *h.C;
  for (uint32_t u = b; u < e; ++u) {
    float* __restrict x = h.X + static_cast<size_t>(u) * f;
    const uint64_t begin = C.indptr[u], end = C.indptr[u + 1];
    if (begin == end) {
      // if we have no items for this row, the solution is zero
      for (int j = 0; j < f; ++j) x[j] = 0.f;
      continue;
    }
    // r = b - A x = sum_i (c_i - (c_i - 1) y_i.x) y_i - YtY x
    symv_n(YtY, x, r, f);
    for (int j = 0; j < f; ++j) r[j] = -r[j];
    for (uint64_t k = begin; k < end; ++k) {
      const float* __restrict yi = Y + static_cast<size_t>(C.indices[k]) * f;
      const float c = C.conf[k];
      axpy_n(c - (c - 1.f) * dot_n(yi, x, f), yi, r, f);
    }
    for (int j = 0; j < f; ++j) p[j] = r[j];
    float rsold = dot_n(r, r, f);
    if (rsold < kResidualEps) continue;
    for (int it = 0; it < h.cg_steps; ++it) {
      // Ap = YtY p + sum_i (c_i - 1) (y_i.p) y_i, without forming Y^T C_u Y
      symv_n(YtY, p, ap, f);
      for (uint64_t k = begin; k < end; ++k) {
        const float* __restrict yi = Y + static_cast<size_t>(C.indices[k]) * f;
        axpy_n((C.conf[k] - 1.f) * dot_n(yi, p, f), yi, ap, f);
      }
      const float pap = dot_n(p, ap, f);
      if (!(pap > 0.f)) break;  // A is positive definite; guards against breakdown
      const float alpha = rsold / pap;
      axpy_n(alpha, p, x, f);
      axpy_n(-alpha, ap, r, f);
      const float rsnew = dot_n(r, r, f);
      if (rsnew < kResidualEps) break;
      const float beta = rsnew / rsold;
      for (int j = 0; j < f; ++j) p[j] = r[j] + beta * p[j];
      rsold = rsnew;
    }
  }
}

// G += Y[b..e)^T Y[b..e) (full square), any f; G is f x f, zeroed by the caller.
CASCADE_INLINE void gram_rows_generic(const float* __restrict Y, uint32_t b, uint32_t e, int f,
                                      float* __restrict G) {
  for (uint32_t i = b; i < e; ++i) {
    const float* __restrict y = Y + static_cast<size_t>(i) * f;
    for (int a = 0; a < f; ++a) {
      const float ya = y[a];
      float* __restrict g = G + static_cast<size_t>(a) * f;
#pragma omp simd
      for (int c = 0; c < f; ++c) g[c] += ya * y[c];
    }
  }
}

// ---- fixed-size kernels: f = 16 * NV, state held in 16-float vectors (GCC/Clang vector
// extensions: one zmm register with AVX-512, two ymm with AVX2, four xmm with SSE2) ----

typedef float v16 __attribute__((vector_size(64)));
typedef float v16u __attribute__((vector_size(64), aligned(4), may_alias));  // unaligned
typedef float v8 __attribute__((vector_size(32)));
typedef float v4 __attribute__((vector_size(16)));

CASCADE_INLINE v16 load16(const float* p) { return *reinterpret_cast<const v16u*>(p); }
CASCADE_INLINE void store16(float* p, const v16& v) { *reinterpret_cast<v16u*>(p) = v; }

// Tree reduction of the 16 lanes.
CASCADE_INLINE float hsum(const v16& a) {
  v8 b = __builtin_shufflevector(a, a, 0, 1, 2, 3, 4, 5, 6, 7) +
         __builtin_shufflevector(a, a, 8, 9, 10, 11, 12, 13, 14, 15);
  v4 c = __builtin_shufflevector(b, b, 0, 1, 2, 3) + __builtin_shufflevector(b, b, 4, 5, 6, 7);
  return (c[0] + c[2]) + (c[1] + c[3]);
}

template <int NV>
struct Vec {
  v16 v[NV];
};

template <int NV>
CASCADE_INLINE Vec<NV> load_vec(const float* p) {
  Vec<NV> out;
  for (int k = 0; k < NV; ++k) out.v[k] = load16(p + 16 * k);
  return out;
}

template <int NV>
CASCADE_INLINE void store_vec(float* p, const Vec<NV>& a) {
  for (int k = 0; k < NV; ++k) store16(p + 16 * k, a.v[k]);
}

template <int NV>
CASCADE_INLINE float dot_vec(const Vec<NV>& a, const Vec<NV>& b) {
  v16 acc0 = a.v[0] * b.v[0];
  v16 acc1 = v16{};
  for (int k = 1; k < NV; ++k) {
    if (k % 2) acc1 += a.v[k] * b.v[k];
    else acc0 += a.v[k] * b.v[k];
  }
  return hsum(acc0 + acc1);
}

// a += w * b
template <int NV>
CASCADE_INLINE void axpy_vec(float w, const Vec<NV>& b, Vec<NV>& a) {
  for (int k = 0; k < NV; ++k) a.v[k] += w * b.v[k];
}

// A v for symmetric A (f x f row-major), two accumulator sets to halve the FMA chain.
template <int NV>
CASCADE_INLINE Vec<NV> symv_vec(const float* __restrict A, const Vec<NV>& v) {
  constexpr int f = 16 * NV;
  alignas(64) float vs[f];
  store_vec(vs, v);
  Vec<NV> acc0{}, acc1{};
  for (int k = 0; k < f; k += 2) {
    const float* __restrict c0 = A + static_cast<size_t>(k) * f;
    const float* __restrict c1 = c0 + f;
    for (int j = 0; j < NV; ++j) {
      acc0.v[j] += load16(c0 + 16 * j) * vs[k];
      acc1.v[j] += load16(c1 + 16 * j) * vs[k + 1];
    }
  }
  for (int j = 0; j < NV; ++j) acc0.v[j] += acc1.v[j];
  return acc0;
}

template <int NV>
CASCADE_INLINE void cg_rows_vec(const HalfStep& h, uint32_t b, uint32_t e) {
  constexpr int f = 16 * NV;
  const float* __restrict YtY = h.YtY;
  const float* __restrict Y = h.Y;
  const ConfidenceRows& C = *h.C;
  for (uint32_t u = b; u < e; ++u) {
    float* __restrict xp = h.X + static_cast<size_t>(u) * f;
    const uint64_t begin = C.indptr[u], end = C.indptr[u + 1];
    if (begin == end) {
      // if we have no items for this row, the solution is zero
      store_vec(xp, Vec<NV>{});
      continue;
    }
    Vec<NV> x = load_vec<NV>(xp);
    // r = b - A x = sum_i (c_i - (c_i - 1) y_i.x) y_i - YtY x
    Vec<NV> r = symv_vec<NV>(YtY, x);
    for (int j = 0; j < NV; ++j) r.v[j] = -r.v[j];
    {
      Vec<NV> r2{};  // second accumulator: two independent FMA chains
      uint64_t k = begin;
      for (; k + 1 < end; k += 2) {
        const Vec<NV> y0 = load_vec<NV>(Y + static_cast<size_t>(C.indices[k]) * f);
        const Vec<NV> y1 = load_vec<NV>(Y + static_cast<size_t>(C.indices[k + 1]) * f);
        const float c0 = C.conf[k], c1 = C.conf[k + 1];
        const float d0 = dot_vec(y0, x), d1 = dot_vec(y1, x);
        axpy_vec(c0 - (c0 - 1.f) * d0, y0, r);
        axpy_vec(c1 - (c1 - 1.f) * d1, y1, r2);
      }
      if (k < end) {
        const Vec<NV> yi = load_vec<NV>(Y + static_cast<size_t>(C.indices[k]) * f);
        const float c = C.conf[k];
        axpy_vec(c - (c - 1.f) * dot_vec(yi, x), yi, r);
      }
      for (int j = 0; j < NV; ++j) r.v[j] += r2.v[j];
    }
    Vec<NV> p = r;
    float rsold = dot_vec(r, r);
    if (rsold >= kResidualEps) {
      for (int it = 0; it < h.cg_steps; ++it) {
        // Ap = YtY p + sum_i (c_i - 1) (y_i.p) y_i, without forming Y^T C_u Y
        Vec<NV> ap = symv_vec<NV>(YtY, p);
        Vec<NV> ap2{};  // second accumulator: two independent FMA chains
        uint64_t k = begin;
        for (; k + 1 < end; k += 2) {
          const Vec<NV> y0 = load_vec<NV>(Y + static_cast<size_t>(C.indices[k]) * f);
          const Vec<NV> y1 = load_vec<NV>(Y + static_cast<size_t>(C.indices[k + 1]) * f);
          const float d0 = dot_vec(y0, p), d1 = dot_vec(y1, p);
          axpy_vec((C.conf[k] - 1.f) * d0, y0, ap);
          axpy_vec((C.conf[k + 1] - 1.f) * d1, y1, ap2);
        }
        if (k < end) {
          const Vec<NV> yi = load_vec<NV>(Y + static_cast<size_t>(C.indices[k]) * f);
          axpy_vec((C.conf[k] - 1.f) * dot_vec(yi, p), yi, ap);
        }
        for (int j = 0; j < NV; ++j) ap.v[j] += ap2.v[j];
        const float pap = dot_vec(p, ap);
        if (!(pap > 0.f)) break;  // A is positive definite; guards against breakdown
        const float alpha = rsold / pap;
        axpy_vec(alpha, p, x);
        axpy_vec(-alpha, ap, r);
        const float rsnew = dot_vec(r, r);
        if (rsnew < kResidualEps) break;
        const float beta = rsnew / rsold;
        for (int j = 0; j < NV; ++j) p.v[j] = r.v[j] + beta * p.v[j];
        rsold = rsnew;
      }
    }
    store_vec(xp, x);
  }
}

// Row a of G (columns from vector block S on) += sum_i y_i[a] y_i[16 S ..], accumulated in
// registers over the chunk's rows.
template <int NV, int S>
CASCADE_INLINE void gram_row_tail(const float* __restrict Y, uint32_t b, uint32_t e, int a,
                                  float* __restrict G) {
  constexpr int f = 16 * NV;
  v16 acc[NV - S] = {};
  for (uint32_t i = b; i < e; ++i) {
    const float* __restrict y = Y + static_cast<size_t>(i) * f;
    const float ya = y[a];
    for (int k = 0; k < NV - S; ++k) acc[k] += ya * load16(y + 16 * (S + k));
  }
  float* g = G + static_cast<size_t>(a) * f + 16 * S;
  for (int k = 0; k < NV - S; ++k) store16(g + 16 * k, load16(g + 16 * k) + acc[k]);
}

// G += Y[b..e)^T Y[b..e), upper block triangle only (vector blocks at or right of the
// diagonal); gram() mirrors it. G is f x f, zeroed by the caller.
template <int NV>
CASCADE_INLINE void gram_rows_vec(const float* __restrict Y, uint32_t b, uint32_t e,
                                  float* __restrict G) {
  constexpr int f = 16 * NV;
  for (int a = 0; a < f; ++a) {
    [&]<int... S>(std::integer_sequence<int, S...>) {
      ((a / 16 == S ? gram_row_tail<NV, S>(Y, b, e, a, G) : void()), ...);
    }(std::make_integer_sequence<int, NV>{});
  }
}

// The dispatch targets: plain functions, each cloned per instruction set.
CASCADE_TARGET_CLONES void cg_rows_any(const HalfStep& h, uint32_t b, uint32_t e, float* s) {
  cg_rows_generic(h, b, e, s);
}
CASCADE_TARGET_CLONES void gram_rows_any(const float* Y, uint32_t b, uint32_t e, int f, float* G) {
  gram_rows_generic(Y, b, e, f, G);
}
#define CASCADE_IALS_KERNELS(NV)                                                                \
  CASCADE_TARGET_CLONES void cg_rows_v##NV(const HalfStep& h, uint32_t b, uint32_t e, float*) { \
    cg_rows_vec<NV>(h, b, e);                                                                   \
  }                                                                                             \
  CASCADE_TARGET_CLONES void gram_rows_v##NV(const float* Y, uint32_t b, uint32_t e, int,       \
                                             float* G) {                                        \
    gram_rows_vec<NV>(Y, b, e, G);                                                              \
  }
CASCADE_IALS_KERNELS(1)
CASCADE_IALS_KERNELS(2)
CASCADE_IALS_KERNELS(4)
CASCADE_IALS_KERNELS(8)
#undef CASCADE_IALS_KERNELS

using CgFn = void (*)(const HalfStep&, uint32_t, uint32_t, float*);
using GramFn = void (*)(const float*, uint32_t, uint32_t, int, float*);

// Fixed-size kernels cover f = 16, 32, 64, 128; `triangle` tells gram() to mirror.
CgFn pick_cg(uint32_t f) {
  switch (f) {
    case 16: return cg_rows_v1;
    case 32: return cg_rows_v2;
    case 64: return cg_rows_v4;
    case 128: return cg_rows_v8;
    default: return cg_rows_any;
  }
}

GramFn pick_gram(uint32_t f, bool* triangle) {
  *triangle = true;
  switch (f) {
    case 16: return gram_rows_v1;
    case 32: return gram_rows_v2;
    case 64: return gram_rows_v4;
    case 128: return gram_rows_v8;
    default: *triangle = false; return gram_rows_any;
  }
}

}  // namespace

void gram(const float* Y, uint32_t n, uint32_t f, double reg, float* out, int threads) {
  const size_t ff = static_cast<size_t>(f) * f;
  const size_t chunks = (static_cast<size_t>(n) + kGramChunk - 1) / kGramChunk;
  std::vector<float> partial(std::max<size_t>(chunks, 1) * ff, 0.f);
  bool triangle = false;
  GramFn fn = pick_gram(f, &triangle);
  parallel_for_dynamic(chunks, resolve_threads(threads), 1, [&](size_t c, int) {
    uint32_t b = static_cast<uint32_t>(c * kGramChunk);
    uint32_t e = std::min<uint32_t>(n, b + kGramChunk);
    fn(Y, b, e, static_cast<int>(f), partial.data() + c * ff);
  });
  std::vector<double> acc(ff, 0.0);
  for (size_t c = 0; c < chunks; ++c) {
    const float* p = partial.data() + c * ff;
    for (size_t j = 0; j < ff; ++j) acc[j] += p[j];
  }
  if (triangle) {  // the kernel filled blocks at or right of the diagonal: mirror them
    for (uint32_t a = 0; a < f; ++a) {
      for (uint32_t c = 0; c < a; ++c) acc[static_cast<size_t>(a) * f + c] = acc[static_cast<size_t>(c) * f + a];
    }
  }
  for (uint32_t a = 0; a < f; ++a) acc[static_cast<size_t>(a) * f + a] += reg;
  for (size_t j = 0; j < ff; ++j) out[j] = static_cast<float>(acc[j]);
}

void solve_cg(const ConfidenceRows& C, const float* Y, const float* YtY, uint32_t f, int cg_steps,
              float* X, int threads) {
  CASCADE_CHECK(cg_steps >= 1, "ials: cg_steps must be >= 1");
  const int t = resolve_threads(threads);
  std::vector<std::vector<float>> scratch(t, std::vector<float>(3 * static_cast<size_t>(f)));
  HalfStep h{&C, Y, YtY, X, static_cast<int>(f), cg_steps};
  CgFn fn = pick_cg(f);
  const size_t blocks = (static_cast<size_t>(C.n_rows) + kRowGrain - 1) / kRowGrain;
  parallel_for_dynamic(blocks, t, 1, [&](size_t blk, int tid) {
    uint32_t b = static_cast<uint32_t>(blk * kRowGrain);
    uint32_t e = std::min<uint32_t>(C.n_rows, b + static_cast<uint32_t>(kRowGrain));
    fn(h, b, e, scratch[tid].data());
  });
}

void solve_row_exact(const float* Y, const double* YtY, uint32_t f, const uint32_t* items,
                     const float* conf, size_t n, double* work, float* x) {
  using MatD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Eigen::Map<MatD> A(work, f, f);
  Eigen::Map<Eigen::VectorXd> rhs(work + static_cast<size_t>(f) * f, f);
  Eigen::Map<Eigen::VectorXd> y(work + static_cast<size_t>(f) * f + f, f);
  A = Eigen::Map<const MatD>(YtY, f, f);
  rhs.setZero();
  for (size_t k = 0; k < n; ++k) {
    y = Eigen::Map<const Eigen::VectorXf>(Y + static_cast<size_t>(items[k]) * f, f).cast<double>();
    const double c = conf[k];
    A.selfadjointView<Eigen::Lower>().rankUpdate(y, c - 1.0);
    rhs += c * y;
  }
  Eigen::LLT<Eigen::Ref<MatD>, Eigen::Lower> llt(A);
  CASCADE_CHECK(llt.info() == Eigen::Success,
                "ials: the normal equations are not positive definite (a confidence below 0?). "
                "Try increasing the regularization parameter");
  Eigen::VectorXd sol = llt.solve(rhs);
  for (uint32_t j = 0; j < f; ++j) x[j] = static_cast<float>(sol[j]);
}

void solve_cholesky(const ConfidenceRows& C, const float* Y, const float* YtY, uint32_t f, float* X,
                    int threads) {
  const int t = resolve_threads(threads);
  const size_t ff = static_cast<size_t>(f) * f;
  std::vector<double> ytyd(YtY, YtY + ff);
  std::vector<std::vector<double>> work(t, std::vector<double>(ff + 2 * f));
  parallel_for_dynamic(C.n_rows, t, kRowGrain, [&](size_t u, int tid) {
    const uint64_t b = C.indptr[u], e = C.indptr[u + 1];
    float* x = X + u * f;
    if (b == e) {
      std::fill(x, x + f, 0.f);
      return;
    }
    solve_row_exact(Y, ytyd.data(), f, C.indices + b, C.conf + b, e - b, work[tid].data(), x);
  });
}

double loss(const ConfidenceRows& C, const float* X, const float* Y, uint32_t n_y, uint32_t f,
            double reg) {
  using MatD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using MatF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const MatD Xd = Eigen::Map<const MatF>(X, C.n_rows, f).cast<double>();
  const MatD Yd = Eigen::Map<const MatF>(Y, n_y, f).cast<double>();
  const MatD YtY = Yd.transpose() * Yd;
  double total = 0.0;
  for (uint32_t u = 0; u < C.n_rows; ++u) {
    const Eigen::VectorXd x = Xd.row(u).transpose();
    // every pair as if unobserved (c = 1, p = 0) ...
    total += x.dot(YtY * x);
    // ... then the observed entries corrected to c (1 - s)^2
    for (uint64_t k = C.indptr[u]; k < C.indptr[u + 1]; ++k) {
      const double s = x.dot(Yd.row(C.indices[k]).transpose());
      const double c = C.conf[k];
      total += c * (1.0 - s) * (1.0 - s) - s * s;
    }
  }
  return total + reg * (Xd.squaredNorm() + Yd.squaredNorm());
}

}  // namespace cascade::ials
