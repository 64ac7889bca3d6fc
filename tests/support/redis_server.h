// A throwaway redis-server for a test (header-only).
//
//   cascade::testing::RedisServer redis;
//   ASSERT_TRUE(redis.start());            // fails the test (with the reason) if it cannot
//   FeatureStoreOptions o; o.redis = redis.address();   // "unix:<dir>/redis.sock"
//   ...
//   ASSERT_TRUE(redis.stop());             // SIGTERM, waits; data is kept in the dir
//   ASSERT_TRUE(redis.start());            // same socket, same dir: the data is back
//
// The server runs Debian's /usr/bin/redis-server in a private temp dir, listening only on a
// unix socket (no TCP port), with an fsync'd append-only file so data survives stop/start.
// The destructor stops the server and removes the dir. The child gets PR_SET_PDEATHSIG, so a
// crashed test binary does not leave a redis-server behind.
// Not thread-safe: drive one RedisServer from one test thread.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace cascade::testing {

class RedisServer {
 public:
  static constexpr const char* kBinary = "/usr/bin/redis-server";
  static constexpr int kStartTimeoutMs = 5000;
  static constexpr int kStopTimeoutMs = 10000;

  RedisServer() = default;
  ~RedisServer() {
    (void)stop();
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  /// Starts the server (again, after stop(): same socket and dir) and waits until it answers
  /// PING. A failure names the reason and the tail of the server's log.
  [[nodiscard]] ::testing::AssertionResult start() {
    if (pid_ > 0) return ::testing::AssertionSuccess();
    if (::access(kBinary, X_OK) != 0)
      return ::testing::AssertionFailure()
             << kBinary << " is missing: run scripts/install_deps.sh (it installs redis-server)";
    if (dir_.empty()) {
      // Under /tmp, not $TMPDIR: a unix socket path must fit in 108 bytes.
      char tmpl[] = "/tmp/cascade-redis-XXXXXX";
      if (::mkdtemp(tmpl) == nullptr)
        return ::testing::AssertionFailure()
               << "cannot create a temp dir for redis: " << std::strerror(errno);
      dir_ = tmpl;
    }
    // clang-format off
    std::vector<std::string> args = {kBinary,
        "--port", "0",  // no TCP listener
        "--unixsocket", socket_path(), "--unixsocketperm", "700",
        "--dir", dir_,
        "--appendonly", "yes", "--appendfsync", "always",  // survives stop/start
        "--save", "",
        "--daemonize", "no",
        "--logfile", log_path()};
    // clang-format on
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) return ::testing::AssertionFailure() << "fork failed: " << std::strerror(errno);
    if (pid == 0) {
      // Child: only async-signal-safe calls until exec.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      int devnull = ::open("/dev/null", O_RDWR);
      if (devnull >= 0) {
        ::dup2(devnull, 0);
        ::dup2(devnull, 1);
        ::dup2(devnull, 2);
      }
      ::close_range(3, ~0U, 0);  // no inherited sockets of the test process
      ::execv(kBinary, argv.data());
      ::_exit(127);
    }
    pid_ = pid;

    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(kStartTimeoutMs);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return ::testing::AssertionFailure()
               << kBinary << " exited during start-up (status " << status << "); log:\n"
               << log_tail();
      }
      if (ping(socket_path())) return ::testing::AssertionSuccess();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
    return ::testing::AssertionFailure() << kBinary << " did not answer PING on " << socket_path()
                                         << " within " << kStartTimeoutMs << " ms; log:\n"
                                         << log_tail();
  }

  /// SIGTERM (redis finishes its append-only file), then waits for the exit; SIGKILL after
  /// kStopTimeoutMs. Also ends a paused server.
  ::testing::AssertionResult stop() {
    if (pid_ <= 0) return ::testing::AssertionSuccess();
    ::kill(pid_, SIGTERM);
    ::kill(pid_, SIGCONT);  // a paused server must run to handle SIGTERM
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(kStopTimeoutMs);
    while (std::chrono::steady_clock::now() < deadline) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return ::testing::AssertionSuccess();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
    return ::testing::AssertionFailure()
           << "redis-server ignored SIGTERM for " << kStopTimeoutMs << " ms and was killed";
  }

  /// SIGSTOP / SIGCONT: a server that accepts connections but never answers (to test timeouts).
  void pause() {
    if (pid_ > 0) ::kill(pid_, SIGSTOP);
  }
  void resume() {
    if (pid_ > 0) ::kill(pid_, SIGCONT);
  }

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  /// The private dir (empty before the first start()).
  const std::string& dir() const { return dir_; }
  std::string socket_path() const { return dir_ + "/redis.sock"; }
  /// The address in the feature store's syntax: "unix:<socket_path()>".
  std::string address() const { return "unix:" + socket_path(); }
  std::string log_path() const { return dir_ + "/redis.log"; }

  /// The last `max_chars` characters of the server's log.
  std::string log_tail(size_t max_chars = 2000) const {
    std::ifstream in(log_path());
    if (!in) return "(no log at " + log_path() + ")";
    std::stringstream ss;
    ss << in.rdbuf();
    std::string s = ss.str();
    return s.size() > max_chars ? s.substr(s.size() - max_chars) : s;
  }

  /// True when a server on `path` answers PING with PONG within 500 ms.
  static bool ping(const std::string& path) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (path.size() >= sizeof(sa.sun_path)) {
      ::close(fd);
      return false;
    }
    std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
    timeval tv{0, 500 * 1000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    bool ok = false;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) {
      const char cmd[] = "PING\r\n";
      if (::send(fd, cmd, sizeof cmd - 1, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof cmd - 1)) {
        char buf[16] = {};
        ssize_t n = ::recv(fd, buf, sizeof buf - 1, 0);  // "-LOADING ..." while reading the AOF
        ok = n >= 5 && std::strncmp(buf, "+PONG", 5) == 0;
      }
    }
    ::close(fd);
    return ok;
  }

 private:
  std::string dir_;
  pid_t pid_ = -1;
};

}  // namespace cascade::testing
