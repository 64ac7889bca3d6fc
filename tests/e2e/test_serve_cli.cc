// End-to-end: `cascade synth` -> `cascade bundle` -> `cascade serve` as separate processes:
// the ready file, a working /recommend, SIGHUP hot reload through a re-pointed symlink,
// SIGTERM shutdown with exit code 0, and a refused bundle making `serve` exit non-zero; events
// acknowledged while Redis is down surviving a kill -9 of the server (the event journal).
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <thread>

extern char** environ;

#include "support/redis_client.h"
#include "support/redis_server.h"
#include "support/run_command.h"

namespace fs = std::filesystem;

namespace {

using Result = cascade::testing::CommandResult;

Result run(const std::string& cmd) { return cascade::testing::run_command(cmd); }

// Starts `args` (argv[0] = the binary) with stdout/stderr to `log`; returns the pid.
pid_t spawn(const std::vector<std::string>& args, const fs::path& log) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, args[0].c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  return rc == 0 ? pid : -1;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string version_of(const fs::path& bundle) {
  return nlohmann::json::parse(slurp(bundle / "manifest.json"))["version"];
}

TEST(ServeCli, BundleServeReloadOnSighupAndStop) {
  const fs::path tmp =
      fs::temp_directory_path() / ("cascade_e2e_serve_" + std::to_string(::getpid()));
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  const std::string bin = CASCADE_BIN;
  Result r = run(bin + " synth --users 300 --items 150 --interactions 9000 --seed 3 --out " +
                 (tmp / "log.csv").string());
  ASSERT_EQ(r.code, 0) << r.output;
  // A small funnel: two channels, LR at both ranking stages.
  const std::string common =
      " --data " + (tmp / "log.csv").string() +
      " --dataset csv --header --min-rating 1 --channels popularity,ials --threads 1"
      " rank.funnel.pre_rank=lr rank.funnel.fine_rank=lr recall.fusion.tune=false"
      " workdir=" +
      (tmp / "runs").string() + " mlruns=" + (tmp / "mlruns").string();
  r = run(bin + " bundle --out " + (tmp / "v1").string() + common);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("serve it with"), std::string::npos) << r.output;
  r = run(bin + " bundle --out " + (tmp / "v2").string() + common + " seed=8");
  ASSERT_EQ(r.code, 0) << r.output;
  const std::string v1 = version_of(tmp / "v1"), v2 = version_of(tmp / "v2");
  ASSERT_NE(v1, v2);
  fs::create_directory_symlink(tmp / "v1", tmp / "current");

  const pid_t pid = spawn({bin, "serve", "--bundle", (tmp / "current").string(), "--port", "0",
                           "--ready-file", (tmp / "port").string(), "--threads", "2"},
                          tmp / "serve.log");
  ASSERT_GT(pid, 0);
  for (int i = 0; i < 600 && !fs::exists(tmp / "port"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(fs::exists(tmp / "port")) << slurp(tmp / "serve.log");
  const int port = std::stoi(slurp(tmp / "port"));
  httplib::Client c("127.0.0.1", port);
  auto rec = c.Get("/recommend/1?k=3");
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->status, 200) << rec->body;
  EXPECT_EQ(nlohmann::json::parse(rec->body)["items"].size(), 3u);
  EXPECT_EQ(nlohmann::json::parse(c.Get("/health")->body)["bundle_version"], v1);

  // Re-point the symlink atomically, then SIGHUP: the service switches to v2.
  fs::create_directory_symlink(tmp / "v2", tmp / "next");
  fs::rename(tmp / "next", tmp / "current");
  ASSERT_EQ(::kill(pid, SIGHUP), 0);
  std::string now;
  for (int i = 0; i < 200; ++i) {
    auto h = c.Get("/health");
    if (h) now = nlohmann::json::parse(h->body)["bundle_version"];
    if (now == v2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(now, v2) << slurp(tmp / "serve.log");

  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << slurp(tmp / "serve.log");

  // A bundle that fails its checks is refused with the reason, and serve exits non-zero.
  fs::copy(tmp / "v1", tmp / "bad", fs::copy_options::recursive);
  std::ofstream(tmp / "bad" / "config.yaml", std::ios::app) << "# edited\n";
  r = run(bin + " serve --port 0 --bundle " + (tmp / "bad").string());
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("file config.yaml has"), std::string::npos) << r.output;
  if (!HasFailure()) fs::remove_all(tmp);
}

// Issue 15's acceptance: Redis stopped, N events posted and acknowledged, the server killed with
// SIGKILL; Redis and the server restarted with the same flags -> all N are in Redis, in order,
// once each.
TEST(ServeCli, EventsAcknowledgedWhileRedisIsDownSurviveKill9) {
  const fs::path tmp = fs::temp_directory_path() / ("cascade_e2e_journal_" + std::to_string(::getpid()));
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  const std::string bin = CASCADE_BIN;
  Result r = run(bin + " synth --users 100 --items 80 --interactions 3000 --seed 5 --out " + (tmp / "log.csv").string());
  ASSERT_EQ(r.code, 0) << r.output;
  r = run(bin + " bundle --out " + (tmp / "b").string() + " --data " + (tmp / "log.csv").string() +
          " --dataset csv --header --min-rating 1 --channels popularity,ials --threads 1 rank.funnel.pre_rank=lr"
          " rank.funnel.fine_rank=lr recall.fusion.tune=false workdir=" + (tmp / "runs").string() +
          " mlruns=" + (tmp / "mlruns").string());
  ASSERT_EQ(r.code, 0) << r.output;
  cascade::testing::RedisServer redis;
  ASSERT_TRUE(redis.start());
  auto start_server = [&](const std::string& log) {
    fs::remove(tmp / "port");
    const pid_t pid = spawn({bin, "serve", "--bundle", (tmp / "b").string(), "--port", "0", "--threads", "2",
                             "--redis", redis.address(), "--events-journal", (tmp / "events.journal").string(),
                             "--ready-file", (tmp / "port").string()},
                            tmp / log);
    for (int i = 0; i < 600 && pid > 0 && !fs::exists(tmp / "port"); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return pid;
  };
  const pid_t first = start_server("serve1.log");
  ASSERT_GT(first, 0);
  ASSERT_TRUE(fs::exists(tmp / "port")) << slurp(tmp / "serve1.log");
  httplib::Client c("127.0.0.1", std::stoi(slurp(tmp / "port")));
  ASSERT_TRUE(redis.stop());
  constexpr int kEvents = 200;
  for (int i = 0; i < kEvents; i += 4) {
    std::string body = "[";
    for (int k = i; k < i + 4; ++k)
      body += (k > i ? "," : "") + std::string("{\"user_id\": ") + std::to_string(1 + k % 7) +
              ", \"item_id\": " + std::to_string(1 + k % 50) + ", \"timestamp\": " + std::to_string(1000 + k) + "}";
    auto res = c.Post("/events", body + "]", "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;  // acknowledged
  }
  ASSERT_EQ(::kill(first, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(first, &status, 0), first);

  ASSERT_TRUE(redis.start());
  const pid_t second = start_server("serve2.log");
  ASSERT_GT(second, 0);
  ASSERT_TRUE(fs::exists(tmp / "port")) << slurp(tmp / "serve2.log");
  cascade::testing::RedisClient rc(redis.address());
  auto stored = [&] {
    size_t n = 0;
    for (int u = 1; u <= 7; ++u) n += rc.lrange("cascade:events:" + std::to_string(u)).size();
    return n;
  };
  for (int i = 0; i < 200 && stored() < kEvents; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(stored(), static_cast<size_t>(kEvents)) << slurp(tmp / "serve2.log");
  for (int u = 1; u <= 7; ++u) {  // each user's events in the order they were posted
    std::vector<std::string> want;
    for (int k = u - 1; k < kEvents; k += 7) want.push_back(std::to_string(1 + k % 50) + "\t" + std::to_string(1000 + k) + "\t1");
    EXPECT_EQ(rc.lrange("cascade:events:" + std::to_string(u)), want) << "user " << u;
  }
  EXPECT_NE(slurp(tmp / "serve2.log").find("200 events replayed from the journal"), std::string::npos)
      << slurp(tmp / "serve2.log");
  ::kill(second, SIGTERM);
  ::waitpid(second, &status, 0);
  if (!HasFailure()) fs::remove_all(tmp);
}

}  // namespace
