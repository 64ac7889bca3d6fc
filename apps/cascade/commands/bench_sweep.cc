// cascade bench sweep --data PATH --dataset NAME --protocol seed-loo --channel sasrec
//   --param max_len --values 10,25,50,100 --json OUT.json [key=value ...]
// Trains one recall channel once per value of one parameter, evaluates each fit on validation
// and test, chooses the value on validation Recall@10 and writes the JSON of
// pipeline/sweep_bench.h.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "cascade/io/artifact.h"
#include "cascade/pipeline/sweep_bench.h"
#include "cascade/util/stopwatch.h"
#include "cli_common.h"
#include "commands.h"

namespace cascade::cli {

void add_bench_sweep(CLI::App* bench) {
  struct Opts {
    DataFlags data;
    std::string json;
    std::vector<std::string> overrides;
    SweepOptions sweep;
  };
  auto o = std::make_shared<Opts>();
  SweepOptions& s = o->sweep;
  CLI::App* cmd = bench->add_subcommand(
      "sweep",
      "train one recall channel per value of one parameter, choose on validation, write JSON");
  o->data.add_to(cmd);
  cmd->add_option("--channel", s.channel, "the configured recall channel to sweep")->required();
  cmd->add_option("--param", s.param, "the channel parameter to vary (e.g. max_len, dim)")
      ->required();
  cmd->add_option("--values", s.values, "comma-separated values, each trained once")
      ->required()
      ->delimiter(',')
      ->allow_extra_args(false);
  cmd->add_option("--json", o->json, "write the results here");
  cmd->add_option("--threads", s.threads, "threads (0 = hardware)")->capture_default_str();
  cmd->add_option("overrides", o->overrides,
                  "config overrides, e.g. recall.channels.sasrec.epochs=8");
  cmd->callback([o] {
    const YAML::Node cfg = load_config(o->overrides);
    sweep_specs(cfg, o->sweep);  // bad parameter or value: fail before loading anything
    const DataSource src = o->data.to_source();
    const Stopwatch sw;
    const Dataset ds =
        prepare_dataset(load_dataset(src.dataset, src.path, src.load), src.tag, src.prepare);
    spdlog::info("prepared {}: {} users, {} items, {} train rows ({:.2f} s)", src.dataset,
                 ds.n_users, ds.n_items, ds.train.nnz(), sw.seconds());
    const nlohmann::ordered_json out = run_sweep_bench(cfg, ds, o->sweep);
    fmt::print("\n{} {}: {}.{} (chosen on validation recall@10: {})\n",
               out["dataset"].get<std::string>(), out["protocol"].get<std::string>(),
               o->sweep.channel, o->sweep.param, out["chosen_on_valid"].dump());
    std::vector<std::pair<std::string, std::map<std::string, double>>> rows;
    for (const auto& r : out["runs"]) {
      std::map<std::string, double> v;
      for (const char* m : {"recall@10", "ndcg@10", "recall@200"}) {
        v[fmt::format("valid {}", m)] = r["valid"][m].get<double>();
        v[fmt::format("test {}", m)] = r["test"][m].get<double>();
      }
      v["fit_s"] = r["fit_seconds"].get<double>();
      rows.emplace_back(fmt::format("{}={}", o->sweep.param, r["value"].dump()), v);
    }
    print_table({"valid recall@10", "valid ndcg@10", "valid recall@200", "test recall@10",
                 "test ndcg@10", "test recall@200", "fit_s"},
                rows);
    if (!o->json.empty()) {
      write_file_atomic(o->json, out.dump(2) + "\n");
      fmt::print("wrote {}\n", o->json);
    }
  });
}

}  // namespace cascade::cli
