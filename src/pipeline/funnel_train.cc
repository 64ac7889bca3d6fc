#include "cascade/pipeline/funnel_train.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <numeric>

#include "cascade/core/error.h"
#include "cascade/util/mix64.h"
#include "cascade/util/stopwatch.h"

namespace cascade {

size_t heldout_user_cap(const YAML::Node& cfg) {
  const YAML::Node n = cfg["eval"] ? cfg["eval"]["max_users"] : YAML::Node();
  if (!n || n.IsNull()) return 0;
  try {
    const long long v = n.as<long long>();
    if (v >= 0) return static_cast<size_t>(v);
  } catch (const YAML::Exception&) {
  }
  throw Error(
      "config: eval.max_users must be a non-negative integer (0 = every held-out user), got '" +
      (n.IsScalar() ? n.as<std::string>() : std::string("a non-scalar")) + "'");
}

Interactions with_heldout_appended(const Interactions& train, const Interactions& heldout) {
  CASCADE_CHECK(heldout.n_rows <= train.n_rows && heldout.n_cols == train.n_cols,
                fmt::format("held-out rows ({} x {}) do not fit the training matrix ({} x {})",
                            heldout.n_rows, heldout.n_cols, train.n_rows, train.n_cols));
  Interactions out;
  out.n_cols = train.n_cols;
  std::vector<uint32_t> items;
  std::vector<float> values;
  std::vector<int64_t> times;
  for (uint32_t u = 0; u < train.n_rows; ++u) {
    items.assign(train.row(u).begin(), train.row(u).end());
    values.assign(train.row_values(u).begin(), train.row_values(u).end());
    times.assign(train.row_times(u).begin(), train.row_times(u).end());
    if (u < heldout.n_rows) {
      items.insert(items.end(), heldout.row(u).begin(), heldout.row(u).end());
      values.insert(values.end(), heldout.row_values(u).begin(), heldout.row_values(u).end());
      times.insert(times.end(), heldout.row_times(u).begin(), heldout.row_times(u).end());
    }
    out.append_row(items, values, times);
  }
  return out;
}

FunnelInputs prepare_funnel_inputs(const YAML::Node& cfg, const Dataset& ds,
                                   const FunnelTrainOptions& opt) {
  CASCADE_CHECK(
      ds.options.protocol == Protocol::kSeedOof,
      "the funnel needs data prepared with protocol seed-oof (the rankers learn from the ranker "
      "slice); got " +
          protocol_name(ds.options.protocol));
  const uint64_t seed = cfg["seed"] ? cfg["seed"].as<uint64_t>() : 42;
  const int threads = opt.threads;
  FunnelInputs in;
  in.rank = rank_config_from_yaml(cfg["rank"], seed);
  const auto specs = channel_specs_from_yaml(cfg["recall"]["channels"]);
  for (const auto& s : specs) in.names.push_back(s.name);
  in.fusion_config = fusion_config_from_yaml(cfg["recall"]["fusion"], in.names);

  // 1. The served channels: on the recall slice, or with channel folds on every training row
  // (then also each fold's channels, fitted without the fold users' ranker slice).
  const int n_folds = in.rank.channel_folds;
  in.fit_matrix = n_folds > 0 ? ds.train : ds.recall_slice();
  const std::string served_tag = n_folds > 0 ? "train" : "oof";
  for (const auto& spec : specs) {
    in.fitted.push_back(
        fit_or_load_channel(spec, ds, in.fit_matrix, served_tag, opt.channel_cache, threads, seed));
    in.channels.push_back(in.fitted.back().model.get());
  }
  if (n_folds > 0) {
    in.fold_of_user = channel_fold_of_users(ds.n_users, n_folds, seed);
    in.folds.resize(static_cast<size_t>(n_folds));
    for (uint32_t f = 0; f < in.folds.size(); ++f) {
      auto& fold = in.folds[f];
      fold.fit_matrix = fold_fit_matrix(ds, in.fold_of_user, f);
      spdlog::info("channel fold {} of {}: {} rows ({} held back)", f + 1, n_folds,
                   fold.fit_matrix.nnz(), ds.train.nnz() - fold.fit_matrix.nnz());
      for (const auto& spec : specs) {
        fold.fitted.push_back(fit_or_load_channel(spec, ds, fold.fit_matrix,
                                                  fmt::format("fold{}of{}", f + 1, n_folds),
                                                  opt.channel_cache, threads, seed));
        fold.channels.push_back(fold.fitted.back().model.get());
      }
    }
  }

  // 2. Candidates of the held-out users; fusion weights on the validation item (never test).
  Stopwatch sw;
  const Interactions none;
  const ExampleOptions& ex = in.rank.examples;
  const size_t max_heldout = heldout_user_cap(cfg);
  in.valid = sample_rows(ds.valid, max_heldout, seed ^ 0x76616c6964ULL);
  in.test = sample_rows(ds.test, max_heldout, seed ^ 0x74657374ULL);
  if (max_heldout > 0)
    spdlog::info(
        "eval.max_users {}: tuning and evaluating on {} of {} validation and {} of {} test users "
        "(a seeded sample)",
        max_heldout, nonempty_rows(in.valid), nonempty_rows(ds.valid), nonempty_rows(in.test),
        nonempty_rows(ds.test));
  const size_t quota = std::max({opt.heldout_quota, in.fusion_config.quota, ex.pool_quota});
  in.test_sees_valid = opt.test_sees_valid;
  // Test users share the validation users' candidates unless their history differs, or they
  // know more seen items (keep_seen: the ones between the validation and the test item).
  const Interactions valid_seen = ds.seen_at_valid(), test_seen = ds.seen_at_test();
  in.separate_test = opt.heldout_test && (opt.test_sees_valid || test_seen.nnz() > 0);
  const bool test_with_valid = opt.heldout_test && !in.separate_test;
  in.heldout =
      collect_candidates(in.channels, in.names, ds.train, in.valid,
                         test_with_valid ? in.test : none, quota, threads, true, &valid_seen);
  if (opt.heldout_test && opt.test_sees_valid)
    in.test_rows = with_heldout_appended(ds.train, ds.valid);
  if (in.separate_test) {
    in.heldout_test =
        collect_candidates(in.channels, in.names, in.test_history(ds), none, in.test, quota,
                           threads, /*fitted_rows=*/!opt.test_sees_valid, &test_seen);
  }
  in.fusion = fusion_at_quota(in, ds, in.fusion_config.quota, threads);

  // 3. Training requests' pools (history = recall slice) and the feature pipelines.
  const Interactions ranker_rows =
      sample_rows(ds.ranker_slice(), ex.max_users, seed ^ 0x72616e6b6572ULL);
  if (ex.max_users > 0)
    spdlog::info(
        "rank.examples.max_users {}: training requests for {} of {} ranker-slice users (a seeded "
        "sample)",
        ex.max_users, nonempty_rows(ranker_rows), nonempty_rows(ds.ranker_slice()));
  // Their quota and depth are the examples' own (rank.examples.pool_quota, hard_depth), not the
  // served pool's, so every funnel evaluated over these rankers is the one a bundle trains.
  const FusionOptions train_fusion = ex.pool_quota == in.fusion_config.quota
                                         ? in.fusion
                                         : fusion_at_quota(in, ds, ex.pool_quota, threads);
  // A training request knows the seen items before its first ranker-slice positive.
  const Interactions ranker_seen =
      ds.options.keep_seen ? ds.seen_at_ranker_slice() : Interactions();
  if (n_folds == 0) {
    const PoolCandidates pc_train =
        collect_candidates(in.channels, in.names, in.fit_matrix, ranker_rows, none, ex.pool_quota,
                           threads, true, &ranker_seen);
    in.train_pools = fused_pools(pc_train, in.fit_matrix, train_fusion, ex.hard_depth, threads);
  } else {
    // Each fold's users are queried on their fold's channels (their rows there are the recall
    // slice, so the trained user ids answer, as without folds).
    in.train_pools.assign(ds.n_users, {});
    for (uint32_t f = 0; f < in.folds.size(); ++f) {
      const auto& fold = in.folds[f];
      const Interactions fold_rows = ranker_rows.slice_rows(
          [](uint32_t) { return 0u; },
          [&](uint32_t u) { return in.fold_of_user[u] == f ? ranker_rows.row_size(u) : 0u; });
      const PoolCandidates pc =
          collect_candidates(fold.channels, in.names, fold.fit_matrix, fold_rows, none,
                             ex.pool_quota, threads, true, &ranker_seen);
      auto pools = fused_pools(pc, fold.fit_matrix, train_fusion, ex.hard_depth, threads);
      for (uint32_t u = 0; u < pools.size() && u < ds.n_users; ++u)
        if (in.fold_of_user[u] == f && !pools[u].empty()) in.train_pools[u] = std::move(pools[u]);
    }
  }
  FunnelFeatures pipelines = funnel_features(in, ds.catalog, in.rank.features);
  in.features = std::move(pipelines.served);
  in.fold_features = std::move(pipelines.folds);
  spdlog::info("funnel inputs: candidates, fusion and training pools in {:.1f} s", sw.seconds());
  return in;
}

namespace {

// The fold pipelines with each user's fold, or the served pipeline for every user.
UserFeatures user_features_of(const FeatureBuilder* served,
                              const std::vector<std::unique_ptr<FeatureBuilder>>& folds,
                              const std::vector<uint32_t>& fold_of_user) {
  UserFeatures u;
  if (folds.empty()) {
    u.builders = {served};
    return u;
  }
  for (const auto& f : folds) u.builders.push_back(f.get());
  u.fold = fold_of_user;
  return u;
}

}  // namespace

UserFeatures FunnelInputs::training_features() const {
  return user_features_of(features.get(), fold_features, fold_of_user);
}

UserFeatures FunnelFeatures::training() const {
  return user_features_of(served.get(), folds, fold_of_user);
}

FunnelFeatures funnel_features(const FunnelInputs& in, const Catalog& catalog,
                               const FeatureConfig& config) {
  FunnelFeatures out;
  out.served =
      std::make_unique<FeatureBuilder>(catalog, in.fit_matrix, in.channels, in.names, config);
  for (const auto& fold : in.folds)
    out.folds.push_back(std::make_unique<FeatureBuilder>(catalog, fold.fit_matrix, fold.channels,
                                                         in.names, config));
  out.fold_of_user = in.fold_of_user;
  return out;
}

std::vector<uint32_t> channel_fold_of_users(uint32_t n_users, int folds, uint64_t seed) {
  CASCADE_CHECK(folds >= 2, fmt::format("channel folds: need at least 2, got {}", folds));
  std::vector<uint32_t> fold(n_users);
  for (uint32_t u = 0; u < n_users; ++u)
    fold[u] =
        static_cast<uint32_t>(mix64(seed ^ (0x666f6c64ULL + u)) % static_cast<uint64_t>(folds));
  return fold;
}

Interactions fold_fit_matrix(const Dataset& ds, const std::vector<uint32_t>& fold_of_user,
                             uint32_t fold) {
  CASCADE_CHECK(ds.recall_rows.size() == ds.n_users && fold_of_user.size() == ds.n_users,
                "fold_fit_matrix: needs a seed-oof dataset and a fold for every user");
  return ds.train.slice_rows([](uint32_t) { return 0u; },
                             [&](uint32_t u) {
                               return fold_of_user[u] == fold ? ds.recall_rows[u]
                                                              : ds.train.row_size(u);
                             });
}

FusionOptions fusion_at_quota(const FunnelInputs& in, const Dataset& ds, size_t quota,
                              int threads) {
  FusionOptions f = in.fusion_config.options_for(in.names);
  f.quotas.assign(in.names.size(), quota);
  if (!in.fusion_config.tune) return f;
  EvalOptions eopt;
  eopt.threads = threads;
  eopt.ks = {10, in.fusion_config.base.pool_size};
  return tune_fusion_weights(in.heldout, ds.train, in.valid, f, in.fusion_config.search, eopt);
}

std::string TrainingSets::key_of(const ExampleOptions& e) {
  return fmt::format("hard={}@{},random={},in_pool={},time={}", e.hard_negatives, e.hard_depth,
                     e.random_negatives, e.positives_in_pool, time_policy_name(e.request_time));
}

const std::pair<RankTrainSet, RankTrainSet>& TrainingSets::get(const ExampleOptions& e) {
  const std::string key = key_of(e);
  if (auto it = sets_.find(key); it != sets_.end()) return it->second;
  Stopwatch sw;
  RankTrainSet all = build_training_set(fb_, ds_, pools_, e, threads_);
  auto split = split_groups(all, valid_share_, seed_, fb_.first());
  const double pos = std::accumulate(all.labels.begin(), all.labels.end(), 0.0);
  spdlog::info("examples {}: {} groups ({} held out), {} rows, {:.0f} positives ({:.1f} s)", key,
               all.batch.groups(), split.second.batch.groups(), all.batch.rows(), pos,
               sw.seconds());
  stats_[key] = {{"groups", static_cast<double>(all.batch.groups())},
                 {"rows", static_cast<double>(all.batch.rows())},
                 {"positives", pos}};
  return sets_.emplace(key, std::move(split)).first->second;
}

std::unique_ptr<Ranker> fit_ranker_on(const RankerSpec& spec, TrainingSets& sets, int threads,
                                      uint64_t seed, const std::string& dataset_hash) {
  const auto& [tr, va] = sets.get(spec.examples);
  spdlog::info("fitting ranker {} ({}) on {} rows", spec.name, spec.spec(), tr.batch.rows());
  Stopwatch sw;
  // item_init reads the channels of the pipeline that builds the first training requests: without
  // channel folds the recall-slice channels, which never saw a ranker-slice positive.
  const FeatureBuilder& fb = sets.features().first();
  auto model = fit_ranker(spec, tr, va, threads, seed, dataset_hash,
                          [&fb](const std::string& name) { return fb.item_table(name); });
  spdlog::info("ranker {}: fitted in {:.1f} s", spec.name, sw.seconds());
  return model;
}

}  // namespace cascade
