// `cascade bench funnel`: trains a seed-oof funnel's channels and every candidate ranker, chooses
// the funnel on the VALIDATION split, then reads the test split once for the chosen funnel.
//
// Selection (select_on_valid), each step on validation Recall@10 (select_metric; ties: the other
// of Recall@10 and NDCG@10, then the configured value), in this order:
//   1. the (pre-ranker, fine-ranker) pair among the candidate rankers (ablation variants are
//      never candidates; a blend's drop-one variants are), at the configured pool depth, quota
//      and cuts;
//   2. pool depth x pre-rank keep x channel quota for that pair (a deeper pool is a prefix of
//      the deepest one: rankers score rows independently, so nothing is re-fitted);
//      with a ranking budget or the one-standard-error rule (rank_budget_ms, select_rule), 1 and
//      2 are one search over every pair at every cut, costed by a cost model;
//   3. the request-time features (days since the last event, item age) on or off: the pair
//      re-trained without them (a config override, rank.features.time=false, that
//      `bundle --funnel-from` applies with the spec);
//   4. the re-ranker's diversity λ (the served list: the re-rank method over the fine-ranker's
//      best, as the Recommender runs it), ties to the larger λ.
// Every figure is computed under request_time.h's serving policy, as the server runs. The test
// split then gives, for the chosen funnel: its Recall/NDCG@10 against its own pool with paired
// bootstrap intervals, retention by stage, every ranker alone, and the request-time ablations
// (event time; time features off), each re-trained and compared with its own pool.
// Beside the contract keys: "ranker_pairwise" (every ranker of the table and the pool compared
// pairwise on test Recall@10, paired bootstrap) and "user_buckets" (test Recall@10 of the pool,
// the chosen funnel and every ranker per bucket of the user's training-history length).
#pragma once

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cascade/data/dataset.h"
#include "cascade/pipeline/bench_breakdown.h"
#include "cascade/rank/features.h"

namespace cascade {

struct FunnelBenchOptions {
  int threads = 0;
  std::filesystem::path channel_cache;  ///< reuse fitted channels (empty = off)
  std::vector<std::string> rankers;     ///< candidate rankers (empty = every configured one)
  std::vector<std::string> random_ablation = {"gbdt",
                                              "deepfm"};  ///< also train on random negatives only
  bool sum_ablation = true;                               ///< also train DIN with sum pooling
  /// Each blend of 3+ members also enters the selection without each member in turn
  /// ("blend_no_din": blend(members=lr+gbdt+deepfm)). Assembled from the fitted members, so free
  /// to fit; validation then weighs a member's lift against none.
  bool blend_drop_one = true;
  bool select_on_valid = true;  ///< false: evaluate the configured funnel as it is
  std::vector<size_t> pool_depths = {100, 200, 300};
  std::vector<size_t> pre_keeps = {50, 100, 150};
  std::vector<size_t> quotas = {200, 500};
  std::vector<double> lambdas = {0, 0.1, 0.2, 0.3, 0.5};
  std::vector<std::string> gbdt_objectives = {"binary:logistic", "rank:ndcg"};  ///< GBDT candidates
  bool time_ablations = true;        ///< also run the event-time and no-time-feature funnels
  bool select_time_features = true;  ///< choose time features on/off on validation
  /// Feature groups to ablate on the chosen funnel ("feature_ablations"): its two rankers
  /// re-trained without the group, scored on validation and test against the chosen funnel
  /// (paired). Groups (feature_group_names()): similarity (every sim_* column), ids (the user and
  /// item id fields), time (days_since_last, age_days), genres (genre_affinity, genre_share; item
  /// genres stay), priors, session and sequence (the seq_* scores) (FeatureConfig; a group
  /// already off ablates nothing).
  std::vector<std::string> feature_ablations;
  /// Test requests carry the validation item in their history
  /// (FunnelTrainOptions::test_sees_valid).
  bool test_sees_valid = false;
  /// The validation metric every selection step maximises (the other one breaks ties):
  /// "recall@10" or "ndcg@10".
  std::string select_metric = "recall@10";
  /// A serving budget for the ranking stage, in ms per request on one thread (0 = none). With
  /// one, steps 1 and 2 of the selection become one search over every pair at every cut whose
  /// estimated cost fits ("selection.cost_model": features and pre-ranker ms per pool row, fine
  /// ranker ms per kept row, timed on the validation scoring); at an equal metric the cheaper
  /// estimate wins. Timings make the choice depend on the machine, so the default is none.
  double rank_budget_ms = 0;
  /// How steps 1 and 2 pick among funnels: "best" (the highest validation metric) or "one-se"
  /// (the one-standard-error rule: every pair at every cut is scored, as under a budget; of the
  /// funnels whose validation metric is within one standard error of the best one's (the paired
  /// per-user difference's), the cheapest by the cost model wins). Validation cannot tell those
  /// funnels apart, so the rule buys serving cost, not accuracy ("selection.one_se").
  std::string select_rule = "best";
  /// A cost model recorded by an earlier run (its JSON, or its "selection.cost_model" object) used
  /// instead of timing this one: the same choice on any machine and in every run. Empty = timed.
  std::filesystem::path cost_model;
  /// Rounds of the split-half check of the selection metric (0 = off): each round chooses with
  /// both metrics on a seeded half of the validation users and scores the choice on the other
  /// half, both ways ("selection.split_half_check"). Validation only.
  int split_half_rounds = 0;
  /// Edges of the "user_buckets" breakdown by training-history length (bench_breakdown.h).
  std::vector<size_t> history_edges = kDefaultHistoryEdges;
};

/// Runs the experiment on a seed-oof dataset with a resolved configuration (resolve_funnel).
/// Returns the contract JSON (BENCHMARKS.md, "Ranking stage"); progress goes to the log.
nlohmann::ordered_json run_funnel_bench(const YAML::Node& cfg, const Dataset& ds,
                                        const FunnelBenchOptions& opt);

/// Turns one feature group of FunnelBenchOptions::feature_ablations off in `config`; throws
/// cascade::Error naming the option for an unknown group.
void ablate_feature_group(FeatureConfig& config, const std::string& group);
/// The groups ablate_feature_group knows, in the order of its error message.
const std::vector<std::string>& feature_group_names();

}  // namespace cascade
