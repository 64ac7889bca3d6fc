// The ANN benchmark: catalogues in order, recall of HNSW against exact search that reaches 1
// when the search is wide enough, and a catalogue smaller than k scored against what exists.
#include <gtest/gtest.h>

#include "cascade/ann/ann_bench.h"
#include "cascade/core/error.h"

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
  for (const auto& row : search) EXPECT_GE(row["p99_ms"].get<double>(), row["p50_ms"].get<double>());
  EXPECT_DOUBLE_EQ(out["catalogues"]["tiny"]["hnsw"]["search"][1]["recall@10"].get<double>(), 1.0);
}

TEST(AnnBench, RejectsEmptyAndZeroCutoffs) {
  AnnBenchOptions opt;
  opt.synthetic = {};
  opt.ks = {};
  EXPECT_THROW(run_ann_bench(opt), Error);
  opt.ks = {10, 0};
  EXPECT_THROW(run_ann_bench(opt), Error);
}

}  // namespace
}  // namespace cascade
