// Helpers shared by the CLI commands: config composition, data flags, result tables.
#pragma once

#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "cascade/data/loaders.h"
#include "cascade/eval/evaluator.h"
#include "cascade/pipeline/recall_job.h"
#include "cascade/util/percentile.h"

namespace cascade::cli {

/// Data flags shared by `prepare` and `bench quality` (the command-line contract).
struct DataFlags {
  std::string data;
  std::string dataset;
  std::string protocol = "seed-loo";
  std::string sep = ",";
  std::string columns;
  bool header = false;
  bool skip_bad_rows = false;
  float min_rating = 4.0f;
  uint32_t min_positives = 5;
  double oof_fraction = 0.1;
  bool keep_seen = false;
  double time_train = 0.8;
  double time_valid = 0.1;

  void add_to(CLI::App* app);
  DataSource to_source() const;
};

/// Composes configs/config.yaml with `overrides` (key=value / group=option).
YAML::Node load_config(const std::vector<std::string>& overrides);

/// The workdir for a dataset tag: <config workdir>/<tag>.
std::filesystem::path workdir_for(const YAML::Node& cfg, const std::string& tag);

int config_threads(const YAML::Node& cfg);
uint64_t config_seed(const YAML::Node& cfg);
std::vector<size_t> config_ks(const YAML::Node& cfg);

/// What `train` and `eval` share: the composed config, its dataset (snapshot cached under
/// <workdir>/<tag>/data), the matrix the channels fit on (the recall slice in seed-oof),
/// the run store and the evaluation options.
struct Workspace {
  YAML::Node cfg;
  DataSource source;
  std::filesystem::path dir;  ///< <workdir>/<tag>
  Dataset ds;
  Interactions train;
  std::string mlruns;
  std::string experiment;
  EvalOptions eval;

  std::filesystem::path model_dir(const std::string& channel) const {
    return dir / "models" / channel;
  }
  /// The configured channels, filtered by `only` when it is not empty (unknown names throw).
  std::vector<ChannelSpec> channels(const std::vector<std::string>& only) const;
};
/// Under mpirun, rank 0 opens it first (preparing and caching the snapshot) and the other
/// ranks then load the cached snapshot.
Workspace open_workspace(const std::vector<std::string>& overrides);

/// The config overrides a `bench funnel` JSON chose besides its spec (e.g. rank.features.time=false),
/// to compose the configuration with; none when `funnel_from` is empty.
std::vector<std::string> funnel_from_overrides(const std::string& funnel_from);

/// The funnel flags of `bundle` and `bench funnel`: `funnel` (a spec, funnel_spec.h), `funnel_from`
/// (a `bench funnel` JSON whose validation-chosen spec to use), `channels` (keep only these of the
/// spec's channels). Writes the resolved funnel into cfg's groups and returns its spec.
std::string apply_funnel_flags(YAML::Node& cfg, const std::string& funnel, const std::string& funnel_from,
                               const std::vector<std::string>& channels);

/// Whether the user named the funnel (a flag, or a non-null `funnel` key in the config) rather
/// than taking the configured default.
bool funnel_named(const YAML::Node& cfg, const std::string& funnel, const std::string& funnel_from,
                  const std::vector<std::string>& channels);

/// After the data is known, before anything is fitted: the funnel's channels that cannot be
/// fitted on data of `shape` (Recaller::cannot_fit, e.g. EASE's dense inverse at 27K items).
/// When the funnel is the configured default (`user_chose` false) they are left out with a
/// warning and the funnel re-resolved; when the user named the funnel or its channels, the
/// first reason is thrown (fail fast with the estimate). Returns the funnel spec in force.
std::string fit_funnel_to_data(YAML::Node& cfg, const DataShape& shape, bool user_chose);

/// Same rule for `train`'s channel list: unfit channels are dropped with a warning when
/// `only` is empty, and thrown when the user named them.
std::vector<ChannelSpec> fit_channels_to_data(std::vector<ChannelSpec> specs, const DataShape& shape,
                                              bool user_chose);

/// The shape the recall channels are fitted on: the training matrix, the catalogue's items.
DataShape recall_shape(const Dataset& ds);

/// Records a funnel-level command in the run store (cfg's mlruns / experiment): the resolved
/// config as params and artefact, `spec` as the tag cascade.funnel, `metrics`, and `result` as
/// result.json. Returns the run id.
std::string record_funnel_run(const YAML::Node& cfg, const std::string& command, const std::string& spec,
                              const std::map<std::string, double>& metrics, const std::string& result_json);

/// Prints rows of metrics as an aligned table: first column `name`, then `columns`.
void print_table(const std::vector<std::string>& columns,
                 const std::vector<std::pair<std::string, std::map<std::string, double>>>& rows);

}  // namespace cascade::cli
