// cascade bench quality --data PATH --dataset NAME --protocol seed-loo --json OUT.json
// Trains and evaluates every configured recall channel and the fused pools, for the tuned
// config and the parity config, and writes the contract JSON (pipeline/quality_bench.h).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "cascade/io/artifact.h"
#include "cascade/pipeline/quality_bench.h"
#include "cascade/util/stopwatch.h"
#include "cli_common.h"
#include "commands.h"

namespace cascade::cli {

namespace {

using Json = nlohmann::ordered_json;
using Rows = std::vector<std::pair<std::string, std::map<std::string, double>>>;

std::string interval(const Json& j) {
  return fmt::format("{:+.4f} [{:+.4f}, {:+.4f}]", j["diff"].get<double>(), j["ci_low"].get<double>(),
                     j["ci_high"].get<double>());
}

// One table row of a channel or pool; "recall@<pool>" is its pool_recall.
void add_row(Rows& rows, const std::string& name, const Json& c, const std::string& pool_metric) {
  std::map<std::string, double> v;
  for (const char* m : {"recall@10", "ndcg@10", "recall@200", "ndcg@200", "coverage@10"}) v[m] = c[m].get<double>();
  v[pool_metric] = c["pool_recall"].get<double>();
  v["fit_s"] = c["fit_seconds"].get<double>();
  rows.emplace_back(name, v);
}

// A fused pool's weights and its paired comparisons; `fc` says how its weights were chosen.
void print_fusion(const std::string& name, const Json& c, const FusionConfig& fc) {
  fmt::print("\n{}: {} fusion, {} per channel, pool {}, weights{}: ", name, c["method"].get<std::string>(),
             c["quota"].get<size_t>(), c["pool_size"].get<size_t>(),
             c["weights_tuned"].get<bool>() ? fmt::format(" tuned on validation {}", fc.search.metric) : " fixed");
  bool first = true;
  for (const auto& [ch, w] : c["weights"].items()) {
    fmt::print("{}{}={}", first ? "" : " ", ch, w.get<double>());
    first = false;
  }
  fmt::print("\npaired bootstrap on test users (95% interval of the difference, 1000 resamples)\n");
  for (const auto& [ch, v] : c["vs_channel"].items()) {
    fmt::print("  {} - {:<12} recall@200 {}   pool recall {}   recall@10 {}\n", name, ch, interval(v["recall@200"]),
               interval(v["pool_recall"]), interval(v["recall@10"]));
  }
  if (!c.contains("drop_one")) return;
  for (const auto& [ch, a] : c["drop_one"].items()) {
    if (a.is_null()) continue;  // dropping it would leave no channel
    if (a.contains("skipped")) {
      fmt::print("  drop {:<12} (weight 0 already: contributes nothing)\n", ch);
      continue;
    }
    fmt::print("  drop {:<12} recall@200 {:.4f} (full - dropped {}), pool recall {:.4f} (full - dropped {})\n", ch,
               a["recall@200"].get<double>(), interval(a["loss_recall@200"]), a["pool_recall"].get<double>(),
               interval(a["loss_pool_recall"]));
  }
}

void print_report(const Json& out, const FusionConfig& tuned, const FusionConfig& parity) {
  const Json& channels = out["channels"];
  if (channels.contains("fusion")) print_fusion("fusion", channels["fusion"], tuned);
  if (channels.contains("fusion_parity")) print_fusion("fusion_parity", channels["fusion_parity"], parity);
  fmt::print("\n{} {} — {} users, {} items, {} train rows, {} test rows (test split)\n",
             out["dataset"].get<std::string>(), out["protocol"].get<std::string>(), out["users"].get<uint32_t>(),
             out["items"].get<uint32_t>(), out["train_rows"].get<size_t>(), out["test_rows"].get<size_t>());
  const std::string pool_metric = fmt::format("recall@{}", tuned.base.pool_size);
  Rows rows;
  for (const auto& [name, c] : channels.items()) {
    if (name != "fusion_parity") add_row(rows, name, c, pool_metric);
  }
  if (out.contains("parity_channels")) {
    for (const auto& [name, c] : out["parity_channels"].items()) add_row(rows, "parity/" + name, c, pool_metric);
  }
  if (channels.contains("fusion_parity")) add_row(rows, "fusion_parity", channels["fusion_parity"], pool_metric);
  print_table({"recall@10", "ndcg@10", "recall@200", "ndcg@200", pool_metric, "coverage@10", "fit_s"}, rows);
  if (!out.contains("fusion_strategies")) return;
  fmt::print(
      "\nfusion methods x channel quota (test split; weights tuned per row when fusion tunes)\n");
  Rows strategies;
  for (const auto& f : out["fusion_strategies"]) {
    std::map<std::string, double> v;
    for (const char* m : {"recall@10", "ndcg@10", "recall@200"}) v[m] = f[m].get<double>();
    v[pool_metric] = f["pool_recall"].get<double>();
    strategies.emplace_back(
        fmt::format("{} quota {}", f["method"].get<std::string>(), f["quota"].get<size_t>()), v);
  }
  print_table({"recall@10", "ndcg@10", "recall@200", pool_metric}, strategies);
}

}  // namespace

void add_bench_quality(CLI::App* bench) {
  struct Opts {
    DataFlags data;
    std::string json;
    std::vector<std::string> overrides;
    bool parity = true;
    QualityBenchOptions bench;
  };
  auto o = std::make_shared<Opts>();
  QualityBenchOptions& b = o->bench;
  CLI::App* cmd = bench->add_subcommand(
      "quality", "train + evaluate every recall channel and the fused pools, write JSON");
  o->data.add_to(cmd);
  cmd->add_option("--json", o->json, "write the results here");
  cmd->add_option("--threads", b.threads, "threads (0 = hardware)")->capture_default_str();
  cmd->add_option("--channels", b.channels, "only these channels of the tuned config")
      ->delimiter(',')
      ->allow_extra_args(false);
  cmd->add_option("--fusion", b.fusion, "fuse the channels (recall.fusion config)")->capture_default_str();
  cmd->add_option("--parity", o->parity, "also run the parity config (recall=parity) and its pool")
      ->capture_default_str();
  cmd->add_option("--quota", b.quota, "candidates per channel (0 = recall.fusion.quota)")->capture_default_str();
  cmd->add_option("--pool", b.pool, "pool size (0 = recall.fusion.pool_size)")->capture_default_str();
  cmd->add_option("--fusion-quotas", b.fusion_quotas,
                  "quotas of the fusion_strategies comparison, each with every fusion method")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option(
         "--test-sees-valid", b.test_sees_valid,
         "test requests carry the user's validation item in their history, as a request served "
         "after it would (default: training rows only, seed-loo's definition)")
      ->capture_default_str();
  cmd->add_option("overrides", o->overrides, "config overrides for the tuned config, e.g. recall.channels.ials.reg=5");
  cmd->callback([o] {
    const YAML::Node cfg = load_config(o->overrides);
    const DataSource src = o->data.to_source();
    const Stopwatch sw;
    const Dataset ds = prepare_dataset(load_dataset(src.dataset, src.path, src.load), src.tag, src.prepare);
    spdlog::info("prepared {}: {} users, {} items, {} train rows ({:.2f} s)", src.dataset, ds.n_users, ds.n_items,
                 ds.train.nnz(), sw.seconds());
    if (o->parity) o->bench.parity_config = load_config({"recall=parity"});
    const Json out = run_quality_bench(cfg, ds, o->bench);
    FusionConfig parity_fc;
    if (o->parity) parity_fc = quality_fusion_config(o->bench.parity_config, o->bench);
    print_report(out, quality_fusion_config(cfg, o->bench), parity_fc);
    if (!o->json.empty()) {
      write_file_atomic(o->json, out.dump(2) + "\n");
      fmt::print("wrote {}\n", o->json);
    }
  });
}

}  // namespace cascade::cli
