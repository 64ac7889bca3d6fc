// cascade eval [key=value ...]
// Loads the snapshot and the saved channels of a `train` run, checks that every model was
// trained on this snapshot (content hash), evaluates on the configured split (test by
// default) over the full catalogue and logs one MLflow run per channel with per-user
// results (artifacts/per_user.csv) for `cascade compare`.
//
// Under `mpirun -np N`: every rank loads the models (the workdir must be visible to every rank)
// and evaluates a contiguous block of the users; the results are gathered, so the per-user values
// and the summary (coverage included) equal one process's. Only rank 0 logs runs and prints.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <optional>

#include "cascade/core/config.h"
#include "cascade/core/error.h"
#include "cascade/dist/world.h"
#include "cascade/eval/evaluator.h"
#include "cascade/io/artifact.h"
#include "cascade/tracking/run_store.h"
#include "cli_common.h"
#include "commands.h"

namespace fs = std::filesystem;

namespace cascade::cli {

namespace {
std::string manifest_dataset_hash(const fs::path& dir) {
  auto m = nlohmann::json::parse(read_file(dir / "manifest.json"));
  if (m.contains("dataset_hash") && m["dataset_hash"].is_string()) return m["dataset_hash"];
  return "";
}
}  // namespace

void add_eval_command(CLI::App& app) {
  auto overrides = std::make_shared<std::vector<std::string>>();
  auto only = std::make_shared<std::vector<std::string>>();
  CLI::App* cmd =
      app.add_subcommand("eval", "evaluate the trained channels (full catalogue) and log runs");
  cmd->add_option("overrides", *overrides, "config overrides: key=value or group=option");
  cmd->add_option("--channels", *only, "evaluate only these channels")
      ->delimiter(',')
      ->allow_extra_args(false);
  cmd->callback([overrides, only] {
    Workspace w = open_workspace(*overrides);
    const YAML::Node& cfg = w.cfg;
    const Dataset& ds = w.ds;
    const std::string split =
        cfg["eval"]["split"] ? cfg["eval"]["split"].as<std::string>() : "test";
    if (split != "test" && split != "valid")
      throw Error("config: eval.split must be test or valid, got " + split);
    const Interactions& heldout = split == "test" ? ds.test : ds.valid;
    // keep_seen: what the split's requests know the user consumed (no rows otherwise).
    const Interactions heldout_seen = split == "test" ? ds.seen_at_test() : ds.seen_at_valid();

    const bool root = dist::world().rank == 0;
    std::optional<RunStore> store;
    if (root) store.emplace(w.mlruns);

    std::vector<std::pair<std::string, std::map<std::string, double>>> rows;
    std::vector<std::pair<std::string, std::string>> run_ids;
    size_t evaluated_users = 0;
    for (const ChannelSpec& spec : w.channels(*only)) {
      fs::path model_dir = w.model_dir(spec.name);
      if (!fs::exists(model_dir / "manifest.json")) {
        throw Error(fmt::format(
            "no trained model for channel '{}' in {} (run `cascade train` with the same "
            "config first)",
            spec.name, model_dir.string()));
      }
      std::string h = manifest_dataset_hash(model_dir);
      if (h != ds.content_hash) {
        throw Error(fmt::format("{} was trained on dataset {} but the snapshot is {}: retrain it",
                                model_dir.string(), h.empty() ? "(unknown)" : h, ds.content_hash));
      }
      auto model = load_recaller(model_dir);
      EvalResult r;
      {
        const dist::Collective collective;  // a no-op in a single process
        EvalOptions eo = w.eval;
        eo.exclude = &heldout_seen;
        r = evaluate(*model, w.train, heldout, eo);
      }
      evaluated_users = r.users.size();
      if (!root) continue;

      Run run = store->start_run(w.experiment, "eval/" + spec.name);
      for (const auto& [k, v] : flatten_config(cfg)) run.log_param(k, v);
      const Params model_params = model->params();
      for (const auto& [k, v] : model_params.resolved()) run.log_param("model." + k, v);
      run.log_param("channel", spec.name);
      run.set_tag("cascade.command", "eval");
      run.set_tag("cascade.split", split);
      run.set_tag("cascade.dataset_hash", ds.content_hash);
      for (const auto& [k, v] : r.summary) run.log_metric(k, v);
      run.log_metric("eval_seconds", r.seconds);
      save_per_user_csv(r, (run.artifacts_dir() / "per_user.csv").string());
      run.log_artifact_text("config.yaml", yaml_dump(cfg));
      run.finish(true);
      run_ids.emplace_back(spec.name, run.id());

      auto summary = r.summary;
      summary["eval_s"] = r.seconds;
      rows.emplace_back(spec.name, summary);
    }
    if (!root) return;
    if (rows.empty()) throw Error("eval: no channel selected");
    fmt::print("\n{} split: {} users, {} items (full catalogue, training items masked)\n", split,
               evaluated_users, ds.n_items);
    print_table({"recall@10", "ndcg@10", "mrr@10", "recall@200", "ndcg@200", "coverage@10",
                 "novelty@10", "eval_s"},
                rows);
    fmt::print("\nruns (compare two with `cascade compare RUN_A RUN_B`):\n");
    for (const auto& [name, id] : run_ids) fmt::print("  {:<12} {}\n", name, id);
  });
}

}  // namespace cascade::cli
