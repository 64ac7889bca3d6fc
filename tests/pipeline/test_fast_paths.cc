// The serving fast paths (util/fast_paths.h) change no answer: a small bundle whose funnel
// runs every one of them (EASE's candidate-only scores and iALS/content cosines in feature
// building, channels' top-k, GBDT as the fine-ranker walked in-process) serves, for every user
// and for users with live events, the same list with the same scores, bit for bit, as the
// straightforward computations (XGBoost's predictor, full scores, one dot at a time).
#include <gtest/gtest.h>

#include <cstring>

#include "cascade/pipeline/recommender.h"
#include "cascade/util/fast_paths.h"
#include "support/tiny_bundle.h"

namespace cascade {
namespace {

uint32_t bits(float v) {
  uint32_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

struct FastPathsOn {  // restores the default whatever the test does
  ~FastPathsOn() { set_fast_paths(true); }
};

// The whole served list, fast paths on and off, for every user of a tiny bundle built from `cfg`.
void expect_bit_identical_lists(const YAML::Node& cfg);

// A funnel that runs every fast path.
YAML::Node every_fast_path() {
  return YAML::Load(R"(
seed: 3
recall:
  channels:
    popularity: {}
    ials: {factors: 16, iters: 4, reg: 1.0}
    ease: {lambda: 50, tune: false}
    content: {}
  fusion: {method: norm, quota: 100, pool_size: 150, tune: false}
rank:
  pool_depth: 60
  valid_share: 0.0
  examples: {hard_negatives: 20, hard_depth: 60, random_negatives: 5}
  features:
    max_history: 30
    similarity: {ials: cosine, ease: score, content: cosine}
  rankers:
    lr: {}
    gbdt: {rounds: 25, max_depth: 4, threads: 1}
  funnel: {pre_rank: lr, pre_keep: 40, fine_rank: gbdt, fine_keep: 20}
rerank: {vectors: ials, diversity: 0.2}
)");
}

TEST(FastPaths, ServedListsAreBitIdenticalToTheStraightforwardComputation) {
  expect_bit_identical_lists(every_fast_path());
}

// The recency cosines past whole 8-float chunks (iALS with 13 factors: one chunk transposed,
// five dimensions gathered) and with more history items than one pass of accumulators takes
// (recent_items 11: 8, then 3).
TEST(FastPaths, CosinesOfOddWidthsAndLongHistoriesAreBitIdentical) {
  YAML::Node cfg = every_fast_path();
  cfg["seed"] = 5;
  cfg["recall"]["channels"]["ials"]["factors"] = 13;
  cfg["rank"]["features"]["recent_items"] = 11;
  expect_bit_identical_lists(cfg);
}

void expect_bit_identical_lists(const YAML::Node& cfg) {
  testing::TempDir dir;
  BundleBuildOptions bo;
  bo.threads = 1;
  bo.lambdas = {};
  build_bundle(cfg, testing::tiny_dataset(), dir.path() / "b", bo);
  const Recommender rec(Bundle::load(dir.path() / "b"));
  const Dataset& ds = rec.bundle().data();
  FastPathsOn restore;

  size_t compared = 0;
  for (size_t u = 0; u < ds.n_users; ++u) {
    std::vector<LiveEvent> live;
    if (u % 7 == 0) {  // some users by history only (unknown to iALS's ids: folded in)
      for (size_t e = 0; e < 3; ++e)
        live.push_back({ds.item_ids[(u * 13 + e * 29) % ds.n_items],
                        rec.bundle().log_clock() + 60 * static_cast<int64_t>(e + 1)});
    }
    RecommendRequest r;
    r.user = ds.user_ids[u];
    r.events = live;
    r.k = 15;
    set_fast_paths(true);
    const RecommendResponse fast = rec.recommend(r);
    set_fast_paths(false);
    const RecommendResponse ref = rec.recommend(r);
    ASSERT_EQ(fast.items.size(), ref.items.size()) << "user " << r.user;
    ASSERT_FALSE(ref.items.empty());
    for (size_t i = 0; i < ref.items.size(); ++i) {
      const RecommendedItem &a = fast.items[i], &b = ref.items[i];
      ASSERT_EQ(a.item, b.item) << "user " << r.user << " position " << i;
      EXPECT_EQ(bits(a.score), bits(b.score));
      EXPECT_EQ(bits(a.fused), bits(b.fused));
      EXPECT_EQ(bits(a.pre_rank), bits(b.pre_rank));
      EXPECT_EQ(bits(a.fine_rank), bits(b.fine_rank));
      EXPECT_EQ(a.channels, b.channels);
      ++compared;
    }
  }
  EXPECT_GE(compared, ds.n_users * 15 / 2);
}

}  // namespace
}  // namespace cascade
