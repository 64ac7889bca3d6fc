// The ranking stage's glue: fused pools with every channel's score and rank kept, seed-oof
// training examples, the `rank` config group, and the scoring of whole pools by a set of
// rankers (what `cascade bench funnel` and the serving funnel share).
//
// Time semantics (SYSTEM.md seed-oof): a training example for user u is a request made just
// before u's ranker slice: history = the recall slice, candidates = the pool channels that never
// saw u's ranker slice give for that history (the recall-slice channels, or u's fold's channels
// under rank.channel_folds: funnel_train.h). A test (or validation) request comes after the whole
// training row: history = recall + ranker slices. The request time of both follows
// request_time.h (serving's rule by default). Nothing is derived from the validation or test
// item, except the request time under the `event` ablation.
#pragma once

#include <yaml-cpp/yaml.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cascade/core/params.h"
#include "cascade/data/dataset.h"
#include "cascade/pipeline/fused_pool.h"
#include "cascade/pipeline/request_time.h"
#include "cascade/rank/features.h"
#include "cascade/rank/ranker.h"

namespace cascade {

/// How training examples are drawn (per user).
struct ExampleOptions {
  size_t hard_negatives =
      100;  ///< drawn uniformly from the top `hard_depth` of the user's pool, positives excluded
  size_t hard_depth = 1000;  ///< how deep in the pool hard negatives are drawn from; also the depth
                             ///< of the training requests' pools (see pool_quota)
  /// Training requests' pools: each channel's top `pool_quota`, fused, the top `hard_depth`
  /// kept. Independent of the served pool's quota and depth, so a funnel chosen at another
  /// depth or quota trains exactly the rankers that were evaluated.
  size_t pool_quota = 500;
  size_t random_negatives = 20;  ///< drawn uniformly from the catalogue minus history and positives
  bool positives_in_pool =
      true;  ///< keep only positives the pool retrieved (the rows a ranker will see)
  /// Users whose training requests are built (a seeded uniform sample of the ranker slice's
  /// users); 0 = all. Bounds the examples (about 125 rows per user) and the training pools'
  /// channel queries on big logs: at the ML-20M shape all 138K users would give about 17M rows.
  size_t max_users = 0;
  uint64_t seed = 42;
  /// When a training request is made (request_time.h; `rank.request_time`): serving's rule by
  /// default, so the time features a ranker learns from are the ones it is served with.
  TimePolicy request_time = TimePolicy::kServing;

  /// Reads `examples: {hard_negatives, hard_depth, random_negatives, positives: in_pool|all,
  /// pool_quota, max_users}`; the given
  /// `base` supplies what the node leaves out. Unknown keys throw naming the key.
  static ExampleOptions from_yaml(const YAML::Node& node, const ExampleOptions& base);
};

/// Fused pools (full FusedCandidate entries, the top `depth` of each user's fusion), one per
/// user of `pc` (empty for users with no candidates); `history` rows are excluded.
std::vector<std::vector<FusedCandidate>> fused_pools(const PoolCandidates& pc,
                                                     const Interactions& history,
                                                     const FusionOptions& opt, size_t depth,
                                                     int threads);

/// The serving clock of a training request (request_time.h): the newest recall-slice event of
/// any user.
int64_t training_clock(const Dataset& ds);

/// The feature pipeline each training request is built with. With k-fold channel features
/// (rank.channel_folds) a user's request goes through the pipeline over the channels of the
/// user's fold; otherwise one pipeline serves every user. Every pipeline has the same schema.
struct UserFeatures {
  std::vector<const FeatureBuilder*> builders;  ///< at least one
  std::vector<uint32_t> fold;                   ///< per user: index into builders; empty = 0
  const FeatureBuilder& of(uint32_t user) const { return *builders[fold.empty() ? 0 : fold[user]]; }
  const FeatureBuilder& first() const { return *builders.front(); }
};

/// Seed-oof training set: one group per user with a non-empty ranker slice and at least one
/// positive (after positives_in_pool): positives first (label 1), then hard and random
/// negatives (label 0). `pools[u]` is the pool for the recall-slice history; user u's rows
/// are built by fb.of(u). Deterministic for a seed (per-user generators), whatever the
/// thread count.
RankTrainSet build_training_set(const UserFeatures& fb, const Dataset& ds,
                                const std::vector<std::vector<FusedCandidate>>& pools,
                                const ExampleOptions& opt, int threads);
/// The same with one pipeline for every user.
inline RankTrainSet build_training_set(const FeatureBuilder& fb, const Dataset& ds,
                                       const std::vector<std::vector<FusedCandidate>>& pools,
                                       const ExampleOptions& opt, int threads) {
  return build_training_set(UserFeatures{{&fb}, {}}, ds, pools, opt, threads);
}

/// Splits a training set into (fit, held-out) by whole groups: a seeded shuffle of the groups,
/// the first floor(share * groups) held out (for early stopping / best-epoch selection).
std::pair<RankTrainSet, RankTrainSet> split_groups(const RankTrainSet& all, double share,
                                                   uint64_t seed, const FeatureBuilder& fb);

/// One configured ranker: `rank.rankers.<name>: {kind: din, <params>..., examples: {...}}`.
struct RankerSpec {
  std::string name;
  std::string kind;
  Params params;
  ExampleOptions examples;    ///< the group's `examples` with this ranker's overrides
  bool own_examples = false;  ///< true when the ranker overrides the example mix
  /// A blend's members (kind "blend"): the configured rankers its `members` names, in order.
  /// They train on the blend's examples.
  std::vector<RankerSpec> members;
  std::string spec() const;   ///< "kind:k=v,..."
};

/// Creates the ranker of `spec` (a blend with its members' models) and fits it on `train`, with
/// `valid` (other users' groups) for early stopping when it has rows. What `bench funnel` and
/// `cascade bundle` share. `item_tables` (RankFitOptions::item_tables) serves a neural ranker's
/// `item_init`.
std::unique_ptr<Ranker> fit_ranker(const RankerSpec& spec, const RankTrainSet& train,
                                   const RankTrainSet& valid, int threads, uint64_t seed,
                                   const std::string& dataset_hash,
                                   ItemTableLookup item_tables = {});

/// The `rank` config group.
struct RankConfig {
  size_t pool_depth =
      1000;  ///< candidates per request handed to the rankers (top of the fused pool)
  FeatureConfig features;
  ExampleOptions examples;
  std::vector<RankerSpec> rankers;  ///< in file order
  std::string pre_rank = "deepfm";  ///< funnel: pre-rank ranker name
  size_t pre_keep = 100;
  std::string fine_rank = "din";  ///< funnel: fine-rank ranker name
  size_t fine_keep = 20;
  double valid_share = 0.1;  ///< share of training groups held out for early stopping (0 = none)
  /// k-fold channel features (funnel_train.h): 0 = the served channels are fitted on the recall
  /// slice and build the training requests too; k >= 2 = the served channels see every training
  /// row and each of k user folds' training requests is answered by channels fitted without
  /// that fold's ranker slice.
  int channel_folds = 0;

  const RankerSpec& ranker(const std::string& name) const;  ///< throws listing the names
};

/// Reads the group; unknown keys, unknown ranker names in the funnel, bad values throw.
RankConfig rank_config_from_yaml(const YAML::Node& node, uint64_t seed);

/// Scores of every row of `batch` by each ranker (scores[k] parallel to the rows).
struct ScoredBatch {
  std::vector<std::vector<float>> scores;
  std::vector<double> seconds;  ///< scoring time per ranker
};

/// A funnel over one group's scores: the rows ordered by `pre` scores, the best `pre_keep`
/// reordered by `fine` scores, the best `fine_keep` of those kept. Returns row indices
/// (best first). Ties: lower row index first (= better fused rank for pool groups).
std::vector<uint32_t> funnel_order(std::span<const float> pre, size_t pre_keep,
                                   std::span<const float> fine, size_t fine_keep);

}  // namespace cascade
