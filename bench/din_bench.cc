// Serving latency of the DIN ranker (Google Benchmark).
//
//   din_bench --benchmark_repetitions=10 --benchmark_report_aggregates_only=true
//
// Acceptance figure: score() of 100 candidates of ONE request group with a 50-item history
// in <= 1 ms median on one thread (BM_DinScore/default).
//
// Data: random, shaped like the real pipeline's rank features: categorical fields user (944),
// item (n_items + 1 = 1701), gender (3), age (8), occupation (22), year bucket (6),
// popularity bucket (11); 60 dense columns, a third of them missing (NaN) 30% of the time;
// max_history 50. The model is fitted for one epoch on 60 groups x 100 rows (latency does
// not depend on quality). 16 different groups (100 candidates, 50-item history, the
// candidates' own items sometimes in the history) are scored in turn.
//
// BM_DinScore/<variant>: the default parameters, and smaller/larger variants to show where
// the time goes (the attention unit dominates: candidates x history x (4 dim x a1 -> split
// into dim x a1) multiply-adds).
//
// Measured (median of 15 repetitions, shared 2-core Xeon 2.1 GHz, load average ~2.3):
//   variant                         CASCADE_NATIVE=OFF (SSE2)   ON (AVX-512)
//   default (dim 16, att 16-8, head 64-32)       556 us              316 us
//   dim 32, att 32-16, head 128-64              1713 us              545 us
// Under load ~6-7 the OFF default measured 730 us of CPU but 2.3 ms of wall time (preempted).
// AMD EPYC 2-core, AVX2 and no AVX-512 (stop 34, median of 3 repetitions per run): default
// 288 us with Eigen's SSE2 pair loops, 206-219 us with the AVX2 ones (rank/din_simd.h).
#include <benchmark/benchmark.h>

#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cascade/rank/ranker.h"

namespace {

using cascade::RankBatch;

constexpr uint32_t kItems = 1700;
constexpr uint32_t kDense = 60;
constexpr uint32_t kHistory = 50;
constexpr uint32_t kCandidates = 100;

cascade::FeatureSchema bench_schema() {
  cascade::FeatureSchema s;
  for (uint32_t d = 0; d < kDense; ++d) s.dense.push_back("d" + std::to_string(d));
  s.fields = {{"user", 944}, {"item", kItems + 1}, {"gender", 3}, {"age", 8},
              {"occupation", 22}, {"year", 6}, {"popularity", 11}};
  s.n_items = kItems;
  s.max_history = kHistory;
  return s;
}

// `groups` random groups of `rows` candidates each, full histories.
cascade::RankTrainSet random_set(uint32_t groups, uint32_t rows, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal;
  std::uniform_real_distribution<float> unif;
  cascade::RankTrainSet t;
  RankBatch& b = t.batch;
  b.schema = bench_schema();
  for (uint32_t g = 0; g < groups; ++g) {
    for (uint32_t k = 0; k < kHistory; ++k) b.history.push_back(gen() % kItems);
    const uint32_t user = 1 + gen() % 943, gender = 1 + gen() % 2, age = 1 + gen() % 7, occ = 1 + gen() % 21;
    for (uint32_t r = 0; r < rows; ++r) {
      const uint32_t item = r % 10 == 0 ? b.history[b.history.size() - 1 - r / 10] : gen() % kItems;
      b.items.push_back(item);
      t.labels.push_back(unif(gen) < 0.1f ? 1.f : 0.f);
      b.cats.insert(b.cats.end(), {user, item + 1, gender, age, occ, 1 + static_cast<uint32_t>(gen() % 5),
                                   1 + static_cast<uint32_t>(gen() % 10)});
      for (uint32_t d = 0; d < kDense; ++d) {
        b.dense.push_back(d % 3 == 0 && unif(gen) < 0.3f ? std::numeric_limits<float>::quiet_NaN() : normal(gen));
      }
    }
    b.group_begin.push_back(static_cast<uint32_t>(b.items.size()));
    b.hist_begin.push_back(static_cast<uint32_t>(b.history.size()));
    b.group_user.push_back(user);
  }
  t.validate();
  return t;
}

const std::map<std::string, std::string>& variants() {
  static const std::map<std::string, std::string> v = {
      {"default", "din"},  // dim 16, att_hidden 16-8, hidden 64-32
      {"att16", "din:att_hidden=16"},
      {"d32_a32-16_h128-64", "din:dim=32,att_hidden=32-16,hidden=128-64"},
      {"sum", "din:pooling=sum"},
  };
  return v;
}

const cascade::Ranker& model(const std::string& variant) {
  static std::map<std::string, std::unique_ptr<cascade::Ranker>> cache;
  auto& slot = cache[variant];
  if (!slot) {
    slot = cascade::make_ranker(variants().at(variant) + (variant == "default" ? ":" : ",") + "epochs=1");
    static const cascade::RankTrainSet train = random_set(60, kCandidates, 1);
    cascade::RankFitOptions opt;
    opt.threads = 1;
    slot->fit(train, opt);
  }
  return *slot;
}

void BM_DinScore(benchmark::State& state, const std::string& variant) {
  const auto& m = model(variant);
  static const cascade::RankTrainSet requests = random_set(16, kCandidates, 2);
  std::vector<RankBatch> groups;
  for (size_t g = 0; g < requests.batch.groups(); ++g) groups.push_back(requests.batch.slice_groups(g, g + 1));
  std::vector<float> out(kCandidates);
  size_t g = 0;
  for (auto _ : state) {
    m.score(groups[g], out);
    benchmark::DoNotOptimize(out.data());
    g = (g + 1) % groups.size();
  }
  state.counters["candidates"] = kCandidates;
  state.counters["history"] = kHistory;
}

BENCHMARK_CAPTURE(BM_DinScore, default, std::string("default"))->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_DinScore, att16, std::string("att16"))->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_DinScore, d32_a32_16_h128_64, std::string("d32_a32-16_h128-64"))->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_DinScore, sum, std::string("sum"))->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
