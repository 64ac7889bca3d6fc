// cascade bench quality --data PATH --dataset NAME --protocol seed-loo --json OUT.json
// Trains and evaluates every configured channel in-process on a freshly prepared split and
// writes the quality contract JSON:
// {"dataset","protocol","users","items","train_rows","test_rows",
//  "channels":{NAME:{"recall@10","ndcg@10","mrr@10","recall@200","ndcg@200","coverage@10","fit_seconds"}}}
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>

#include "cascade/core/error.h"
#include "cascade/eval/compare.h"
#include "cascade/eval/evaluator.h"
#include "cascade/io/artifact.h"
#include "cascade/pipeline/fused_pool.h"
#include "cli_common.h"
#include "commands.h"

namespace cascade::cli {

namespace {

void add_quality(CLI::App* bench) {
  struct Opts {
    DataFlags data;
    std::string json;
    int threads = 0;
    std::vector<std::string> channels;
    std::vector<std::string> overrides;
    bool fusion = true;
    size_t quota = 500;
    size_t pool = 1000;
    std::string fusion_metric = "recall@200";
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd =
      bench->add_subcommand("quality", "train + evaluate every recall channel, write JSON");
  o->data.add_to(cmd);
  cmd->add_option("--json", o->json, "write the results here");
  cmd->add_option("--threads", o->threads, "threads (0 = hardware)")->capture_default_str();
  cmd->add_option("--channels", o->channels, "only these channels")
      ->delimiter(',')
      ->allow_extra_args(false);
  cmd->add_option("--fusion", o->fusion, "also fuse the channels (weights tuned on validation)")
      ->capture_default_str();
  cmd->add_option("--quota", o->quota, "fusion: candidates per channel")->capture_default_str();
  cmd->add_option("--pool", o->pool, "fusion: pool size")->capture_default_str();
  cmd->add_option("--fusion-metric", o->fusion_metric,
                  "fusion: validation metric the weights maximise")
      ->capture_default_str();
  cmd->add_option("overrides", o->overrides,
                  "config overrides for the channels, e.g. recall=parity");
  cmd->callback([o] {
    YAML::Node cfg = load_config(o->overrides);
    DataSource src = o->data.to_source();
    auto t0 = std::chrono::steady_clock::now();
    RawLog log = load_dataset(src.dataset, src.path, src.load);
    Dataset ds = prepare_dataset(log, src.tag, src.prepare);
    spdlog::info("prepared {}: {} users, {} items, {} train rows ({:.2f} s)", src.dataset,
                 ds.n_users, ds.n_items, ds.train.nnz(),
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    const bool oof = ds.options.protocol == Protocol::kSeedOof;
    const Interactions train = oof ? ds.recall_slice() : ds.train;

    nlohmann::ordered_json out;
    out["dataset"] = src.dataset;
    out["protocol"] = protocol_name(src.prepare.protocol);
    out["users"] = ds.n_users;
    out["items"] = ds.n_items;
    out["train_rows"] = train.nnz();
    out["test_rows"] = ds.test.nnz();
    out["channels"] = nlohmann::ordered_json::object();

    EvalOptions eopt;
    eopt.ks = {10, 200};
    eopt.threads = o->threads;
    std::vector<std::pair<std::string, std::map<std::string, double>>> rows;
    std::vector<FittedChannel> fitted;
    std::vector<EvalResult> channel_results;  // test results per fitted channel, for paired tests
    for (const ChannelSpec& spec :
         select_channels(channel_specs_from_yaml(cfg["recall"]["channels"]), o->channels)) {
      spdlog::info("fitting {} ({})", spec.name, spec.spec());
      FittedChannel fc = fit_channel(spec, ds, train, o->threads, config_seed(cfg));
      EvalResult r = evaluate(*fc.model, train, ds.test, eopt);
      auto& c = out["channels"][spec.name];
      for (const char* m :
           {"recall@10", "ndcg@10", "mrr@10", "recall@200", "ndcg@200", "coverage@10"}) {
        c[m] = r.summary.at(m);
      }
      c["fit_seconds"] = fc.fit_seconds;
      c["eval_seconds"] = r.seconds;
      auto summary = r.summary;
      summary["fit_s"] = fc.fit_seconds;
      summary["eval_s"] = r.seconds;
      rows.emplace_back(spec.name, summary);
      fitted.push_back(std::move(fc));
      channel_results.push_back(std::move(r));
    }
    if (o->fusion && fitted.size() >= 2) {
      // The fused pool, scored like a channel. Weights are tuned on the validation item only.
      auto t1 = std::chrono::steady_clock::now();
      std::vector<const Recaller*> models;
      std::vector<std::string> names;
      for (const auto& f : fitted) {
        models.push_back(f.model.get());
        names.push_back(f.spec.name);
      }
      PoolCandidates pc =
          collect_candidates(models, names, train, ds.valid, ds.test, o->quota, o->threads);
      FusionOptions fopt;
      fopt.method = "norm";
      fopt.pool_size = o->pool;
      WeightSearch search;
      search.metric = o->fusion_metric;
      FusionOptions tuned = tune_fusion_weights(pc, train, ds.valid, fopt, search, eopt);
      double fuse_secs =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
      EvalOptions pool_eval = eopt;
      pool_eval.ks = {10, 200, o->pool};
      EvalResult r = evaluate_lists(fuse_pool(pc, train, tuned, o->threads), train, ds.test,
                                    ds.n_items, pool_eval);
      auto& c = out["channels"]["fusion"];
      for (const char* m :
           {"recall@10", "ndcg@10", "mrr@10", "recall@200", "ndcg@200", "coverage@10"}) {
        c[m] = r.summary.at(m);
      }
      c["fit_seconds"] = fuse_secs;
      c["pool_recall"] = r.summary.at(fmt::format("recall@{}", o->pool));
      c["pool_size"] = o->pool;
      c["method"] = tuned.method;
      for (size_t i = 0; i < names.size(); ++i) c["weights"][names[i]] = tuned.weights[i];
      auto summary = r.summary;
      summary["fit_s"] = fuse_secs;
      rows.emplace_back("fusion", summary);

      // Paired comparisons on the test users (bootstrap 1000 resamples, seed 42), run, not
      // estimated: the pool against each channel, and the pool against the pool without
      // each channel (that channel's weight set to 0, the others as tuned).
      auto paired = [&](const std::vector<double>& base, const std::vector<double>& other) {
        BootstrapResult b = paired_bootstrap(base, other, 1000, 42, 0.95);
        return nlohmann::ordered_json{
            {"diff", b.diff}, {"ci_low", b.ci_low}, {"ci_high", b.ci_high}, {"p_value", b.p_value}};
      };
      const std::string pool_metric = fmt::format("recall@{}", o->pool);
      fmt::print(
          "\npaired bootstrap on test users (95% interval of the difference, 1000 resamples)\n");
      for (size_t i = 0; i < names.size(); ++i) {
        const auto& ch = channel_results[i].per_user;
        CASCADE_CHECK(ch.at("recall@200").size() == r.per_user.at("recall@200").size(),
                      "fusion and channel results cover different users");
        auto j = paired(ch.at("recall@200"), r.per_user.at("recall@200"));
        c["vs_channel"][names[i]]["recall@200"] = j;
        fmt::print("  fusion - {:<12} recall@200 {:+.4f} [{:+.4f}, {:+.4f}]\n", names[i],
                   j["diff"].get<double>(), j["ci_low"].get<double>(), j["ci_high"].get<double>());
      }
      for (size_t i = 0; i < names.size(); ++i) {
        if (tuned.weights[i] == 0) continue;
        FusionOptions dropped = tuned;
        dropped.weights[i] = 0;
        bool any = false;
        for (double w : dropped.weights) any = any || w > 0;
        if (!any) continue;
        EvalResult rd = evaluate_lists(fuse_pool(pc, train, dropped, o->threads), train, ds.test,
                                       ds.n_items, pool_eval);
        auto& a = c["drop_one"][names[i]];
        a["recall@200"] = rd.summary.at("recall@200");
        a["pool_recall"] = rd.summary.at(pool_metric);
        a["loss_recall@200"] = paired(rd.per_user.at("recall@200"), r.per_user.at("recall@200"));
        a["loss_pool_recall"] = paired(rd.per_user.at(pool_metric), r.per_user.at(pool_metric));
        fmt::print(
            "  drop {:<12} recall@200 {:.4f} (full - dropped {:+.4f} [{:+.4f}, {:+.4f}]), pool "
            "recall {:.4f} "
            "(full - dropped {:+.4f} [{:+.4f}, {:+.4f}])\n",
            names[i], rd.summary.at("recall@200"), a["loss_recall@200"]["diff"].get<double>(),
            a["loss_recall@200"]["ci_low"].get<double>(),
            a["loss_recall@200"]["ci_high"].get<double>(), rd.summary.at(pool_metric),
            a["loss_pool_recall"]["diff"].get<double>(),
            a["loss_pool_recall"]["ci_low"].get<double>(),
            a["loss_pool_recall"]["ci_high"].get<double>());
      }
      std::string w;
      for (size_t i = 0; i < names.size(); ++i)
        w += fmt::format("{}{}={}", i ? " " : "", names[i], tuned.weights[i]);
      fmt::print(
          "fusion: norm-weighted, {} per channel, pool {}, weights tuned on validation {}: {}; "
          "pool recall@{} {:.4f}\n",
          o->quota, o->pool, o->fusion_metric, w, o->pool,
          r.summary.at(fmt::format("recall@{}", o->pool)));
    }
    fmt::print("{} {} — {} users, {} items, {} train rows, {} test rows\n", src.dataset,
               protocol_name(src.prepare.protocol), ds.n_users, ds.n_items, train.nnz(),
               ds.test.nnz());
    print_table({"recall@10", "ndcg@10", "mrr@10", "recall@200", "ndcg@200", "coverage@10", "fit_s",
                 "eval_s"},
                rows);
    if (!o->json.empty()) {
      write_file_atomic(o->json, out.dump(2) + "\n");
      fmt::print("wrote {}\n", o->json);
    }
  });
}

}  // namespace

void add_bench_command(CLI::App& app) {
  CLI::App* bench =
      app.add_subcommand("bench", "benchmarks: recall quality, ANN search (serving arrives with the server)");
  bench->require_subcommand(1);
  add_quality(bench);
  add_bench_ann(bench);
}

}  // namespace cascade::cli
