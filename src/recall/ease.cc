// EASE recall channel: Steck 2019, "Embarrassingly Shallow Autoencoders for Sparse Data"
// (WWW). A linear item-item model with a closed form:
//
//     P = (X^T X + lambda I)^-1,   B = I - P diag(1 / diag(P))   (so diag(B) = 0),
//     score(u) = x_u B,
//
// with X the user x item matrix (1 per interaction for value=binary, the rating for
// value=rating). Scoring uses only the query's history, so fresh events count at once.
//
// Memory: B is dense, n_items^2 floats (1447 items: 8 MB; 20k items: 1.6 GB; 50k: 10 GB),
// plus a second n_items^2 buffer while tuning lambda. Time: n^3 / 2 multiply-adds per
// inversion, 11 inversions when tuning (ML-20M's 26,744 items: ~6 min each on 2 cores).
// `max_items` (default 20000) refuses larger catalogues before anything is computed, with
// the memory and time estimate (cannot_fit(); the default funnel leaves EASE out then).
//
// The inverse is an in-place blocked SWEEP (ease_solver.h): n^3 / 2 multiply-adds with a
// hand-tiled kernel chosen at run time for AVX-512 / AVX2 / baseline. At 1447 items the
// whole fit takes ~0.05 s on 2 threads, where Eigen's float LLT + solve(I) alone (2.3 n^3
// flops, SSE2 in the default build) took ~0.45 s on this machine.
//
// Parameters ("ease:lambda=500,...", all optional):
//   lambda     L2 regularisation                                   [0, 1e12]
//   tune       choose lambda from kLambdaGrid by Recall@20 on FitInput::valid (never test)
//   value      binary | rating
//   max_items  refuse catalogues larger than this (dense model)    [20000]  1..10^6
//   threads    0 = FitInput::threads (0 there = hardware)          [0, 1024]
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <type_traits>
#include <utility>
#include <vector>

#include "cascade/core/error.h"
#include "cascade/core/registry.h"
#include "cascade/io/artifact.h"
#include "cascade/recall/recaller.h"
#include "cascade/util/blas_core.h"
#include "cascade/util/fast_paths.h"
#include "cascade/util/parallel.h"
#include "cascade/util/stopwatch.h"
#include "recall/configured_recaller.h"
#include "recall/ease_solver.h"

#if defined(__GNUC__) && !defined(__clang__)
// 32/64-byte vectors are passed only between always-inline functions; the ABI note is moot.
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

#if defined(__GNUC__)
#define CASCADE_EASE_INLINE inline __attribute__((always_inline))
#else
#define CASCADE_EASE_INLINE inline
#endif

// Run-time kernel choice only for baseline builds: a -march=native build (AVX2 or more)
// uses its own widest kernel, and the targeted variants could not inline its helpers.
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__AVX2__)
#define CASCADE_EASE_X86_DISPATCH 1
#endif

namespace cascade {

namespace {

// o[j] += x * b[j] for j < n: the EASE score of one history row. Element-wise (no reduction),
// so any vector width gives the same floats; the AVX2 copy (no FMA enabled, so the multiply
// and the add stay two roundings, as in the baseline SSE2 build) halves the instructions.
__attribute__((target("avx2"))) void axpy_avx2(float* __restrict o, float x,
                                               const float* __restrict b, uint32_t n) {
  for (uint32_t j = 0; j < n; ++j) o[j] += x * b[j];
}
void axpy_base(float* __restrict o, float x, const float* __restrict b, uint32_t n) {
  for (uint32_t j = 0; j < n; ++j) o[j] += x * b[j];
}
// cpu_vector_support() runs __builtin_cpu_init first, which a static initialiser may not rely
// on having happened.
const bool kHasAvx2 = cpu_vector_support().avx2;

}  // namespace

namespace ease {

namespace {

// Pivot block of the sweep; also the rank of each tile update.
constexpr uint32_t kBlock = 64;
// Rows per task of the tile update (a task = one 32-column tile x up to this many rows).
constexpr uint32_t kRowsPerTask = 256;

typedef float f32x4 __attribute__((vector_size(16)));
typedef float f32x4u __attribute__((vector_size(16), aligned(4), may_alias));
typedef float f32x8 __attribute__((vector_size(32)));
typedef float f32x8u __attribute__((vector_size(32), aligned(4), may_alias));
typedef float f32x16 __attribute__((vector_size(64)));
typedef float f32x16u __attribute__((vector_size(64), aligned(4), may_alias));

template <class VT>
struct Unaligned;
template <>
struct Unaligned<f32x4> {
  using type = f32x4u;
};
template <>
struct Unaligned<f32x8> {
  using type = f32x8u;
};
template <>
struct Unaligned<f32x16> {
  using type = f32x16u;
};

template <class VT>
CASCADE_EASE_INLINE VT loadu(const float* p) {
  return *reinterpret_cast<const typename Unaligned<VT>::type*>(p);
}
template <class VT>
CASCADE_EASE_INLINE void storeu(float* p, const VT& v) {
  *reinterpret_cast<typename Unaligned<VT>::type*>(p) = v;
}

// One rank-kb update of the lower triangle: A[i][j] -= sum_k V[i][k] W[k][j].
struct Update {
  float* A;
  size_t lda;
  const float* V;  // rows x kBlock, row-major (row i = A's current column block, row i)
  const float* W;  // kb x ldw, row-major
  size_t ldw;
  int kb;
};

// kMR rows starting at i of the 32-column tile at j0, 32 / kLanes vectors per row:
// kMR * 32 / kLanes accumulators stay in registers across the kb terms. (A plain template,
// not a lambda: lambdas do not inherit the caller's target attribute.)
template <class VT, int kLanes, int kMR>
CASCADE_EASE_INLINE void update_block(const Update& u, uint32_t j0, uint32_t i) {
  constexpr int kNV = 32 / kLanes;
  const float* __restrict W = u.W + j0;
  const size_t ldw = u.ldw;
  const int kb = u.kb;
  VT acc[kMR][kNV] = {};
  const float* __restrict v = u.V + static_cast<size_t>(i) * kBlock;
  for (int k = 0; k < kb; ++k) {
    VT w[kNV];
    for (int q = 0; q < kNV; ++q) w[q] = loadu<VT>(W + k * ldw + q * kLanes);
    for (int r = 0; r < kMR; ++r) {
      const float s = v[r * kBlock + k];
      for (int q = 0; q < kNV; ++q) acc[r][q] += s * w[q];
    }
  }
  for (int r = 0; r < kMR; ++r) {
    float* a = u.A + static_cast<size_t>(i + r) * u.lda + j0;
    for (int q = 0; q < kNV; ++q) storeu<VT>(a + q * kLanes, loadu<VT>(a + q * kLanes) - acc[r][q]);
  }
}

// Rows [i0, i1) of the 32-column tile at j0.
template <class VT, int kLanes, int kMR>
CASCADE_EASE_INLINE void update_rows(const Update& u, uint32_t j0, uint32_t i0, uint32_t i1) {
  uint32_t i = i0;
  for (; i + kMR <= i1; i += kMR) update_block<VT, kLanes, kMR>(u, j0, i);
  for (; i < i1; ++i) update_block<VT, kLanes, 1>(u, j0, i);
}

using UpdateFn = void (*)(const Update&, uint32_t, uint32_t, uint32_t);

void update_base(const Update& u, uint32_t j0, uint32_t i0, uint32_t i1) {
#if defined(__AVX512F__)
  update_rows<f32x16, 16, 8>(u, j0, i0, i1);
#elif defined(__AVX2__)
  update_rows<f32x8, 8, 3>(u, j0, i0, i1);
#else
  update_rows<f32x4, 4, 1>(u, j0, i0, i1);
#endif
}
#ifdef CASCADE_EASE_X86_DISPATCH
__attribute__((target("arch=x86-64-v3"))) void update_avx2(const Update& u, uint32_t j0,
                                                            uint32_t i0, uint32_t i1) {
  update_rows<f32x8, 8, 3>(u, j0, i0, i1);  // 12 ymm accumulators
}
__attribute__((target("arch=x86-64-v4"))) void update_avx512(const Update& u, uint32_t j0,
                                                             uint32_t i0, uint32_t i1) {
  update_rows<f32x16, 16, 8>(u, j0, i0, i1);  // 16 zmm accumulators
}
#endif

UpdateFn pick_update() {
#ifdef CASCADE_EASE_X86_DISPATCH
  __builtin_cpu_init();
  if (__builtin_cpu_supports("x86-64-v4")) return update_avx512;
  if (__builtin_cpu_supports("x86-64-v3")) return update_avx2;
#endif
  return update_base;
}

}  // namespace

void gram(const Interactions& train, uint32_t n_items, bool rating, float* G, size_t ld,
          int threads) {
  CASCADE_CHECK(ld >= n_items, "ease::gram: ld < n_items");
  // item -> (user, value), users ascending: the transpose of `train` without times.
  std::vector<uint64_t> indptr(static_cast<size_t>(n_items) + 1, 0);
  for (uint32_t c : train.indices) {
    CASCADE_CHECK(c < n_items, fmt::format("ease: item id {} out of range ({} items)", c, n_items));
    ++indptr[c + 1];
  }
  for (uint32_t i = 0; i < n_items; ++i) indptr[i + 1] += indptr[i];
  std::vector<uint32_t> users(train.nnz());
  std::vector<float> vals(train.nnz());
  {
    std::vector<uint64_t> next(indptr.begin(), indptr.end() - 1);
    for (uint32_t u = 0; u < train.n_rows; ++u) {
      for (uint64_t k = train.indptr[u]; k < train.indptr[u + 1]; ++k) {
        const uint64_t d = next[train.indices[k]]++;
        users[d] = u;
        vals[d] = rating ? train.values[k] : 1.f;
      }
    }
  }
  // Row i of G = sum over users u of item i: x_ui * x_u (one thread owns each row).
  parallel_for_dynamic(n_items, resolve_threads(threads), 16, [&](size_t i, int) {
    float* g = G + i * ld;
    std::fill(g, g + ld, 0.f);
    for (uint64_t k = indptr[i]; k < indptr[i + 1]; ++k) {
      const uint32_t u = users[k];
      const float xi = vals[k];
      for (uint64_t t = train.indptr[u]; t < train.indptr[u + 1]; ++t) {
        g[train.indices[t]] += xi * (rating ? train.values[t] : 1.f);
      }
    }
  });
}

void spd_inverse(float* a, uint32_t n, size_t ld, int threads) {
  CASCADE_CHECK(ld >= n && ld % kEaseAlign == 0, "ease::spd_inverse: ld must be >= n and a multiple of 32");
  if (n == 0) return;
  const int t = resolve_threads(threads);
  const size_t ldw = padded_ld(n);
  const uint32_t n_tiles = static_cast<uint32_t>(ldw / kEaseAlign);
  std::vector<float> V(static_cast<size_t>(n) * kBlock);
  std::vector<float> VT(static_cast<size_t>(kBlock) * ldw, 0.f);
  std::vector<float> W(static_cast<size_t>(kBlock) * ldw);
  std::vector<float> negS(static_cast<size_t>(kBlock) * kBlock);
  const UpdateFn update = pick_update();
  using MatD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using MatF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

  // Tasks of the tile update: tile j covers columns [32 j, 32 j + 32) and rows >= 32 j
  // (lower triangle incl. the diagonal tile), cut into row ranges for load balance.
  struct Task {
    uint32_t j0, i0, i1;
  };
  std::vector<Task> tasks;
  for (uint32_t tj = 0; tj < n_tiles; ++tj) {
    const uint32_t j0 = tj * static_cast<uint32_t>(kEaseAlign);
    for (uint32_t i0 = j0; i0 < n; i0 += kRowsPerTask) tasks.push_back({j0, i0, std::min(n, i0 + kRowsPerTask)});
  }

  for (uint32_t K = 0; K < n; K += kBlock) {
    const uint32_t kb = std::min(kBlock, n - K);
    // S = A_KK^-1 (the pivot block is SPD: it is a Schur complement of an SPD matrix).
    MatD akk(kb, kb);
    for (uint32_t r = 0; r < kb; ++r)
      for (uint32_t c = 0; c <= r; ++c) akk(r, c) = akk(c, r) = a[(K + r) * ld + K + c];
    Eigen::LLT<MatD> llt(akk);
    if (llt.info() != Eigen::Success) {
      throw Error(fmt::format("ease: X^T X + lambda I is not positive definite near item {} "
                              "(try a larger lambda)", K));
    }
    const MatF S = llt.solve(MatD::Identity(kb, kb)).cast<float>();

    // V = column block K of the symmetric matrix (rows inside K zeroed: they are rewritten),
    // n x kBlock; VT = its transpose, kBlock x ldw (padding zero).
    parallel_for(n, t, [&](size_t b, size_t e, int) {
      for (size_t i = b; i < e; ++i) {
        float* v = V.data() + i * kBlock;
        const bool in_k = i >= K && i < K + kb;
        for (uint32_t k = 0; k < kBlock; ++k) {
          float x = 0.f;
          if (k < kb && !in_k) x = i > K + k ? a[i * ld + K + k] : a[(K + k) * ld + i];
          v[k] = x;
          VT[k * ldw + i] = x;
        }
      }
    });
    // W = S V^T (kb x n): the new row block K, and the right factor of the update. Computed
    // by the same tile kernel as "W -= (-S) VT" on a zeroed W.
    for (uint32_t k = 0; k < kBlock; ++k)
      for (uint32_t l = 0; l < kBlock; ++l)
        negS[k * kBlock + l] = (k < kb && l < kb) ? -S(k, l) : 0.f;
    std::fill(W.begin(), W.end(), 0.f);
    const Update wup{W.data(), ldw, negS.data(), VT.data(), ldw, static_cast<int>(kb)};
    parallel_for_dynamic(n_tiles, t, 1, [&](size_t tj, int) {
      update(wup, static_cast<uint32_t>(tj * kEaseAlign), 0, kb);
    });
    // A_rest,rest -= V W   (lower triangle; rows/columns of K are rewritten below).
    const Update up{a, ld, V.data(), W.data(), ldw, static_cast<int>(kb)};
    parallel_for_dynamic(tasks.size(), t, 1, [&](size_t k, int) {
      update(up, tasks[k].j0, tasks[k].i0, tasks[k].i1);
    });
    // New row/column block K = W (stored in the lower triangle); pivot block = -S.
    for (uint32_t k = 0; k < kb; ++k) {
      float* row = a + static_cast<size_t>(K + k) * ld;
      for (uint32_t j = 0; j < K; ++j) row[j] = W[k * ldw + j];
      for (uint32_t j = K + kb; j < n; ++j) a[static_cast<size_t>(j) * ld + K + k] = W[k * ldw + j];
      for (uint32_t c = 0; c <= k; ++c) row[K + c] = -S(k, c);
    }
  }
  // The lower triangle now holds -A^-1: negate and mirror.
  parallel_for(n, t, [&](size_t b, size_t e, int) {
    for (size_t i = b; i < e; ++i)
      for (size_t j = 0; j <= i; ++j) a[i * ld + j] = -a[i * ld + j];
  });
  for (size_t i = 0; i < n; ++i)
    for (size_t j = i + 1; j < n; ++j) a[i * ld + j] = a[j * ld + i];
}

}  // namespace ease

namespace {

constexpr const char* kKind = "ease";
constexpr int kFormatVersion = 1;
// Candidate lambdas for tune=true (the range Steck 2019 and later replications search).
constexpr double kLambdaGrid[] = {50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000};
constexpr size_t kTuneK = 20;  // tuning metric: Recall@20 on the validation items
// Multiply-adds per second of the inversion, measured on this 2-core AVX-512 machine (the
// 3,700-item fit in BENCHMARKS.md "iALS and EASE fit"): only for the refusal's time estimate.
constexpr double kMeasuredMacsPerSecond = 26e9;

// "ease: N items exceed max_items=M: ... ≈ X GB ... ≈ Y min": what a dense fit would need.
std::string refusal(uint32_t n, int64_t max_items, bool tune) {
  const double copies = tune ? 2.0 : 1.0;
  const double gb = copies * 4.0 * static_cast<double>(n) * static_cast<double>(ease::padded_ld(n)) / 1e9;
  const double inversions = tune ? static_cast<double>(std::size(kLambdaGrid) + 1) : 1.0;
  const double nd = static_cast<double>(n);
  const double minutes = inversions * nd * nd * nd / 2.0 / kMeasuredMacsPerSecond / 60.0;
  return fmt::format(
      "ease: {} items exceed max_items={}. EASE inverts a dense n_items^2 matrix: about {:.1f} GB "
      "of memory{} and about {:.0f} min of compute ({} inversion{} of n^3/2 multiply-adds at the "
      "{:.0f} GMAC/s measured on 2 cores; an estimate{}). Leave it out (the default funnel does), "
      "use a factor model (ials), or raise max_items if the memory and time are there",
      n, max_items, gb, tune ? " (two copies while tuning lambda)" : "", minutes, inversions,
      inversions > 1 ? "s" : "", kMeasuredMacsPerSecond / 1e9, tune ? ", validation scoring not included" : "");
}

struct EaseConfig {
  double lambda = 500.0;
  bool tune = false;
  bool rating = false;
  int64_t max_items = 20000;
  int threads = 0;

  static EaseConfig read(Params& p) {
    EaseConfig c;
    c.lambda = p.get_double("lambda", 500.0, 0.0, 1e12);
    c.tune = p.get_bool("tune", false);
    c.rating = p.get_string("value", "binary", {"binary", "rating"}) == "rating";
    c.max_items = p.get_int("max_items", 20000, 1, 1000000);
    c.threads = static_cast<int>(p.get_int("threads", 0, 0, 1024));
    return c;
  }
};

class EaseRecaller final : public ConfiguredRecaller<EaseConfig> {
 public:
  explicit EaseRecaller(Params params) : ConfiguredRecaller(kKind, std::move(params)) {}

  uint32_t n_items() const override { return n_items_; }

  std::string cannot_fit(const DataShape& shape) const override {
    if (static_cast<int64_t>(shape.n_items) <= cfg_.max_items) return {};
    return refusal(shape.n_items, cfg_.max_items, cfg_.tune);
  }

  void fit(const FitInput& in) override {
    const Stopwatch watch;
    in.train.validate();
    const uint32_t n =
        std::max<uint32_t>(in.train.n_cols, static_cast<uint32_t>(in.catalog.items.size()));
    if (const std::string why = cannot_fit({in.train.n_rows, n, in.train.nnz()}); !why.empty()) throw Error(why);
    const int threads = resolve_threads(cfg_.threads > 0 ? cfg_.threads : in.threads);
    fitted_ = false;  // B_ is rebuilt below; a failure leaves the model unusable, not stale
    const size_t ld = ease::padded_ld(n);
    std::vector<float> G(static_cast<size_t>(n) * ld);
    ease::gram(in.train, n, cfg_.rating, G.data(), ld, threads);

    double lambda = cfg_.lambda;
    nlohmann::json tuning = nlohmann::json::array();
    if (cfg_.tune && in.valid == nullptr) {
      spdlog::warn("ease: tune=true but no validation split was given; using lambda={}", lambda);
    } else if (cfg_.tune) {
      CASCADE_CHECK(in.valid->n_rows <= in.train.n_rows,
                    "ease: the validation split has more users than the training split");
      n_items_ = n;
      ld_ = ld;
      double best = -1.0;
      for (double lam : kLambdaGrid) {
        B_ = G;
        solve(lam, threads);
        fitted_ = true;  // score() is used for the validation ranking
        const double recall = valid_recall(in.train, *in.valid, threads);
        spdlog::info("ease: lambda {:>6} -> validation Recall@{} {:.4f}", lam, kTuneK, recall);
        tuning.push_back({{"lambda", lam}, {"valid_recall_at_20", recall}});
        if (recall > best) {  // ties keep the smaller lambda
          best = recall;
          lambda = lam;
        }
      }
      spdlog::info("ease: chose lambda {} (validation Recall@{} {:.4f})", lambda, kTuneK, best);
      // record the choice as the parameter in force
      auto resolved = params_.resolved();
      resolved["lambda"] = fmt::format("{}", lambda);
      params_ = Params(resolved);
      cfg_ = EaseConfig::read(params_);
    }
    B_ = std::move(G);
    n_items_ = n;
    ld_ = ld;
    solve(lambda, threads);
    tuning_ = std::move(tuning);
    dataset_hash_ = in.dataset_hash;
    fitted_ = true;
    const double secs = watch.seconds();
    spdlog::info("ease: {} items, lambda {}, fitted in {:.3f}s on {} threads", n, lambda, secs, threads);
  }

  void score(const UserQuery& q, std::span<float> out) const override {
    CASCADE_CHECK(fitted_, "ease: score() before fit() or load()");
    CASCADE_CHECK(out.size() == n_items_,
                  fmt::format("ease: score() output has {} slots for {} items", out.size(), n_items_));
    CASCADE_CHECK(q.values.empty() || q.values.size() == q.history.size(),
                  fmt::format("ease: query has {} values for {} history items", q.values.size(),
                              q.history.size()));
    std::fill(out.begin(), out.end(), 0.f);
    float* __restrict o = out.data();
    for (size_t k = 0; k < q.history.size(); ++k) {
      const ItemId i = q.history[k];
      CASCADE_CHECK(i < n_items_, fmt::format("ease: history item {} out of range (n_items {})", i, n_items_));
      const float x = (cfg_.rating && !q.values.empty()) ? q.values[k] : 1.f;
      const float* __restrict b = B_.data() + static_cast<size_t>(i) * ld_;
      if (kHasAvx2 && fast_paths()) {
        axpy_avx2(o, x, b, n_items_);
      } else {
        axpy_base(o, x, b, n_items_);
      }
    }
  }

  // score() at the given items only, each adding the same products in the same order (the
  // ranker's "score" similarity asks for a few hundred candidates, not the catalogue).
  void score_items(const UserQuery& q, std::span<const ItemId> items,
                   std::span<float> out) const override {
    CASCADE_CHECK(fitted_, "ease: score_items() before fit() or load()");
    CASCADE_CHECK(items.size() == out.size(), "ease: score_items: items and out differ in size");
    CASCADE_CHECK(q.values.empty() || q.values.size() == q.history.size(),
                  fmt::format("ease: query has {} values for {} history items", q.values.size(),
                              q.history.size()));
    for (ItemId j : items)
      CASCADE_CHECK(j < n_items_, fmt::format("score_items: item {} out of range", j));
    std::fill(out.begin(), out.end(), 0.f);
    for (size_t k = 0; k < q.history.size(); ++k) {
      const ItemId i = q.history[k];
      CASCADE_CHECK(i < n_items_,
                    fmt::format("ease: history item {} out of range (n_items {})", i, n_items_));
      const float x = (cfg_.rating && !q.values.empty()) ? q.values[k] : 1.f;
      const float* b = B_.data() + static_cast<size_t>(i) * ld_;
      for (size_t r = 0; r < items.size(); ++r) out[r] += x * b[items[r]];
    }
  }

  void save(const std::filesystem::path& dir) const override {
    CASCADE_CHECK(fitted_, "ease: save() before fit()");
    ArtifactWriter w = model_writer(dir, kKind, kFormatVersion, params_.resolved(), dataset_hash_);
    w.meta()["n_items"] = n_items_;
    w.meta()["tuning"] = tuning_;
    // B without the row padding: n_items x n_items, row-major.
    std::vector<float> dense(static_cast<size_t>(n_items_) * n_items_);
    for (size_t i = 0; i < n_items_; ++i)
      std::copy_n(B_.data() + i * ld_, n_items_, dense.data() + i * n_items_);
    w.add_array("B.f32", dense);
    w.finish();
  }

  void load(const std::filesystem::path& dir) override {
    const ModelReader r(dir, kKind, kFormatVersion);
    Params p(r.params());
    const auto n = r.field<uint32_t>("n_items");
    EaseConfig cfg = EaseConfig::read(p);
    p.check_unused(kKind);
    auto dense = r.array<float>("B.f32");
    CASCADE_CHECK(dense.size() == static_cast<size_t>(n) * n,
                  fmt::format("{}: B.f32 holds {} floats, expected {} x {}", dir.string(), dense.size(), n, n));
    const size_t ld = ease::padded_ld(n);
    std::vector<float> B(static_cast<size_t>(n) * ld, 0.f);
    for (size_t i = 0; i < n; ++i) std::copy_n(dense.data() + i * n, n, B.data() + i * ld);
    params_ = std::move(p);
    cfg_ = cfg;
    n_items_ = n;
    ld_ = ld;
    B_ = std::move(B);
    dataset_hash_ = r.dataset_hash();
    tuning_ = r.field_or<nlohmann::json>("tuning", nlohmann::json::array());
    fitted_ = true;
  }

 private:
  // B_ holds X^T X on entry; on return B = I - P diag(1/diag P) with P = (X^T X + lambda I)^-1.
  void solve(double lambda, int threads) {
    const uint32_t n = n_items_;
    for (size_t i = 0; i < n; ++i) B_[i * ld_ + i] += static_cast<float>(lambda);
    ease::spd_inverse(B_.data(), n, ld_, threads);
    std::vector<float> inv_diag(n);
    for (size_t j = 0; j < n; ++j) inv_diag[j] = 1.f / B_[j * ld_ + j];
    // B_ij = -P_ij / P_jj off the diagonal, 0 on it
    parallel_for(n, threads, [&](size_t b, size_t e, int) {
      for (size_t i = b; i < e; ++i) {
        float* row = B_.data() + i * ld_;
        for (size_t j = 0; j < n; ++j) row[j] = -row[j] * inv_diag[j];
        row[i] = 0.f;
      }
    });
  }

  // Mean Recall@kTuneK over users with validation items, the training row as history.
  double valid_recall(const Interactions& train, const Interactions& valid, int threads) const {
    std::vector<double> per_user(valid.n_rows, -1.0);
    parallel_for_dynamic(valid.n_rows, threads, 16, [&](size_t u, int) {
      const auto held = valid.row(static_cast<uint32_t>(u));
      if (held.empty()) return;
      UserQuery q;
      q.user = static_cast<UserId>(u);
      q.history = train.row(static_cast<uint32_t>(u));
      if (cfg_.rating) q.values = train.row_values(static_cast<uint32_t>(u));
      const auto top = top_n(q, kTuneK);
      size_t hits = 0;
      for (ItemId h : held)
        for (const auto& s : top) hits += s.item == h ? 1 : 0;
      per_user[u] = static_cast<double>(hits) / static_cast<double>(held.size());
    });
    double sum = 0.0;
    size_t n = 0;
    for (double v : per_user) {
      if (v >= 0.0) {
        sum += v;
        ++n;
      }
    }
    return n ? sum / static_cast<double>(n) : 0.0;
  }

  uint32_t n_items_ = 0;
  size_t ld_ = 0;           // row stride of B_ (n_items rounded up to 32)
  std::vector<float> B_;    // n_items x ld_, row-major; row i = item i's weights to all items
  std::string dataset_hash_;
  nlohmann::json tuning_ = nlohmann::json::array();  // (lambda, validation recall) when tuned
  bool fitted_ = false;
};

}  // namespace

CASCADE_REGISTER_RECALLER(EaseRecaller, "ease");

}  // namespace cascade
