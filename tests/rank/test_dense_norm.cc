// DenseNormalizer: hand-computed standardisation, clipping, NaN handling with present-indicators,
// and a save/load round trip.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "rank/dense_norm.h"
#include "cascade/core/error.h"

namespace cascade {
namespace {

TEST(DenseNorm, StandardisesClipsAndFlagsMissingValues) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  RankBatch b;
  b.schema.dense = {"a", "b"};
  b.items = {0, 0, 0};
  b.dense = {1, nan, 3, 10, 5, 20};  // a: 1, 3, 5 (mean 3, sd sqrt(8/3)); b: NaN, 10, 20 (mean 15, sd 5)
  b.group_begin = {0, 3};
  b.hist_begin = {0, 0};
  b.group_user = {0};
  b.schema.n_items = 1;
  DenseNormalizer n;
  n.fit(b, 1.0f);
  ASSERT_EQ(n.in_dim(), 2u);
  ASSERT_EQ(n.out_dim(), 3u);  // only b had a missing value -> one indicator
  const std::vector<float> x = n.apply_batch(b);
  const float sa = std::sqrt(8.0f / 3.0f);
  EXPECT_NEAR(x[0], -1.0f, 1e-6);  // (1 - 3) / 1.63 = -1.22, clipped to -1
  EXPECT_EQ(x[1], 0.0f);           // missing -> 0
  EXPECT_EQ(x[2], 0.0f);           // indicator: absent
  EXPECT_NEAR(x[3], 0.0f, 1e-6);
  EXPECT_NEAR(x[4], -1.0f, 1e-6);  // (10 - 15) / 5
  EXPECT_EQ(x[5], 1.0f);
  EXPECT_NEAR(x[6], std::min(1.0f, 2.0f / sa), 1e-6);
  EXPECT_NEAR(x[7], 1.0f, 1e-6);
  std::vector<float> one(3);
  const std::vector<float> inf_row = {-std::numeric_limits<float>::infinity(), nan};
  n.apply(inf_row, one.data());
  EXPECT_EQ(one[0], -1.0f);
  EXPECT_EQ(one[2], 0.0f);
  EXPECT_THROW(n.apply(std::vector<float>{1}, one.data()), Error);

  const auto dir = std::filesystem::temp_directory_path() / ("cascade_norm_" + std::to_string(::getpid()));
  {
    ArtifactWriter w(dir, "norm_test", 1);
    n.save(w, "p_");
    w.finish();
  }
  DenseNormalizer m;
  m.load(ArtifactReader(dir, "norm_test", 1), "p_");
  EXPECT_EQ(m.apply_batch(b), x);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cascade
