// cascade train [key=value | group=option ...]
// Prepares (or loads the cached snapshot of) the configured data, fits every configured
// recall channel, saves each under <workdir>/<tag>/models/<name>, scores it on the
// validation split, and logs one MLflow run per channel.
//
// Under `mpirun -np N` (N > 1): iALS channels are fitted and evaluated across all ranks (each
// solves a block of users and of items, each evaluates a block of users; see src/recall/ials.cc);
// every other channel is fitted and evaluated on rank 0 alone while the other ranks go on to the
// next iALS channel. Only rank 0 writes models and runs and prints the table.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <optional>

#include "cascade/core/config.h"
#include "cascade/core/error.h"
#include "cascade/dist/world.h"
#include "cascade/eval/evaluator.h"
#include "cascade/tracking/run_store.h"
#include "cli_common.h"
#include "commands.h"

namespace fs = std::filesystem;

namespace cascade::cli {

void add_train_command(CLI::App& app) {
  auto overrides = std::make_shared<std::vector<std::string>>();
  auto only = std::make_shared<std::vector<std::string>>();
  CLI::App* cmd = app.add_subcommand("train", "fit the configured recall channels and save them");
  cmd->add_option("overrides", *overrides, "config overrides: key=value or group=option");
  cmd->add_option("--channels", *only, "train only these channels (names from recall.channels)")
      ->delimiter(',')
      ->allow_extra_args(false);
  cmd->callback([overrides, only] {
    const dist::World& world = dist::world();
    const bool root = world.rank == 0;
    Workspace w = open_workspace(*overrides);
    const YAML::Node& cfg = w.cfg;
    const Dataset& ds = w.ds;
    const std::vector<ChannelSpec> specs = fit_channels_to_data(w.channels(*only), recall_shape(ds), !only->empty());
    if (specs.empty())
      throw Error("train: no channel selected (check --channels against recall.channels)");
    std::optional<RunStore> store;
    if (root) store.emplace(w.mlruns);

    std::vector<std::pair<std::string, std::map<std::string, double>>> rows;
    for (const ChannelSpec& spec : specs) {
      const bool spread = world.size > 1 && spec.kind == "ials";
      if (!root && !spread) continue;
      spdlog::info("fitting {} ({}){}", spec.name, spec.spec(),
                   spread ? fmt::format(" across {} MPI ranks", world.size) : "");
      std::optional<dist::Collective> collective;
      if (spread) collective.emplace();
      FittedChannel fc = fit_channel(spec, ds, w.train, config_threads(cfg), config_seed(cfg));
      fs::path model_dir = w.model_dir(spec.name);
      if (root) save_recaller(*fc.model, model_dir);
      EvalOptions eo = w.eval;
      const Interactions valid_seen = ds.seen_at_valid();  // keep_seen (no rows otherwise)
      eo.exclude = &valid_seen;
      EvalResult r = evaluate(*fc.model, w.train, ds.valid, eo);
      collective.reset();
      if (!root) continue;
      spdlog::info("{}: fit {:.2f} s, validation recall@10 {:.4f}, saved to {}", spec.name,
                   fc.fit_seconds, r.summary.count("recall@10") ? r.summary.at("recall@10") : NAN,
                   model_dir.string());

      Run run = store->start_run(w.experiment, "train/" + spec.name);
      for (const auto& [k, v] : flatten_config(cfg)) run.log_param(k, v);
      const Params model_params = fc.model->params();
      for (const auto& [k, v] : model_params.resolved()) run.log_param("model." + k, v);
      run.log_param("channel", spec.name);
      run.log_param("model.kind", spec.kind);
      run.set_tag("cascade.command", "train");
      run.set_tag("cascade.dataset_hash", ds.content_hash);
      run.set_tag("cascade.model_dir", fs::absolute(model_dir).string());
      run.log_metric("fit_seconds", fc.fit_seconds);
      for (const auto& [k, v] : r.summary) run.log_metric("valid." + k, v);
      run.log_artifact_text("config.yaml", yaml_dump(cfg));
      run.finish(true);

      auto summary = r.summary;
      summary["fit_s"] = fc.fit_seconds;
      rows.emplace_back(spec.name, summary);
    }
    if (!root) return;
    fmt::print("\nvalidation split ({} users), models in {}\n", ds.valid.n_rows,
               (w.dir / "models").string());
    print_table({"recall@10", "ndcg@10", "mrr@10", "recall@200", "coverage@10", "fit_s"}, rows);
  });
}

}  // namespace cascade::cli
