// `cascade serve`: the funnel of one model bundle behind an HTTP/1.1 JSON API (cpp-httplib,
// a fixed pool of worker threads, keep-alive). Routes and schemas: openapi_json().
//
// State: the server is stateless apart from the loaded bundle and the feature store, so
// replicas can share one Redis. The bundle lives behind an atomic shared_ptr: a request takes
// one snapshot at its start and uses it to the end, so a hot reload (POST /admin/reload or
// SIGHUP) swaps versions without failing or mixing a request; the old bundle is freed when
// its last request finishes.
//
// Startup: the port is bound first and the bundle loads in the background; until it is
// loaded /ready and the model routes answer 503, /health answers 200 with status "loading".
#pragma once

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "cascade/serve/feature_store.h"
#include "cascade/serve/request.h"

namespace cascade {

struct ServingState;   // src/serve/handlers.h
class AdmissionQueue;  // src/serve/admission.h
struct RouteContext;

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  ///< 0 = any free port (see Server::port())
  int threads =
      0;  ///< worker threads; 0 = 4 x hardware threads (keep-alive connections hold one each)
  std::filesystem::path bundle;  ///< bundle directory (a symlink to a versioned one reloads well)
  FeatureStoreOptions store;     ///< store.redis empty = in-process store only
  RequestLimits limits;
  int keep_alive_timeout_s = 5;
  /// Requests served on one connection before the server closes it (the client reconnects and
  /// queues behind the other connections), so busy keep-alive clients cannot starve the rest
  /// when there are more connections than workers (src/serve/admission.h).
  size_t keep_alive_max_requests = 1000;
  /// A connection that waited longer than this for a worker gets its first request answered 503
  /// with Retry-After: 1 (0 = never). /health, /ready and /metrics are always served.
  int max_queue_wait_ms = 1000;
  /// A client that sends (or reads) nothing for this long is disconnected.
  int read_timeout_s = 5;
  int write_timeout_s = 5;
  /// POST /admin/reload is served only when this is set (src/serve/admin.h): a file holding the
  /// bearer token every admin request must send (`Authorization: Bearer <token>`, else 401).
  /// Empty = admin routes off (404); SIGHUP still reloads the bundle path.
  std::filesystem::path admin_token_file;
  /// Every this many seconds, free heap memory goes back to the kernel (glibc's malloc_trim;
  /// 0 = only after a reload). Requests keep freed blocks to avoid faulting them in again, and
  /// each worker's arena keeps its own: without this the resident size wanders by tens of MB
  /// with whichever arenas last held a large request or a reload's second bundle.
  int release_memory_every_s = 10;
  /// A reload may only name directories under this one (after resolving symlinks and `..`;
  /// else 403). Empty = the directory holding `bundle`.
  std::filesystem::path bundle_root;
};

class Server {
 public:
  explicit Server(ServerOptions opt);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Binds the port and starts serving on a background thread; the bundle loads in the
  /// background too (wait_ready() to wait). Throws cascade::Error when the port cannot be bound.
  void start();
  /// Blocks until the bundle is loaded (true) or loading failed / timed out (false).
  bool wait_ready(std::chrono::milliseconds timeout);
  /// Blocks until stop() has finished (called from another thread or a signal watcher).
  void wait();
  /// Stops listening, finishes in-flight requests, joins the server's threads. Idempotent and
  /// safe to call from several threads.
  void stop();
  int port() const { return port_; }

  /// Loads `dir` (empty = the current bundle path again), checks it and swaps it in. On
  /// failure the serving bundle stays and the reason is thrown as cascade::Error.
  std::string reload(const std::filesystem::path& dir);

  std::string bundle_version() const;
  FeatureStore& store() { return *store_; }

 private:
  struct Metrics;
  void install_routes();
  RouteContext route_context() const;
  std::shared_ptr<const ServingState> state() const {
    std::lock_guard lock(state_mu_);
    return state_;
  }
  std::string load_error() const;

  ServerOptions opt_;
  std::unique_ptr<FeatureStore> store_;
  std::unique_ptr<Metrics> metrics_;
  struct Http;
  std::unique_ptr<Http> http_;
  // A mutex, not std::atomic<std::shared_ptr>: libstdc++ 12's atomic shared_ptr releases its
  // internal lock bit with relaxed order after a load, which ThreadSanitizer rightly reports as a
  // race with the next reload's store. The critical section is one reference-count increment.
  mutable std::mutex state_mu_;
  std::shared_ptr<const ServingState> state_;
  std::mutex reload_mu_;         // serialises reloads (held while a bundle loads: seconds)
  mutable std::mutex error_mu_;  // guards load_error_ (never held for long)
  std::filesystem::path bundle_path_;
  std::string admin_token_;                            // empty = admin routes off
  std::atomic<const AdmissionQueue*> queue_{nullptr};  // the worker pool (owned by httplib)
  std::filesystem::path bundle_root_;
  std::string load_error_;
  std::thread listen_thread_, load_thread_, release_thread_;
  std::mutex release_mu_;  // guards release_stop_
  std::condition_variable release_cv_;
  bool release_stop_ = false;
  std::mutex stop_mu_, join_mu_;
  std::condition_variable stop_cv_;
  bool stopped_ = false;
  int port_ = 0;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace cascade
