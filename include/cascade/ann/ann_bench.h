// The ANN benchmark (`cascade bench ann`): approximate (HNSW, IVF) against exact
// inner-product search over item vectors. For each catalogue and index kind, the recall of the
// index's top-k against the exact top-k and the single-query latency (one thread, median and
// p99 over the queries) at every search width (HNSW efSearch, IVF nprobe), for synthetic
// catalogues and for any given catalogue (pipeline/ann_catalogue.h: a fitted vector channel's
// items, or a set saved with write_vector_set).
//
// The contract JSON: {"machine_threads", "catalogues": {NAME: {"items","dim","queries",
//   "exact":{"p50_ms","p99_ms","cpu_p50_ms","cpu_p99_ms"},
//   "hnsw":{"metric","m","ef_construction","build_seconds","build_threads","index_bytes",
//           "loaded","search":[{"ef_search","p50_ms","p99_ms","cpu_p50_ms","cpu_p99_ms","recall@K",...}]},
//   "ivf":{"metric","nlist","train_size","quantizer","build_seconds","build_threads","index_bytes",
//          "loaded","search":[{"nprobe", the same latency fields,"recall@K",...}]}}}}
// (p50/p99: wall time of one query; cpu_*: the searching thread's CPU time, which excludes
// waits for a core on a shared machine.)
// ("hnsw" / "ivf" present when that kind is benchmarked; "loaded": the index came from
// index_dir, and build_seconds is then the recorded time of the run that built it.)
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace cascade {

/// Item vectors to index and the query vectors to search them with (row-major).
struct VectorSet {
  std::string name;
  std::vector<float> items;    ///< n x dim
  std::vector<float> queries;  ///< q x dim
  uint32_t n = 0, dim = 0, q = 0;
};

struct AnnBenchOptions {
  std::vector<uint32_t> synthetic = {100000, 1000000};  ///< synthetic catalogue sizes (0 = skipped)
  /// "clustered" (factor-model-like, synthetic_vector_set) or "gaussian" (i.i.d. N(0,1)
  /// coordinates, items and queries alike: the structureless worst case).
  std::string synthetic_kind = "clustered";
  uint32_t dim = 64;                          ///< synthetic vector dimension
  uint32_t queries = 1000;                    ///< queries per synthetic catalogue
  uint64_t seed = 42;                         ///< of the synthetic vectors
  std::vector<size_t> ks = {10, 100};         ///< recall cut-offs, each > 0
  std::vector<std::string> kinds = {"hnsw"};  ///< index kinds benchmarked: hnsw, ivf
  int m = 32;                                 ///< HNSW M
  int ef_construction = 200;
  std::vector<int> ef_search = {64, 128, 256};  ///< one graph is searched at each value
  std::string metric = "ip";  ///< HNSW graph / IVF k-means metric (AnnOptions::metric)
  int nlist = 1024;           ///< IVF lists
  std::vector<int> nprobe = {16, 32, 64, 128};  ///< one IVF index is searched at each value
  int train_size = 0;                           ///< IVF k-means sample (AnnOptions::train_size)
  std::string quantizer = "flat";               ///< IVF coarse quantizer (AnnOptions::quantizer)
  int threads = 0;                              ///< build threads (0 = hardware); searches use one
  /// When set: built indexes are saved here and reused by later runs with the same vectors
  /// and build parameters, and so is the exact ground truth (ids and exact latency).
  std::filesystem::path index_dir;
};

/// A synthetic catalogue "synthetic-<n>" of n items and q queries; deterministic for a seed.
VectorSet synthetic_vector_set(uint32_t n, uint32_t dim, uint32_t q, uint64_t seed);
/// "gaussian-<n>": items and queries with i.i.d. N(0, 1) coordinates; deterministic for a seed.
VectorSet gaussian_vector_set(uint32_t n, uint32_t dim, uint32_t q, uint64_t seed);

/// Saves / loads a vector set (binary, little-endian floats; the write is atomic). read
/// throws cascade::Error naming the file when it is not a vector set or is truncated.
void write_vector_set(const VectorSet& s, const std::filesystem::path& path);
VectorSet read_vector_set(const std::filesystem::path& path);

/// Benchmarks `given` (in order), then the synthetic catalogues of `opt`. Returns the contract
/// JSON; progress goes to the log. Throws cascade::Error for an empty or zero cut-off or an
/// unknown index kind.
nlohmann::ordered_json run_ann_bench(const AnnBenchOptions& opt,
                                     const std::vector<VectorSet>& given = {});

}  // namespace cascade
