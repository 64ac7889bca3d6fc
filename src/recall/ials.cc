// iALS recall channel: implicit-feedback matrix factorisation.
//
// Hu, Koren & Volinsky 2008, "Collaborative Filtering for Implicit Feedback Datasets"
// (ICDM): minimise  sum_{u,i} c_ui (p_ui - x_u . y_i)^2 + reg (|X|^2 + |Y|^2)  over ALL
// user-item pairs, with p_ui = 1 for observed pairs (0 otherwise) and confidence
// c_ui = 1 + alpha * r_ui (r = 1 for value=binary, the rating for value=rating).
// Each half-step is solved by a few warm-started conjugate-gradient steps per row
// (Takács, Pilászy & Tikk 2011), see ials_solver.h.
//
// Note: the `implicit` library uses c_ui = alpha * r_ui directly; here c_ui = 1 + alpha r_ui
// as in the paper, so alpha = 10 here is close to alpha ~ 11 there.
//
// Parameters ("ials:factors=64,reg=15,...", all optional; defaults in brackets):
//   factors    latent dimension                          [64]    1..1024
//   reg        L2 regularisation                         [15]    0..1e9
//   alpha      confidence slope                          [2]     0..1e9
//   value      binary | rating   (what r_ui is)          [binary]
//   iters      ALS iterations (users then items)         [15]    1..1000
//   cg_steps   CG steps per row and half-step            [3]     1..1024
//   init_scale initial factors ~ U[0, init_scale)        [0.01]  0..10
//   seed       -1 = FitInput::seed                       [-1]
//   threads    0 = FitInput::threads (0 there = hardware)[0]     0..1024
//   use_cg     false = exact Cholesky per row (slow; the reference for tests) [true]
//
// The defaults were chosen on the ML-100K seed-loo VALIDATION items (mean of 5 seeds; test
// items untouched). Validation Recall@10 / NDCG@10 is flat (within one standard error,
// ~0.011) for alpha 1..5 and reg 1..20 with binary values; larger reg trades nothing at
// the top for better depth (Recall@50 0.37 at reg 1 -> 0.43 at reg 15), which a recall
// channel feeding a ranker wants. alpha >= 10, and value=rating with alpha >= 10, were
// worse. reg is not scaled by data size: larger datasets may want a larger reg.
//
// On MPI (fit() inside a dist::Collective scope of several ranks, `mpirun -np N cascade
// train`): every rank holds both factor matrices whole and the whole confidence matrix. Each
// half-step, every rank computes the same Gram matrix from the fixed side, solves only its own
// contiguous block of rows of the other side (blocks of about equal work: 2 nnz + f per row),
// and an all-gather of the blocks gives every rank the whole solved side again. Rows are
// solved independently and the Gram does not depend on who computes it, so the factors are
// bit-identical to one process on identical CPUs (the kernels' vector width follows the CPU).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <vector>

#include "cascade/core/error.h"
#include "cascade/core/registry.h"
#include "cascade/dist/world.h"
#include "cascade/io/artifact.h"
#include "cascade/recall/recaller.h"
#include "cascade/util/cancel.h"
#include "cascade/util/mix64.h"
#include "cascade/util/parallel.h"
#include "cascade/util/progress.h"
#include "cascade/util/stopwatch.h"
#include "recall/configured_recaller.h"
#include "recall/ials_solver.h"
#include "recall/vector_scores.h"

namespace cascade {

namespace {

constexpr const char* kKind = "ials";
constexpr int kFormatVersion = 1;

struct IalsConfig {
  int factors = 64;
  double reg = 15.0;
  double alpha = 2.0;
  bool rating = false;  // value=rating: r_ui is the rating, else 1
  int iters = 15;
  int cg_steps = 3;
  double init_scale = 0.01;
  int64_t seed = -1;
  int threads = 0;
  bool use_cg = true;

  static IalsConfig read(Params& p) {
    IalsConfig c;
    c.factors = static_cast<int>(p.get_int("factors", 64, 1, 1024));
    c.reg = p.get_double("reg", 15.0, 0.0, 1e9);
    c.alpha = p.get_double("alpha", 2.0, 0.0, 1e9);
    c.rating = p.get_string("value", "binary", {"binary", "rating"}) == "rating";
    c.iters = static_cast<int>(p.get_int("iters", 15, 1, 1000));
    c.cg_steps = static_cast<int>(p.get_int("cg_steps", 3, 1, 1024));
    c.init_scale = p.get_double("init_scale", 0.01, 0.0, 10.0);
    c.seed = p.get_int("seed", -1, -1, std::numeric_limits<int64_t>::max());
    c.threads = static_cast<int>(p.get_int("threads", 0, 0, 1024));
    c.use_cg = p.get_bool("use_cg", true);
    return c;
  }
};

// mix64 (util/mix64.h) is stateless, so the initial value of factor (row, j) does not depend
// on the order or thread in which rows are initialised.
// U[0, scale) initial factors (as `implicit` does), stream `side` (0 users, 1 items).
void init_factors(std::vector<float>& m, uint32_t rows, int f, uint64_t seed, uint64_t side,
                  double scale) {
  m.resize(static_cast<size_t>(rows) * f);
  const uint64_t base = mix64(seed ^ (side * 0x632be59bd9b4e019ULL));
  for (size_t k = 0; k < m.size(); ++k) {
    const uint64_t h = mix64(base + k);
    m[k] = static_cast<float>(static_cast<double>(h >> 40) * 0x1.0p-24 * scale);
  }
}

class IalsRecaller final : public ConfiguredRecaller<IalsConfig> {
 public:
  explicit IalsRecaller(Params params) : ConfiguredRecaller(kKind, std::move(params)) {}

  uint32_t n_items() const override { return n_items_; }

  void fit(const FitInput& in) override {
    const Interactions& R = in.train;
    R.validate();
    const uint32_t n_users = R.n_rows;
    // The catalogue may list items nobody trained on: they get zero vectors (score 0).
    const uint32_t n_items =
        std::max<uint32_t>(R.n_cols, static_cast<uint32_t>(in.catalog.items.size()));
    const int f = cfg_.factors;
    const int threads = resolve_threads(cfg_.threads > 0 ? cfg_.threads : in.threads);
    const uint64_t seed = cfg_.seed >= 0 ? static_cast<uint64_t>(cfg_.seed) : in.seed;
    const Stopwatch watch;

    // Confidences, user side (sharing the CSR structure of `train`) and item side
    // (a counting-sort transpose holding only ids and confidences: 8 bytes per entry).
    const uint64_t nnz = R.nnz();
    std::vector<float> conf_u(nnz);
    for (uint64_t k = 0; k < nnz; ++k) {
      const double r = cfg_.rating ? static_cast<double>(R.values[k]) : 1.0;
      const double c = 1.0 + cfg_.alpha * r;
      if (!std::isfinite(c) || c < 0.0) {
        throw Error(fmt::format(
            "ials: entry {} has value {} giving confidence 1 + alpha * value = {} < 0; "
            "value=rating needs non-negative ratings (or use value=binary)",
            k, R.values[k], c));
      }
      conf_u[k] = static_cast<float>(c);
    }
    std::vector<uint64_t> indptr_i(static_cast<size_t>(n_items) + 1, 0);
    for (uint32_t c : R.indices) ++indptr_i[c + 1];
    for (uint32_t i = 0; i < n_items; ++i) indptr_i[i + 1] += indptr_i[i];
    std::vector<uint32_t> indices_i(nnz);
    std::vector<float> conf_i(nnz);
    {
      std::vector<uint64_t> next(indptr_i.begin(), indptr_i.end() - 1);
      for (uint32_t u = 0; u < n_users; ++u) {
        for (uint64_t k = R.indptr[u]; k < R.indptr[u + 1]; ++k) {
          const uint64_t dst = next[R.indices[k]]++;
          indices_i[dst] = u;
          conf_i[dst] = conf_u[k];
        }
      }
    }
    const ials::ConfidenceRows Cu{n_users, R.indptr.data(), R.indices.data(), conf_u.data()};
    const ials::ConfidenceRows Ci{n_items, indptr_i.data(), indices_i.data(), conf_i.data()};

    std::vector<float> X, Y;
    init_factors(X, n_users, f, seed, 0, cfg_.init_scale);
    init_factors(Y, n_items, f, seed, 1, cfg_.init_scale);
    // Row blocks per rank on MPI; empty = this process solves every row.
    std::vector<size_t> user_blocks, item_blocks;
    if (dist::collective_active()) {
      user_blocks = rank_blocks(Cu, f);
      item_blocks = rank_blocks(Ci, f);
      const int r = dist::world().rank;
      spdlog::info("ials: rank {} of {} solves users [{}, {}) and items [{}, {})", r,
                   dist::world().size, user_blocks[r], user_blocks[r + 1], item_blocks[r],
                   item_blocks[r + 1]);
    }
    std::vector<float> gram(static_cast<size_t>(f) * f);
    const Stopwatch loop_watch;
    double comm_secs = 0;  // in the all-gathers (waiting for the slowest rank included)
    Progress progress("ials", static_cast<uint64_t>(cfg_.iters), "iterations");
    for (int it = 0; it < cfg_.iters; ++it) {
      check_cancelled();
      ials::gram(Y.data(), n_items, f, cfg_.reg, gram.data(), threads);
      half_step(Cu, Y.data(), gram.data(), X.data(), threads, user_blocks, comm_secs);
      check_cancelled();
      ials::gram(X.data(), n_users, f, cfg_.reg, gram.data(), threads);
      half_step(Ci, X.data(), gram.data(), Y.data(), threads, item_blocks, comm_secs);
      progress.add();
    }
    const double loop_secs = loop_watch.seconds();
    for (float v : Y) {
      if (!std::isfinite(v)) {
        throw Error("ials: factors diverged (non-finite values). Try increasing the "
                    "regularization parameter or lowering alpha");
      }
    }

    n_users_ = n_users;
    n_items_ = n_items;
    user_factors_ = std::move(X);
    item_factors_ = std::move(Y);
    user_fitted_.assign(n_users, 0);
    for (uint32_t u = 0; u < n_users; ++u) user_fitted_[u] = R.row_size(u) > 0 ? 1 : 0;
    dataset_hash_ = in.dataset_hash;
    fit_seed_ = seed;
    prepare_fold_in(threads);
    fitted_ = true;
    const double secs = watch.seconds();
    spdlog::info(
        "ials: {} users x {} items, {} entries, factors {}, {} iterations ({}) in {:.3f}s "
        "({:.4f} s per iteration, {:.4f} s of it in all-gathers) on {} threads x {} ranks",
        n_users, n_items, nnz, f, cfg_.iters, cfg_.use_cg ? "cg" : "cholesky", secs,
        loop_secs / cfg_.iters, comm_secs / cfg_.iters, threads,
        user_blocks.empty() ? 1 : dist::world().size);
  }

  void score(const UserQuery& q, std::span<float> out) const override {
    score_by_vectors(*this, fitted_, q, item_factors_.data(), n_items_, cfg_.factors, out);
  }

  // The fitted factors of a known user whose history is the fitted row, else the exact fold-in of
  // the query's history.
  bool user_vector(const UserQuery& q, std::span<float> out) const override {
    CASCADE_CHECK(fitted_, "ials: user_vector() before fit() or load()");
    CASCADE_CHECK(out.size() == static_cast<size_t>(cfg_.factors),
                  fmt::format("ials: user_vector() has {} slots for {} factors", out.size(), cfg_.factors));
    if (q.user < n_users_ && user_fitted_[q.user] && !q.past_fit) {
      const float* x = user_factors_.data() + static_cast<size_t>(q.user) * cfg_.factors;
      std::copy(x, x + cfg_.factors, out.begin());
    } else {
      std::fill(out.begin(), out.end(), 0.f);
      fold_in(q, out.data());
    }
    return true;
  }

  ItemVectorsView item_vectors() const override {
    CASCADE_CHECK(fitted_, "ials: item_vectors() before fit() or load()");
    return {item_factors_.data(), n_items_, static_cast<uint32_t>(cfg_.factors)};
  }

  void save(const std::filesystem::path& dir) const override {
    CASCADE_CHECK(fitted_, "ials: save() before fit()");
    ArtifactWriter w = model_writer(dir, kKind, kFormatVersion, params_.resolved(), dataset_hash_);
    w.meta()["n_users"] = n_users_;
    w.meta()["n_items"] = n_items_;
    w.meta()["factors"] = cfg_.factors;
    w.meta()["fit_seed"] = fit_seed_;
    w.add_array("user_factors.f32", user_factors_);
    w.add_array("item_factors.f32", item_factors_);
    w.add_array("user_fitted.u8", user_fitted_);
    w.finish();
  }

  void load(const std::filesystem::path& dir) override {
    const ModelReader r(dir, kKind, kFormatVersion);
    Params p(r.params());
    const auto n_users = r.field<uint32_t>("n_users");
    const auto n_items = r.field<uint32_t>("n_items");
    const IalsConfig cfg = IalsConfig::read(p);
    p.check_unused(kKind);
    auto U = r.array<float>("user_factors.f32");
    auto V = r.array<float>("item_factors.f32");
    auto fitted = r.array<uint8_t>("user_fitted.u8");
    const size_t f = static_cast<size_t>(cfg.factors);
    CASCADE_CHECK(U.size() == n_users * f && V.size() == n_items * f && fitted.size() == n_users,
                  fmt::format("{}: factor arrays do not match {} users x {} items x {} factors",
                              dir.string(), n_users, n_items, f));
    params_ = std::move(p);
    cfg_ = cfg;
    n_users_ = n_users;
    n_items_ = n_items;
    user_factors_ = std::move(U);
    item_factors_ = std::move(V);
    user_fitted_ = std::move(fitted);
    dataset_hash_ = r.dataset_hash();
    fit_seed_ = r.field_or<uint64_t>("fit_seed", 0);
    prepare_fold_in(cfg_.threads);
    fitted_ = true;
  }

 private:
  // Solves the rows of X (all of them, or this rank's block of `blocks` followed by the
  // all-gather that gives every rank the whole X).
  void half_step(const ials::ConfidenceRows& C, const float* Y, const float* gram, float* X,
                 int threads, const std::vector<size_t>& blocks, double& comm_secs) const {
    if (blocks.empty()) {
      solve(C, Y, gram, X, threads);
      return;
    }
    const auto r = static_cast<size_t>(dist::world().rank);
    const size_t b = blocks[r], e = blocks[r + 1];
    // A view of rows [b, e): indptr values are absolute offsets into indices/conf.
    const ials::ConfidenceRows mine{static_cast<uint32_t>(e - b), C.indptr + b, C.indices, C.conf};
    solve(mine, Y, gram, X + b * static_cast<size_t>(cfg_.factors), threads);
    const Stopwatch comm;
    dist::allgather_rows(X, blocks, static_cast<size_t>(cfg_.factors));
    comm_secs += comm.seconds();
  }

  void solve(const ials::ConfidenceRows& C, const float* Y, const float* gram, float* X,
             int threads) const {
    if (cfg_.use_cg) {
      ials::solve_cg(C, Y, gram, cfg_.factors, cfg_.cg_steps, X, threads);
    } else {
      ials::solve_cholesky(C, Y, gram, cfg_.factors, X, threads);
    }
  }

  // Contiguous row blocks of about equal work per rank: a row with entries costs about
  // 2 nnz + f multiply-adds per factor per CG step (its entries twice, YtY p once); an empty
  // row costs nothing.
  static std::vector<size_t> rank_blocks(const ials::ConfidenceRows& C, int f) {
    std::vector<uint64_t> prefix(static_cast<size_t>(C.n_rows) + 1, 0);
    for (uint32_t u = 0; u < C.n_rows; ++u) {
      const uint64_t nnz = C.indptr[u + 1] - C.indptr[u];
      prefix[u + 1] = prefix[u] + (nnz > 0 ? 2 * nnz + static_cast<uint64_t>(f) : 0);
    }
    return dist::weighted_offsets(prefix, dist::world().size);
  }

  // YtY + reg I of the final item factors, for exact fold-in. gram() is deterministic, so
  // a loaded model folds in exactly as the fitted one did.
  void prepare_fold_in(int threads) {
    const size_t f = cfg_.factors;
    std::vector<float> g(f * f);
    ials::gram(item_factors_.data(), n_items_, cfg_.factors, cfg_.reg, g.data(), threads);
    yty_.assign(g.begin(), g.end());
  }

  // x = argmin of the user's iALS objective given the item factors (exact, in double).
  void fold_in(const UserQuery& q, float* x) const {
    if (q.history.empty()) return;  // no evidence: x = 0, every score 0
    CASCADE_CHECK(q.values.empty() || q.values.size() == q.history.size(),
                  fmt::format("ials: query has {} values for {} history items", q.values.size(),
                              q.history.size()));
    std::vector<float> conf(q.history.size());
    for (size_t k = 0; k < q.history.size(); ++k) {
      CASCADE_CHECK(q.history[k] < n_items_,
                    fmt::format("ials: history item {} out of range (n_items {})", q.history[k],
                                n_items_));
      const double r = (cfg_.rating && !q.values.empty()) ? static_cast<double>(q.values[k]) : 1.0;
      const double c = 1.0 + cfg_.alpha * r;
      CASCADE_CHECK(std::isfinite(c) && c >= 0.0,
                    fmt::format("ials: history value {} gives a negative confidence", q.values[k]));
      conf[k] = static_cast<float>(c);
    }
    const size_t f = cfg_.factors;
    std::vector<double> work(f * f + 2 * f);
    ials::solve_row_exact(item_factors_.data(), yty_.data(), cfg_.factors, q.history.data(),
                          conf.data(), q.history.size(), work.data(), x);
  }

  uint32_t n_users_ = 0;
  uint32_t n_items_ = 0;
  std::vector<float> user_factors_;   // n_users x factors, row-major
  std::vector<float> item_factors_;   // n_items x factors, row-major
  std::vector<uint8_t> user_fitted_;  // n_users: 1 if the user had training entries
  std::vector<double> yty_;           // factors x factors: Y^T Y + reg I (fold-in)
  std::string dataset_hash_;
  uint64_t fit_seed_ = 0;
  bool fitted_ = false;
};

}  // namespace

CASCADE_REGISTER_RECALLER(IalsRecaller, "ials");

}  // namespace cascade
