// Serving latency of the DeepFM ranker (Google Benchmark).
//
//   deepfm_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//   CASCADE_BENCH_SPEC=deepfm:...   another spec for the fitted model (default: "deepfm",
//                                   i.e. the default parameters; epochs is forced to 1)
//   CASCADE_DEEPFM_KERNEL=eigen|avx2|avx512   force the serving matrix-product kernel
//                                   (default: the best this CPU has)
//
// Data: random, with the real pipeline's fields (user 944, item 1700, gender 3, age 8,
// occupation 22, year 6, popularity 11) and 60 dense columns, 30 of which have NaNs (so the
// normaliser adds 30 present-indicators: 90 dense inputs); 100 training groups of 150 rows,
// 10% positives. The model is fitted for one epoch: latency does not depend on quality.
//
// BM_DeepfmScoreOneGroup/rows:N   score() of N candidates of ONE user (one group): the
//                                 pre-rank call (acceptance: N = 1000 in <= 1 ms median,
//                                 one thread)
// BM_DeepfmScoreMixedGroup/rows:N the same rows in one group whose user fields vary (no
//                                 group-constant shortcut: the fallback path)
// Groups are cycled over 8 pre-built users.
//
// Measured 2026-11-28 on the shared 2-core Xeon (AVX-512) while other builds ran (load
// average 6-9, so wall times are inflated ~1.6x over CPU times), default parameters
// (dim 16, hidden 64-32), 5 repetitions, median wall / CPU time of rows:1000:
//   CASCADE_NATIVE=OFF, auto kernel (AVX-512)       0.54-0.71 ms / 0.35-0.45 ms
//   CASCADE_NATIVE=OFF, CASCADE_DEEPFM_KERNEL=avx2  0.70 ms / 0.58 ms
//   CASCADE_NATIVE=OFF, CASCADE_DEEPFM_KERNEL=eigen 2.1-3.0 ms / 1.4-1.5 ms (SSE2 only)
//   CASCADE_NATIVE=ON,  auto kernel (AVX-512)       0.87-1.14 ms / 0.50-0.69 ms
//   CASCADE_NATIVE=ON,  CASCADE_DEEPFM_KERNEL=eigen 1.27 ms / 0.76 ms
//   hidden=128-64 (OFF, auto): 1.3 ms / 0.70 ms; rows:100 (OFF, auto): 0.06-0.09 ms;
//   mixed group (no group-constant fields, OFF, auto): 0.9-1.1 ms / 0.53-0.66 ms.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cascade/rank/ranker.h"
#include "rank/deepfm_reference.h"

namespace {

using cascade::RankBatch;

constexpr size_t kDense = 60;

cascade::FeatureSchema schema() {
  cascade::FeatureSchema s;
  for (size_t d = 0; d < kDense; ++d) s.dense.push_back("d" + std::to_string(d));
  s.fields = {{"user", 944}, {"item", 1700}, {"gender", 3},   {"age", 8},
              {"occupation", 22}, {"year", 6}, {"popularity", 11}};
  s.n_items = 1700;
  return s;
}

// `groups` groups of `rows` rows; a group's user-side fields (the first 5 minus item) are
// constant unless `mixed`.
RankBatch make_batch(size_t groups, size_t rows, uint64_t seed, bool mixed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal;
  std::uniform_real_distribution<float> unif;
  RankBatch b;
  b.schema = schema();
  const auto& F = b.schema.fields;
  for (size_t g = 0; g < groups; ++g) {
    std::vector<uint32_t> user(F.size());
    for (size_t f = 0; f < F.size(); ++f) user[f] = 1 + static_cast<uint32_t>(rng() % (F[f].cardinality - 1));
    for (size_t r = 0; r < rows; ++r) {
      const uint32_t item = 1 + static_cast<uint32_t>(rng() % 1699);
      b.items.push_back(item);
      for (size_t f = 0; f < F.size(); ++f) {
        const bool user_side = f == 0 || (f >= 2 && f <= 4);
        uint32_t v = user_side && !mixed ? user[f] : 1 + static_cast<uint32_t>(rng() % (F[f].cardinality - 1));
        if (f == 1) v = item;
        b.cats.push_back(v);
      }
      for (size_t d = 0; d < kDense; ++d) {
        const bool missing = d % 2 == 0 && unif(rng) < 0.4f;
        b.dense.push_back(missing ? std::numeric_limits<float>::quiet_NaN() : normal(rng));
      }
    }
    b.group_begin.push_back(static_cast<uint32_t>(b.items.size()));
    b.hist_begin.push_back(0);
    b.group_user.push_back(user[0]);
  }
  return b;
}

const cascade::Ranker& model() {
  static const auto m = [] {
    const char* env = std::getenv("CASCADE_BENCH_SPEC");
    std::string spec = env ? env : "deepfm";
    spec += spec.find(':') == std::string::npos ? ":epochs=1" : ",epochs=1";
    if (const char* k = std::getenv("CASCADE_DEEPFM_KERNEL")) {
      if (!cascade::deepfm::set_kernel_for_testing(k)) std::fprintf(stderr, "kernel %s unavailable\n", k);
    }
    auto r = cascade::make_ranker(spec);
    cascade::RankTrainSet t;
    t.batch = make_batch(100, 150, 1, false);
    std::mt19937_64 rng(2);
    for (size_t i = 0; i < t.batch.rows(); ++i) t.labels.push_back(rng() % 10 == 0 ? 1.f : 0.f);
    cascade::RankFitOptions opt;
    opt.threads = 1;
    opt.dataset_hash = "bench";
    r->fit(t, opt);
    return r;
  }();
  return *m;
}

void run(benchmark::State& state, bool mixed) {
  const auto& m = model();
  const size_t n = static_cast<size_t>(state.range(0));
  std::vector<RankBatch> groups;
  for (uint64_t u = 0; u < 8; ++u) groups.push_back(make_batch(1, n, 100 + u, mixed));
  std::vector<float> out(n);
  size_t i = 0;
  for (auto _ : state) {
    m.score(groups[i], out);
    benchmark::DoNotOptimize(out.data());
    i = (i + 1) % groups.size();
  }
  state.counters["rows"] = static_cast<double>(n);
}

void BM_DeepfmScoreOneGroup(benchmark::State& state) { run(state, false); }
void BM_DeepfmScoreMixedGroup(benchmark::State& state) { run(state, true); }

BENCHMARK(BM_DeepfmScoreOneGroup)->ArgName("rows")->Arg(1000)->Arg(100)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_DeepfmScoreMixedGroup)->ArgName("rows")->Arg(1000)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
