// Benchmarks for the iALS and EASE recall channels (Google Benchmark).
//
//   ials_bench [--ml100k=DIR] [benchmark flags]
//   CASCADE_BENCH_ML100K=DIR     directory holding MovieLens-100K's u.data (or use --ml100k)
//   CASCADE_BENCH_THREADS=N      threads for every fit (default 2)
//
// Datasets:
//   ml100k    the seed-loo training split of ML-100K (ratings >= 4, users with >= 5
//             positives, each user's last two positives held out: 938 x 1447, 53,485 rows);
//             without a data directory, a synthetic matrix of the same shape and size
//   synth1m   6,040 users x 3,700 items, 1M interactions (ML-1M scale)
//   synth10m  69,878 users x 10,677 items, 10M interactions (ML-10M scale)
// Synthetic matrices have Zipf-like item popularity (p ~ 1/rank^0.9) and log-normal user
// activity (sigma 1), distinct items per user, and are deterministic.
//
// BM_IalsFit reports the full fit (15 iterations, 64 factors); BM_IalsIteration one ALS
// iteration through the kernels (both Gram matrices and both half-steps); counters give
// seconds per iteration. Peak memory: run one benchmark under /usr/bin/time -v.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cascade/data/dataset.h"
#include "cascade/data/loaders.h"
#include "recall/ials_solver.h"
#include "cascade/core/error.h"
#include "cascade/recall/recaller.h"

namespace {

using cascade::Interactions;

std::string g_ml100k_dir;  // from --ml100k or CASCADE_BENCH_ML100K

// Peak resident set size of the process so far, MB (Linux reports KB).
double peak_rss_mb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

int bench_threads() {
  const char* t = std::getenv("CASCADE_BENCH_THREADS");
  return t ? std::max(1, std::atoi(t)) : 2;
}

Interactions from_rows(uint32_t n_cols, const std::vector<std::vector<uint32_t>>& rows) {
  Interactions m;
  m.n_cols = n_cols;
  for (const auto& r : rows) {
    std::vector<float> v(r.size(), 1.f);
    std::vector<int64_t> t(r.size());
    for (size_t k = 0; k < t.size(); ++k) t[k] = static_cast<int64_t>(k);
    m.append_row(r, v, t);
  }
  return m;
}

// The seed-loo training split of ML-100K, through the project's own loader and protocol.
Interactions load_ml100k_train(const std::string& dir) {
  return cascade::prepare_dataset(cascade::load_ml100k(dir), "ml-100k", cascade::PrepareOptions{}).train;
}

Interactions synth(uint32_t users, uint32_t items, uint64_t target, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::vector<double> cdf(items);
  double acc = 0;
  for (uint32_t i = 0; i < items; ++i) cdf[i] = acc += 1.0 / std::pow(i + 1.0, 0.9);
  for (double& c : cdf) c /= acc;
  std::normal_distribution<double> normal;
  std::vector<double> w(users);
  double total = 0;
  for (double& x : w) total += x = std::exp(normal(gen));
  // Row sizes ~ w (at least 1, at most a quarter of the catalogue), summing to `target`.
  const uint64_t cap = std::max<uint64_t>(1, items / 4);
  std::vector<uint64_t> want(users);
  double scale = static_cast<double>(target) / total;
  for (int round = 0; round < 20; ++round) {
    uint64_t sum = 0;
    for (uint32_t u = 0; u < users; ++u) sum += want[u] = std::clamp<uint64_t>(std::llround(scale * w[u]), 1, cap);
    if (sum == target) break;
    scale *= static_cast<double>(target) / static_cast<double>(sum);
  }
  uint64_t sum = 0;
  for (uint64_t x : want) sum += x;
  for (uint32_t u = 0; sum != target && u < 100 * users; ++u) {  // exact total
    uint64_t& x = want[u % users];
    if (sum < target && x < cap) ++x, ++sum;
    else if (sum > target && x > 1) --x, --sum;
  }
  std::uniform_real_distribution<double> unif;
  std::vector<uint32_t> stamp(items, UINT32_MAX);
  std::vector<std::vector<uint32_t>> rows(users);
  for (uint32_t u = 0; u < users; ++u) {
    auto& r = rows[u];
    while (r.size() < want[u]) {
      const uint32_t i = static_cast<uint32_t>(std::lower_bound(cdf.begin(), cdf.end(), unif(gen)) - cdf.begin());
      if (i < items && stamp[i] != u) {
        stamp[i] = u;
        r.push_back(i);
      }
    }
  }
  return from_rows(items, rows);
}

// Datasets are built once, on first use.
const Interactions& dataset(const std::string& name) {
  static std::map<std::string, std::unique_ptr<Interactions>> cache;
  auto& slot = cache[name];
  if (!slot) {
    if (name == "ml100k") {
      slot = std::make_unique<Interactions>(g_ml100k_dir.empty() ? synth(938, 1447, 53485, 100)
                                                                 : load_ml100k_train(g_ml100k_dir));
    } else if (name == "synth1m") {
      slot = std::make_unique<Interactions>(synth(6040, 3700, 1000000, 1));
    } else {
      slot = std::make_unique<Interactions>(synth(69878, 10677, 10000000, 10));
    }
  }
  return *slot;
}

const char* kDatasets[] = {"ml100k", "synth1m", "synth10m"};

void describe(benchmark::State& state, const std::string& name, const Interactions& R) {
  state.counters["users"] = R.n_rows;
  state.counters["items"] = R.n_cols;
  state.counters["nnz"] = static_cast<double>(R.nnz());
  state.SetLabel(name == "ml100k" && g_ml100k_dir.empty() ? "ml100k-shaped synthetic" : name);
}

// Full fit: 15 iterations, 64 factors (state.range(1) = iterations when given).
void BM_IalsFit(benchmark::State& state, std::string name, int iters) {
  const Interactions& R = dataset(name);
  cascade::Catalog cat;
  auto model = cascade::make_recaller("ials:factors=64,iters=" + std::to_string(iters));
  cascade::FitInput in{R, cat, bench_threads(), 42, nullptr, ""};
  const double rss_data = peak_rss_mb();  // the datasets built so far
  for (auto _ : state) model->fit(in);
  describe(state, name, R);
  // Peak memory: run one benchmark alone (--benchmark_filter) so that only its dataset is
  // resident; peak_MB - data_MB bounds what the fit itself added.
  state.counters["data_MB"] = rss_data;
  state.counters["peak_MB"] = peak_rss_mb();
  state.counters["s_per_iter"] =
      benchmark::Counter(static_cast<double>(iters), benchmark::Counter::kIsIterationInvariantRate |
                                                         benchmark::Counter::kInvert);
}

// One ALS iteration through the kernels: Gram(Y), users, Gram(X), items.
void BM_IalsIteration(benchmark::State& state, std::string name) {
  const Interactions& R = dataset(name);
  const uint32_t f = 64;
  const int threads = bench_threads();
  std::vector<float> conf(R.nnz(), 3.f);  // 1 + alpha * 1 with the default alpha = 2
  Interactions T = R.transpose();
  const cascade::ials::ConfidenceRows Cu{R.n_rows, R.indptr.data(), R.indices.data(), conf.data()};
  const cascade::ials::ConfidenceRows Ci{T.n_rows, T.indptr.data(), T.indices.data(), conf.data()};
  std::mt19937 gen(5);
  std::uniform_real_distribution<float> d(0.f, 0.01f);
  std::vector<float> X(static_cast<size_t>(R.n_rows) * f), Y(static_cast<size_t>(R.n_cols) * f), G(f * f);
  for (float& v : X) v = d(gen);
  for (float& v : Y) v = d(gen);
  for (auto _ : state) {
    cascade::ials::gram(Y.data(), R.n_cols, f, 15.0, G.data(), threads);
    cascade::ials::solve_cg(Cu, Y.data(), G.data(), f, 3, X.data(), threads);
    cascade::ials::gram(X.data(), R.n_rows, f, 15.0, G.data(), threads);
    cascade::ials::solve_cg(Ci, X.data(), G.data(), f, 3, Y.data(), threads);
  }
  describe(state, name, R);
}

// Scoring one known user against the whole catalogue (serving latency).
void BM_IalsScore(benchmark::State& state, std::string name) {
  const Interactions& R = dataset(name);
  cascade::Catalog cat;
  auto model = cascade::make_recaller("ials:factors=64,iters=2");
  model->fit(cascade::FitInput{R, cat, bench_threads(), 42, nullptr, ""});
  std::vector<float> out(model->n_items());
  uint32_t u = 0;
  for (auto _ : state) {
    cascade::UserQuery q;
    q.user = u;
    model->score(q, out);
    benchmark::DoNotOptimize(out.data());
    u = (u + 1) % R.n_rows;
  }
  describe(state, name, R);
}

// Fold-in (unknown user, exact solve from a history) + scoring.
void BM_IalsFoldIn(benchmark::State& state, std::string name) {
  const Interactions& R = dataset(name);
  cascade::Catalog cat;
  auto model = cascade::make_recaller("ials:factors=64,iters=2");
  model->fit(cascade::FitInput{R, cat, bench_threads(), 42, nullptr, ""});
  std::vector<float> out(model->n_items());
  uint32_t u = 0;
  for (auto _ : state) {
    cascade::UserQuery q;
    q.history = R.row(u);
    model->score(q, out);
    benchmark::DoNotOptimize(out.data());
    u = (u + 1) % R.n_rows;
  }
  describe(state, name, R);
}

void BM_EaseFit(benchmark::State& state, std::string name) {
  const Interactions& R = dataset(name);
  cascade::Catalog cat;
  auto model = cascade::make_recaller("ease:lambda=500");
  cascade::FitInput in{R, cat, bench_threads(), 42, nullptr, ""};
  for (auto _ : state) model->fit(in);
  describe(state, name, R);
}

}  // namespace

int main(int argc, char** argv) {
  if (const char* d = std::getenv("CASCADE_BENCH_ML100K")) g_ml100k_dir = d;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--ml100k=", 0) == 0) {
      g_ml100k_dir = a.substr(9);
    } else {
      args.push_back(argv[i]);
    }
  }
  int n = static_cast<int>(args.size());
  for (const char* name : kDatasets) {
    const std::string s = name;
    const bool big = s == "synth10m";
    auto* fit = benchmark::RegisterBenchmark(("BM_IalsFit/" + s).c_str(), BM_IalsFit, s, big ? 3 : 15);
    fit->Unit(benchmark::kMillisecond)->UseRealTime();
    if (big) fit->Iterations(1);  // 3 iterations of 10M rows: one run is long enough
    benchmark::RegisterBenchmark(("BM_IalsIteration/" + s).c_str(), BM_IalsIteration, s)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark(("BM_IalsScore/" + s).c_str(), BM_IalsScore, s)
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("BM_IalsFoldIn/" + s).c_str(), BM_IalsFoldIn, s)
        ->Unit(benchmark::kMicrosecond);
  }
  benchmark::RegisterBenchmark("BM_EaseFit/ml100k", BM_EaseFit, std::string("ml100k"))
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark("BM_EaseFit/synth1m", BM_EaseFit, std::string("synth1m"))
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
