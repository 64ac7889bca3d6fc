// Serving latency of the SASRec recall channel (Google Benchmark).
//
//   sasrec_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//   CASCADE_BENCH_THREADS=N   threads for the fits (default 2); scoring is one thread
//
// Dataset: synthetic, ML-100K shaped (950 users x 1447 items, 57 distinct items per user,
// Zipf-like popularity p ~ 1/rank^0.9, deterministic). The model is fitted for one epoch
// (dim 64, 2 blocks, 1 head): latency does not depend on quality.
//
// BM_SasrecScore/max_len:L   score() of one user: encode its last L history items and score
//                            the whole catalogue (what the evaluator and the server call)
// BM_SasrecUserVector/...    the encoder alone (user_vector())
// Users are cycled so every iteration encodes a different history.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cascade/recall/recaller.h"

namespace {

using cascade::Interactions;

constexpr uint32_t kUsers = 950;
constexpr uint32_t kItems = 1447;
constexpr uint32_t kPerUser = 57;

int bench_threads() {
  const char* t = std::getenv("CASCADE_BENCH_THREADS");
  return t ? std::max(1, std::atoi(t)) : 2;
}

const Interactions& dataset() {
  static const Interactions data = [] {
    std::mt19937_64 gen(100);
    std::vector<double> cdf(kItems);
    double acc = 0;
    for (uint32_t i = 0; i < kItems; ++i) cdf[i] = acc += 1.0 / std::pow(i + 1.0, 0.9);
    for (double& c : cdf) c /= acc;
    std::uniform_real_distribution<double> unif;
    Interactions m;
    m.n_cols = kItems;
    std::vector<uint32_t> stamp(kItems, UINT32_MAX);
    for (uint32_t u = 0; u < kUsers; ++u) {
      std::vector<uint32_t> row;
      while (row.size() < kPerUser) {
        const auto i = static_cast<uint32_t>(std::lower_bound(cdf.begin(), cdf.end(), unif(gen)) - cdf.begin());
        if (i < kItems && stamp[i] != u) {
          stamp[i] = u;
          row.push_back(i);
        }
      }
      std::vector<float> v(row.size(), 1.f);
      std::vector<int64_t> t(row.size());
      for (size_t k = 0; k < t.size(); ++k) t[k] = static_cast<int64_t>(k);
      m.append_row(row, v, t);
    }
    return m;
  }();
  return data;
}

// One fitted model per max_len, built on first use.
const cascade::Recaller& model(int max_len) {
  static std::map<int, std::unique_ptr<cascade::Recaller>> cache;
  auto& slot = cache[max_len];
  if (!slot) {
    slot = cascade::make_recaller("sasrec:dim=64,blocks=2,heads=1,epochs=1,eval_every=0,max_len=" +
                                  std::to_string(max_len));
    cascade::Catalog cat;
    slot->fit(cascade::FitInput{dataset(), cat, bench_threads(), 42, nullptr, ""});
  }
  return *slot;
}

void BM_SasrecScore(benchmark::State& state) {
  const auto& m = model(static_cast<int>(state.range(0)));
  const Interactions& R = dataset();
  std::vector<float> out(m.n_items());
  uint32_t u = 0;
  for (auto _ : state) {
    cascade::UserQuery q;
    q.history = R.row(u);
    m.score(q, out);
    benchmark::DoNotOptimize(out.data());
    u = (u + 1) % R.n_rows;
  }
  state.counters["items"] = m.n_items();
}

void BM_SasrecUserVector(benchmark::State& state) {
  const auto& m = model(static_cast<int>(state.range(0)));
  const Interactions& R = dataset();
  std::vector<float> x(64);
  uint32_t u = 0;
  for (auto _ : state) {
    cascade::UserQuery q;
    q.history = R.row(u);
    m.user_vector(q, x);
    benchmark::DoNotOptimize(x.data());
    u = (u + 1) % R.n_rows;
  }
}

BENCHMARK(BM_SasrecScore)->ArgName("max_len")->Arg(50)->Arg(20)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SasrecUserVector)->ArgName("max_len")->Arg(50)->Arg(20)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
