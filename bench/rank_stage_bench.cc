// Latency of the whole ranking stage for one request (Google Benchmark, one thread):
// features for the pool (FeatureBuilder::add_pool), the pre-ranker (DeepFM) over all of it,
// the fine-ranker (DIN) over the pre-ranker's top 100 — what serving runs after recall.
//
//   rank_stage_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//   CASCADE_BENCH_THREADS=N   threads for the fits (default 2); the measured stage is one thread
//
// Setup (deterministic): a synthetic ML-100K-shaped seed-oof dataset (943 users, 1,682 items,
// 100K interactions), the six channels of configs/recall/default.yaml (neural ones fitted for
// one epoch: latency does not depend on quality), the default feature config (5 similarity
// sources, 50-item history), DeepFM and DIN with default sizes fitted for one epoch on the
// seed-oof training examples. Requests cycle over the users, each with its own fused pool.
//
// BM_RankFeatures/pool:P   features only
// BM_RankStage/pool:P      features + DeepFM over P + DIN over the top 100
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "cascade/data/synth.h"
#include "cascade/pipeline/fused_pool.h"
#include "cascade/pipeline/rank_job.h"
#include "cascade/pipeline/rank_stage.h"
#include "cascade/pipeline/request_time.h"
#include "cascade/rank/features.h"
#include "cascade/rank/ranker.h"
#include "cascade/recall/recaller.h"

namespace {

using namespace cascade;

int bench_threads() {
  const char* t = std::getenv("CASCADE_BENCH_THREADS");
  return t ? std::max(1, std::atoi(t)) : 2;
}

struct Setup {
  Dataset ds;
  Interactions recall;
  std::vector<std::unique_ptr<Recaller>> channels;
  std::vector<const Recaller*> ptrs;
  std::vector<std::string> names;
  std::unique_ptr<FeatureBuilder> fb;
  std::vector<std::vector<FusedCandidate>> pools;  // held-out requests (whole training row), depth 1000
  std::unique_ptr<Ranker> deepfm, din;
  std::vector<uint32_t> users;
  int64_t clock = 0;

  Setup() {
    const int threads = bench_threads();
    SynthOptions so;
    so.users = 943;
    so.items = 1682;
    so.interactions = 100000;
    PrepareOptions po;
    po.protocol = Protocol::kSeedOof;
    po.min_rating = 0;
    ds = synth_dataset(so, po);
    recall = ds.recall_slice();
    const std::vector<std::pair<std::string, std::string>> specs = {
        {"popularity", "popularity"},
        {"content", "content"},
        {"ials", "ials"},
        {"ease", "ease:tune=false"},
        {"two_tower", "two_tower:epochs=1,eval_every=0"},
        {"sasrec", "sasrec:epochs=1,eval_every=0"}};
    for (const auto& [name, spec] : specs) {
      channels.push_back(make_recaller(spec));
      FitInput in{recall, ds.catalog, threads};
      channels.back()->fit(in);
      ptrs.push_back(channels.back().get());
      names.push_back(name);
    }
    FeatureConfig fc;  // the default: 5 similarity sources, 5 recent items, 50-item history
    fb = std::make_unique<FeatureBuilder>(ds.catalog, recall, ptrs, names, fc);
    FusionOptions fo;
    fo.pool_size = 1000;
    const Interactions ranker_rows = ds.ranker_slice(), none;
    PoolCandidates train_pc = collect_candidates(ptrs, names, recall, ranker_rows, none, 500, threads);
    const auto train_pools = fused_pools(train_pc, recall, fo, 200, threads);
    ExampleOptions eo;
    const RankTrainSet ts = build_training_set(*fb, ds, train_pools, eo, threads);
    RankFitOptions rfo;
    rfo.threads = threads;
    deepfm = make_ranker("deepfm:epochs=1");
    deepfm->fit(ts, rfo);
    din = make_ranker("din:epochs=1");
    din->fit(ts, rfo);
    PoolCandidates pc = collect_candidates(ptrs, names, ds.train, ds.valid, ds.test, 500, threads);
    pools = fused_pools(pc, ds.train, fo, 1000, threads);
    for (uint32_t u = 0; u < ds.n_users; ++u) if (pools[u].size() >= 1000) users.push_back(u);
    clock = log_clock(ds.train);
  }

  // A held-out request at serving's request time (request_time.h), as /recommend makes it.
  RankRequest request(uint32_t u) const {
    return RankRequest{u, ds.train.row(u), ds.train.row_times(u), serving_time(clock, ds.train.row_times(u))};
  }
};

const Setup& setup() {
  static const Setup s;
  return s;
}

void BM_RankFeatures(benchmark::State& state) {
  const Setup& s = setup();
  const auto depth = static_cast<size_t>(state.range(0));
  size_t i = 0;
  for (auto _ : state) {
    const uint32_t u = s.users[i++ % s.users.size()];
    RankBatch b = s.fb->empty_batch();
    s.fb->add_pool(s.request(u), std::span<const FusedCandidate>(s.pools[u].data(), depth), b);
    benchmark::DoNotOptimize(b.dense.data());
  }
  state.counters["dense_columns"] = static_cast<double>(s.fb->schema().n_dense());
}

// The one ranking stage the server runs (rank_stage.h): DeepFM over the pool, DIN over its top 100.
void BM_RankStage(benchmark::State& state) {
  const Setup& s = setup();
  const auto depth = static_cast<size_t>(state.range(0));
  size_t i = 0;
  for (auto _ : state) {
    const uint32_t u = s.users[i++ % s.users.size()];
    const RankStageResult r = run_rank_stage(*s.fb, s.request(u), std::span<const FusedCandidate>(s.pools[u].data(), depth),
                                             *s.deepfm, *s.din, RankCuts{100, 20});
    benchmark::DoNotOptimize(r.order.data());
  }
}

BENCHMARK(BM_RankFeatures)->ArgName("pool")->Arg(200)->Arg(1000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RankStage)->ArgName("pool")->Arg(200)->Arg(1000)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
