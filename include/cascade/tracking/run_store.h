// MLflow-compatible file store (the layout `mlflow ui --backend-store-uri mlruns` reads):
//   mlruns/<experiment_id>/meta.yaml
//   mlruns/<experiment_id>/<run_id>/meta.yaml
//   mlruns/<experiment_id>/<run_id>/params/<key>      (the value)
//   mlruns/<experiment_id>/<run_id>/metrics/<key>     ("<ms timestamp> <value> <step>" lines)
//   mlruns/<experiment_id>/<run_id>/tags/<key>        (the value; mlflow.runName etc.)
//   mlruns/<experiment_id>/<run_id>/artifacts/...
// plus artifacts/summary.json (params, metrics, tags) for scripts.
//
// Keys (params, metrics, tags) may hold letters, digits, '_', '-', '.', ' ', '/' (a '/'
// makes a subfolder, as in MLflow) and '@'. MLflow 2.x re-validates every file name when it
// READS a run (mlflow/utils/validation.py: ^[/\w.\- ]*$) and fails the whole run listing on
// one bad name, so '@' is stored on disk as "_at_" ("recall@10" -> metrics/recall_at_10);
// summary.json and the in-memory maps keep the key as logged. See mlflow_key_file().
// A param, as in MLflow, cannot change value once logged (same value again is fine).
// Not thread-safe: one Run per thread.
#pragma once

#include <filesystem>
#include <map>
#include <string>

namespace cascade {

class RunStore;

/// Checks a param/metric/tag key (throws cascade::Error naming it and the rule it breaks)
/// and returns the relative file path MLflow reads it from ('@' -> "_at_").
std::string mlflow_key_file(const std::string& key);

/// One run. Created by RunStore::start_run; finish() marks it FINISHED (or FAILED) and
/// writes the summary. A run not finished (crash) stays RUNNING, as in MLflow.
class Run {
 public:
  const std::string& id() const { return id_; }
  const std::filesystem::path& dir() const { return dir_; }
  const std::string& experiment_id() const { return experiment_id_; }
  const std::string& name() const { return name_; }
  std::filesystem::path artifacts_dir() const { return dir_ / "artifacts"; }

  void log_param(const std::string& key, const std::string& value);
  void log_metric(const std::string& key, double value, int64_t step = 0);
  void set_tag(const std::string& key, const std::string& value);
  /// Writes a text artifact (relative path under artifacts/), atomically.
  void log_artifact_text(const std::string& rel_path, const std::string& content);
  void finish(bool success = true);

 private:
  friend class RunStore;
  std::string id_;
  std::string experiment_id_;
  std::filesystem::path dir_;
  std::string name_;
  int64_t start_ms_ = 0;
  int64_t end_ms_ = 0;  ///< 0 while running (meta.yaml end_time: null)
  int status_ = 1;      ///< MLflow RunStatus: 1 RUNNING, 3 FINISHED, 4 FAILED
  std::string user_;
  std::string artifact_uri_;
  std::map<std::string, std::string> params_, tags_;
  std::map<std::string, double> metrics_;  ///< last logged value per key
  void write_meta(int status, int64_t end_ms) const;
};

class RunStore {
 public:
  /// `root` is the mlruns folder (created if needed, with .trash and experiment "0" named
  /// "Default", as MLflow's FileStore does). Stored as an absolute path.
  explicit RunStore(std::filesystem::path root);

  /// Experiment by name (created with the next free numeric id if absent).
  std::string experiment_id(const std::string& name);
  Run start_run(const std::string& experiment, const std::string& run_name);

  /// Finds a run folder by id (any experiment, also .trash; a unique prefix of 8+ characters
  /// is accepted) or by a path to it; throws when absent or ambiguous.
  std::filesystem::path find_run(const std::string& id_or_path) const;

  const std::filesystem::path& root() const { return root_; }

 private:
  std::filesystem::path root_;
};

}  // namespace cascade
