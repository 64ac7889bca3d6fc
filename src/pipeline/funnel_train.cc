#include "cascade/pipeline/funnel_train.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <numeric>

#include "cascade/core/error.h"
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

  // 1. Channels on the recall slice.
  in.recall = ds.recall_slice();
  for (const auto& spec : specs) {
    in.fitted.push_back(
        fit_or_load_channel(spec, ds, in.recall, "oof", opt.channel_cache, threads, seed));
    in.channels.push_back(in.fitted.back().model.get());
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
  // Test users share the validation users' candidates unless their history differs.
  const bool test_with_valid = opt.heldout_test && !opt.test_sees_valid;
  in.heldout = collect_candidates(in.channels, in.names, ds.train, in.valid,
                                  test_with_valid ? in.test : none, quota, threads);
  if (opt.heldout_test && opt.test_sees_valid) {
    in.test_rows = with_heldout_appended(ds.train, ds.valid);
    in.heldout_test =
        collect_candidates(in.channels, in.names, in.test_rows, none, in.test, quota, threads,
                           /*fitted_rows=*/false);
  }
  in.fusion = fusion_at_quota(in, ds, in.fusion_config.quota, threads);

  // 3. Training requests' pools (history = recall slice), features over the recall slice.
  const Interactions ranker_rows =
      sample_rows(ds.ranker_slice(), ex.max_users, seed ^ 0x72616e6b6572ULL);
  if (ex.max_users > 0)
    spdlog::info(
        "rank.examples.max_users {}: training requests for {} of {} ranker-slice users (a seeded "
        "sample)",
        ex.max_users, nonempty_rows(ranker_rows), nonempty_rows(ds.ranker_slice()));
  // Their quota and depth are the examples' own (rank.examples.pool_quota, hard_depth), not the
  // served pool's, so every funnel evaluated over these rankers is the one a bundle trains.
  const PoolCandidates pc_train = collect_candidates(in.channels, in.names, in.recall, ranker_rows,
                                                     none, ex.pool_quota, threads);
  const FusionOptions train_fusion = ex.pool_quota == in.fusion_config.quota
                                         ? in.fusion
                                         : fusion_at_quota(in, ds, ex.pool_quota, threads);
  in.train_pools = fused_pools(pc_train, in.recall, train_fusion, ex.hard_depth, threads);
  in.features = std::make_unique<FeatureBuilder>(ds.catalog, in.recall, in.channels, in.names,
                                                 in.rank.features);
  spdlog::info("funnel inputs: candidates, fusion and training pools in {:.1f} s", sw.seconds());
  return in;
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
  auto split = split_groups(all, valid_share_, seed_, fb_);
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
  auto model = fit_ranker(spec, tr, va, threads, seed, dataset_hash);
  spdlog::info("ranker {}: fitted in {:.1f} s", spec.name, sw.seconds());
  return model;
}

}  // namespace cascade
