// cascade bench funnel --data DIR --dataset NAME --protocol seed-oof --json OUT.json
// Trains the recall channels on the seed-oof recall slice and every configured ranker on the
// ranker slice (positives) and its pools (negatives), then scores the test users' pools and
// writes the ranking contract JSON:
// {"dataset","protocol","users",
//  "pool":{"recall@10","ndcg@10","pool_recall"},
//  "rankers":{NAME:{"recall@10","ndcg@10","recall@50","auc_in_pool","fit_seconds","ms_per_user"}},
//  "funnel":{"recall@10","ndcg@10","p_value_vs_pool",...},
//  "retention":{"pool","pre_rank","fine_rank","top10"}, ...}
// "funnel" is the (pre-rank, fine-rank) pair with the best VALIDATION Recall@10 among all
// ordered pairs of trained rankers; "funnel_default" is the configured pair. With --refit
// (default) the production variant oof-refit is reported too: channels refitted on the whole
// training rows, the same rankers, the same test items.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "cascade/core/error.h"
#include "cascade/eval/compare.h"
#include "cascade/io/artifact.h"
#include "cascade/pipeline/funnel_eval.h"
#include "cascade/pipeline/rank_job.h"
#include "cli_common.h"
#include "commands.h"

namespace cascade::cli {
namespace {

using Json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct FunnelOpts {
  DataFlags data;
  std::string json;
  int threads = 0;
  std::vector<std::string> rankers;   // subset of rank.rankers (empty = all)
  std::vector<std::string> channels;  // subset of recall.channels (empty = all)
  std::vector<std::string> random_ablation = {"gbdt", "deepfm"};
  bool sum_ablation = true;
  bool refit = true;
  std::string cache;  // fitted recall channels are saved here and reused when spec and data match
  std::vector<std::string> overrides;
};

// Per-user metrics of a list of orders (one per user) against the held-out rows.
struct PerUser {
  std::vector<double> recall10, ndcg10, recall50;
};

PerUser metrics_of(const HeldoutScores& hs, const std::vector<std::vector<uint32_t>>& orders) {
  PerUser m;
  for (size_t i = 0; i < hs.users.size(); ++i) {
    const int64_t p = position_in(orders[i], hs.target[i]);
    m.recall10.push_back(p >= 0 && p < 10 ? 1.0 : 0.0);
    m.recall50.push_back(p >= 0 && p < 50 ? 1.0 : 0.0);
    m.ndcg10.push_back(p >= 0 && p < 10 ? 1.0 / std::log2(static_cast<double>(p) + 2.0) : 0.0);
  }
  return m;
}

double mean(const std::vector<double>& v) {
  return v.empty() ? 0.0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

std::vector<std::vector<uint32_t>> pool_orders(const HeldoutScores& hs) {
  std::vector<std::vector<uint32_t>> o(hs.users.size());
  for (size_t i = 0; i < o.size(); ++i) {
    o[i].resize(hs.rows[i]);
    std::iota(o[i].begin(), o[i].end(), 0u);
  }
  return o;
}

std::vector<std::vector<uint32_t>> ranker_orders(const HeldoutScores& hs, size_t k) {
  std::vector<std::vector<uint32_t>> o(hs.users.size());
  for (size_t i = 0; i < o.size(); ++i) o[i] = order_by(hs.scores[k][i]);
  return o;
}

std::vector<std::vector<uint32_t>> funnel_orders(const HeldoutScores& hs, size_t pre, size_t pre_keep, size_t fine,
                                                 size_t fine_keep) {
  std::vector<std::vector<uint32_t>> o(hs.users.size());
  for (size_t i = 0; i < o.size(); ++i) o[i] = funnel_order(hs.scores[pre][i], pre_keep, hs.scores[fine][i], fine_keep);
  return o;
}

Json paired(const std::vector<double>& base, const std::vector<double>& other) {
  const BootstrapResult b = paired_bootstrap(base, other, 1000, 42, 0.95);
  return Json{{"diff", b.diff}, {"ci_low", b.ci_low}, {"ci_high", b.ci_high}, {"p_value", b.p_value}};
}

// Share of users whose held-out item survives each funnel stage.
Json retention(const HeldoutScores& hs, size_t pre, size_t pre_keep, size_t fine, size_t fine_keep) {
  double in_pool = 0, in_pre = 0, in_fine = 0, in_top10 = 0;
  for (size_t i = 0; i < hs.users.size(); ++i) {
    if (hs.target[i] < 0) continue;
    in_pool += 1;
    const auto pre_order = funnel_order(hs.scores[pre][i], pre_keep, hs.scores[pre][i], pre_keep);
    if (position_in(pre_order, hs.target[i]) < 0) continue;
    in_pre += 1;
    const auto fine_order = funnel_order(hs.scores[pre][i], pre_keep, hs.scores[fine][i], fine_keep);
    const int64_t p = position_in(fine_order, hs.target[i]);
    if (p < 0) continue;
    in_fine += 1;
    if (p < 10) in_top10 += 1;
  }
  const double n = static_cast<double>(hs.users.size());
  return Json{{"pool", in_pool / n}, {"pre_rank", in_pre / n}, {"fine_rank", in_fine / n}, {"top10", in_top10 / n}};
}

// The ranking stage of one request, timed on one thread, as serving runs it: features for the
// pool, the pre-ranker over all of it, the fine-ranker over the pre-ranker's top `pre_keep`
// (its order; keeping the top fine_keep of it is a truncation).
Json stage_latency(const FeatureBuilder& fb, const std::vector<std::vector<FusedCandidate>>& pools,
                   const Interactions& history, const Interactions& heldout, const Ranker& pre, size_t pre_keep,
                   const Ranker& fine) {
  std::vector<double> feat, pre_ms, fine_ms, total;
  std::vector<float> ps, fs;
  auto ms = [](Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
  for (uint32_t u = 0; u < heldout.n_rows && u < pools.size(); ++u) {
    if (heldout.row_size(u) == 0 || pools[u].empty()) continue;
    const auto t0 = Clock::now();
    RankBatch b = fb.empty_batch();
    fb.add_pool(RankRequest{u, history.row(u), history.row_times(u), heldout.row_times(u)[0]}, pools[u], b);
    const auto t1 = Clock::now();
    ps.resize(b.rows());
    pre.score(b, ps);
    const auto keep = funnel_order(ps, pre_keep, ps, pre_keep);
    const auto t2 = Clock::now();
    const RankBatch sub = b.take_rows(keep);
    fs.resize(sub.rows());
    fine.score(sub, fs);
    const auto top = order_by(fs);
    const auto t3 = Clock::now();
    feat.push_back(ms(t0, t1));
    pre_ms.push_back(ms(t1, t2));
    fine_ms.push_back(ms(t2, t3));
    total.push_back(ms(t0, t3));
  }
  auto stats = [&](const std::vector<double>& v) { return Json{{"p50", percentile(v, 0.5)}, {"p99", percentile(v, 0.99)}}; };
  return Json{{"requests", total.size()},
              {"pre_rank", pre.kind()},
              {"fine_rank", fine.kind()},
              {"features_ms", stats(feat)},
              {"pre_rank_ms", stats(pre_ms)},
              {"fine_rank_ms", stats(fine_ms)},
              {"total_ms", stats(total)},
              {"note", "one thread, one request at a time, on this run's test users"}};
}

struct Pools {
  std::vector<std::vector<FusedCandidate>> heldout;  // history = whole training rows
  std::vector<std::vector<FusedCandidate>> train;    // history = recall slice (empty when not needed)
};

void add_funnel(CLI::App* bench) {
  auto o = std::make_shared<FunnelOpts>();
  o->data.protocol = "seed-oof";
  CLI::App* cmd = bench->add_subcommand(
      "funnel", "train OOF recall channels and every ranker, evaluate rankers and funnels, write JSON");
  o->data.add_to(cmd);
  cmd->add_option("--json", o->json, "write the results here");
  cmd->add_option("--threads", o->threads, "threads (0 = hardware)")->capture_default_str();
  cmd->add_option("--channels", o->channels, "only these recall channels")->delimiter(',')->allow_extra_args(false);
  cmd->add_option("--rankers", o->rankers, "only these rankers of rank.rankers")->delimiter(',')->allow_extra_args(false);
  cmd->add_option("--random-negatives-ablation", o->random_ablation,
                  "also train these rankers on random negatives only (empty: none)")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->capture_default_str();
  cmd->add_option("--sum-ablation", o->sum_ablation, "also train DIN with sum pooling")->capture_default_str();
  cmd->add_option("--refit", o->refit, "also report oof-refit (channels refitted on all training rows)")
      ->capture_default_str();
  cmd->add_option("--cache", o->cache,
                  "keep fitted recall channels here and reuse them when the channel spec, data and seed match");
  cmd->add_option("overrides", o->overrides, "config overrides, e.g. rank.examples.hard_negatives=50");
  cmd->callback([o] {
    const YAML::Node cfg = load_config(o->overrides);
    const uint64_t seed = config_seed(cfg);
    const int threads = o->threads;
    DataSource src = o->data.to_source();
    CASCADE_CHECK(src.prepare.protocol == Protocol::kSeedOof,
                  "bench funnel needs --protocol seed-oof (rankers learn from the ranker slice)");
    auto t0 = Clock::now();
    RawLog log = load_dataset(src.dataset, src.path, src.load);
    Dataset ds = prepare_dataset(log, src.tag, src.prepare);
    spdlog::info("prepared {}: {} users, {} items, {} train rows ({:.2f} s)", src.dataset, ds.n_users, ds.n_items,
                 ds.train.nnz(), seconds_since(t0));
    const Interactions recall = ds.recall_slice();
    const Interactions ranker_rows = ds.ranker_slice();

    // Rankers: the configured ones (or a subset) plus the ablations.
    RankConfig rc = rank_config_from_yaml(cfg["rank"], seed);
    std::vector<RankerSpec> specs;
    if (o->rankers.empty()) {
      specs = rc.rankers;
    } else {
      for (const auto& n : o->rankers) specs.push_back(rc.ranker(n));
    }
    std::vector<std::pair<std::string, std::string>> ablations;
    const size_t n_configured = specs.size();
    for (size_t k = 0; k < n_configured; ++k) {
      const RankerSpec base = specs[k];
      if (o->sum_ablation && base.kind == "din" && !base.params.has("pooling")) {
        RankerSpec s = base;
        s.name = base.name + "_sum";
        s.params.set("pooling", "sum");
        specs.push_back(s);
        ablations.emplace_back(base.name, s.name);
      }
      if (std::find(o->random_ablation.begin(), o->random_ablation.end(), base.name) != o->random_ablation.end()) {
        RankerSpec s = base;
        s.name = base.name + "_random";
        s.examples.random_negatives = base.examples.hard_negatives + base.examples.random_negatives;
        s.examples.hard_negatives = 0;
        s.own_examples = true;
        specs.push_back(s);
        ablations.emplace_back(base.name, s.name);
      }
    }

    // Recall channels on the recall slice.
    const auto all_channels = channel_specs_from_yaml(cfg["recall"]["channels"]);
    const auto channel_specs = select_channels(all_channels, o->channels);
    std::vector<std::string> names, all_names;
    for (const auto& s : channel_specs) names.push_back(s.name);
    for (const auto& s : all_channels) all_names.push_back(s.name);
    const FusionConfig fc = fusion_config_from_yaml(cfg["recall"]["fusion"], all_names);
    std::vector<FittedChannel> fitted;
    std::vector<const Recaller*> models;
    Json out;
    out["dataset"] = src.dataset;
    out["protocol"] = protocol_name(src.prepare.protocol);
    // A channel fitted on `train` (tag names the slice), from the cache when it holds one.
    auto fit_or_load = [&](const ChannelSpec& spec, const Interactions& train, const std::string& tag) {
      return fit_or_load_channel(spec, ds, train, tag, o->cache, threads, seed);
    };
    for (const auto& spec : channel_specs) {
      fitted.push_back(fit_or_load(spec, recall, "oof"));
      models.push_back(fitted.back().model.get());
      out["channels"][spec.name]["fit_seconds"] = fitted.back().fit_seconds;
    }

    // Pools: held-out requests see the whole training row; training requests the recall slice.
    EvalOptions eopt;
    eopt.threads = threads;
    eopt.ks = {10, fc.base.pool_size};
    auto t1 = Clock::now();
    PoolCandidates pc_heldout = collect_candidates(models, names, ds.train, ds.valid, ds.test, fc.quota, threads);
    FusionOptions fopt = fc.options_for(names);
    if (fc.tune) fopt = tune_fusion_weights(pc_heldout, ds.train, ds.valid, fopt, fc.search, eopt);
    Pools pools;
    pools.heldout = fused_pools(pc_heldout, ds.train, fopt, rc.pool_depth, threads);
    const Interactions none;
    PoolCandidates pc_train = collect_candidates(models, names, recall, ranker_rows, none, fc.quota, threads);
    pools.train = fused_pools(pc_train, recall, fopt, rc.pool_depth, threads);
    spdlog::info("pools: {:.1f} s", seconds_since(t1));
    for (size_t c = 0; c < names.size(); ++c) out["fusion_weights"][names[c]] = fopt.weights[c];

    // Training examples (one set per distinct example mix) and the held-out groups.
    FeatureBuilder fb(ds.catalog, recall, models, names, rc.features);
    out["features"] = {{"dense", fb.schema().dense}, {"fields", fb.schema().n_fields()}};
    std::map<std::string, std::pair<RankTrainSet, RankTrainSet>> sets;  // key -> (train, valid)
    auto key_of = [](const ExampleOptions& e) {
      return fmt::format("hard={}@{},random={},in_pool={}", e.hard_negatives, e.hard_depth, e.random_negatives,
                         e.positives_in_pool);
    };
    auto examples_for = [&](const ExampleOptions& e) -> std::pair<RankTrainSet, RankTrainSet>& {
      const std::string key = key_of(e);
      auto it = sets.find(key);
      if (it != sets.end()) return it->second;
      auto t2 = Clock::now();
      RankTrainSet all = build_training_set(fb, ds, pools.train, e, threads);
      // Hold out whole groups (users) for early stopping.
      auto [tr, va] = split_groups(all, rc.valid_share, seed, fb);
      const size_t n_valid = va.batch.groups();
      const double pos = std::accumulate(all.labels.begin(), all.labels.end(), 0.0);
      spdlog::info("examples {}: {} groups ({} held out), {} rows, {:.0f} positives ({:.1f} s)", key,
                   all.batch.groups(), n_valid, all.batch.rows(), pos, seconds_since(t2));
      out["examples"][key] = {{"groups", all.batch.groups()}, {"rows", all.batch.rows()}, {"positives", pos}};
      return sets.emplace(key, std::make_pair(std::move(tr), std::move(va))).first->second;
    };

    std::vector<std::unique_ptr<Ranker>> rankers;
    std::vector<const Ranker*> ranker_ptrs;
    std::vector<double> fit_secs;
    for (const auto& spec : specs) {
      auto& [tr, va] = examples_for(spec.examples);
      spdlog::info("fitting ranker {} ({}) on {} rows", spec.name, spec.spec(), tr.batch.rows());
      auto t3 = Clock::now();
      auto model = fit_ranker(spec, tr, va, threads, seed, ds.content_hash);
      fit_secs.push_back(seconds_since(t3));
      spdlog::info("ranker {}: fitted in {:.1f} s", spec.name, fit_secs.back());
      ranker_ptrs.push_back(model.get());
      rankers.push_back(std::move(model));
    }

    // Score validation (to choose the funnel) and test pools.
    auto t4 = Clock::now();
    const HeldoutScores valid = score_heldout(fb, pools.heldout, ds.train, ds.valid, ranker_ptrs, threads);
    const HeldoutScores test = score_heldout(fb, pools.heldout, ds.train, ds.test, ranker_ptrs, threads);
    spdlog::info("scored validation and test pools: {:.1f} s", seconds_since(t4));
    const double n_users = static_cast<double>(test.users.size());
    out["users"] = test.users.size();

    const PerUser pool_m = metrics_of(test, pool_orders(test));
    double in_pool = 0;
    for (int32_t t : test.target) in_pool += t >= 0 ? 1.0 : 0.0;
    out["pool"] = {{"recall@10", mean(pool_m.recall10)},
                   {"ndcg@10", mean(pool_m.ndcg10)},
                   {"recall@50", mean(pool_m.recall50)},
                   {"pool_recall", in_pool / n_users},
                   {"pool_depth", rc.pool_depth}};
    std::vector<std::pair<std::string, std::map<std::string, double>>> rows;
    rows.push_back({"pool (fused order)",
                    {{"recall@10", mean(pool_m.recall10)}, {"ndcg@10", mean(pool_m.ndcg10)}, {"recall@50", mean(pool_m.recall50)}}});
    std::vector<PerUser> ranker_m;
    for (size_t k = 0; k < specs.size(); ++k) {
      ranker_m.push_back(metrics_of(test, ranker_orders(test, k)));
      double auc = 0, counted = 0;
      for (size_t i = 0; i < test.users.size(); ++i) {
        const double a = pool_auc(test.scores[k][i], test.target[i]);
        if (!std::isnan(a)) auc += a, counted += 1;
      }
      const auto& m = ranker_m.back();
      Json j = {{"recall@10", mean(m.recall10)},
                {"ndcg@10", mean(m.ndcg10)},
                {"recall@50", mean(m.recall50)},
                {"auc_in_pool", counted ? auc / counted : std::nan("")},
                {"fit_seconds", fit_secs[k]},
                {"ms_per_user", 1000.0 * test.ranker_seconds[k] / n_users},
                {"spec", specs[k].spec()},
                {"examples", key_of(specs[k].examples)}};
      j["vs_pool"] = {{"recall@10", paired(pool_m.recall10, m.recall10)}, {"ndcg@10", paired(pool_m.ndcg10, m.ndcg10)}};
      out["rankers"][specs[k].name] = j;
      rows.push_back({specs[k].name,
                      {{"recall@10", mean(m.recall10)}, {"ndcg@10", mean(m.ndcg10)}, {"recall@50", mean(m.recall50)},
                       {"auc_in_pool", j["auc_in_pool"].get<double>()}, {"fit_s", fit_secs[k]},
                       {"ms_per_user", j["ms_per_user"].get<double>()}}});
    }
    out["feature_ms_per_user"] = 1000.0 * test.feature_seconds / n_users;

    // Funnels: every ordered pair of rankers, chosen on validation Recall@10 (then NDCG@10).
    size_t best_pre = 0, best_fine = 0;
    double best_r = -1, best_n = -1;
    const size_t R = specs.size();
    for (size_t a = 0; a < R; ++a) {
      for (size_t b = 0; b < R; ++b) {
        const PerUser vm = metrics_of(valid, funnel_orders(valid, a, rc.pre_keep, b, rc.fine_keep));
        const PerUser tm = metrics_of(test, funnel_orders(test, a, rc.pre_keep, b, rc.fine_keep));
        const double vr = mean(vm.recall10), vn = mean(vm.ndcg10);
        out["funnels"][specs[a].name + ">" + specs[b].name] = {{"valid_recall@10", vr},
                                                                {"valid_ndcg@10", vn},
                                                                {"recall@10", mean(tm.recall10)},
                                                                {"ndcg@10", mean(tm.ndcg10)}};
        if (vr > best_r || (vr == best_r && vn > best_n)) best_r = vr, best_n = vn, best_pre = a, best_fine = b;
      }
    }
    auto index_of = [&](const std::string& n) -> int {
      for (size_t k = 0; k < R; ++k) if (specs[k].name == n) return static_cast<int>(k);
      return -1;
    };
    auto funnel_json = [&](const HeldoutScores& hs, const PerUser& base, size_t a, size_t b) {
      const PerUser m = metrics_of(hs, funnel_orders(hs, a, rc.pre_keep, b, rc.fine_keep));
      const Json r10 = paired(base.recall10, m.recall10), n10 = paired(base.ndcg10, m.ndcg10);
      return Json{{"pre_rank", specs[a].name},
                  {"pre_keep", rc.pre_keep},
                  {"fine_rank", specs[b].name},
                  {"fine_keep", rc.fine_keep},
                  {"recall@10", mean(m.recall10)},
                  {"ndcg@10", mean(m.ndcg10)},
                  {"p_value_vs_pool", r10["p_value"]},
                  {"vs_pool", {{"recall@10", r10}, {"ndcg@10", n10}}},
                  {"retention", retention(hs, a, rc.pre_keep, b, rc.fine_keep)}};
    };
    out["funnel"] = funnel_json(test, pool_m, best_pre, best_fine);
    out["funnel"]["chosen_on"] = "validation recall@10 over all ordered ranker pairs";
    out["retention"] = out["funnel"]["retention"];
    const int dpre = index_of(rc.pre_rank), dfine = index_of(rc.fine_rank);
    if (dpre >= 0 && dfine >= 0) out["funnel_default"] = funnel_json(test, pool_m, dpre, dfine);

    if (dpre >= 0 && dfine >= 0) {
      out["stage_latency"] = stage_latency(fb, pools.heldout, ds.train, ds.test, *rankers[dpre], rc.pre_keep,
                                           *rankers[dfine]);
      spdlog::info("ranking stage latency (one thread): {}", out["stage_latency"]["total_ms"].dump());
    }

    for (const auto& [a, b] : ablations) {
      const int ia = index_of(a), ib = index_of(b);
      out["ablations"][a + " vs " + b] = {{"recall@10", paired(ranker_m[ib].recall10, ranker_m[ia].recall10)},
                                          {"ndcg@10", paired(ranker_m[ib].ndcg10, ranker_m[ia].ndcg10)},
                                          {"auc_in_pool", {{a, out["rankers"][a]["auc_in_pool"]},
                                                           {b, out["rankers"][b]["auc_in_pool"]}}}};
    }

    // oof-refit: the channels refitted on all training rows, the same rankers.
    if (o->refit) {
      std::vector<FittedChannel> refit;
      std::vector<const Recaller*> refit_models;
      for (const auto& spec : channel_specs) {
        refit.push_back(fit_or_load(spec, ds.train, "refit"));
        refit_models.push_back(refit.back().model.get());
      }
      PoolCandidates pc = collect_candidates(refit_models, names, ds.train, ds.valid, ds.test, fc.quota, threads);
      const auto refit_pools = fused_pools(pc, ds.train, fopt, rc.pool_depth, threads);
      FeatureBuilder fb2(ds.catalog, ds.train, refit_models, names, rc.features);
      const HeldoutScores rt = score_heldout(fb2, refit_pools, ds.train, ds.test, ranker_ptrs, threads);
      const PerUser rpool = metrics_of(rt, pool_orders(rt));
      double rin = 0;
      for (int32_t t : rt.target) rin += t >= 0 ? 1.0 : 0.0;
      Json& j = out["oof_refit"];
      j["pool"] = {{"recall@10", mean(rpool.recall10)},
                   {"ndcg@10", mean(rpool.ndcg10)},
                   {"pool_recall", rin / static_cast<double>(rt.users.size())}};
      for (size_t k = 0; k < R; ++k) {
        const PerUser m = metrics_of(rt, ranker_orders(rt, k));
        j["rankers"][specs[k].name] = {{"recall@10", mean(m.recall10)}, {"ndcg@10", mean(m.ndcg10)}};
      }
      j["funnel"] = funnel_json(rt, rpool, best_pre, best_fine);
      if (dpre >= 0 && dfine >= 0) j["funnel_default"] = funnel_json(rt, rpool, dpre, dfine);
    }

    fmt::print("\n{} seed-oof — {} test users, pool depth {}, pool recall {:.4f}\n", src.dataset, test.users.size(),
               rc.pool_depth, out["pool"]["pool_recall"].get<double>());
    print_table({"recall@10", "ndcg@10", "recall@50", "auc_in_pool", "fit_s", "ms_per_user"}, rows);
    const Json& f = out["funnel"];
    fmt::print("\nbest funnel on validation: {} -> top {} -> {} -> top {}: Recall@10 {:.4f} NDCG@10 {:.4f} "
               "(pool {:.4f} / {:.4f}; Recall@10 gain {:+.4f} [{:+.4f}, {:+.4f}], p = {:.4f})\n",
               f["pre_rank"].get<std::string>(), rc.pre_keep, f["fine_rank"].get<std::string>(), rc.fine_keep,
               f["recall@10"].get<double>(), f["ndcg@10"].get<double>(), mean(pool_m.recall10), mean(pool_m.ndcg10),
               f["vs_pool"]["recall@10"]["diff"].get<double>(), f["vs_pool"]["recall@10"]["ci_low"].get<double>(),
               f["vs_pool"]["recall@10"]["ci_high"].get<double>(), f["p_value_vs_pool"].get<double>());
    fmt::print("retention: {}\n", out["retention"].dump());
    if (out.contains("oof_refit")) fmt::print("oof-refit: {}\n", out["oof_refit"]["funnel"].dump());
    if (!o->json.empty()) {
      write_file_atomic(o->json, out.dump(2) + "\n");
      fmt::print("wrote {}\n", o->json);
    }
  });
}

}  // namespace

void add_bench_funnel(CLI::App* bench) { add_funnel(bench); }

}  // namespace cascade::cli
