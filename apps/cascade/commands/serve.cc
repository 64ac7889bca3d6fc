// cascade serve --bundle DIR [--host 127.0.0.1] [--port 8080] [--threads N] [--redis
// unix:/path|host:port] [--explain] Serves a model bundle over HTTP (routes: /openapi.json). SIGHUP
// reloads the bundle from its path (point a symlink at a new version, then send SIGHUP); SIGINT /
// SIGTERM stop the server after writing pending events back to Redis (bounded wait).
#include <fmt/format.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <memory>
#include <thread>

#include "cascade/core/error.h"
#include "cascade/io/artifact.h"
#include "cascade/pipeline/bundle.h"
#include "cascade/serve/server.h"
#include "cli_common.h"
#include "commands.h"

namespace cascade::cli {
namespace {

std::atomic<int> g_reload{0}, g_stop{0};
static_assert(std::atomic<int>::is_always_lock_free, "signal handlers need a lock-free flag");

void on_signal(int sig) {
  if (sig == SIGHUP) {
    g_reload = 1;
  } else {
    g_stop = 1;
  }
}

// `serve --explain`: what a bundle would serve, from its verified manifest.
void print_bundle_funnel(const std::string& dir) {
  const nlohmann::json m = verify_bundle(dir);
  fmt::print("bundle {} ({} users, {} items of {})\n", m.value("version", ""),
             m["dataset"].value("users", 0), m["dataset"].value("items", 0),
             m["dataset"].value("name", ""));
  fmt::print("funnel: {}\n",
             m.value("funnel", std::string("(not recorded: built before funnel specs)")));
  fmt::print("request time: {}\n", m.value("request_time", std::string("serving")));
  if (!m.contains("offline")) return;
  for (const char* split : {"valid", "test"}) {
    const auto& o = m["offline"][split];
    const auto& d = o["vs_pool"]["recall@10"];
    fmt::print(
        "offline {}: {} users, Recall@10 {:.4f} NDCG@10 {:.4f}; pool {:.4f}; gain {:+.4f} "
        "[{:+.4f}, {:+.4f}]\n",
        split, o.value("users", 0), o.value("recall@10", 0.0), o.value("ndcg@10", 0.0),
        o["pool"].value("recall@10", 0.0), d.value("diff", 0.0), d.value("ci_low", 0.0),
        d.value("ci_high", 0.0));
  }
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto o = std::make_shared<ServerOptions>();
  auto ready_file = std::make_shared<std::string>();
  auto explain = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand(
      "serve", "serve a model bundle over HTTP (JSON API, /metrics, /openapi.json)");
  cmd->add_option("--bundle", o->bundle, "bundle directory written by `cascade bundle`")
      ->required();
  cmd->add_option("--host", o->host, "address to listen on")->capture_default_str();
  cmd->add_option("--port", o->port, "port (0 = any free port; the chosen one is printed)")
      ->capture_default_str();
  cmd->add_option("--threads", o->threads,
                  "worker threads (0 = 4 x hardware threads; each keep-alive connection holds one)")
      ->capture_default_str();
  cmd->add_option(
      "--redis", o->store.redis,
      "feature store: unix:/path/redis.sock or host:port (empty = in-process store only)");
  cmd->add_option(
         "--cache-ttl-ms", o->store.cache_ttl_ms,
         "how long a history read from Redis is reused before re-reading (other replicas' events)")
      ->capture_default_str();
  cmd->add_option("--max-k", o->limits.max_k, "largest k a request may ask for")
      ->capture_default_str();
  cmd->add_option(
         "--keep-alive-max-requests", o->keep_alive_max_requests,
         "requests per connection before the server closes it (busy clients then queue behind "
         "the others instead of holding a worker)")
      ->capture_default_str();
  cmd->add_option("--max-queue-wait-ms", o->max_queue_wait_ms,
                  "a connection that waited longer for a worker gets 503 + Retry-After (0 = never)")
      ->capture_default_str();
  cmd->add_option("--read-timeout-s", o->read_timeout_s, "disconnect a client silent for this long")
      ->capture_default_str();
  cmd->add_option(
         "--release-memory-every-s", o->release_memory_every_s,
         "return free heap memory to the kernel this often (0 = only after a reload), so the "
         "resident size follows what is in use")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option(
      "--events-journal", o->store.journal_path,
      "local append-only journal of events Redis has not acknowledged: they survive a crash "
      "while Redis is down and are replayed on the next start (needs --redis)");
  cmd->add_option(
         "--journal-fsync", o->store.journal_sync,
         "fdatasync each journal write before answering (false: faster, an OS crash may lose the "
         "newest events)")
      ->capture_default_str();
  cmd->add_option(
         "--max-pending-events", o->store.max_pending,
         "events waiting for Redis at most; beyond it POST /events answers 503 with Retry-After")
      ->capture_default_str();
  cmd->add_option(
      "--admin-token-file", o->admin_token_file,
      "serve POST /admin/reload, for requests with 'Authorization: Bearer <the token in this "
      "file>' (chmod 600 it). Without it admin routes are off (404) and only SIGHUP reloads");
  cmd->add_option(
      "--bundle-root", o->bundle_root,
      "reloads may only name bundles under this directory (default: the directory holding "
      "--bundle)");
  cmd->add_option("--ready-file", *ready_file,
                  "write the bound port here once the bundle is loaded (for scripts)");
  cmd->add_flag("--explain", *explain,
                "verify the bundle, print the funnel it serves and its offline figures, and exit");
  cmd->callback([o, ready_file, explain] {
    if (*explain) {
      print_bundle_funnel(o->bundle);
      return;
    }
    // Signal handlers only raise flags; a watcher thread acts on them. (sigwait would need the
    // signals blocked in every thread, but OpenBLAS/OpenMP start theirs before main().)
    g_reload = 0;
    g_stop = 0;
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);

    Server server(*o);
    server.start();
    if (!server.wait_ready(std::chrono::minutes(10)))
      throw Error("serve: the bundle could not be loaded (see the error above); nothing is served");
    const int port = server.port();
    fmt::print(
        "serving bundle {} on http://{}:{}  (try: curl "
        "'http://{}:{}/recommend/1?k=5&explain=true')\n",
        server.bundle_version(), o->host, port, o->host, port);
    std::fflush(stdout);
    if (!ready_file->empty()) write_file_atomic(*ready_file, std::to_string(port) + "\n");

    std::thread signals([&server] {
      while (!g_stop) {
        if (g_reload.exchange(0)) {
          try {
            server.reload({});
          } catch (const std::exception& e) {
            spdlog::error("reload refused, still serving {}: {}", server.bundle_version(),
                          e.what());
          }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      spdlog::info("stopping");
      server.stop();
    });
    server.wait();
    signals.join();
    if (!server.store().flush(std::chrono::seconds(5)))
      spdlog::warn("{} events could not be written back to Redis before exit",
                   server.store().health().pending_writes);
  });
}

}  // namespace cascade::cli
