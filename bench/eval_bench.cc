// Evaluator throughput: one channel over every seed-loo test user of ML-100K (~940 users,
// 1447 items), K = {10, 200}, with two cheap channels — popularity (the cost is the
// evaluator's own: masking, top-k, metrics) and a 64-factor dot product (a realistic
// scoring cost). Falls back to a synthetic log of the same shape when ../shared is absent.
//
//   build-x/eval_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>

#include "cascade/data/dataset.h"
#include "cascade/data/loaders.h"
#include "cascade/data/synth.h"
#include "cascade/eval/evaluator.h"
#include "cascade/recall/recaller.h"

namespace cascade {
namespace {

/// Fixed random user and item factors (n x 64): score = <user, item>. Only for timing.
class DotModel : public Recaller {
 public:
  static constexpr uint32_t kDim = 64;
  DotModel(uint32_t n_users, uint32_t n_items) : n_users_(n_users), n_items_(n_items) {
    std::mt19937 rng(1);
    std::normal_distribution<float> g(0.0f, 0.1f);
    users_.resize(static_cast<size_t>(n_users) * kDim);
    items_.resize(static_cast<size_t>(n_items) * kDim);
    for (float& x : users_) x = g(rng);
    for (float& x : items_) x = g(rng);
  }
  std::string kind() const override { return "bench_dot"; }
  void fit(const FitInput&) override {}
  void score(const UserQuery& q, std::span<float> out) const override {
    const float* u = users_.data() + static_cast<size_t>(q.user % n_users_) * kDim;
    for (uint32_t i = 0; i < n_items_; ++i) {
      const float* v = items_.data() + static_cast<size_t>(i) * kDim;
      float s = 0;
      for (uint32_t d = 0; d < kDim; ++d) s += u[d] * v[d];
      out[i] = s;
    }
  }
  ItemVectorsView item_vectors() const override { return {items_.data(), n_items_, kDim}; }
  Params params() const override { return Params(); }
  void save(const std::filesystem::path&) const override {}
  void load(const std::filesystem::path&) override {}
  uint32_t n_items() const override { return n_items_; }

 private:
  uint32_t n_users_, n_items_;
  std::vector<float> users_, items_;
};

const Dataset& dataset() {
  static const Dataset ds = [] {
    const std::filesystem::path dir =
        std::filesystem::path(CASCADE_SOURCE_DIR) / ".." / "shared" / "data" / "ml-100k";
    RawLog log;
    if (std::filesystem::exists(dir / "u.data")) {
      log = load_ml100k(dir.string());
    } else {
      std::fprintf(stderr, "eval_bench: %s not found, using a synthetic log\n", dir.c_str());
      SynthOptions so;
      so.users = 940;
      so.items = 1450;
      so.interactions = 100000;
      log = synth_log(so);
    }
    return prepare_dataset(log, "ml-100k", PrepareOptions{});
  }();
  return ds;
}

void run(benchmark::State& state, const Recaller& model, bool ils) {
  const Dataset& ds = dataset();
  EvalOptions opt;
  opt.ks = {10, 200};
  opt.threads = static_cast<int>(state.range(0));
  if (ils) opt.ils_vectors = model.item_vectors();
  EvalResult r;
  for (auto _ : state) {
    r = evaluate(model, ds.train, ds.test, opt);
    benchmark::DoNotOptimize(r.summary);
  }
  state.counters["users"] = static_cast<double>(r.users.size());
  state.counters["items"] = ds.n_items;
  state.counters["recall@10"] = r.summary.at("recall@10");
  state.counters["eval_s"] = r.seconds;
}

void BM_EvalPopularity(benchmark::State& state) {
  static const std::unique_ptr<Recaller> model = [] {
    auto m = make_recaller("popularity");
    FitInput in{dataset().train, dataset().catalog, 1, 42, nullptr, ""};
    m->fit(in);
    return m;
  }();
  run(state, *model, false);
}
BENCHMARK(BM_EvalPopularity)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

void BM_EvalDot64(benchmark::State& state) {
  static const DotModel model(dataset().n_users, dataset().n_items);
  run(state, model, false);
}
BENCHMARK(BM_EvalDot64)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

void BM_EvalDot64WithIls(benchmark::State& state) {
  static const DotModel model(dataset().n_users, dataset().n_items);
  run(state, model, true);
}
BENCHMARK(BM_EvalDot64WithIls)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace cascade

BENCHMARK_MAIN();
