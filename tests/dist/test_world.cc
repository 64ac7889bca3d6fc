// The MPI-free parts of cascade/dist/world.h: partitions, and the one-rank world every test
// process is (the tests are never started by mpirun, so MPI is never initialised here; the
// multi-rank behaviour is tested by scripts/run_mpi_tests.sh).
#include <gtest/gtest.h>

#include <vector>

#include "cascade/core/error.h"
#include "cascade/dist/world.h"

namespace cascade::dist {
namespace {

TEST(DistPartition, BlockOffsetsGiveTheRemainderToTheFirstBlocks) {
  EXPECT_EQ(block_offsets(10, 3), (std::vector<size_t>{0, 4, 7, 10}));
  EXPECT_EQ(block_offsets(9, 3), (std::vector<size_t>{0, 3, 6, 9}));
  EXPECT_EQ(block_offsets(2, 4), (std::vector<size_t>{0, 1, 2, 2, 2}));
  EXPECT_EQ(block_offsets(0, 2), (std::vector<size_t>{0, 0, 0}));
  EXPECT_EQ(block_offsets(7, 1), (std::vector<size_t>{0, 7}));
  EXPECT_THROW(block_offsets(7, 0), Error);
}

TEST(DistPartition, WeightedOffsetsSplitAtTheWeightQuantiles) {
  // Row weights 4, 1, 1, 1, 1 (total 8): half the weight is reached after row 0 (4 >= 4).
  const std::vector<uint64_t> prefix = {0, 4, 5, 6, 7, 8};
  EXPECT_EQ(weighted_offsets(prefix, 2), (std::vector<size_t>{0, 1, 5}));
  // Thirds: 8/3 -> after row 0 (4); 16/3 -> after row 2 (prefix 6 >= 5.33).
  EXPECT_EQ(weighted_offsets(prefix, 3), (std::vector<size_t>{0, 1, 3, 5}));
  EXPECT_EQ(weighted_offsets(prefix, 1), (std::vector<size_t>{0, 5}));
  // Equal weights give the block partition when it divides evenly.
  const std::vector<uint64_t> even = {0, 1, 2, 3, 4, 5, 6};
  EXPECT_EQ(weighted_offsets(even, 3), block_offsets(6, 3));
  // Leading empty rows (weight 0) go to the first block; all-zero weights leave every row to
  // the last block (contiguous and complete either way).
  EXPECT_EQ(weighted_offsets(std::vector<uint64_t>{0, 0, 0, 2, 4}, 2),
            (std::vector<size_t>{0, 3, 4}));
  EXPECT_EQ(weighted_offsets(std::vector<uint64_t>{0, 0, 0}, 2), (std::vector<size_t>{0, 0, 2}));
  EXPECT_THROW(weighted_offsets(std::vector<uint64_t>{1, 2}, 2), Error);
  EXPECT_THROW(weighted_offsets(prefix, 0), Error);
}

TEST(DistWorld, ATestProcessIsOneRankAndCollectivesLeaveTheDataAlone) {
  const World& w = world();
  EXPECT_FALSE(w.mpi);
  EXPECT_EQ(w.rank, 0);
  EXPECT_EQ(w.size, 1);
  {
    const Collective scope;
    EXPECT_FALSE(collective_active());  // one rank: nothing to share
  }
  std::vector<float> rows = {1.f, 2.f, 3.f, 4.f, 5.f, 6.f};
  const std::vector<size_t> off = {0, 3};
  allgather_rows(rows.data(), off, 2);
  EXPECT_EQ(rows, (std::vector<float>{1.f, 2.f, 3.f, 4.f, 5.f, 6.f}));
  std::vector<double> d = {0.5, 1.5};
  allgather_rows(d.data(), std::vector<size_t>{0, 2}, 1);
  EXPECT_EQ(d, (std::vector<double>{0.5, 1.5}));
  // The offsets must name one block per rank.
  EXPECT_THROW(allgather_rows(rows.data(), std::vector<size_t>{0, 1, 3}, 2), Error);
  std::vector<uint32_t> m = {3, 1, 2};
  allreduce_min(m);
  EXPECT_EQ(m, (std::vector<uint32_t>{3, 1, 2}));
  barrier();
  abort_job(1);  // not under mpirun: returns
}

}  // namespace
}  // namespace cascade::dist
