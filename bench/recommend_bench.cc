// Per-request cost of the serving funnel on a real bundle, one thread:
//   CASCADE_BUNDLE=/path/to/bundle ./build/release/recommend_bench
// (CASCADE_FAST_PATHS=0 runs the straightforward computations the fast paths replace.)
// BM_Recommend: the whole /recommend funnel (recall -> features -> pre-rank -> fine-rank ->
// re-rank) for users taken round-robin; BM_ChannelTopN/<c>: one recall channel's top-quota.
// Without CASCADE_BUNDLE the benchmarks are skipped (they need a trained bundle).
//
// The served lists, for checking that an optimisation changes no answer:
//   CASCADE_BUNDLE=/path/to/bundle ./build/release/recommend_bench --dump=lists.jsonl
// writes, through the server's own /recommend handler (in-process feature store), one JSON line
// per request: every user with k=10, every user with k=20 and explain, every 10th user again
// with three live events (fixed timestamps, so the request time is fixed too), and one unknown
// user; each answer without its latency_ms. Two dumps are compared with `cmp` (or diff).
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <Eigen/Core>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cascade/pipeline/recommender.h"
#include "cascade/util/fast_paths.h"
#include "serve/handlers.h"

namespace {

// Never destroyed: at exit, after XGBoost's own statics are gone, freeing a booster aborts
// (glibc reports an invalid pointer in LearnerConfiguration's destructor).
std::shared_ptr<const cascade::Recommender> recommender() {
  static const auto* rec = new std::shared_ptr<const cascade::Recommender>([] {
    const char* dir = std::getenv("CASCADE_BUNDLE");
    if (!dir) return std::shared_ptr<const cascade::Recommender>();
    Eigen::setNbThreads(1);
    return std::make_shared<const cascade::Recommender>(cascade::Bundle::load(dir));
  }());
  return *rec;
}

void BM_Recommend(benchmark::State& state) {
  auto rec = recommender();
  if (!rec) return state.SkipWithError("set CASCADE_BUNDLE to a bundle directory");
  const auto& ds = rec->bundle().data();
  // Threads start half the users apart, so that they do not ask for the same user at once.
  size_t u = static_cast<size_t>(state.thread_index()) * ds.n_users / 2;
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
// Two requests at a time, as the server on this 2-core host under 4 connections: time is per
// request per thread (the stage counters are each thread's means, summed over the threads).
BENCHMARK(BM_Recommend)->Threads(2)->UseRealTime()->Unit(benchmark::kMicrosecond);

// The /recommend route as the server runs it minus HTTP: parameters, the feature store read
// (in-process, no live events), the funnel and the JSON answer. BM_Handler - BM_Recommend is
// what the route adds around the funnel.
void BM_Handler(benchmark::State& state) {
  auto rec = recommender();
  if (!rec) return state.SkipWithError("set CASCADE_BUNDLE to a bundle directory");
  static const auto* serving = [] {
    auto* st = new std::shared_ptr<const cascade::ServingState>(
        cascade::ServingState::load(std::getenv("CASCADE_BUNDLE")));
    return st;
  }();
  static auto* store = new cascade::FeatureStore(cascade::FeatureStoreOptions{});
  static const cascade::RequestLimits limits;
  cascade::RouteContext ctx;
  ctx.state = *serving;
  ctx.store = store;
  ctx.limits = &limits;
  ctx.started = std::chrono::steady_clock::now();
  const auto& ds = (*serving)->bundle->data();
  size_t u = 0;
  const cascade::QueryParams q{{"k", "10"}};
  for (auto _ : state) {
    benchmark::DoNotOptimize(cascade::handle_recommend(ctx, ds.user_ids[u++ % ds.n_users], q));
  }
}
BENCHMARK(BM_Handler)->Unit(benchmark::kMicrosecond);

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

// Writes the served lists of the bundle at `dir` to `out` (see the header comment).
int dump_lists(const char* dir, const std::string& out_path) {
  using namespace cascade;
  Eigen::setNbThreads(1);
  const auto state = ServingState::load(dir);
  FeatureStore store{FeatureStoreOptions{}};
  const RequestLimits limits;
  RouteContext ctx;
  ctx.state = state;
  ctx.store = &store;
  ctx.limits = &limits;
  ctx.started = std::chrono::steady_clock::now();
  std::ofstream out(out_path);
  const Dataset& ds = state->bundle->data();
  auto emit = [&](const std::string& user, const QueryParams& q) {
    const RouteResponse r = handle_recommend(ctx, user, q);
    auto j = nlohmann::ordered_json::parse(r.body);
    j.erase("latency_ms");
    out << r.status << ' ' << j.dump() << '\n';
  };
  for (size_t u = 0; u < ds.n_users; ++u) emit(ds.user_ids[u], {});
  for (size_t u = 0; u < ds.n_users; ++u) emit(ds.user_ids[u], {{"k", "20"}, {"explain", "true"}});
  for (size_t u = 0; u < ds.n_users; u += 10) {
    for (size_t e = 0; e < 3; ++e) {
      StoredEvent ev;
      ev.item = ds.item_ids[(u * 7 + e * 131) % ds.n_items];
      ev.timestamp = state->bundle->log_clock() + static_cast<int64_t>(100 * (e + 1));
      store.append(ds.user_ids[u], ev);
    }
    emit(ds.user_ids[u], {});
  }
  emit("987654321", {});
  std::cerr << "wrote " << out_path << "\n";
  return out ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  mallopt(M_MMAP_THRESHOLD, 64 << 20);  // as the server does (Server::start)
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  // CASCADE_FAST_PATHS=0: the straightforward computations instead (util/fast_paths.h), for
  // before/after figures taken side by side on the same (busy) machine.
  if (const char* f = std::getenv("CASCADE_FAST_PATHS"); f && std::string(f) == "0")
    cascade::set_fast_paths(false);
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--dump=", 7) == 0) {
      const char* dir = std::getenv("CASCADE_BUNDLE");
      if (!dir) {
        std::cerr << "--dump needs CASCADE_BUNDLE\n";
        return 2;
      }
      return dump_lists(dir, argv[i] + 7);
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
