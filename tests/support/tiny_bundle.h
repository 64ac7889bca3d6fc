// A small servable bundle for tests: a synthetic seed-oof dataset (400 users, 150 items),
// popularity + iALS recall, LR as both funnel rankers. Built in ~1 s.
#pragma once

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <string>

#include "cascade/data/synth.h"
#include "cascade/pipeline/bundle.h"
#include "support/temp_dir.h"

namespace cascade::testing {

/// keep_seen with min_rating above 1 keeps the lower ratings as seen events.
inline Dataset tiny_dataset(uint64_t seed = 5, float min_rating = 1, bool keep_seen = false) {
  SynthOptions so;
  so.users = 400;
  so.items = 150;
  so.interactions = 12000;
  so.genres = 6;
  so.seed = seed;
  PrepareOptions po;
  po.protocol = Protocol::kSeedOof;
  po.min_rating = min_rating;
  po.keep_seen = keep_seen;
  return synth_dataset(so, po);
}

/// fine: the fine-ranker ("lr", "din" for a small DIN that trains in about a second, or "blend"
/// of the two).
inline YAML::Node tiny_config(uint64_t seed = 7, double diversity = 0.0, const std::string& fine = "lr") {
  return YAML::Load(R"(
seed: )" + std::to_string(seed) +
                    R"(
recall:
  channels:
    popularity: {}
    ials: {factors: 16, iters: 4, reg: 1.0}
  fusion: {method: norm, quota: 100, pool_size: 150, tune: false}
rank:
  pool_depth: 60
  valid_share: 0.0
  examples: {hard_negatives: 20, hard_depth: 60, random_negatives: 5}
  features: {max_history: 30}
  rankers:
    lr: {}
    din: {dim: 8, field_dim: 4, att_hidden: 8, hidden: 16, epochs: 2, batch: 256}
    blend: {kind: blend, members: [lr, din]}
  funnel: {pre_rank: lr, pre_keep: 40, fine_rank: )" +
                    fine + R"(, fine_keep: 20}
rerank: {vectors: ials, diversity: )" +
                    std::to_string(diversity) + R"(}
)");
}

using TempDir = test::TempDir;

/// Builds the tiny bundle into dir (threads 1: deterministic and light).
inline std::string build_tiny_bundle(const std::filesystem::path& dir, uint64_t seed = 7,
                                     double diversity = 0.0, const std::string& fine = "lr") {
  BundleBuildOptions bo;
  bo.threads = 1;
  return build_bundle(tiny_config(seed, diversity, fine), tiny_dataset(), dir, bo);
}

}  // namespace cascade::testing
