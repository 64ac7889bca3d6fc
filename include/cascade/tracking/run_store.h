// MLflow-compatible file store (the layout `mlflow ui --backend-store-uri mlruns` reads):
//   mlruns/<experiment_id>/meta.yaml
//   mlruns/<experiment_id>/<run_id>/meta.yaml
//   mlruns/<experiment_id>/<run_id>/params/<key>      (the value)
//   mlruns/<experiment_id>/<run_id>/metrics/<key>     ("<ms timestamp> <value> <step>" lines)
//   mlruns/<experiment_id>/<run_id>/tags/<key>        (the value; mlflow.runName etc.)
//   mlruns/<experiment_id>/<run_id>/artifacts/...
// plus artifacts/summary.json (params, metrics, tags) for scripts.
#pragma once

#include <filesystem>
#include <map>
#include <string>

namespace cascade {

class RunStore;

/// One run. Created by RunStore::start_run; finish() marks it FINISHED (or FAILED) and
/// writes the summary. A run not finished (crash) stays RUNNING, as in MLflow.
class Run {
 public:
  const std::string& id() const { return id_; }
  const std::filesystem::path& dir() const { return dir_; }
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
  std::map<std::string, std::string> params_, tags_;
  std::map<std::string, double> metrics_;
  void write_meta(int status, int64_t end_ms) const;
};

class RunStore {
 public:
  /// `root` is the mlruns folder (created if needed).
  explicit RunStore(std::filesystem::path root);

  /// Experiment by name (created with the next free numeric id if absent).
  std::string experiment_id(const std::string& name);
  Run start_run(const std::string& experiment, const std::string& run_name);

  /// Finds a run folder by id (any experiment) or by a path to it; throws when absent.
  std::filesystem::path find_run(const std::string& id_or_path) const;

  const std::filesystem::path& root() const { return root_; }

 private:
  std::filesystem::path root_;
};

}  // namespace cascade
