// The ANN benchmark (`cascade bench ann`): HNSW against exact inner-product search over item
// vectors. For each catalogue, the recall of HNSW's top-k against the exact top-k and the
// single-query latency (one thread, median and p99 over the queries) at every efSearch value,
// for synthetic catalogues (clustered vectors with log-normal norms, like factor-model items)
// and for any given catalogue (pipeline/ann_catalogue.h: a fitted vector channel's items).
//
// The contract JSON: {"machine_threads", "catalogues": {NAME: {"items","dim","queries",
//   "exact":{"p50_ms","p99_ms"}, "hnsw":{"metric","m","ef_construction","build_seconds",
//   "build_threads", "search":[{"ef_search","p50_ms","p99_ms","recall@K",...}]}}}}
#pragma once

#include <cstdint>
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
  uint32_t dim = 64;                                    ///< synthetic vector dimension
  uint32_t queries = 1000;                              ///< queries per synthetic catalogue
  uint64_t seed = 42;                                   ///< of the synthetic vectors
  std::vector<size_t> ks = {10, 100};                   ///< recall cut-offs, each > 0
  int m = 32;                                           ///< HNSW M
  int ef_construction = 200;
  std::vector<int> ef_search = {64, 128, 256};  ///< one graph is searched at each value
  int threads = 0;                              ///< build threads (0 = hardware); searches use one
  std::string metric = "ip";                    ///< HNSW graph metric (AnnOptions::metric)
};

/// A synthetic catalogue "synthetic-<n>" of n items and q queries; deterministic for a seed.
VectorSet synthetic_vector_set(uint32_t n, uint32_t dim, uint32_t q, uint64_t seed);

/// Benchmarks `given` (in order), then the synthetic catalogues of `opt`. Returns the contract
/// JSON; progress goes to the log. Throws cascade::Error for an empty or zero cut-off.
nlohmann::ordered_json run_ann_bench(const AnnBenchOptions& opt, const std::vector<VectorSet>& given = {});

}  // namespace cascade
