// cascade bench quality --data PATH --dataset NAME --protocol seed-loo --json OUT.json
// Trains and evaluates every configured recall channel in-process on a freshly prepared
// split, fuses them (weights tuned on the validation item, never on test), and does the same
// for the parity config of SYSTEM.md (fixed weights), then writes the quality contract JSON:
// {"dataset","protocol","users","items","train_rows","test_rows",
//  "channels":{NAME:{"recall@10","ndcg@10","mrr@10","recall@200","ndcg@200","coverage@10",
//                    "pool_recall","fit_seconds",...}, "fusion":{...}, "fusion_parity":{...}},
//  "parity_channels":{NAME:{...}}}
// "pool_recall" is Recall@pool_size (1000 by default): for a channel, of its own top 1000.
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

using Json = nlohmann::ordered_json;
using Rows = std::vector<std::pair<std::string, std::map<std::string, double>>>;

struct QualityOpts {
  DataFlags data;
  std::string json;
  int threads = 0;
  std::vector<std::string> channels;
  std::vector<std::string> overrides;
  bool fusion = true;
  bool parity = true;
  size_t quota = 0;  // 0 = the config's recall.fusion.quota
  size_t pool = 0;   // 0 = the config's recall.fusion.pool_size
};

const char* const kReported[] = {"recall@10", "ndcg@10", "mrr@10", "recall@200", "ndcg@200",
                                 "coverage@10"};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Pool sizes whose recall is reported (the ceiling of every later stage).
std::vector<size_t> pool_sizes(size_t pool) {
  std::vector<size_t> out;
  for (size_t s : {100, 200, 300, 500, 1000}) {
    if (s < pool) out.push_back(s);
  }
  out.push_back(pool);
  return out;
}

Json paired_json(const std::vector<double>& base, const std::vector<double>& other) {
  BootstrapResult b = paired_bootstrap(base, other, 1000, 42, 0.95);
  return Json{{"diff", b.diff}, {"ci_low", b.ci_low}, {"ci_high", b.ci_high}, {"p_value", b.p_value}};
}

std::string interval(const Json& j) {
  return fmt::format("{:+.4f} [{:+.4f}, {:+.4f}]", j["diff"].get<double>(),
                     j["ci_low"].get<double>(), j["ci_high"].get<double>());
}

// One config's channels: fitted, evaluated on test, and (optionally) fused.
struct Suite {
  std::vector<FittedChannel> fitted;
  std::vector<EvalResult> results;  // test, parallel to fitted
  std::vector<std::string> names;
};

Suite run_channels(const std::vector<ChannelSpec>& specs, const Dataset& ds, const Interactions& train,
                   const EvalOptions& eopt, int threads, uint64_t seed, Json& out, Rows& rows,
                   const std::string& label, size_t pool) {
  Suite s;
  for (const ChannelSpec& spec : specs) {
    spdlog::info("{}: fitting {} ({})", label, spec.name, spec.spec());
    FittedChannel fc = fit_channel(spec, ds, train, threads, seed);
    EvalResult r = evaluate(*fc.model, train, ds.test, eopt);
    Json& c = out[spec.name];
    for (const char* m : kReported) c[m] = r.summary.at(m);
    c["pool_recall"] = r.summary.at(fmt::format("recall@{}", pool));
    for (size_t p : pool_sizes(pool)) c["recall_by_depth"][std::to_string(p)] = r.summary.at(fmt::format("recall@{}", p));
    c["fit_seconds"] = fc.fit_seconds;
    c["eval_seconds"] = r.seconds;
    auto summary = r.summary;
    summary["fit_s"] = fc.fit_seconds;
    rows.emplace_back(label + spec.name, summary);
    s.names.push_back(spec.name);
    s.fitted.push_back(std::move(fc));
    s.results.push_back(std::move(r));
  }
  return s;
}

// Fuses the suite's channels with `fc` (tuning the weights on validation when fc.tune),
// evaluates the pool on test, compares it with every channel (paired bootstrap), and with
// `drop_one` re-fuses without each channel in turn.
void run_fusion(const Suite& s, const FusionConfig& fc, const Dataset& ds, const Interactions& train,
                const EvalOptions& eopt, int threads, bool drop_one, const std::string& name,
                Json& out, Rows& rows) {
  auto t0 = std::chrono::steady_clock::now();
  std::vector<const Recaller*> models;
  for (const auto& f : s.fitted) models.push_back(f.model.get());
  PoolCandidates pc = collect_candidates(models, s.names, train, ds.valid, ds.test, fc.quota, threads);
  FusionOptions opt = fc.options_for(s.names);
  if (fc.tune) opt = tune_fusion_weights(pc, train, ds.valid, opt, fc.search, eopt);
  const double secs = seconds_since(t0);
  const size_t pool = opt.pool_size;
  const std::string pool_metric = fmt::format("recall@{}", pool);
  EvalResult r = evaluate_lists(fuse_pool(pc, train, opt, threads), train, ds.test, ds.n_items, eopt);

  Json& c = out[name];
  for (const char* m : kReported) c[m] = r.summary.at(m);
  c["pool_recall"] = r.summary.at(pool_metric);
  for (size_t p : pool_sizes(pool)) c["recall_by_depth"][std::to_string(p)] = r.summary.at(fmt::format("recall@{}", p));
  c["fit_seconds"] = secs;
  c["pool_size"] = pool;
  c["quota"] = fc.quota;
  c["method"] = opt.method;
  c["weights_tuned"] = fc.tune;
  for (size_t i = 0; i < s.names.size(); ++i) c["weights"][s.names[i]] = opt.weights[i];
  auto summary = r.summary;
  summary["fit_s"] = secs;
  rows.emplace_back(name, summary);

  fmt::print("\n{}: {} fusion, {} per channel, pool {}, weights{}: ", name, opt.method, fc.quota,
             pool, fc.tune ? fmt::format(" tuned on validation {}", fc.search.metric) : " fixed");
  for (size_t i = 0; i < s.names.size(); ++i) fmt::print("{}{}={}", i ? " " : "", s.names[i], opt.weights[i]);
  fmt::print("\npaired bootstrap on test users (95% interval of the difference, 1000 resamples)\n");
  for (size_t i = 0; i < s.names.size(); ++i) {
    const auto& ch = s.results[i].per_user;
    CASCADE_CHECK(ch.at("recall@200").size() == r.per_user.at("recall@200").size(),
                  "fusion and channel results cover different users");
    Json& v = c["vs_channel"][s.names[i]];
    v["recall@200"] = paired_json(ch.at("recall@200"), r.per_user.at("recall@200"));
    v["pool_recall"] = paired_json(ch.at(pool_metric), r.per_user.at(pool_metric));
    v["recall@10"] = paired_json(ch.at("recall@10"), r.per_user.at("recall@10"));
    fmt::print("  {} - {:<12} recall@200 {}   pool recall {}   recall@10 {}\n", name, s.names[i],
               interval(v["recall@200"]), interval(v["pool_recall"]), interval(v["recall@10"]));
  }
  if (!drop_one) return;
  for (size_t i = 0; i < s.names.size(); ++i) {
    Json& a = c["drop_one"][s.names[i]];
    if (opt.weights[i] == 0) {
      a["skipped"] = "weight 0: the channel contributes nothing to the pool";
      fmt::print("  drop {:<12} (weight 0 already: contributes nothing)\n", s.names[i]);
      continue;
    }
    FusionOptions dropped = opt;
    dropped.weights[i] = 0;
    bool any = false;
    for (double w : dropped.weights) any = any || w > 0;
    if (!any) continue;
    EvalResult rd = evaluate_lists(fuse_pool(pc, train, dropped, threads), train, ds.test, ds.n_items, eopt);
    a["recall@200"] = rd.summary.at("recall@200");
    a["pool_recall"] = rd.summary.at(pool_metric);
    a["loss_recall@200"] = paired_json(rd.per_user.at("recall@200"), r.per_user.at("recall@200"));
    a["loss_pool_recall"] = paired_json(rd.per_user.at(pool_metric), r.per_user.at(pool_metric));
    fmt::print("  drop {:<12} recall@200 {:.4f} (full - dropped {}), pool recall {:.4f} (full - dropped {})\n",
               s.names[i], rd.summary.at("recall@200"), interval(a["loss_recall@200"]),
               rd.summary.at(pool_metric), interval(a["loss_pool_recall"]));
  }
}

void add_quality(CLI::App* bench) {
  auto o = std::make_shared<QualityOpts>();
  CLI::App* cmd = bench->add_subcommand(
      "quality", "train + evaluate every recall channel and the fused pools, write JSON");
  o->data.add_to(cmd);
  cmd->add_option("--json", o->json, "write the results here");
  cmd->add_option("--threads", o->threads, "threads (0 = hardware)")->capture_default_str();
  cmd->add_option("--channels", o->channels, "only these channels of the tuned config")
      ->delimiter(',')
      ->allow_extra_args(false);
  cmd->add_option("--fusion", o->fusion, "fuse the channels (recall.fusion config)")->capture_default_str();
  cmd->add_option("--parity", o->parity, "also run the parity config (recall=parity) and its pool")
      ->capture_default_str();
  cmd->add_option("--quota", o->quota, "candidates per channel (0 = recall.fusion.quota)")->capture_default_str();
  cmd->add_option("--pool", o->pool, "pool size (0 = recall.fusion.pool_size)")->capture_default_str();
  cmd->add_option("overrides", o->overrides, "config overrides for the tuned config, e.g. recall.channels.ials.reg=5");
  cmd->callback([o] {
    const YAML::Node cfg = load_config(o->overrides);
    DataSource src = o->data.to_source();
    auto t0 = std::chrono::steady_clock::now();
    RawLog log = load_dataset(src.dataset, src.path, src.load);
    Dataset ds = prepare_dataset(log, src.tag, src.prepare);
    spdlog::info("prepared {}: {} users, {} items, {} train rows ({:.2f} s)", src.dataset, ds.n_users,
                 ds.n_items, ds.train.nnz(), seconds_since(t0));
    const bool oof = ds.options.protocol == Protocol::kSeedOof;
    const Interactions train = oof ? ds.recall_slice() : ds.train;

    Json out;
    out["dataset"] = src.dataset;
    out["protocol"] = protocol_name(src.prepare.protocol);
    out["users"] = ds.n_users;
    out["items"] = ds.n_items;
    out["train_rows"] = train.nnz();
    out["test_rows"] = ds.test.nnz();
    out["channels"] = Json::object();

    auto fusion_of = [&](const YAML::Node& c, const std::vector<ChannelSpec>& all) {
      std::vector<std::string> names;
      for (const auto& s : all) names.push_back(s.name);
      FusionConfig fc = fusion_config_from_yaml(c["recall"]["fusion"], names);
      if (o->quota > 0) fc.quota = o->quota;
      if (o->pool > 0) fc.base.pool_size = o->pool;
      return fc;
    };
    const auto all_specs = channel_specs_from_yaml(cfg["recall"]["channels"]);
    const FusionConfig tuned_fc = fusion_of(cfg, all_specs);
    const size_t pool = tuned_fc.base.pool_size;
    EvalOptions eopt;
    eopt.threads = o->threads;
    eopt.ks = {10, 200};
    for (size_t p : pool_sizes(pool)) eopt.ks.push_back(p);

    Rows rows;
    Suite tuned = run_channels(select_channels(all_specs, o->channels), ds, train, eopt, o->threads,
                               config_seed(cfg), out["channels"], rows, "", pool);
    if (o->fusion && tuned.fitted.size() >= 2) {
      run_fusion(tuned, tuned_fc, ds, train, eopt, o->threads, true, "fusion", out["channels"], rows);
    }
    Rows parity_rows;
    if (o->parity) {
      const YAML::Node pcfg = load_config({"recall=parity"});
      const auto parity_specs = channel_specs_from_yaml(pcfg["recall"]["channels"]);
      FusionConfig pfc = fusion_of(pcfg, parity_specs);
      pfc.base.pool_size = pool;  // same pool size as the tuned pool: comparable pool recall
      out["parity_channels"] = Json::object();
      Suite parity = run_channels(parity_specs, ds, train, eopt, o->threads, config_seed(pcfg),
                                  out["parity_channels"], parity_rows, "parity/", pool);
      if (o->fusion && parity.fitted.size() >= 2) {
        run_fusion(parity, pfc, ds, train, eopt, o->threads, false, "fusion_parity", out["channels"],
                   parity_rows);
      }
    }
    fmt::print("\n{} {} — {} users, {} items, {} train rows, {} test rows (test split)\n", src.dataset,
               protocol_name(src.prepare.protocol), ds.n_users, ds.n_items, train.nnz(), ds.test.nnz());
    const std::vector<std::string> cols = {"recall@10", "ndcg@10", "recall@200", "ndcg@200",
                                           fmt::format("recall@{}", pool), "coverage@10", "fit_s"};
    rows.insert(rows.end(), parity_rows.begin(), parity_rows.end());
    print_table(cols, rows);
    if (!o->json.empty()) {
      write_file_atomic(o->json, out.dump(2) + "\n");
      fmt::print("wrote {}\n", o->json);
    }
  });
}

}  // namespace

void add_bench_quality(CLI::App* bench) { add_quality(bench); }

}  // namespace cascade::cli
