// MLflow-compatible file store. The layout and file formats follow MLflow 2.x's
// mlflow/store/tracking/file_store.py so that `mlflow ui --backend-store-uri mlruns` lists
// our experiments and runs:
//   - meta.yaml files are YAML maps with keys in sorted order (MLflow writes them with
//     yaml.safe_dump, which sorts); experiment_id is a string; status is the RunStatus int;
//   - params/<key> and tags/<key> hold the value with no trailing newline;
//   - metrics/<key> holds "<timestamp ms> <value> <step>\n" lines, value as Python prints a
//     float (MLflow reads it back with float()).
#include "cascade/tracking/run_store.h"

#include <fmt/format.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <vector>

#include "cascade/core/error.h"
#include "cascade/io/artifact.h"

namespace fs = std::filesystem;

namespace cascade {

namespace {

constexpr int kRunning = 1;
constexpr int kFinished = 3;
constexpr int kFailed = 4;
constexpr int kSourceTypeLocal = 4;  // mlflow.entities.SourceType.LOCAL
constexpr size_t kMaxKeyLength = 250;  // MLflow's MAX_ENTITY_KEY_LENGTH
constexpr const char* kTrash = ".trash";
constexpr const char* kMeta = "meta.yaml";

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string status_name(int status) {
  switch (status) {
    case 1: return "RUNNING";
    case 2: return "SCHEDULED";
    case 3: return "FINISHED";
    case 4: return "FAILED";
    case 5: return "KILLED";
    default: return "UNKNOWN";
  }
}

// 32 lowercase hex digits laid out like Python's uuid.uuid4().hex (what MLflow uses):
// version nibble 4, variant bits 10xx.
std::string new_run_id() {
  std::random_device rd;
  std::seed_seq seq{rd(), rd(), rd(), rd(),
                    static_cast<unsigned>(now_ms()),
                    static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count()),
                    static_cast<unsigned>(::getpid())};
  std::mt19937_64 gen(seq);
  uint64_t hi = gen(), lo = gen();
  hi = (hi & ~0xF000ULL) | 0x4000ULL;
  lo = (lo & ~(0xC000000000000000ULL)) | 0x8000000000000000ULL;
  return fmt::format("{:016x}{:016x}", hi, lo);
}

// file:// URI of an absolute path, percent-encoding like Python's pathlib.Path.as_uri()
// (which MLflow uses): everything but unreserved characters and '/' is escaped.
std::string file_uri(const fs::path& abs_path) {
  std::string out = "file://";
  for (unsigned char c : abs_path.string()) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

// True when PyYAML (YAML 1.1) and yaml-cpp both read `s` back as this same plain string.
// Anything else is single-quoted: numbers, bools such as "on"/"yes", null, a run id that
// starts with a digit, strings with ": " or " #".
bool plain_safe(const std::string& s) {
  if (s.empty()) return false;
  unsigned char c0 = static_cast<unsigned char>(s[0]);
  if (!(std::isalpha(c0) || c0 == '_' || c0 == '/')) return false;
  if (s.back() == ' ' || s.back() == ':') return false;
  for (unsigned char c : s) {
    if (!(std::isalnum(c) || std::string_view("_-./@%:~+ ").find(static_cast<char>(c)) != std::string_view::npos)) {
      return false;
    }
  }
  if (s.find(": ") != std::string::npos || s.find(" #") != std::string::npos) return false;
  std::string lower = s;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  static const std::set<std::string> kSpecial = {"y", "n", "yes", "no", "true", "false", "on", "off", "null"};
  return kSpecial.count(lower) == 0;
}

void emit_str(YAML::Emitter& e, const std::string& s) {
  if (plain_safe(s)) {
    e << s;
  } else {
    e << YAML::SingleQuoted << s;
  }
}

void emit_key(YAML::Emitter& e, const char* key) { e << YAML::Key << key << YAML::Value; }

std::string finish_yaml(const YAML::Emitter& e, const std::string& what) {
  if (!e.good()) throw Error(fmt::format("cannot write {}: YAML emitter error: {}", what, e.GetLastError()));
  return std::string(e.c_str()) + "\n";
}

// Python's repr of a float, closely enough that MLflow's float() reads the same value
// (shortest round-trip digits; integral values get ".0" as Python prints them).
std::string metric_value_text(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::string s = fmt::format("{}", v);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

std::string current_user() {
  const char* u = std::getenv("USER");
  if (u != nullptr && *u != '\0') return u;
  return "cascade";
}

std::string source_name() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec || exe.empty()) return "cascade";
  return exe.string();
}

// A relative path under artifacts/: no absolute paths, no "." / ".." components.
void check_relative(const std::string& rel, const char* what) {
  if (rel.empty()) throw Error(fmt::format("{}: empty path", what));
  if (rel.front() == '/') throw Error(fmt::format("{} '{}': must be a relative path", what, rel));
  size_t start = 0;
  while (start <= rel.size()) {
    size_t slash = rel.find('/', start);
    if (slash == std::string::npos) slash = rel.size();
    std::string comp = rel.substr(start, slash - start);
    if (comp.empty() || comp == "." || comp == "..") {
      throw Error(fmt::format("{} '{}': empty, '.' or '..' path components are not allowed", what, rel));
    }
    start = slash + 1;
  }
}

bool is_run_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec) && fs::is_regular_file(p / kMeta, ec);
}

// A run's meta.yaml names its run id (an experiment's does not).
bool has_run_meta(const fs::path& p) {
  if (!is_run_dir(p)) return false;
  try {
    YAML::Node meta = YAML::LoadFile((p / kMeta).string());
    return meta.IsMap() && (meta["run_id"] || meta["run_uuid"]);
  } catch (const YAML::Exception&) {
    return false;
  }
}

// The experiment folders MLflow lists (all subfolders but .trash and "models").
std::vector<fs::path> experiment_dirs(const fs::path& root, bool with_trash) {
  std::vector<fs::path> out;
  std::error_code ec;
  auto scan = [&](const fs::path& dir) {
    if (!fs::is_directory(dir, ec)) return;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (!entry.is_directory(ec)) continue;
      std::string name = entry.path().filename().string();
      if (name == kTrash || name == "models") continue;
      out.push_back(entry.path());
    }
  };
  scan(root);
  if (with_trash) scan(root / kTrash);
  std::sort(out.begin(), out.end());
  return out;
}

void write_experiment_meta(const fs::path& dir, const std::string& id, const std::string& name) {
  int64_t t = now_ms();
  YAML::Emitter e;
  e << YAML::BeginMap;
  emit_key(e, "artifact_location");
  emit_str(e, file_uri(dir));
  emit_key(e, "creation_time");
  e << t;
  emit_key(e, "experiment_id");
  e << YAML::SingleQuoted << id;
  emit_key(e, "last_update_time");
  e << t;
  emit_key(e, "lifecycle_stage");
  e << "active";
  emit_key(e, "name");
  emit_str(e, name);
  e << YAML::EndMap;
  write_file_atomic(dir / kMeta, finish_yaml(e, (dir / kMeta).string()));
}

bool is_number(const std::string& s) {
  return !s.empty() && s.size() < 19 &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

}  // namespace

std::string mlflow_key_file(const std::string& key) {
  if (key.empty()) throw Error("run store: empty key (params, metrics and tags need a name)");
  if (key.size() > kMaxKeyLength) {
    throw Error(fmt::format("run store key '{}...' is {} characters long; MLflow allows at most {}",
                            key.substr(0, 40), key.size(), kMaxKeyLength));
  }
  for (unsigned char c : key) {
    if (!(std::isalnum(c) || c == '_' || c == '-' || c == '.' || c == ' ' || c == '/' || c == '@')) {
      throw Error(fmt::format(
          "run store key '{}': character '{}' is not allowed (use letters, digits, '_', '-', '.', ' ', '/', '@')",
          key, static_cast<char>(c)));
    }
  }
  if (key.front() == '/') throw Error(fmt::format("run store key '{}' must not start with '/'", key));
  // MLflow's path_not_unique(): the name must equal its normalised path and not start with "..".
  if (key.rfind("..", 0) == 0) throw Error(fmt::format("run store key '{}' must not start with '..'", key));
  size_t start = 0;
  while (start <= key.size()) {
    size_t slash = key.find('/', start);
    if (slash == std::string::npos) slash = key.size();
    std::string comp = key.substr(start, slash - start);
    if (comp.empty() || comp == "." || comp == "..") {
      throw Error(fmt::format(
          "run store key '{}': '/' separates folders, so empty, '.' and '..' parts are not allowed", key));
    }
    start = slash + 1;
  }
  std::string out;
  out.reserve(key.size() + 8);
  for (char c : key) {
    if (c == '@') {
      out += "_at_";
    } else {
      out += c;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Run

void Run::write_meta(int status, int64_t end_ms) const {
  YAML::Emitter e;
  e.SetNullFormat(YAML::LowerNull);
  e << YAML::BeginMap;
  emit_key(e, "artifact_uri");
  emit_str(e, artifact_uri_);
  emit_key(e, "deleted_time");  // written as null by MLflow >= 2.x create_run; read by `mlflow gc`
  e << YAML::Null;
  emit_key(e, "end_time");
  if (end_ms > 0) {
    e << end_ms;
  } else {
    e << YAML::Null;
  }
  emit_key(e, "entry_point_name");
  e << YAML::SingleQuoted << "";
  emit_key(e, "experiment_id");
  e << YAML::SingleQuoted << experiment_id_;
  emit_key(e, "lifecycle_stage");
  e << "active";
  emit_key(e, "run_id");
  emit_str(e, id_);
  emit_key(e, "run_name");
  emit_str(e, name_);
  emit_key(e, "run_uuid");
  emit_str(e, id_);
  emit_key(e, "source_name");
  e << YAML::SingleQuoted << "";
  emit_key(e, "source_type");
  e << kSourceTypeLocal;
  emit_key(e, "source_version");
  e << YAML::SingleQuoted << "";
  emit_key(e, "start_time");
  e << start_ms_;
  emit_key(e, "status");
  e << status;
  emit_key(e, "tags");
  e << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
  emit_key(e, "user_id");
  emit_str(e, user_);
  e << YAML::EndMap;
  write_file_atomic(dir_ / kMeta, finish_yaml(e, (dir_ / kMeta).string()));
}

void Run::log_param(const std::string& key, const std::string& value) {
  fs::path file = dir_ / "params" / mlflow_key_file(key);
  if (auto it = params_.find(key); it != params_.end()) {
    if (it->second == value) return;
    // MLflow refuses to change a logged param; so do we, rather than lose the first value.
    throw Error(fmt::format("run {}: param '{}' was already logged as '{}'; cannot change it to '{}'", id_, key,
                            it->second, value));
  }
  write_file_atomic(file, value);
  params_[key] = value;
}

void Run::log_metric(const std::string& key, double value, int64_t step) {
  fs::path file = dir_ / "metrics" / mlflow_key_file(key);
  fs::create_directories(file.parent_path());
  // Appends (MLflow appends too): a metric file is a history, one line per logged value.
  std::ofstream out(file, std::ios::app | std::ios::binary);
  if (!out) throw Error(fmt::format("run {}: cannot open {} for appending", id_, file.string()));
  out << fmt::format("{} {} {}\n", now_ms(), metric_value_text(value), step);
  out.flush();
  if (!out) throw Error(fmt::format("run {}: cannot write {}", id_, file.string()));
  metrics_[key] = value;
}

void Run::set_tag(const std::string& key, const std::string& value) {
  fs::path file = dir_ / "tags" / mlflow_key_file(key);
  write_file_atomic(file, value);
  tags_[key] = value;
  if (key == "mlflow.runName" && value != name_) {
    // MLflow keeps meta.yaml's run_name in step with this tag (FileStore.set_tag).
    name_ = value;
    write_meta(status_, end_ms_);
  }
}

void Run::log_artifact_text(const std::string& rel_path, const std::string& content) {
  check_relative(rel_path, "artifact path");
  write_file_atomic(artifacts_dir() / rel_path, content);
}

void Run::finish(bool success) {
  status_ = success ? kFinished : kFailed;
  end_ms_ = std::max(now_ms(), start_ms_);
  if (end_ms_ <= 0) end_ms_ = 1;
  nlohmann::json j;
  j["run_id"] = id_;
  j["experiment_id"] = experiment_id_;
  j["run_name"] = name_;
  j["status"] = status_name(status_);
  j["start_time"] = start_ms_;
  j["end_time"] = end_ms_;
  j["params"] = nlohmann::json::object();
  for (const auto& [k, v] : params_) j["params"][k] = v;
  j["metrics"] = nlohmann::json::object();
  for (const auto& [k, v] : metrics_) j["metrics"][k] = v;  // NaN/inf become null
  j["tags"] = nlohmann::json::object();
  for (const auto& [k, v] : tags_) j["tags"][k] = v;
  write_file_atomic(artifacts_dir() / "summary.json", j.dump(2) + "\n");
  // meta.yaml last: a FINISHED status implies the summary is there.
  write_meta(status_, end_ms_);
}

// ---------------------------------------------------------------------------------------
// RunStore

RunStore::RunStore(fs::path root) : root_(fs::absolute(std::move(root)).lexically_normal()) {
  if (root_.has_filename() == false && root_.has_parent_path()) root_ = root_.parent_path();
  std::error_code ec;
  fs::create_directories(root_, ec);
  if (ec || !fs::is_directory(root_)) {
    throw Error(fmt::format("run store: cannot create folder {}: {}", root_.string(),
                            ec ? ec.message() : "exists and is not a folder"));
  }
  fs::create_directories(root_ / kTrash, ec);
  const fs::path def = root_ / "0";
  if (!fs::exists(def / kMeta)) {
    fs::create_directories(def, ec);
    if (ec) throw Error(fmt::format("run store: cannot create {}: {}", def.string(), ec.message()));
    write_experiment_meta(def, "0", "Default");
  }
}

std::string RunStore::experiment_id(const std::string& name) {
  if (name.empty()) throw Error("run store: empty experiment name");
  if (name.size() > 500) throw Error("run store: experiment name longer than 500 characters");
  long long max_id = -1;
  for (const fs::path& dir : experiment_dirs(root_, false)) {
    std::string id = dir.filename().string();
    if (is_number(id)) max_id = std::max(max_id, std::stoll(id));
    if (!fs::is_regular_file(dir / kMeta)) continue;
    try {
      YAML::Node meta = YAML::LoadFile((dir / kMeta).string());
      if (!meta.IsMap() || !meta["name"] || meta["name"].Scalar() != name) continue;
      if (meta["lifecycle_stage"] && meta["lifecycle_stage"].Scalar() != "active") continue;
      return id;
    } catch (const YAML::Exception&) {
      continue;  // a malformed experiment is skipped, as MLflow's search_experiments does
    }
  }
  // Claim the next free id by creating its folder: create_directory() is atomic, so two
  // processes creating experiments at once get different ids.
  for (long long id = std::max(max_id + 1, 1LL);; ++id) {
    fs::path dir = root_ / std::to_string(id);
    std::error_code ec;
    if (fs::create_directory(dir, ec)) {
      write_experiment_meta(dir, std::to_string(id), name);
      return std::to_string(id);
    }
    if (ec) throw Error(fmt::format("run store: cannot create {}: {}", dir.string(), ec.message()));
  }
}

Run RunStore::start_run(const std::string& experiment, const std::string& run_name) {
  Run run;
  run.experiment_id_ = experiment_id(experiment);
  const fs::path exp_dir = root_ / run.experiment_id_;
  std::error_code ec;
  for (int attempt = 0;; ++attempt) {
    run.id_ = new_run_id();
    run.dir_ = exp_dir / run.id_;
    if (fs::create_directory(run.dir_, ec)) break;
    if (ec || attempt > 8) {
      throw Error(fmt::format("run store: cannot create run folder {}: {}", run.dir_.string(),
                              ec ? ec.message() : "id collision"));
    }
  }
  run.name_ = run_name.empty() ? run.id_.substr(0, 8) : run_name;
  run.start_ms_ = now_ms();
  run.user_ = current_user();
  run.artifact_uri_ = file_uri(run.dir_ / "artifacts");
  for (const char* sub : {"metrics", "params", "tags", "artifacts"}) fs::create_directories(run.dir_ / sub);
  run.write_meta(kRunning, 0);
  run.set_tag("mlflow.runName", run.name_);
  run.set_tag("mlflow.user", run.user_);
  run.set_tag("mlflow.source.name", source_name());
  run.set_tag("mlflow.source.type", "LOCAL");
  return run;
}

fs::path RunStore::find_run(const std::string& id_or_path) const {
  if (id_or_path.empty()) throw Error("find_run: empty run id");
  std::error_code ec;
  const fs::path as_path(id_or_path);
  if (fs::is_directory(as_path, ec)) {
    if (has_run_meta(as_path)) return fs::absolute(as_path).lexically_normal();
    throw Error(fmt::format("'{}' is a folder but not a run folder (no {} naming a run_id in it)", id_or_path,
                            kMeta));
  }
  const bool looks_like_id =
      std::all_of(id_or_path.begin(), id_or_path.end(),
                  [](unsigned char c) { return std::isalnum(c) || c == '_' || c == '-'; });
  if (!looks_like_id) {
    throw Error(fmt::format("run '{}' not found: no such folder, and it is not a run id", id_or_path));
  }
  std::vector<fs::path> exps = experiment_dirs(root_, true);
  std::vector<fs::path> prefix_hits;
  for (const fs::path& exp : exps) {
    fs::path cand = exp / id_or_path;
    if (is_run_dir(cand)) return cand;
    if (id_or_path.size() >= 8) {
      for (const auto& entry : fs::directory_iterator(exp, ec)) {
        std::string n = entry.path().filename().string();
        if (n.size() > id_or_path.size() && n.compare(0, id_or_path.size(), id_or_path) == 0 &&
            is_run_dir(entry.path())) {
          prefix_hits.push_back(entry.path());
        }
      }
    }
  }
  if (prefix_hits.size() == 1) return prefix_hits[0];
  if (prefix_hits.size() > 1) {
    std::string names;
    for (const auto& p : prefix_hits) names += "\n  " + p.string();
    throw Error(fmt::format("run id prefix '{}' is ambiguous in {}; it matches:{}", id_or_path, root_.string(),
                            names));
  }
  std::string searched;
  for (const fs::path& exp : exps) {
    if (!searched.empty()) searched += ", ";
    searched += exp.parent_path().filename() == kTrash ? std::string(kTrash) + "/" + exp.filename().string()
                                                       : exp.filename().string();
  }
  throw Error(fmt::format("run '{}' not found: not a folder, and no run with that id in store {} "
                          "(searched experiments: {})",
                          id_or_path, root_.string(), searched.empty() ? "none" : searched));
}

}  // namespace cascade
