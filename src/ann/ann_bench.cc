#include "cascade/ann/ann_bench.h"

#include <fmt/format.h>
#include <omp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <span>

#include "cascade/ann/ann_index.h"
#include "cascade/core/error.h"
#include "cascade/eval/metrics.h"
#include "cascade/util/percentile.h"
#include "cascade/util/stopwatch.h"
#include "nn/eigen_threads.h"

namespace cascade {
namespace {

using Json = nlohmann::ordered_json;

// Per-query latency of `search` in ms (one query at a time), median and p99.
template <class F>
std::pair<double, double> latency_ms(uint32_t q, F&& search) {
  std::vector<double> ms(q);
  for (uint32_t i = 0; i < q; ++i) {
    Stopwatch sw;
    search(i);
    ms[i] = sw.ms();
  }
  return {percentile(ms, 0.5), percentile(ms, 0.99)};
}

std::vector<ItemId> ids(const std::vector<ScoredItem>& list, size_t k) {
  std::vector<ItemId> out;
  for (size_t i = 0; i < std::min(k, list.size()); ++i) out.push_back(list[i].item);
  return out;
}

// The share of all queries' exact top-k items that HNSW's top-k found. Each query's Recall@k
// (src/eval) times its truth size is its hit count (rounded back to the integer it is), so the
// pooled share is exact; it equals the mean Recall@k unless the catalogue holds fewer than k.
double recall_vs_exact(const std::vector<std::vector<ScoredItem>>& truth,
                       const std::vector<std::vector<ScoredItem>>& got, size_t k) {
  double hits = 0;
  size_t total = 0;
  for (size_t i = 0; i < truth.size(); ++i) {
    const std::vector<ItemId> relevant = ids(truth[i], k);
    hits += std::round(recall_at(ids(got[i], k), relevant, k) * static_cast<double>(relevant.size()));
    total += relevant.size();
  }
  return total ? hits / static_cast<double>(total) : 0.0;
}

Json bench_catalogue(const VectorSet& s, const AnnBenchOptions& o) {
  Json out;
  out["items"] = s.n;
  out["dim"] = s.dim;
  out["queries"] = s.q;
  const size_t kmax = *std::max_element(o.ks.begin(), o.ks.end());
  const auto query = [&](uint32_t i) {
    return std::span<const float>(s.queries.data() + static_cast<size_t>(i) * s.dim, s.dim);
  };

  // Ground truth: exact search of every query, timed like HNSW's.
  AnnOptions exact_opt;
  exact_opt.kind = "exact";
  const AnnIndex exact(s.items.data(), s.n, s.dim, exact_opt);
  std::vector<std::vector<ScoredItem>> truth(s.q);
  std::pair<double, double> exact_lat;
  {
    // Latency is measured single-threaded: FAISS would otherwise spread one query over OpenMP
    // threads. The guard the neural rankers keep Eigen on one thread with serves here too.
    const nn::SingleThreadedEigen one;
    exact_lat = latency_ms(s.q, [&](uint32_t i) { truth[i] = exact.search(query(i), kmax); });
  }
  out["exact"] = {{"p50_ms", exact_lat.first}, {"p99_ms", exact_lat.second}};
  spdlog::info("{}: exact search p50 {:.3f} ms", s.name, exact_lat.first);

  AnnOptions h;
  h.kind = "hnsw";
  h.m = o.m;
  h.ef_construction = o.ef_construction;
  h.threads = o.threads;
  h.metric = o.metric;
  const Stopwatch build;
  AnnIndex hnsw(s.items.data(), s.n, s.dim, h);  // not const: efSearch is swept below
  const double build_s = build.seconds();
  out["hnsw"] = {{"metric", o.metric}, {"m", o.m}, {"ef_construction", o.ef_construction}, {"build_seconds", build_s},
                 {"build_threads", o.threads}};
  spdlog::info("{}: HNSW (M {}, efConstruction {}) built in {:.2f} s", s.name, o.m, o.ef_construction, build_s);
  const nn::SingleThreadedEigen one;
  for (int ef : o.ef_search) {
    hnsw.set_ef_search(ef);  // one graph serves every efSearch value
    std::vector<std::vector<ScoredItem>> got(s.q);
    const auto lat = latency_ms(s.q, [&](uint32_t i) { got[i] = hnsw.search(query(i), kmax); });
    Json row;
    row["ef_search"] = ef;
    row["p50_ms"] = lat.first;
    row["p99_ms"] = lat.second;
    for (size_t k : o.ks) row[fmt::format("recall@{}", k)] = recall_vs_exact(truth, got, k);
    spdlog::info("{}: efSearch {} -> recall@{} {:.4f}, p50 {:.3f} ms", s.name, ef, o.ks.front(),
                 row[fmt::format("recall@{}", o.ks.front())].get<double>(), lat.first);
    out["hnsw"]["search"].push_back(row);
  }
  return out;
}

}  // namespace

// Factor-model-like vectors: a 16-dimensional latent point (one of 256 cluster centres plus
// noise) mapped to `dim` dimensions by a fixed random projection, plus a little isotropic
// noise; items get a log-normal length (popular items have longer vectors in inner-product
// models). Learned embeddings have a low intrinsic dimension like this; i.i.d. Gaussian
// vectors in 64-D would be a much harder (and unrealistic) case for any graph index.
VectorSet synthetic_vector_set(uint32_t n, uint32_t dim, uint32_t q, uint64_t seed) {
  VectorSet s;
  s.name = fmt::format("synthetic-{}", n);
  s.n = n;
  s.dim = dim;
  s.q = q;
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.f, 1.f);
  std::lognormal_distribution<float> norm(0.f, 0.35f);
  const uint32_t latent = 16, clusters = 256;
  std::vector<float> centres(static_cast<size_t>(clusters) * latent);
  for (float& x : centres) x = g(rng);
  std::vector<float> proj(static_cast<size_t>(dim) * latent);
  for (float& x : proj) x = g(rng) / std::sqrt(static_cast<float>(latent));
  std::uniform_int_distribution<uint32_t> pick(0, clusters - 1);
  std::vector<float> z(latent);
  auto draw = [&](float* out, float scale) {
    const float* c = centres.data() + static_cast<size_t>(pick(rng)) * latent;
    for (uint32_t l = 0; l < latent; ++l) z[l] = c[l] + 0.5f * g(rng);
    for (uint32_t j = 0; j < dim; ++j) {
      float v = 0.1f * g(rng);
      for (uint32_t l = 0; l < latent; ++l) v += proj[static_cast<size_t>(j) * latent + l] * z[l];
      out[j] = scale * v;
    }
  };
  s.items.resize(static_cast<size_t>(n) * dim);
  for (uint32_t i = 0; i < n; ++i) draw(s.items.data() + static_cast<size_t>(i) * dim, norm(rng));
  s.queries.resize(static_cast<size_t>(q) * dim);
  for (uint32_t i = 0; i < q; ++i) draw(s.queries.data() + static_cast<size_t>(i) * dim, 1.f);
  return s;
}

nlohmann::ordered_json run_ann_bench(const AnnBenchOptions& opt, const std::vector<VectorSet>& given) {
  CASCADE_CHECK(!opt.ks.empty(), "bench ann: --k needs at least one cut-off");
  for (size_t k : opt.ks) CASCADE_CHECK(k > 0, "bench ann: --k values must be > 0");
  Json out;
  out["machine_threads"] = omp_get_num_procs();
  out["catalogues"] = Json::object();
  for (const VectorSet& s : given) out["catalogues"][s.name] = bench_catalogue(s, opt);
  for (uint32_t n : opt.synthetic) {
    if (n == 0) continue;
    const VectorSet s = synthetic_vector_set(n, opt.dim, opt.queries, opt.seed);
    out["catalogues"][s.name] = bench_catalogue(s, opt);
  }
  return out;
}

}  // namespace cascade
