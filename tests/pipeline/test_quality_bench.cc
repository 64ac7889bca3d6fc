// The pipeline-layer benchmarks on a tiny synthetic dataset: bench quality's contract JSON holds
// the channels asked for, the tuned and the parity pools, and figures that agree with each other;
// bench ann's real catalogue is a fitted channel's item and user vectors.
#include <gtest/gtest.h>

#include <algorithm>

#include "cascade/core/error.h"
#include "cascade/data/raw_log.h"
#include "cascade/data/synth.h"
#include "cascade/pipeline/ann_catalogue.h"
#include "cascade/pipeline/quality_bench.h"
#include "cascade/recall/fusion.h"

namespace cascade {
namespace {

// min_rating 1 keeps every synthetic row: the split needs the users.
Dataset tiny_dataset() {
  return synth_dataset({.users = 300, .items = 600, .interactions = 9000}, {.min_rating = 1});
}

TEST(QualityBench, ReportsTheChannelsAskedForAndBothPools) {
  const Dataset ds = tiny_dataset();
  const YAML::Node cfg = YAML::Load(
      "seed: 7\n"
      "recall:\n"
      "  channels: {popularity: {}, ease: {kind: ease, lambda: 50}, ials: {factors: 8, iters: 3}}\n"
      "  fusion: {quota: 60, pool_size: 120, tune: true}\n");
  QualityBenchOptions opt;
  opt.threads = 1;
  opt.channels = {"ease", "popularity"};  // a subset, in the order asked for
  opt.pool = 100;                         // overrides the config's pool size
  opt.parity_config = YAML::Load(
      "recall:\n"
      "  channels: {popularity: {}, ials: {factors: 8, iters: 3}}\n"
      "  fusion: {quota: 50, tune: false}\n");
  const nlohmann::ordered_json out = run_quality_bench(cfg, ds, opt);

  EXPECT_EQ(out["dataset"], "synth");
  EXPECT_EQ(out["protocol"], "seed-loo");
  EXPECT_EQ(out["users"].get<uint32_t>(), ds.n_users);
  EXPECT_EQ(out["test_rows"].get<size_t>(), ds.test.nnz());
  std::vector<std::string> names;
  for (const auto& [name, _] : out["channels"].items()) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"ease", "popularity", "fusion", "fusion_parity"}));

  for (const auto& [name, c] : out["channels"].items()) {
    SCOPED_TRACE(name);
    // Recall grows with depth: the pool (depth 100) holds at least what the top 10 does.
    EXPECT_GT(c["pool_recall"].get<double>(), 0.0);
    EXPECT_GE(c["pool_recall"].get<double>(), c["recall@10"].get<double>());
    EXPECT_EQ(c["recall_by_depth"]["100"], c["pool_recall"]);
  }
  const auto& fusion = out["channels"]["fusion"];
  EXPECT_EQ(fusion["pool_size"].get<size_t>(), 100u);
  EXPECT_EQ(fusion["quota"].get<size_t>(), 60u);
  EXPECT_TRUE(fusion["weights_tuned"].get<bool>());
  EXPECT_TRUE(fusion["vs_channel"].contains("ease"));
  EXPECT_TRUE(fusion["drop_one"].contains("popularity"));
  // Far above a random pool of 100 of the items, which holds 100 / items of the held-out items.
  EXPECT_GT(fusion["pool_recall"].get<double>(), 2 * 100.0 / ds.n_items);
  // The paired comparisons are over the same test users as the summaries: their mean difference
  // is the difference of the means.
  for (const char* ch : {"ease", "popularity"}) {
    SCOPED_TRACE(ch);
    EXPECT_NEAR(fusion["vs_channel"][ch]["pool_recall"]["diff"].get<double>(),
                fusion["pool_recall"].get<double>() - out["channels"][ch]["pool_recall"].get<double>(), 1e-9);
    const auto& dropped = fusion["drop_one"][ch];
    if (dropped.is_object() && dropped.contains("pool_recall")) {
      EXPECT_NEAR(dropped["loss_pool_recall"]["diff"].get<double>(),
                  fusion["pool_recall"].get<double>() - dropped["pool_recall"].get<double>(), 1e-9);
    }
  }

  // The parity suite: its own channels, fixed weights, the tuned pool's size, no drop-one.
  EXPECT_TRUE(out["parity_channels"].contains("ials"));
  const auto& parity = out["channels"]["fusion_parity"];
  EXPECT_FALSE(parity["weights_tuned"].get<bool>());
  EXPECT_EQ(parity["pool_size"].get<size_t>(), 100u);
  EXPECT_EQ(parity["quota"].get<size_t>(), 50u);
  EXPECT_FALSE(parity.contains("drop_one"));
  EXPECT_EQ(quality_fusion_config(cfg, opt).base.pool_size, 100u);
}

// Every registered fusion method at every quota asked for; the configured method at the configured
// quota is exactly the "fusion" pool (the same candidates, tuning and fusion code), although the
// strategies query the channels once at the deepest quota.
TEST(QualityBench, FusionStrategiesCoverEveryMethodAndQuota) {
  const Dataset ds = tiny_dataset();
  const YAML::Node cfg = YAML::Load(
      "seed: 7\n"
      "recall:\n"
      "  channels: {popularity: {}, ials: {factors: 8, iters: 3}}\n"
      "  fusion: {method: norm, quota: 40, pool_size: 80, tune: true}\n");
  QualityBenchOptions opt;
  opt.threads = 1;
  opt.fusion_quotas = {20, 40, 70};
  const nlohmann::ordered_json out = run_quality_bench(cfg, ds, opt);
  const auto methods = fusion_method_names();
  ASSERT_GE(methods.size(), 2u);
  const auto& fs = out["fusion_strategies"];
  ASSERT_EQ(fs.size(), methods.size() * 3);
  size_t row = 0;
  for (const auto& m : methods) {
    for (size_t q : {20u, 40u, 70u}) {
      SCOPED_TRACE(m + " " + std::to_string(q));
      const auto& f = fs[row++];
      EXPECT_EQ(f["method"], m);
      EXPECT_EQ(f["quota"].get<size_t>(), q);
      EXPECT_EQ(f["pool"].get<size_t>(), 80u);
      for (const char* k : {"recall@10", "ndcg@10", "recall@200", "pool_recall"}) {
        EXPECT_GE(f[k].get<double>(), 0.0) << k;
        EXPECT_LE(f[k].get<double>(), 1.0) << k;
      }
      EXPECT_TRUE(f["weights"].contains("ials"));
      if (m == "norm" && q == 40) {
        const auto& fusion = out["channels"]["fusion"];
        EXPECT_EQ(f["weights"], fusion["weights"]);
        for (const char* k : {"recall@10", "ndcg@10", "recall@200", "pool_recall"})
          EXPECT_EQ(f[k], fusion[k]) << k;
      }
    }
  }
  // Two channels' quotas of 20 cannot fill an 80-item pool: its recall is below quota 70's.
  EXPECT_LT(fs[0]["pool_recall"].get<double>(), fs[2]["pool_recall"].get<double>());
}

// Every user walks the same cycle of items, one step at a time, from their own start: item i is
// always followed by i + 1. A first-order transition channel (window 1, lag 1) predicts the next
// step only: from the training rows it names the validation item, so the test item (one step
// further) is found only when the test request's history holds the validation item.
TEST(QualityBench, TestRequestsSeeTheValidationItemWhenAsked) {
  const uint32_t users = 40, items = 50, steps = 8;
  RawLog log;
  for (uint32_t i = 0; i < items; ++i) log.item_keys.push_back(std::to_string(i));
  for (uint32_t u = 0; u < users; ++u) {
    log.user_keys.push_back(std::to_string(u));
    for (uint32_t t = 0; t < steps; ++t) {
      log.user.push_back(u);
      log.item.push_back((u + t) % items);
      log.rating.push_back(5.f);
      log.timestamp.push_back(t);
    }
  }
  const Dataset ds = prepare_dataset(log, "cycle", {});
  const YAML::Node cfg = YAML::Load(
      "seed: 7\n"
      "recall:\n"
      "  channels: {transition: {kind: transition, window: 1, max_lag: 1}}\n"
      "  fusion: {quota: 20, pool_size: 20, tune: false}\n");
  QualityBenchOptions opt;
  opt.threads = 1;
  opt.fusion_quotas = {};
  const auto before = run_quality_bench(cfg, ds, opt);
  EXPECT_EQ(before["test_history"], "training rows");
  // Without the validation item the channel's one scored item is the validation item; the test
  // item is reached only by the zero-score filler in id order (users 0-8: 9 of 40).
  EXPECT_NEAR(before["channels"]["transition"]["recall@10"].get<double>(), 9.0 / 40, 1e-9);
  opt.test_sees_valid = true;
  const auto after = run_quality_bench(cfg, ds, opt);
  EXPECT_EQ(after["test_history"], "training rows + the validation item");
  // With it, every user whose step (validation -> test) some other user trained: all but users 38
  // and 39, whose steps 44 -> 45 and 45 -> 46 lie past every training sequence.
  EXPECT_NEAR(after["channels"]["transition"]["recall@10"].get<double>(), 38.0 / 40, 1e-9);
}

TEST(AnnCatalogue, IsTheChannelsItemVectorsQueriedWithItsUsers) {
  const Dataset ds = tiny_dataset();
  const auto specs = channel_specs_from_yaml(
      YAML::Load("{ials: {factors: 8, iters: 2, ann: {kind: hnsw}}, popularity: {}}"));
  const VectorSet s = channel_vector_set(ds, specs[0], 1000, 1, 7);
  EXPECT_EQ(s.name, "synth-ials");
  EXPECT_EQ(s.n, ds.n_items);
  EXPECT_EQ(s.dim, 8u);
  EXPECT_EQ(s.q, ds.n_users);  // capped at the users there are
  EXPECT_EQ(s.items.size(), static_cast<size_t>(s.n) * s.dim);
  EXPECT_EQ(s.queries.size(), static_cast<size_t>(s.q) * s.dim);
  EXPECT_TRUE(std::any_of(s.queries.begin(), s.queries.end(), [](float x) { return x != 0; }));
  // Popularity scores without vectors: no catalogue to index.
  EXPECT_THROW(channel_vector_set(ds, specs[1], 10, 1, 7), Error);
}

}  // namespace
}  // namespace cascade
