// Per-request cost of the serving funnel on a real bundle, one thread:
//   CASCADE_BUNDLE=/path/to/bundle ./build/release/recommend_bench
// BM_Recommend: the whole /recommend funnel (recall -> features -> pre-rank -> fine-rank ->
// re-rank) for users taken round-robin; BM_ChannelTopN/<c>: one recall channel's top-quota.
// Without CASCADE_BUNDLE the benchmarks are skipped (they need a trained bundle).
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <cstdlib>
#include <memory>

#include "cascade/pipeline/recommender.h"

namespace {

std::shared_ptr<const cascade::Recommender> recommender() {
  static std::shared_ptr<const cascade::Recommender> rec = [] {
    const char* dir = std::getenv("CASCADE_BUNDLE");
    if (!dir) return std::shared_ptr<const cascade::Recommender>();
    Eigen::setNbThreads(1);
    return std::make_shared<const cascade::Recommender>(cascade::Bundle::load(dir));
  }();
  return rec;
}

void BM_Recommend(benchmark::State& state) {
  auto rec = recommender();
  if (!rec) return state.SkipWithError("set CASCADE_BUNDLE to a bundle directory");
  const auto& ds = rec->bundle().data();
  size_t u = 0;
  cascade::StageLatency sum;
  for (auto _ : state) {
    cascade::RecommendRequest r;
    r.user = ds.user_ids[u++ % ds.n_users];
    r.k = 10;
    const auto resp = rec->recommend(r);
    sum.recall_ms += resp.latency.recall_ms;
    sum.features_ms += resp.latency.features_ms;
    sum.pre_rank_ms += resp.latency.pre_rank_ms;
    sum.fine_rank_ms += resp.latency.fine_rank_ms;
    sum.rerank_ms += resp.latency.rerank_ms;
  }
  // Mean wall time per stage (ms).
  const double n = static_cast<double>(state.iterations());
  state.counters["recall_ms"] = sum.recall_ms / n;
  state.counters["features_ms"] = sum.features_ms / n;
  state.counters["pre_ms"] = sum.pre_rank_ms / n;
  state.counters["fine_ms"] = sum.fine_rank_ms / n;
  state.counters["rerank_ms"] = sum.rerank_ms / n;
}
BENCHMARK(BM_Recommend)->Unit(benchmark::kMicrosecond);

void BM_ChannelTopN(benchmark::State& state) {
  auto rec = recommender();
  if (!rec) return state.SkipWithError("set CASCADE_BUNDLE to a bundle directory");
  const auto& b = rec->bundle();
  const auto c = static_cast<size_t>(state.range(0));
  if (c >= b.channels().size()) return state.SkipWithError("no such channel");
  state.SetLabel(b.channel_names()[c]);
  const auto& ds = b.data();
  const size_t quota = b.fusion().quotas.empty() ? 500 : b.fusion().quotas[c];
  uint32_t u = 0;
  for (auto _ : state) {
    const uint32_t user = u++ % ds.n_users;
    cascade::UserQuery q;
    q.user = user;
    q.history = ds.train.row(user);
    benchmark::DoNotOptimize(b.channels()[c]->top_n(q, quota));
  }
}
BENCHMARK(BM_ChannelTopN)->DenseRange(0, 7)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
