// What every seed-oof funnel is trained from, built once and shared by `cascade bundle` and
// `cascade bench funnel`: the recall channels, fusion weights tuned on the validation item, the
// training requests' pools (history = recall slice), the feature pipelines, and the rankers
// fitted on seed-oof examples.
//
// Which channels answer the training requests (rank.channel_folds):
//  - 0 (default): one set of channels, fitted on the recall slice, answers the training
//    requests and is served. Training and serving features come from the same models, but
//    the served channels never saw any ranker-slice row.
//  - k >= 2 (k-fold channel features): the served channels are fitted on every training row.
//    Users are split into k seeded folds; fold f's channels are fitted on every training row
//    except the ranker slice of fold f's users, and answer (pools and features) the training
//    requests of those users. So no training request is answered by a channel that saw its
//    positives, and the channels that build training features have seen about as much data
//    as the served ones. Costs k extra fits of every channel.
#pragma once

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cascade/data/dataset.h"
#include "cascade/pipeline/fused_pool.h"
#include "cascade/pipeline/rank_job.h"
#include "cascade/pipeline/recall_job.h"
#include "cascade/rank/features.h"

namespace cascade {

struct FunnelTrainOptions {
  int threads = 0;                      ///< 0 = hardware
  std::filesystem::path channel_cache;  ///< reuse channels fitted with the same spec/data/seed
  /// Candidates per channel collected for the held-out users (at least the configured quota;
  /// larger lets a caller try larger quotas without querying the channels again).
  size_t heldout_quota = 0;
  bool heldout_test = true;  ///< also collect candidates for the test users
  /// Test requests carry the user's validation item in their history, as a served request
  /// made after it would (it happened before the test item). Off: the test history is the
  /// training rows only (seed-loo's definition), so test requests are one event further from
  /// their target than validation requests, and choices made on validation favour signals
  /// (sequence, transitions) that fade over that extra event.
  bool test_sees_valid = false;
};

/// The recall side of a resolved configuration (funnel_spec.h) on a seed-oof dataset.
struct FunnelInputs {
  std::vector<std::string> names;  ///< channels, in the spec's order
  std::vector<FittedChannel> fitted;
  std::vector<const Recaller*> channels;
  FusionConfig fusion_config;
  FusionOptions fusion;  ///< the served fusion: fusion_at_quota(the configured quota)
  RankConfig rank;
  /// The held-out users the funnel is tuned and evaluated on: ds.valid and ds.test, or a seeded
  /// sample of their users when `eval.max_users` is set (big logs; the log says so).
  Interactions valid, test;
  PoolCandidates heldout;  ///< per channel, for the users of `valid` (and `test`)
  /// With test_sees_valid: ds.train with each user's validation item appended. With
  /// separate_test, heldout_test holds the test users' candidates (heldout then holds the
  /// validation users only).
  Interactions test_rows;
  PoolCandidates heldout_test;
  bool test_sees_valid = false;
  /// heldout_test holds the test users' candidates (their history or their known seen items
  /// differ from the validation requests').
  bool separate_test = false;
  /// The history of a test request (ds.train, or test_rows) and the test users' candidates.
  const Interactions& test_history(const Dataset& ds) const {
    return test_sees_valid ? test_rows : ds.train;
  }
  const PoolCandidates& test_candidates() const { return separate_test ? heldout_test : heldout; }
  std::vector<std::vector<FusedCandidate>>
      train_pools;  ///< history = recall slice, depth rank.examples.hard_depth
  /// What the served channels were fitted on: the recall slice, or with channel folds every
  /// training row (the feature pipeline's popularity and first-event statistics come from it).
  Interactions fit_matrix;
  std::unique_ptr<FeatureBuilder> features;  ///< over the served channels (what a bundle serves)

  /// With rank.channel_folds = k: fold f's channels and the matrix they were fitted on.
  struct ChannelFold {
    Interactions fit_matrix;
    std::vector<FittedChannel> fitted;
    std::vector<const Recaller*> channels;
  };
  std::vector<ChannelFold> folds;
  std::vector<uint32_t> fold_of_user;  ///< per user (empty without folds)
  /// Feature pipelines over the folds' channels (empty without folds).
  std::vector<std::unique_ptr<FeatureBuilder>> fold_features;

  /// The pipelines training requests are built with: the fold pipelines, or `features`.
  UserFeatures training_features() const;
  /// What the served channels saw, as `bench funnel` and the bundle manifest record it
  /// (`channels_fit`, read back by Bundle::load): "recall_slice" or "train".
  const char* channels_fit() const { return folds.empty() ? "recall_slice" : "train"; }
};

/// Feature pipelines over a FunnelInputs' channels with another feature configuration (an
/// ablation): the served one and, with channel folds, one per fold.
struct FunnelFeatures {
  std::unique_ptr<FeatureBuilder> served;
  std::vector<std::unique_ptr<FeatureBuilder>> folds;
  std::vector<uint32_t> fold_of_user;
  UserFeatures training() const;
};
FunnelFeatures funnel_features(const FunnelInputs& in, const Catalog& catalog,
                               const FeatureConfig& config);

/// The fold (0 .. k-1) of every user: a seeded hash of the user id.
std::vector<uint32_t> channel_fold_of_users(uint32_t n_users, int folds, uint64_t seed);

/// ds.train without the ranker slice of the users of fold `fold`: fold f's channels' matrix.
Interactions fold_fit_matrix(const Dataset& ds, const std::vector<uint32_t>& fold_of_user,
                             uint32_t fold);

/// `eval.max_users` of a configuration: 0 (every held-out user) when absent or null; throws
/// naming the key when it is not a non-negative integer.
size_t heldout_user_cap(const YAML::Node& cfg);

/// `train` with each user's `heldout` items appended after their row (times carried along),
/// for requests made after the held-out event. Shapes must agree.
Interactions with_heldout_appended(const Interactions& train, const Interactions& heldout);

/// Fits (or loads) the channels, tunes fusion on validation, builds the training pools and the
/// feature pipeline. `cfg` must be resolved (resolve_funnel). Progress goes to the log.
FunnelInputs prepare_funnel_inputs(const YAML::Node& cfg, const Dataset& ds,
                                   const FunnelTrainOptions& opt);

/// The fusion options for channel quota `quota`: every channel's top `quota`, weights tuned on
/// the validation item at that quota (when recall.fusion.tune), so the weights are a function of
/// the quota alone. The served pool (FunnelInputs::fusion), the training pools
/// (rank.examples.pool_quota) and every quota `bench funnel` tries come from here, so a bundle
/// built for a quota fuses exactly as the experiment that chose it. `quota` must not exceed the
/// candidates collected for the held-out users.
FusionOptions fusion_at_quota(const FunnelInputs& in, const Dataset& ds, size_t quota, int threads);

/// Seed-oof training sets over one feature pipeline, one per distinct example mix (built once,
/// shared by every ranker with that mix), each split into (fit, held-out groups for early
/// stopping).
class TrainingSets {
 public:
  TrainingSets(UserFeatures fb, const Dataset& ds,
               const std::vector<std::vector<FusedCandidate>>& pools, double valid_share,
               int threads, uint64_t seed)
      : fb_(std::move(fb)),
        ds_(ds),
        pools_(pools),
        valid_share_(valid_share),
        threads_(threads),
        seed_(seed) {}
  /// The sets for `e` (built on first use; logged).
  const std::pair<RankTrainSet, RankTrainSet>& get(const ExampleOptions& e);
  /// Rows, groups and positives of every set built, by key.
  const std::map<std::string, std::map<std::string, double>>& stats() const { return stats_; }
  static std::string key_of(const ExampleOptions& e);
  /// The feature pipelines the training requests are built by.
  const UserFeatures& features() const { return fb_; }

 private:
  UserFeatures fb_;
  const Dataset& ds_;
  const std::vector<std::vector<FusedCandidate>>& pools_;
  double valid_share_;
  int threads_;
  uint64_t seed_;
  std::map<std::string, std::pair<RankTrainSet, RankTrainSet>> sets_;
  std::map<std::string, std::map<std::string, double>> stats_;
};

/// Fits the ranker of `spec` on its training set (TrainingSets::get(spec.examples)).
std::unique_ptr<Ranker> fit_ranker_on(const RankerSpec& spec, TrainingSets& sets, int threads,
                                      uint64_t seed, const std::string& dataset_hash);

}  // namespace cascade
