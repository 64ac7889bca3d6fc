// cascade bench funnel --data DIR --dataset NAME --protocol seed-oof --json OUT.json
// Trains the funnel's channels and every candidate ranker, chooses the funnel on validation,
// reads the test split once for it, and writes the contract JSON (pipeline/funnel_bench.h).
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cascade/core/error.h"
#include "cascade/io/artifact.h"
#include "cascade/pipeline/funnel_bench.h"
#include "cli_common.h"
#include "commands.h"

namespace cascade::cli {
namespace {

using Json = nlohmann::ordered_json;

std::string interval(const Json& p) {
  return fmt::format("{:+.4f} [{:+.4f}, {:+.4f}], p = {:.3f}", p["diff"].get<double>(),
                     p["ci_low"].get<double>(), p["ci_high"].get<double>(),
                     p["p_value"].get<double>());
}

void print_report(const Json& out) {
  const Json& pool = out["pool"];
  fmt::print(
      "\n{} seed-oof: {} test users; configured pool: depth {}, quota {}, pool recall {:.4f}\n",
      out["dataset"].get<std::string>(), out["users"].get<size_t>(),
      pool["pool_depth"].get<size_t>(), pool["quota"].get<size_t>(),
      pool["pool_recall"].get<double>());
  std::vector<std::pair<std::string, std::map<std::string, double>>> rows;
  rows.push_back({"pool (fused order)",
                  {{"recall@10", pool["recall@10"]},
                   {"ndcg@10", pool["ndcg@10"]},
                   {"recall@50", pool["recall@50"]}}});
  for (const auto& [name, r] : out["rankers"].items()) {
    rows.push_back(
        {name + (r["candidate"].get<bool>() ? "" : " (ablation)"),
         {{"recall@10", r["recall@10"]},
          {"ndcg@10", r["ndcg@10"]},
          {"recall@50", r["recall@50"]},
          {"auc_in_pool", r["auc_in_pool"].is_number() ? r["auc_in_pool"].get<double>() : NAN},
          {"fit_s", r["fit_seconds"]},
          {"ms_per_user", r["ms_per_user"]}}});
  }
  print_table({"recall@10", "ndcg@10", "recall@50", "auc_in_pool", "fit_s", "ms_per_user"}, rows);
  const Json& f = out["funnel"];
  fmt::print("\nchosen on {}: {}{}\n", out["selection"]["on"].get<std::string>(),
             f["spec"].get<std::string>(),
             f["time_features"].get<bool>() ? "" : " with rank.features.time=false");
  if (out["selection"].contains("one_se")) {
    const Json& r = out["selection"]["one_se"];
    fmt::print(
        "  one-standard-error rule: the best on validation, {} ({:.4f}, {:.3f} ms estimated), "
        "against the chosen {} ({:.4f}, {:.3f} ms): {:.4f} below, one standard error {:.4f}\n",
        r["best"]["funnel"].get<std::string>(), r["best"]["valid"].get<double>(),
        r["best"]["estimate_ms"].get<double>(), r["chosen"]["funnel"].get<std::string>(),
        r["chosen"]["valid"].get<double>(), r["chosen"]["estimate_ms"].get<double>(),
        r["chosen"]["below_best"].get<double>(), r["chosen"]["standard_error"].get<double>());
  }
  fmt::print(
      "test, served list ({} request time): Recall@10 {:.4f} NDCG@10 {:.4f}; its pool {:.4f} / "
      "{:.4f}\n",
      f["time_policy"].get<std::string>(), f["recall@10"].get<double>(), f["ndcg@10"].get<double>(),
      f["pool"]["recall@10"].get<double>(), f["pool"]["ndcg@10"].get<double>());
  fmt::print("  vs pool: Recall@10 {}; NDCG@10 {}\n", interval(f["vs_pool"]["recall@10"]),
             interval(f["vs_pool"]["ndcg@10"]));
  fmt::print("  retention: {}\n", f["retention"].dump());
  for (const char* v : {"event", "no_time_features"}) {
    if (!out["time_policy"].contains(v)) continue;
    const Json& t = out["time_policy"][v];
    fmt::print("  {}: Recall@10 {:.4f} (vs its pool {}), NDCG@10 {:.4f}\n", v,
               t["recall@10"].get<double>(), interval(t["vs_pool"]["recall@10"]),
               t["ndcg@10"].get<double>());
  }
  const Json& c = out["funnel_config"];
  fmt::print("configured funnel {}: Recall@10 {:.4f} NDCG@10 {:.4f}\n",
             c["spec"].get<std::string>(), c["recall@10"].get<double>(),
             c["ndcg@10"].get<double>());
}

}  // namespace

void add_bench_funnel(CLI::App* bench) {
  struct Opts {
    DataFlags data;
    std::string json, funnel, cache, select_on = "valid";
    int threads = 0;
    std::vector<std::string> channels, overrides;
    FunnelBenchOptions bench;
  };
  auto o = std::make_shared<Opts>();
  o->data.protocol = "seed-oof";
  CLI::App* cmd = bench->add_subcommand("funnel",
                                        "train a funnel's channels and candidate rankers, choose "
                                        "the funnel on validation, test it once");
  o->data.add_to(cmd);
  FunnelBenchOptions& b = o->bench;
  cmd->add_option("--json", o->json, "write the results here");
  cmd->add_option("--threads", o->threads, "threads (0 = hardware)")->capture_default_str();
  cmd->add_option("--funnel", o->funnel,
                  "funnel spec (default: the config's); its rankers are the configured pair");
  cmd->add_option("--channels", o->channels, "only these of the funnel's channels")
      ->delimiter(',')
      ->allow_extra_args(false);
  cmd->add_option("--rankers", b.rankers, "candidate rankers of rank.rankers (default: all)")
      ->delimiter(',')
      ->allow_extra_args(false);
  cmd->add_option("--select-on", o->select_on,
                  "valid: choose the funnel on validation; config: the spec as is")
      ->check(CLI::IsMember({"valid", "config"}))
      ->capture_default_str();
  cmd->add_option("--pool-depths", b.pool_depths, "pool depths tried")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--pre-keeps", b.pre_keeps, "pre-rank cuts tried")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--quotas", b.quotas, "channel quotas tried")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--history-buckets", b.history_edges,
                  "training-history lengths starting the user_buckets breakdown (last bucket open)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--lambdas", b.lambdas, "re-rank diversity values tried")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--gbdt-objectives", b.gbdt_objectives, "GBDT objectives tried")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--random-negatives-ablation", b.random_ablation,
                  "also train these rankers on random negatives only (empty: none)")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->capture_default_str();
  cmd->add_option("--sum-ablation", b.sum_ablation, "also train DIN with sum pooling")
      ->capture_default_str();
  cmd->add_option("--time-ablations", b.time_ablations,
                  "also run the event-time and no-time-feature funnels")
      ->capture_default_str();
  cmd->add_option("--select-time-features", b.select_time_features,
                  "choose the time features on or off on validation")
      ->capture_default_str();
  cmd->add_option("--feature-ablations", b.feature_ablations,
                  "feature groups to turn off in the chosen funnel, one re-fit each, on validation "
                  "and test (similarity, ids, time, genres, priors, session)")
      ->delimiter(',')
      ->check(CLI::IsMember(feature_group_names()))
      ->allow_extra_args(false);
  cmd->add_option("--select-metric", b.select_metric,
                  "validation metric every selection step maximises (the other breaks ties)")
      ->check(CLI::IsMember({"recall@10", "ndcg@10"}))
      ->capture_default_str();
  cmd->add_option("--blend-drop-one", b.blend_drop_one,
                  "each blend of 3+ members also competes without each member (assembled from the "
                  "fitted members)")
      ->capture_default_str();
  cmd->add_option("--rank-budget-ms", b.rank_budget_ms,
                  "serving budget of the ranking stage, ms per request on one thread (0 = none): "
                  "choose the best pair and cuts whose estimated cost fits (timed on validation)")
      ->check(CLI::Range(0.0, 1e6))
      ->capture_default_str();
  cmd->add_option("--select-rule", b.select_rule,
                  "how the ranker pair and cuts are picked on validation: best (the highest "
                  "metric) or one-se (the cheapest funnel within one standard error of the best, "
                  "by the cost model)")
      ->check(CLI::IsMember({"best", "one-se"}))
      ->capture_default_str();
  cmd->add_option(
         "--cost-model", b.cost_model,
         "read the cost model from an earlier run's JSON (selection.cost_model) instead of "
         "timing this run: the same choice on every machine (with --rank-budget-ms or "
         "--select-rule one-se)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--split-half-check", b.split_half_rounds,
                  "rounds of the split-half check of the selection metric on validation (0 = off): "
                  "choose on half the validation users with each metric, score on the other half")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();
  cmd->add_option(
         "--test-sees-valid", b.test_sees_valid,
         "test requests carry the user's validation item in their history, as a request served "
         "after it would (default: training rows only, seed-loo's definition)")
      ->capture_default_str();
  cmd->add_option(
      "--cache", o->cache,
      "keep fitted recall channels here and reuse them when the channel spec, data and seed match");
  cmd->add_option("overrides", o->overrides,
                  "config overrides, e.g. rank.examples.hard_negatives=50");
  cmd->callback([o] {
    YAML::Node cfg = load_config(o->overrides);
    const DataSource src = o->data.to_source();
    CASCADE_CHECK(src.prepare.protocol == Protocol::kSeedOof,
                  "bench funnel needs --protocol seed-oof (rankers learn from the ranker slice)");
    const bool named = funnel_named(cfg, o->funnel, "", o->channels);
    apply_funnel_flags(cfg, o->funnel, "", o->channels);
    const Dataset ds =
        prepare_dataset(load_dataset(src.dataset, src.path, src.load), src.tag, src.prepare);
    fmt::print("funnel: {}\n", fit_funnel_to_data(cfg, recall_shape(ds), named));
    o->bench.threads = o->threads;
    o->bench.channel_cache = o->cache;
    o->bench.select_on_valid = o->select_on == "valid";
    const Json out = run_funnel_bench(cfg, ds, o->bench);
    print_report(out);
    if (!o->json.empty()) {
      write_file_atomic(o->json, out.dump(2) + "\n");
      fmt::print("wrote {}\n", o->json);
    }
    const Json& f = out["funnel"];
    const std::string run = record_funnel_run(cfg, "bench_funnel", f["spec"].get<std::string>(),
                                              {{"test_recall@10", f["recall@10"]},
                                               {"test_ndcg@10", f["ndcg@10"]},
                                               {"test_pool_recall@10", f["pool"]["recall@10"]}},
                                              out.dump(2) + "\n");
    fmt::print("run {} in the run store\n", run);
  });
}

}  // namespace cascade::cli
