// The C++ side of the Python call overhead (bench/python/recommend_overhead.py times
// Channel.recommend(user, k=10) from Python): one channel's top-10 for one user, histories
// masked, users round-robin — exactly the library call the binding makes per user.
//   CASCADE_DATA=data/ml-latest-small [CASCADE_DATASET=ml-latest-small]
//   ./build/release/channel_recommend_bench --benchmark_repetitions=5
// Channels: ials (factors 64, the registry's defaults otherwise) and popularity, fitted once on
// the seed-loo training split with seed 42 and one thread.
#include <benchmark/benchmark.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <string>

#include "cascade/data/dataset.h"
#include "cascade/data/loaders.h"
#include "cascade/recall/recaller.h"

namespace {

const cascade::Dataset* dataset() {
  static std::unique_ptr<cascade::Dataset> ds = []() -> std::unique_ptr<cascade::Dataset> {
    const char* dir = std::getenv("CASCADE_DATA");
    if (!dir) return nullptr;
    spdlog::set_level(spdlog::level::warn);  // fit progress would go into --benchmark_format=json
    const char* name = std::getenv("CASCADE_DATASET");
    const std::string loader = name ? name : "ml-latest-small";
    return std::make_unique<cascade::Dataset>(
        cascade::prepare_dataset(cascade::load_dataset(loader, dir, {}), loader, cascade::PrepareOptions{}));
  }();
  return ds.get();
}

std::shared_ptr<cascade::Recaller> fitted(const std::string& spec) {
  const cascade::Dataset* ds = dataset();
  auto model = std::shared_ptr<cascade::Recaller>(cascade::make_recaller(spec));
  cascade::FitInput in{ds->train, ds->catalog, 1, 42, &ds->valid, ds->content_hash};
  model->fit(in);
  return model;
}

void run(benchmark::State& state, const std::string& spec) {
  const cascade::Dataset* ds = dataset();
  if (!ds) return state.SkipWithError("set CASCADE_DATA to a dataset directory");
  static std::map<std::string, std::shared_ptr<cascade::Recaller>> models;
  if (!models.count(spec)) models[spec] = fitted(spec);
  const cascade::Recaller& model = *models[spec];
  uint32_t u = 0;
  for (auto _ : state) {
    cascade::UserQuery q;
    q.user = u;
    q.history = ds->train.row(u);
    auto top = model.top_n(q, 10);
    benchmark::DoNotOptimize(top.data());
    u = (u + 1) % ds->n_users;
  }
}

void BM_ChannelRecommend_ials(benchmark::State& state) { run(state, "ials:factors=64,threads=1"); }
void BM_ChannelRecommend_popularity(benchmark::State& state) { run(state, "popularity"); }
BENCHMARK(BM_ChannelRecommend_ials)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ChannelRecommend_popularity)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
