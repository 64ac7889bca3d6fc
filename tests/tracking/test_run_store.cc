// The MLflow-compatible run store: folder layout, meta.yaml fields and YAML types, the
// params/metrics/tags file formats, summary.json, find_run and key validation.
#include <gtest/gtest.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "cascade/core/error.h"
#include "cascade/io/artifact.h"
#include "cascade/tracking/run_store.h"
#include "support/test_util.h"

namespace fs = std::filesystem;

namespace cascade {
namespace {
using test::error_of;

class RunStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    tmp_ = fs::temp_directory_path() /
           ("cascade_run_store_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" +
            std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
    fs::create_directories(tmp_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(tmp_, ec);
  }
  fs::path tmp_;
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::vector<std::string> keys(const YAML::Node& map) {
  std::vector<std::string> out;
  for (const auto& kv : map) out.push_back(kv.first.Scalar());
  return out;
}

std::string expected_user() {
  const char* u = std::getenv("USER");
  return (u != nullptr && *u != '\0') ? u : "cascade";
}

TEST_F(RunStoreTest, CreatesDefaultExperimentAndTrash) {
  RunStore store(tmp_ / "mlruns");
  EXPECT_TRUE(store.root().is_absolute());
  EXPECT_TRUE(fs::is_directory(tmp_ / "mlruns" / ".trash"));
  YAML::Node meta = YAML::LoadFile((tmp_ / "mlruns" / "0" / "meta.yaml").string());
  // MLflow writes the keys sorted (yaml.safe_dump); same set and order here.
  EXPECT_EQ(keys(meta), (std::vector<std::string>{"artifact_location", "creation_time", "experiment_id",
                                                  "last_update_time", "lifecycle_stage", "name"}));
  EXPECT_EQ(meta["name"].as<std::string>(), "Default");
  EXPECT_EQ(meta["experiment_id"].as<std::string>(), "0");
  EXPECT_EQ(meta["experiment_id"].Tag(), "!");  // quoted: a string for PyYAML, not an int
  EXPECT_EQ(meta["lifecycle_stage"].as<std::string>(), "active");
  EXPECT_EQ(meta["artifact_location"].as<std::string>(), "file://" + (store.root() / "0").string());
  int64_t created = meta["creation_time"].as<int64_t>();
  EXPECT_GT(created, 1600000000000);  // milliseconds since the epoch
  EXPECT_EQ(meta["last_update_time"].as<int64_t>(), created);
  // A second store on the same folder keeps experiment 0 as it was.
  RunStore again(tmp_ / "mlruns");
  EXPECT_EQ(YAML::LoadFile((tmp_ / "mlruns" / "0" / "meta.yaml").string())["creation_time"].as<int64_t>(), created);
}

TEST_F(RunStoreTest, ExperimentIdsAreStableAndSequential) {
  RunStore store(tmp_ / "mlruns");
  EXPECT_EQ(store.experiment_id("Default"), "0");
  EXPECT_EQ(store.experiment_id("cascade"), "1");
  EXPECT_EQ(store.experiment_id("cascade"), "1");
  EXPECT_EQ(store.experiment_id("other: experiment"), "2");
  RunStore reopened(tmp_ / "mlruns");
  EXPECT_EQ(reopened.experiment_id("cascade"), "1");
  EXPECT_EQ(reopened.experiment_id("other: experiment"), "2");
  EXPECT_EQ(reopened.experiment_id("third"), "3");
  YAML::Node meta = YAML::LoadFile((store.root() / "2" / "meta.yaml").string());
  EXPECT_EQ(meta["name"].as<std::string>(), "other: experiment");
  EXPECT_EQ(meta["experiment_id"].as<std::string>(), "2");
  EXPECT_EQ(meta["experiment_id"].Tag(), "!");
  EXPECT_THROW(store.experiment_id(""), Error);
}

TEST_F(RunStoreTest, StartRunWritesMlflowLayout) {
  RunStore store(tmp_ / "mlruns");
  cascade::Run run = store.start_run("cascade", "train/ials");
  EXPECT_TRUE(std::regex_match(run.id(), std::regex("[0-9a-f]{32}"))) << run.id();
  EXPECT_EQ(run.id()[12], '4');  // uuid4 layout, as MLflow's uuid.uuid4().hex
  EXPECT_EQ(run.experiment_id(), "1");
  EXPECT_EQ(run.dir(), store.root() / "1" / run.id());
  for (const char* sub : {"metrics", "params", "tags", "artifacts"}) {
    EXPECT_TRUE(fs::is_directory(run.dir() / sub)) << sub;
  }

  YAML::Node meta = YAML::LoadFile((run.dir() / "meta.yaml").string());
  EXPECT_EQ(keys(meta), (std::vector<std::string>{"artifact_uri", "deleted_time", "end_time", "entry_point_name",
                                                  "experiment_id", "lifecycle_stage", "run_id", "run_name",
                                                  "run_uuid", "source_name", "source_type", "source_version",
                                                  "start_time", "status", "tags", "user_id"}));
  EXPECT_EQ(meta["artifact_uri"].as<std::string>(), "file://" + (run.dir() / "artifacts").string());
  EXPECT_TRUE(meta["end_time"].IsNull());
  EXPECT_TRUE(meta["deleted_time"].IsNull());
  EXPECT_EQ(meta["entry_point_name"].as<std::string>(), "");
  EXPECT_EQ(meta["experiment_id"].as<std::string>(), "1");
  EXPECT_EQ(meta["experiment_id"].Tag(), "!");
  EXPECT_EQ(meta["lifecycle_stage"].as<std::string>(), "active");
  EXPECT_EQ(meta["run_id"].as<std::string>(), run.id());
  EXPECT_EQ(meta["run_uuid"].as<std::string>(), run.id());
  EXPECT_EQ(meta["run_name"].as<std::string>(), "train/ials");
  EXPECT_EQ(meta["source_name"].as<std::string>(), "");
  EXPECT_EQ(meta["source_type"].as<int>(), 4);
  EXPECT_EQ(meta["source_version"].as<std::string>(), "");
  EXPECT_GT(meta["start_time"].as<int64_t>(), 1600000000000);
  EXPECT_EQ(meta["status"].as<int>(), 1);  // RUNNING until finish()
  EXPECT_TRUE(meta["tags"].IsSequence());
  EXPECT_EQ(meta["tags"].size(), 0u);
  EXPECT_EQ(meta["user_id"].as<std::string>(), expected_user());

  EXPECT_EQ(read_file(run.dir() / "tags" / "mlflow.runName"), "train/ials");
  EXPECT_EQ(read_file(run.dir() / "tags" / "mlflow.user"), expected_user());
  EXPECT_FALSE(read_file(run.dir() / "tags" / "mlflow.source.name").empty());
  EXPECT_EQ(read_file(run.dir() / "tags" / "mlflow.source.type"), "LOCAL");

  cascade::Run other = store.start_run("cascade", "");
  EXPECT_NE(other.id(), run.id());
  EXPECT_EQ(other.name(), other.id().substr(0, 8));  // a run always has a name
}

TEST_F(RunStoreTest, ParamsMetricsAndTagsFiles) {
  RunStore store(tmp_ / "mlruns");
  cascade::Run run = store.start_run("cascade", "eval/ials");
  run.log_param("recall.ials.factors", "64");
  run.log_param("recall.ials.factors", "64");  // same value again: fine, as in MLflow
  run.log_param("eval.ks", "[10, 200]");
  run.log_param("model/kind", "ials");
  EXPECT_EQ(read_file(run.dir() / "params" / "recall.ials.factors"), "64");  // no trailing newline
  EXPECT_EQ(read_file(run.dir() / "params" / "eval.ks"), "[10, 200]");
  EXPECT_EQ(read_file(run.dir() / "params" / "model" / "kind"), "ials");  // '/' makes a folder
  std::string msg = error_of([&] { run.log_param("recall.ials.factors", "32"); });
  EXPECT_NE(msg.find("already logged as '64'"), std::string::npos) << msg;

  run.log_metric("loss", 0.5, 0);
  run.log_metric("loss", 0.25, 1);
  run.log_metric("loss", 3.0, 2);
  run.log_metric("recall@10", 1e-5);
  run.log_metric("valid/ndcg 10", std::nan(""), -1);
  std::vector<std::string> loss = lines_of(read_file(run.dir() / "metrics" / "loss"));
  ASSERT_EQ(loss.size(), 3u);
  const std::regex line_re("(\\d{13}) (\\S+) (-?\\d+)");
  std::vector<std::string> values, steps;
  for (const auto& l : loss) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(l, m, line_re)) << l;
    values.push_back(m[2]);
    steps.push_back(m[3]);
  }
  // Values as Python's str(float) prints them (MLflow reads them back with float()).
  EXPECT_EQ(values, (std::vector<std::string>{"0.5", "0.25", "3.0"}));
  EXPECT_EQ(steps, (std::vector<std::string>{"0", "1", "2"}));
  EXPECT_EQ(read_file(run.dir() / "metrics" / "loss").back(), '\n');
  // '@' is stored as "_at_" because MLflow's reader rejects '@' in file names.
  std::vector<std::string> rec = lines_of(read_file(run.dir() / "metrics" / "recall_at_10"));
  ASSERT_EQ(rec.size(), 1u);
  EXPECT_TRUE(std::regex_match(rec[0], std::regex("\\d{13} 1e-05 0"))) << rec[0];
  EXPECT_FALSE(fs::exists(run.dir() / "metrics" / "recall@10"));
  std::vector<std::string> nd = lines_of(read_file(run.dir() / "metrics" / "valid" / "ndcg 10"));
  ASSERT_EQ(nd.size(), 1u);
  EXPECT_TRUE(std::regex_match(nd[0], std::regex("\\d{13} nan -1"))) << nd[0];

  run.set_tag("cascade.command", "eval");
  run.set_tag("cascade.command", "eval2");  // tags may change
  EXPECT_EQ(read_file(run.dir() / "tags" / "cascade.command"), "eval2");

  // Renaming through the mlflow.runName tag updates meta.yaml, as MLflow does.
  run.set_tag("mlflow.runName", "renamed");
  EXPECT_EQ(YAML::LoadFile((run.dir() / "meta.yaml").string())["run_name"].as<std::string>(), "renamed");
}

TEST_F(RunStoreTest, FinishWritesStatusAndSummary) {
  RunStore store(tmp_ / "mlruns");
  cascade::Run run = store.start_run("cascade", "eval/ease");
  run.log_param("channel", "ease");
  run.log_metric("recall@10", 0.1, 0);
  run.log_metric("recall@10", 0.125, 1);
  run.log_metric("bad", std::nan(""));
  run.set_tag("cascade.command", "eval");
  run.log_artifact_text("config.yaml", "seed: 1\n");
  run.log_artifact_text("sub/notes.txt", "hi");
  run.finish(true);

  YAML::Node meta = YAML::LoadFile((run.dir() / "meta.yaml").string());
  EXPECT_EQ(meta["status"].as<int>(), 3);  // FINISHED
  ASSERT_FALSE(meta["end_time"].IsNull());
  EXPECT_GE(meta["end_time"].as<int64_t>(), meta["start_time"].as<int64_t>());
  EXPECT_EQ(read_file(run.artifacts_dir() / "config.yaml"), "seed: 1\n");
  EXPECT_EQ(read_file(run.artifacts_dir() / "sub" / "notes.txt"), "hi");

  nlohmann::json s = nlohmann::json::parse(read_file(run.artifacts_dir() / "summary.json"));
  EXPECT_EQ(s["run_id"], run.id());
  EXPECT_EQ(s["experiment_id"], "1");
  EXPECT_EQ(s["run_name"], "eval/ease");
  EXPECT_EQ(s["status"], "FINISHED");
  EXPECT_EQ(s["start_time"].get<int64_t>(), meta["start_time"].as<int64_t>());
  EXPECT_EQ(s["end_time"].get<int64_t>(), meta["end_time"].as<int64_t>());
  EXPECT_EQ(s["params"], nlohmann::json({{"channel", "ease"}}));
  EXPECT_DOUBLE_EQ(s["metrics"]["recall@10"].get<double>(), 0.125);  // the last value, key as logged
  EXPECT_TRUE(s["metrics"]["bad"].is_null());                        // NaN has no JSON form
  EXPECT_EQ(s["tags"]["cascade.command"], "eval");
  EXPECT_EQ(s["tags"]["mlflow.runName"], "eval/ease");

  cascade::Run failed = store.start_run("cascade", "eval/broken");
  failed.finish(false);
  EXPECT_EQ(YAML::LoadFile((failed.dir() / "meta.yaml").string())["status"].as<int>(), 4);
  EXPECT_EQ(nlohmann::json::parse(read_file(failed.artifacts_dir() / "summary.json"))["status"], "FAILED");

  cascade::Run crashed = store.start_run("cascade", "never finished");
  EXPECT_EQ(YAML::LoadFile((crashed.dir() / "meta.yaml").string())["status"].as<int>(), 1);
  EXPECT_FALSE(fs::exists(crashed.artifacts_dir() / "summary.json"));
}

TEST_F(RunStoreTest, FindRunByIdPrefixAndPath) {
  RunStore store(tmp_ / "mlruns");
  cascade::Run a = store.start_run("cascade", "a");
  cascade::Run b = store.start_run("other", "b");
  RunStore reopened(tmp_ / "mlruns");
  EXPECT_EQ(reopened.find_run(a.id()), a.dir());
  EXPECT_EQ(reopened.find_run(b.id()), b.dir());
  EXPECT_EQ(reopened.find_run(a.id().substr(0, 10)), a.dir());
  EXPECT_EQ(reopened.find_run(b.dir().string()), b.dir());
  // A relative path works too.
  fs::path old = fs::current_path();
  fs::current_path(tmp_);
  EXPECT_EQ(reopened.find_run("mlruns/2/" + b.id()), b.dir());
  fs::current_path(old);

  std::string msg = error_of([&] { reopened.find_run("0123456789abcdef0123456789abcdef"); });
  EXPECT_NE(msg.find("0123456789abcdef0123456789abcdef"), std::string::npos) << msg;
  EXPECT_NE(msg.find(store.root().string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("searched experiments: 0, 1, 2"), std::string::npos) << msg;

  msg = error_of([&] { reopened.find_run((tmp_ / "mlruns" / "1").string()); });
  EXPECT_NE(msg.find("not a run folder"), std::string::npos) << msg;
  msg = error_of([&] { reopened.find_run((tmp_ / "no" / "such" / "run").string()); });
  EXPECT_NE(msg.find("not found"), std::string::npos) << msg;
  EXPECT_THROW(reopened.find_run(""), Error);
}

TEST_F(RunStoreTest, RejectsBadKeys) {
  RunStore store(tmp_ / "mlruns");
  cascade::Run run = store.start_run("cascade", "keys");
  for (const std::string& bad : std::vector<std::string>{"", "/abs", "../up", "..hidden", "a/../b", "a//b", "a/", "./a", "a/./b", "a\nb",
                                "a:b", "a=b", "tab\there", std::string(251, 'k')}) {
    EXPECT_THROW(run.log_param(bad, "v"), Error) << "'" << bad << "'";
    EXPECT_THROW(run.log_metric(bad, 1.0), Error) << "'" << bad << "'";
    EXPECT_THROW(run.set_tag(bad, "v"), Error) << "'" << bad << "'";
  }
  for (const std::string& good : std::vector<std::string>{"recall@10", "with space", "x-y_z.w", "dir/sub/leaf", "a..b", "UPPER9"}) {
    EXPECT_NO_THROW(run.log_param(good, "v")) << good;
    EXPECT_NO_THROW(run.log_metric(good, 1.0)) << good;
  }
  EXPECT_EQ(mlflow_key_file("recall@10"), "recall_at_10");
  EXPECT_EQ(mlflow_key_file("valid.ndcg@200"), "valid.ndcg_at_200");
  EXPECT_EQ(mlflow_key_file("plain/key"), "plain/key");
  std::string msg = error_of([&] { run.log_param("a:b", "v"); });
  EXPECT_NE(msg.find("'a:b'"), std::string::npos) << msg;
  EXPECT_THROW(run.log_artifact_text("../escape.txt", "x"), Error);
  EXPECT_THROW(run.log_artifact_text("/abs.txt", "x"), Error);
  EXPECT_THROW(run.log_artifact_text("", "x"), Error);
}

TEST_F(RunStoreTest, QuotesValuesYamlWouldMisread) {
  // "on" is a bool and 1e3-like or all-digit strings are numbers for PyYAML; the meta.yaml
  // must keep them strings. A root with a space is percent-encoded in the file URI.
  RunStore store(tmp_ / "ml runs");
  cascade::Run run = store.start_run("123", "on");
  std::string text = read_file(run.dir() / "meta.yaml");
  EXPECT_NE(text.find("run_name: 'on'"), std::string::npos) << text;
  EXPECT_NE(text.find("experiment_id: '1'"), std::string::npos) << text;
  EXPECT_NE(text.find("end_time: null"), std::string::npos) << text;
  EXPECT_NE(text.find("tags: []"), std::string::npos) << text;
  YAML::Node meta = YAML::Load(text);
  EXPECT_EQ(meta["artifact_uri"].as<std::string>(),
            "file://" + (tmp_ / "ml%20runs").string() + "/1/" + run.id() + "/artifacts");
  std::string exp = read_file(store.root() / "1" / "meta.yaml");
  EXPECT_NE(exp.find("name: '123'"), std::string::npos) << exp;
}

}  // namespace
}  // namespace cascade
