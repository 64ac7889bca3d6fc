// cascade bundle --out DIR [--data DIR --dataset NAME] [--funnel SPEC | --funnel-from BENCH.json]
//                [--channels a,b] [--cache DIR] [overrides]
// Trains the serving funnel (recall channels on the seed-oof recall slice, fusion weights on
// the validation item, the funnel's pre- and fine-ranker on the ranker slice), evaluates it as
// served on the held-out users and writes a verified model bundle that `cascade serve` loads.
#include "cascade/pipeline/bundle.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <memory>

#include "cascade/core/error.h"
#include "cli_common.h"
#include "commands.h"

namespace cascade::cli {

void add_bundle_command(CLI::App& app) {
  struct Opts {
    DataFlags data;
    std::string out;
    std::string cache;
    std::string funnel, funnel_from;
    int threads = -1;
    std::vector<std::string> channels;
    std::vector<std::string> overrides;
    std::vector<std::string> reports;
    std::vector<double> lambdas = {0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0};
    bool test_sees_valid = false;
  };
  auto o = std::make_shared<Opts>();
  o->data.protocol = "seed-oof";
  CLI::App* cmd =
      app.add_subcommand("bundle", "train the whole funnel and write a servable model bundle");
  o->data.add_to(cmd);
  cmd->add_option("--out", o->out,
                  "bundle directory to write (replaced once the new bundle is complete)")
      ->required();
  cmd->add_option("--cache", o->cache,
                  "reuse recall channels fitted with the same spec, data and seed from here");
  cmd->add_option("--threads", o->threads,
                  "threads (default: the config's `threads`, 0 = hardware)");
  cmd->add_option("--funnel", o->funnel, "the funnel spec to build (default: the config's)");
  cmd->add_option("--funnel-from", o->funnel_from,
                  "build the funnel a `bench funnel` JSON chose on validation");
  cmd->add_option("--channels", o->channels, "only these of the funnel's recall channels")
      ->delimiter(',')
      ->allow_extra_args(false);
  cmd->add_option("--report", o->reports,
                  "keep an experiment JSON in the bundle as reports/NAME.json (NAME=FILE; "
                  "--funnel-from's JSON is kept as 'funnel'); the dashboard shows them")
      ->delimiter(',');
  cmd->add_option("--lambdas", o->lambdas,
                  "diversity values of the bundle's own re-rank sweep on validation (dashboard)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option(
         "--test-sees-valid", o->test_sees_valid,
         "offline test requests carry the user's validation item as a live event, as a request "
         "served after it would (default: training rows only, seed-loo's definition)")
      ->capture_default_str();
  cmd->add_option("overrides", o->overrides, "config overrides: key=value or group=option");
  cmd->callback([o] {
    std::vector<std::string> overrides = funnel_from_overrides(o->funnel_from);
    overrides.insert(overrides.end(), o->overrides.begin(), o->overrides.end());
    YAML::Node cfg = load_config(overrides);
    const bool named = funnel_named(cfg, o->funnel, o->funnel_from, o->channels);
    apply_funnel_flags(cfg, o->funnel, o->funnel_from, o->channels);
    DataSource src;
    if (o->data.data.empty()) {
      // The configured data group, always split seed-oof (the rankers learn from the ranker slice).
      src = data_source_from_yaml(cfg["data"]);
      src.prepare.protocol = Protocol::kSeedOof;
    } else {
      CASCADE_CHECK(!o->data.dataset.empty(), "bundle: --data needs --dataset (loader name)");
      src = o->data.to_source();
      CASCADE_CHECK(src.prepare.protocol == Protocol::kSeedOof,
                    "bundle: --protocol must be seed-oof");
    }
    const auto snap_dir = workdir_for(cfg, src.tag) / "data-oof";
    Dataset ds = prepare_or_load(src, snap_dir);
    fmt::print("funnel: {}\n", fit_funnel_to_data(cfg, recall_shape(ds), named));
    BundleBuildOptions bo;
    bo.threads = o->threads >= 0 ? o->threads : config_threads(cfg);
    bo.channel_cache = o->cache;
    bo.lambdas = o->lambdas;
    bo.test_sees_valid = o->test_sees_valid;
    if (!o->funnel_from.empty()) bo.reports["funnel"] = o->funnel_from;
    for (const std::string& r : o->reports) {
      const auto eq = r.find('=');
      CASCADE_CHECK(eq != std::string::npos && eq > 0 && eq + 1 < r.size(),
                    fmt::format("--report: '{}' is not NAME=FILE", r));
      bo.reports[r.substr(0, eq)] = r.substr(eq + 1);
    }
    const std::string version = build_bundle(cfg, ds, o->out, bo);
    const nlohmann::json m = verify_bundle(o->out);
    std::map<std::string, double> metrics;
    for (const char* split : {"valid", "test"})
      for (const char* k : {"recall@10", "ndcg@10"})
        metrics[std::string(split) + "_" + k] = m["offline"][split][k].get<double>();
    const std::string run =
        record_funnel_run(cfg, "bundle", m.value("funnel", ""), metrics, m.dump(2) + "\n");
    fmt::print("run {} in the run store\n", run);
    fmt::print("bundle {} written to {}\nserve it with: cascade serve --bundle {}\n", version,
               o->out, o->out);
  });
}

}  // namespace cascade::cli
