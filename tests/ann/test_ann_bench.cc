// The ANN benchmark: catalogues in order, recall of HNSW / IVF against exact search that
// reaches 1 when the search is wide enough, a catalogue smaller than k scored against what
// exists, index and ground-truth reuse, saved vector sets.
#include <gtest/gtest.h>

#include "cascade/ann/ann_bench.h"
#include "cascade/core/error.h"
#include "cascade/io/artifact.h"
#include "support/temp_dir.h"

namespace cascade {
namespace {

TEST(AnnBench, RecallAgainstExactSearchPerCatalogue) {
  AnnBenchOptions opt;
  opt.synthetic = {0, 2000};  // 0 = skipped
  opt.queries = 40;
  opt.dim = 16;
  opt.ks = {10, 5};
  opt.ef_search = {2, 2000};  // efSearch 2000 >= the catalogue: close to an exhaustive walk
  opt.threads = 1;
  // Five items, fewer than k: recall counts the five the exact search returns.
  VectorSet tiny = synthetic_vector_set(5, 16, 3, 7);
  tiny.name = "tiny";
  const nlohmann::ordered_json out = run_ann_bench(opt, {tiny});

  std::vector<std::string> names;
  for (const auto& [name, _] : out["catalogues"].items()) names.push_back(name);
  ASSERT_EQ(names, (std::vector<std::string>{"tiny", "synthetic-2000"}));
  const auto& syn = out["catalogues"]["synthetic-2000"];
  EXPECT_EQ(syn["items"].get<uint32_t>(), 2000u);
  EXPECT_EQ(syn["dim"].get<uint32_t>(), 16u);
  EXPECT_EQ(syn["queries"].get<uint32_t>(), 40u);
  const auto& search = syn["hnsw"]["search"];
  ASSERT_EQ(search.size(), 2u);
  EXPECT_EQ(search[1]["ef_search"].get<int>(), 2000);
  EXPECT_GE(search[1]["recall@10"].get<double>(), 0.99);
  EXPECT_GE(search[1]["recall@10"].get<double>(), search[0]["recall@10"].get<double>());
  for (const auto& row : search)
    EXPECT_GE(row["p99_ms"].get<double>(), row["p50_ms"].get<double>());
  EXPECT_DOUBLE_EQ(out["catalogues"]["tiny"]["hnsw"]["search"][1]["recall@10"].get<double>(), 1.0);
}

// IVF next to HNSW; probing every list is exhaustive (recall 1). With an index_dir the second
// run loads the index and the exact top-k instead of rebuilding them, with the same figures.
TEST(AnnBench, IvfAndCachedIndexes) {
  test::TempDir dir("ann_bench_cache");
  AnnBenchOptions opt;
  opt.synthetic = {3000};
  opt.synthetic_kind = "gaussian";
  opt.queries = 30;
  opt.dim = 8;
  opt.ks = {10};
  opt.kinds = {"hnsw", "ivf"};
  opt.ef_search = {64};
  opt.nlist = 20;
  opt.nprobe = {1, 20};
  opt.threads = 1;
  opt.index_dir = dir.path() / "idx";
  const auto first = run_ann_bench(opt)["catalogues"]["gaussian-3000"];
  const auto& ivf = first["ivf"];
  EXPECT_EQ(ivf["nlist"].get<int>(), 20);
  EXPECT_FALSE(ivf["loaded"].get<bool>());
  ASSERT_EQ(ivf["search"].size(), 2u);
  EXPECT_EQ(ivf["search"][1]["nprobe"].get<int>(), 20);
  EXPECT_DOUBLE_EQ(ivf["search"][1]["recall@10"].get<double>(), 1.0);
  EXPECT_LT(ivf["search"][0]["recall@10"].get<double>(), 1.0);  // 1 list of 20 in 8-D Gaussian data
  // Flat vectors: at least 3000 x 8 floats.
  EXPECT_GE(ivf["index_bytes"].get<size_t>(), 3000u * 8 * sizeof(float));
  EXPECT_GE(first["hnsw"]["index_bytes"].get<size_t>(), 3000u * 8 * sizeof(float));

  const auto second = run_ann_bench(opt)["catalogues"]["gaussian-3000"];
  for (const char* kind : {"hnsw", "ivf"}) {
    EXPECT_TRUE(second[kind]["loaded"].get<bool>()) << kind;
    EXPECT_EQ(second[kind]["build_seconds"], first[kind]["build_seconds"]) << kind;
    for (size_t j = 0; j < first[kind]["search"].size(); ++j) {
      EXPECT_EQ(second[kind]["search"][j]["recall@10"], first[kind]["search"][j]["recall@10"])
          << kind << j;
    }
  }
  EXPECT_EQ(second["exact"], first["exact"]);  // read back, not re-measured
}

TEST(AnnBench, VectorSetRoundTripAndBadFile) {
  test::TempDir dir("ann_vectors");
  const VectorSet s = synthetic_vector_set(7, 3, 2, 5);
  write_vector_set(s, dir.path() / "s.vectors");
  const VectorSet r = read_vector_set(dir.path() / "s.vectors");
  EXPECT_EQ(r.name, "synthetic-7");
  EXPECT_EQ(r.n, 7u);
  EXPECT_EQ(r.dim, 3u);
  EXPECT_EQ(r.q, 2u);
  EXPECT_EQ(r.items, s.items);
  EXPECT_EQ(r.queries, s.queries);
  std::string bytes = read_file(dir.path() / "s.vectors");
  write_file_atomic(dir.path() / "cut.vectors", bytes.substr(0, bytes.size() - 4));
  EXPECT_THROW(read_vector_set(dir.path() / "cut.vectors"), Error);
  write_file_atomic(dir.path() / "other.vectors", "hello world, not vectors");
  EXPECT_THROW(read_vector_set(dir.path() / "other.vectors"), Error);
}

TEST(AnnBench, RejectsEmptyAndZeroCutoffs) {
  AnnBenchOptions opt;
  opt.synthetic = {};
  opt.ks = {};
  EXPECT_THROW(run_ann_bench(opt), Error);
  opt.ks = {10, 0};
  EXPECT_THROW(run_ann_bench(opt), Error);
  opt.ks = {10};
  opt.kinds = {"lsh"};
  EXPECT_THROW(run_ann_bench(opt), Error);
}

}  // namespace
}  // namespace cascade
