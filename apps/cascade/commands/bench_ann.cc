// cascade bench ann [--data PATH --dataset NAME --channels ials,two_tower,sasrec]
//                   [--synthetic 100000,1000000] --json OUT.json
// HNSW against exact inner-product search over item vectors: recall of HNSW's top-k against
// the exact top-k, and single-query latency (one thread, median and p99 over the queries),
// for the item vectors of vector channels fitted on a real dataset (queries = its users'
// vectors) and for
// synthetic catalogues (clustered vectors with log-normal norms, like factor-model items).
#include <faiss/IndexFlat.h>
#include <fmt/format.h>
#include <omp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>
#include <cmath>
#include <random>

#include "cascade/ann/ann_index.h"
#include "cascade/core/error.h"
#include "cascade/io/artifact.h"
#include "cascade/util/percentile.h"
#include "cascade/util/stopwatch.h"
#include "cli_common.h"
#include "commands.h"

namespace cascade::cli {

namespace {


struct AnnBenchOpts {
  DataFlags data;
  std::vector<uint32_t> synthetic = {100000, 1000000};
  uint32_t dim = 64;
  uint32_t queries = 1000;
  std::vector<size_t> ks = {10, 100};
  int m = 32;
  int ef_construction = 200;
  std::vector<int> ef_search = {64, 128, 256};
  int threads = 0;
  std::string metric = "ip";
  std::vector<std::string> channels = {"ials"};
  uint64_t seed = 42;
  std::string json;
};

struct VectorSet {
  std::string name;
  std::vector<float> items;    // n x dim
  std::vector<float> queries;  // q x dim
  uint32_t n = 0, dim = 0, q = 0;
};

// Factor-model-like vectors: a 16-dimensional latent point (one of 256 cluster centres plus
// noise) mapped to `dim` dimensions by a fixed random projection, plus a little isotropic
// noise; items get a log-normal length (popular items have longer vectors in inner-product
// models). Learned embeddings have a low intrinsic dimension like this; i.i.d. Gaussian
// vectors in 64-D would be a much harder (and unrealistic) case for any graph index.
VectorSet synthetic_set(uint32_t n, uint32_t dim, uint32_t q, uint64_t seed) {
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

// Item vectors of one vector channel of the default config (iALS, Two-Tower, SASRec) fitted
// on a real dataset; queries are the vectors of the first `q` users (their training rows).
VectorSet dataset_set(const Dataset& ds, ChannelSpec spec, uint32_t q, int threads, uint64_t seed) {
  const std::string channel = spec.name;
  spec.ann.reset();
  FittedChannel fc = fit_channel(spec, ds, ds.train, threads, seed);
  const ItemVectorsView v = fc.model->item_vectors();
  VectorSet s;
  s.name = ds.name + "-" + channel;
  s.n = v.rows;
  s.dim = v.dim;
  s.items.assign(v.data, v.data + static_cast<size_t>(v.rows) * v.dim);
  s.q = std::min<uint32_t>(q, ds.n_users);
  s.queries.resize(static_cast<size_t>(s.q) * s.dim);
  for (uint32_t u = 0; u < s.q; ++u) {
    UserQuery uq{u, ds.train.row(u), ds.train.row_values(u)};
    CASCADE_CHECK(fc.model->user_vector(uq, std::span<float>(s.queries.data() + static_cast<size_t>(u) * s.dim, s.dim)),
                  fmt::format("bench ann: channel '{}' has no user vectors", channel));
  }
  return s;
}

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

nlohmann::ordered_json bench_set(const VectorSet& s, const AnnBenchOpts& o) {
  nlohmann::ordered_json out;
  out["items"] = s.n;
  out["dim"] = s.dim;
  out["queries"] = s.q;
  const size_t kmax = *std::max_element(o.ks.begin(), o.ks.end());

  // Ground truth: exact search of every query (batched, all threads).
  AnnOptions exact_opt;
  exact_opt.kind = "exact";
  AnnIndex exact(s.items.data(), s.n, s.dim, exact_opt);
  std::vector<std::vector<ScoredItem>> truth(s.q);
  omp_set_num_threads(1);  // latency is measured single-threaded
  auto exact_lat = latency_ms(s.q, [&](uint32_t i) {
    truth[i] = exact.search(std::span<const float>(s.queries.data() + static_cast<size_t>(i) * s.dim, s.dim), kmax);
  });
  out["exact"] = {{"p50_ms", exact_lat.first}, {"p99_ms", exact_lat.second}};
  spdlog::info("{}: exact search p50 {:.3f} ms", s.name, exact_lat.first);

  AnnOptions h;
  h.kind = "hnsw";
  h.m = o.m;
  h.ef_construction = o.ef_construction;
  h.threads = o.threads;
  h.metric = o.metric;
  Stopwatch build;
  AnnIndex hnsw(s.items.data(), s.n, s.dim, h);  // not const: efSearch is swept below
  const double build_s = build.seconds();
  out["hnsw"] = {{"metric", o.metric}, {"m", o.m}, {"ef_construction", o.ef_construction}, {"build_seconds", build_s},
                 {"build_threads", o.threads}};
  spdlog::info("{}: HNSW (M {}, efConstruction {}) built in {:.2f} s", s.name, o.m,
               o.ef_construction, build_s);
  for (int ef : o.ef_search) {
    hnsw.set_ef_search(ef);  // one graph serves every efSearch value
    nlohmann::ordered_json row;
    std::vector<std::vector<ScoredItem>> got(s.q);
    omp_set_num_threads(1);
    auto lat = latency_ms(s.q, [&](uint32_t i) {
      got[i] = hnsw.search(std::span<const float>(s.queries.data() + static_cast<size_t>(i) * s.dim, s.dim),
                           kmax);
    });
    row["ef_search"] = ef;
    row["p50_ms"] = lat.first;
    row["p99_ms"] = lat.second;
    for (size_t k : o.ks) {
      size_t hits = 0, total = 0;
      for (uint32_t i = 0; i < s.q; ++i) {
        const size_t kk = std::min(k, truth[i].size());
        for (size_t a = 0; a < kk; ++a) {
          for (size_t b = 0; b < std::min(k, got[i].size()); ++b) {
            if (got[i][b].item == truth[i][a].item) {
              ++hits;
              break;
            }
          }
        }
        total += kk;
      }
      row[fmt::format("recall@{}", k)] = total ? static_cast<double>(hits) / total : 0.0;
    }
    spdlog::info("{}: efSearch {} -> recall@{} {:.4f}, p50 {:.3f} ms", s.name, ef, o.ks.front(),
                 row[fmt::format("recall@{}", o.ks.front())].get<double>(), lat.first);
    out["hnsw"]["search"].push_back(row);
  }
  return out;
}

}  // namespace

void add_bench_ann(CLI::App* bench) {
  auto o = std::make_shared<AnnBenchOpts>();
  CLI::App* cmd = bench->add_subcommand("ann", "HNSW vs exact search: recall and latency per query");
  o->data.add_to(cmd);
  // The real-data catalogue is optional here: synthetic catalogues need no data.
  cmd->get_option("--data")->required(false);
  cmd->get_option("--dataset")->required(false);
  cmd->add_option("--channels", o->channels, "with --data: vector channels whose item vectors are indexed")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->capture_default_str();
  cmd->add_option("--synthetic", o->synthetic, "synthetic catalogue sizes (0 = none)")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->capture_default_str();
  cmd->add_option("--dim", o->dim, "synthetic vector dimension")->capture_default_str()->check(CLI::Range(1u, 4096u));
  cmd->add_option("--queries", o->queries, "queries per catalogue")->capture_default_str()->check(CLI::Range(1u, 1000000u));
  cmd->add_option("--k", o->ks, "recall cut-offs")->delimiter(',')->allow_extra_args(false)->capture_default_str();
  cmd->add_option("--m", o->m, "HNSW M")->capture_default_str()->check(CLI::Range(2, 512));
  cmd->add_option("--ef-construction", o->ef_construction, "HNSW efConstruction")->capture_default_str();
  cmd->add_option("--ef-search", o->ef_search, "HNSW efSearch values")->delimiter(',')->allow_extra_args(false)->capture_default_str();
  cmd->add_option("--threads", o->threads, "index build threads (0 = hardware); searches use one")->capture_default_str();
  cmd->add_option("--metric", o->metric, "HNSW graph metric: ip, or l2 over the MIPS reduction")
      ->check(CLI::IsMember({"ip", "l2"}))
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "seed of the synthetic vectors")->capture_default_str();
  cmd->add_option("--json", o->json, "write the results here");
  cmd->callback([o] {
    CASCADE_CHECK(!o->ks.empty(), "bench ann: --k needs at least one cut-off");
    for (size_t k : o->ks) CASCADE_CHECK(k > 0, "bench ann: --k values must be > 0");
    nlohmann::ordered_json out;
    out["machine_threads"] = omp_get_num_procs();
    out["catalogues"] = nlohmann::ordered_json::object();
    const int saved = omp_get_max_threads();
    if (!o->data.data.empty()) {
      const DataSource src = o->data.to_source();
      Dataset ds = prepare_dataset(load_dataset(src.dataset, src.path, src.load), src.tag, src.prepare);
      const auto specs = channel_specs_from_yaml(load_config({})["recall"]["channels"]);
      for (const ChannelSpec& spec : select_channels(specs, o->channels)) {
        VectorSet s = dataset_set(ds, spec, o->queries, o->threads, o->seed);
        out["catalogues"][s.name] = bench_set(s, *o);
      }
    }
    for (uint32_t n : o->synthetic) {
      if (n == 0) continue;
      VectorSet s = synthetic_set(n, o->dim, o->queries, o->seed);
      out["catalogues"][s.name] = bench_set(s, *o);
    }
    omp_set_num_threads(saved);
    const std::string text = out.dump(2);
    fmt::print("{}\n", text);
    if (!o->json.empty()) write_file_atomic(o->json, text + "\n");
  });
}

}  // namespace cascade::cli
