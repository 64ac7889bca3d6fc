#include "cascade/ann/ann_bench.h"

#include <fmt/format.h>
#include <omp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <ctime>
#include <map>
#include <random>
#include <span>

#include "cascade/ann/ann_index.h"
#include "cascade/core/error.h"
#include "cascade/eval/metrics.h"
#include "cascade/io/artifact.h"
#include "cascade/util/percentile.h"
#include "cascade/util/stopwatch.h"
#include "nn/eigen_threads.h"

namespace cascade {
namespace {

using Json = nlohmann::ordered_json;

// Per-query latency of `search` (one query at a time): wall time, median and p99, and the
// calling thread's CPU time, median and p99. On a machine whose cores are shared with other
// jobs the wall figures include waits for a core; the CPU figures do not (they are the
// development signal under contention, the wall figures the ones to quote from a quiet machine).
struct Latency {
  double p50_ms = 0, p99_ms = 0, cpu_p50_ms = 0, cpu_p99_ms = 0;
};

double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) * 1e-6;
}

template <class F>
Latency latency_ms(uint32_t q, F&& search) {
  std::vector<double> ms(q), cpu(q);
  for (uint32_t i = 0; i < q; ++i) {
    const double c0 = thread_cpu_ms();
    Stopwatch sw;
    search(i);
    ms[i] = sw.ms();
    cpu[i] = thread_cpu_ms() - c0;
  }
  return {percentile(ms, 0.5), percentile(ms, 0.99), percentile(cpu, 0.5), percentile(cpu, 0.99)};
}

Json latency_json(const Latency& l) {
  return {{"p50_ms", l.p50_ms},
          {"p99_ms", l.p99_ms},
          {"cpu_p50_ms", l.cpu_p50_ms},
          {"cpu_p99_ms", l.cpu_p99_ms}};
}

std::span<const float> query_of(const VectorSet& s, uint32_t i) {
  return {s.queries.data() + static_cast<size_t>(i) * s.dim, s.dim};
}

std::vector<ItemId> ids(const std::vector<ScoredItem>& list, size_t k) {
  std::vector<ItemId> out;
  for (size_t i = 0; i < std::min(k, list.size()); ++i) out.push_back(list[i].item);
  return out;
}

// The share of all queries' exact top-k items that the index's top-k found. Each query's Recall@k
// (src/eval) times its truth size is its hit count (rounded back to the integer it is), so the
// pooled share is exact; it equals the mean Recall@k unless the catalogue holds fewer than k.
double recall_vs_exact(const std::vector<std::vector<ScoredItem>>& truth,
                       const std::vector<std::vector<ScoredItem>>& got, size_t k) {
  double hits = 0;
  size_t total = 0;
  for (size_t i = 0; i < truth.size(); ++i) {
    const std::vector<ItemId> relevant = ids(truth[i], k);
    hits +=
        std::round(recall_at(ids(got[i], k), relevant, k) * static_cast<double>(relevant.size()));
    total += relevant.size();
  }
  return total ? hits / static_cast<double>(total) : 0.0;
}

// The exact top-kmax of every query and the exact search's latency; read from / written to
// index_dir when set (the exact scan of a 1M catalogue is a minute of every run).
struct Truth {
  std::vector<std::vector<ScoredItem>> lists;
  Latency latency;
};

std::string vectors_key(const VectorSet& s) {
  return hash_hex(std::string_view(reinterpret_cast<const char*>(s.items.data()),
                                   s.items.size() * sizeof(float))) +
         hash_hex(std::string_view(reinterpret_cast<const char*>(s.queries.data()),
                                   s.queries.size() * sizeof(float)));
}

Truth exact_truth(const VectorSet& s, size_t kmax, const AnnBenchOptions& o) {
  std::filesystem::path cache;
  if (!o.index_dir.empty()) {
    cache = o.index_dir /
            fmt::format("{}-truth-{}.json", s.name,
                        hash_hex(fmt::format("{}|{}", vectors_key(s), kmax)).substr(0, 16));
  }
  Truth t;
  if (!cache.empty() && std::filesystem::exists(cache)) {
    const Json j = Json::parse(read_file(cache));
    for (const auto& ids : j.at("ids")) {
      std::vector<ScoredItem> list;
      for (const auto& id : ids) list.push_back({id.get<ItemId>(), 0.f});
      t.lists.push_back(std::move(list));
    }
    CASCADE_CHECK(t.lists.size() == s.q, fmt::format("{}: holds {} queries, expected {}",
                                                     cache.string(), t.lists.size(), s.q));
    t.latency = {j.at("p50_ms").get<double>(), j.at("p99_ms").get<double>(),
                 j.value("cpu_p50_ms", -1.0), j.value("cpu_p99_ms", -1.0)};
    spdlog::info("{}: exact top-{} read from {}", s.name, kmax, cache.string());
    return t;
  }
  AnnOptions exact_opt;
  exact_opt.kind = "exact";
  const AnnIndex exact(s.items.data(), s.n, s.dim, exact_opt);
  t.lists.resize(s.q);
  {
    // Latency is measured single-threaded: FAISS would otherwise spread one query over OpenMP
    // threads. The guard the neural rankers keep Eigen on one thread with serves here too.
    const nn::SingleThreadedEigen one;
    t.latency =
        latency_ms(s.q, [&](uint32_t i) { t.lists[i] = exact.search(query_of(s, i), kmax); });
  }
  if (!cache.empty()) {
    Json j = latency_json(t.latency);
    j["ids"] = Json::array();
    for (const auto& list : t.lists) j["ids"].push_back(ids(list, kmax));
    std::filesystem::create_directories(o.index_dir);
    write_file_atomic(cache, j.dump() + "\n");
  }
  return t;
}

AnnOptions index_options(const std::string& kind, const AnnBenchOptions& o) {
  AnnOptions a;
  a.kind = kind;
  a.threads = o.threads;
  a.metric = kind == "pruned" ? "ip" : o.metric;  // the pruned scan is exact inner product
  if (kind == "hnsw") {
    a.m = o.m;
    a.ef_construction = o.ef_construction;
  } else {
    a.nlist = o.nlist;
    a.train_size = o.train_size;
    a.quantizer = o.quantizer;
  }
  return a;
}

// Builds the index, or loads the one a previous run saved under index_dir for the same
// vectors and build parameters (search widths and thread counts are not part of the key).
std::unique_ptr<AnnIndex> build_or_load(const VectorSet& s, const AnnOptions& a,
                                        const AnnBenchOptions& o, double& build_s, bool& loaded) {
  std::filesystem::path dir;
  if (!o.index_dir.empty()) {
    std::map<std::string, std::string> params = a.to_map();
    for (const char* k : {"ef_search", "nprobe", "threads"}) params.erase(k);
    const std::string key = hash_hex(Json(params).dump() + vectors_key(s)).substr(0, 16);
    dir = o.index_dir / fmt::format("{}-{}-{}", s.name, a.kind, key);
    if (std::filesystem::exists(dir / "manifest.json") &&
        std::filesystem::exists(dir / "build.json")) {
      auto idx = AnnIndex::load(dir, s.items.data(), s.n, s.dim);
      build_s = Json::parse(read_file(dir / "build.json")).at("build_seconds").get<double>();
      loaded = true;
      spdlog::info("{}: {} index loaded from {} (built in {:.1f} s)", s.name, a.kind, dir.string(),
                   build_s);
      return idx;
    }
  }
  const Stopwatch build;
  auto idx = std::make_unique<AnnIndex>(s.items.data(), s.n, s.dim, a);
  build_s = build.seconds();
  loaded = false;
  spdlog::info("{}: {} index built in {:.2f} s", s.name, a.kind, build_s);
  if (!dir.empty()) {
    idx->save(dir);
    write_file_atomic(dir / "build.json",
                      Json{{"build_seconds", build_s}, {"build_threads", a.threads}}.dump() + "\n");
  }
  return idx;
}

Json bench_index(const VectorSet& s, const std::string& kind, const Truth& truth,
                 const AnnBenchOptions& o) {
  const size_t kmax = *std::max_element(o.ks.begin(), o.ks.end());
  const AnnOptions a = index_options(kind, o);
  double build_s = 0;
  bool loaded = false;
  std::unique_ptr<AnnIndex> index = build_or_load(s, a, o, build_s, loaded);
  Json out;
  if (kind == "pruned") {
    out = Json::object();
  } else if (kind == "hnsw") {
    out = {{"metric", a.metric}, {"m", a.m}, {"ef_construction", a.ef_construction}};
  } else {
    out = {{"metric", a.metric},
           {"nlist", a.nlist},
           {"train_size", a.train_size},
           {"quantizer", a.quantizer}};
  }
  out["build_seconds"] = build_s;
  out["build_threads"] = o.threads;
  out["index_bytes"] = index->index_bytes();
  out["loaded"] = loaded;
  out["search"] = Json::array();
  const char* width_name = kind == "hnsw" ? "ef_search" : "nprobe";
  const nn::SingleThreadedEigen one;
  // The pruned scan is exact and has no search width: one row.
  const std::vector<int> widths = kind == "pruned" ? std::vector<int>{0}
                                  : kind == "hnsw" ? o.ef_search
                                                   : o.nprobe;
  for (int w : widths) {
    // One index serves every width.
    if (kind == "hnsw") {
      index->set_ef_search(w);
    } else if (kind == "ivf") {
      index->set_nprobe(w);
    }
    std::vector<std::vector<ScoredItem>> got(s.q);
    std::vector<double> scored(s.q);  // rows scored per query (the pruned scan reports it)
    const auto lat = latency_ms(s.q, [&](uint32_t i) {
      size_t n = 0;
      got[i] = index->search(query_of(s, i), kmax, {}, &n);
      scored[i] = static_cast<double>(n);
    });
    Json row;
    if (kind == "pruned") {
      // How much of the catalogue a query scored before the length bound stopped it.
      row["rows_scored_p50"] = static_cast<size_t>(percentile(scored, 0.5));
      row["rows_scored_p99"] = static_cast<size_t>(percentile(scored, 0.99));
      row["rows_scored_max"] = static_cast<size_t>(percentile(scored, 1.0));
    } else {
      row[width_name] = w;
    }
    row.update(latency_json(lat));
    for (size_t k : o.ks) row[fmt::format("recall@{}", k)] = recall_vs_exact(truth.lists, got, k);
    const std::string setting =
        kind == "pruned" ? fmt::format("(rows scored: median {})", row["rows_scored_p50"].get<size_t>())
                         : fmt::format("{} {}", width_name, w);
    spdlog::info("{}: {} {} -> recall@{} {:.4f}, p50 {:.3f} ms (CPU {:.3f} ms)", s.name, kind,
                 setting, kmax, row[fmt::format("recall@{}", kmax)].get<double>(), lat.p50_ms,
                 lat.cpu_p50_ms);
    out["search"].push_back(row);
  }
  return out;
}

Json bench_catalogue(const VectorSet& s, const AnnBenchOptions& o) {
  Json out;
  out["items"] = s.n;
  out["dim"] = s.dim;
  out["queries"] = s.q;
  const size_t kmax = *std::max_element(o.ks.begin(), o.ks.end());
  const Truth truth = exact_truth(s, kmax, o);
  out["exact"] = latency_json(truth.latency);
  spdlog::info("{}: exact search p50 {:.3f} ms (CPU {:.3f} ms)", s.name, truth.latency.p50_ms,
               truth.latency.cpu_p50_ms);
  for (const std::string& kind : o.kinds) out[kind] = bench_index(s, kind, truth, o);
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

VectorSet gaussian_vector_set(uint32_t n, uint32_t dim, uint32_t q, uint64_t seed) {
  VectorSet s;
  s.name = fmt::format("gaussian-{}", n);
  s.n = n;
  s.dim = dim;
  s.q = q;
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.f, 1.f);
  s.items.resize(static_cast<size_t>(n) * dim);
  for (float& x : s.items) x = g(rng);
  s.queries.resize(static_cast<size_t>(q) * dim);
  for (float& x : s.queries) x = g(rng);
  return s;
}

namespace {

constexpr char kVectorMagic[8] = {'C', 'A', 'S', 'C', 'V', 'E', 'C', '1'};

template <class T>
void put(std::string& out, const T& v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof(T));
}

}  // namespace

// Layout: magic, u32 n, dim, q, name length, the name, n*dim item floats, q*dim query floats.
void write_vector_set(const VectorSet& s, const std::filesystem::path& path) {
  CASCADE_CHECK(s.items.size() == static_cast<size_t>(s.n) * s.dim &&
                    s.queries.size() == static_cast<size_t>(s.q) * s.dim,
                fmt::format("write_vector_set: {} has inconsistent sizes", s.name));
  std::string out(kVectorMagic, sizeof(kVectorMagic));
  for (uint32_t v : {s.n, s.dim, s.q, static_cast<uint32_t>(s.name.size())}) put(out, v);
  out += s.name;
  out.append(reinterpret_cast<const char*>(s.items.data()), s.items.size() * sizeof(float));
  out.append(reinterpret_cast<const char*>(s.queries.data()), s.queries.size() * sizeof(float));
  write_file_atomic(path, out);
}

VectorSet read_vector_set(const std::filesystem::path& path) {
  const std::string in = read_file(path);
  const size_t header = sizeof(kVectorMagic) + 4 * sizeof(uint32_t);
  CASCADE_CHECK(
      in.size() >= header && std::memcmp(in.data(), kVectorMagic, sizeof(kVectorMagic)) == 0,
      fmt::format("{}: not a vector set (written by bench ann --save-vectors)", path.string()));
  uint32_t h[4];
  std::memcpy(h, in.data() + sizeof(kVectorMagic), sizeof(h));
  VectorSet s;
  s.n = h[0];
  s.dim = h[1];
  s.q = h[2];
  const size_t expect = header + h[3] + (static_cast<size_t>(s.n) + s.q) * s.dim * sizeof(float);
  CASCADE_CHECK(in.size() == expect,
                fmt::format("{}: {} bytes, expected {} for {} items + {} queries x {}",
                            path.string(), in.size(), expect, s.n, s.q, s.dim));
  const char* p = in.data() + header;
  s.name.assign(p, h[3]);
  p += h[3];
  s.items.resize(static_cast<size_t>(s.n) * s.dim);
  std::memcpy(s.items.data(), p, s.items.size() * sizeof(float));
  p += s.items.size() * sizeof(float);
  s.queries.resize(static_cast<size_t>(s.q) * s.dim);
  std::memcpy(s.queries.data(), p, s.queries.size() * sizeof(float));
  return s;
}

nlohmann::ordered_json run_ann_bench(const AnnBenchOptions& opt,
                                     const std::vector<VectorSet>& given) {
  CASCADE_CHECK(!opt.ks.empty(), "bench ann: --k needs at least one cut-off");
  for (size_t k : opt.ks) CASCADE_CHECK(k > 0, "bench ann: --k values must be > 0");
  for (const std::string& kind : opt.kinds) {
    CASCADE_CHECK(kind == "pruned" || kind == "hnsw" || kind == "ivf",
                  fmt::format("bench ann: --kind '{}' is not one of pruned, hnsw, ivf", kind));
  }
  CASCADE_CHECK(opt.synthetic_kind == "clustered" || opt.synthetic_kind == "gaussian",
                fmt::format("bench ann: --synthetic-kind '{}' is not one of clustered, gaussian",
                            opt.synthetic_kind));
  Json out;
  out["machine_threads"] = omp_get_num_procs();
  out["catalogues"] = Json::object();
  for (const VectorSet& s : given) out["catalogues"][s.name] = bench_catalogue(s, opt);
  for (uint32_t n : opt.synthetic) {
    if (n == 0) continue;
    const VectorSet s = opt.synthetic_kind == "gaussian"
                            ? gaussian_vector_set(n, opt.dim, opt.queries, opt.seed)
                            : synthetic_vector_set(n, opt.dim, opt.queries, opt.seed);
    out["catalogues"][s.name] = bench_catalogue(s, opt);
  }
  return out;
}

}  // namespace cascade
