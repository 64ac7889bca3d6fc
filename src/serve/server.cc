#include "cascade/serve/server.h"

// Eigen before httplib (kept there by clang-format off): a macro from httplib's includes
// breaks Eigen's product kernels.
// clang-format off
#include <Eigen/Core>
// clang-format on
#include <fmt/format.h>
#include <httplib.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <exception>
#include <fstream>
#include <thread>

#include "cascade/core/error.h"
#include "cascade/serve/prometheus.h"
#include "cascade/util/memory.h"
#include "serve/admin.h"
#include "serve/admission.h"
#include "serve/handlers.h"

namespace fs = std::filesystem;

namespace cascade {
namespace {

using Clock = std::chrono::steady_clock;

double rss_mb() {
  std::ifstream f("/proc/self/statm");
  uint64_t pages = 0, resident = 0;
  f >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE)) /
         (1024.0 * 1024.0);
}

const char* kJson = "application/json";

}  // namespace

struct Server::Http {
  httplib::Server svr;
};

// Metric handles resolved once; per-status request counters are looked up by label (a short
// locked map inside the registry).
struct Server::Metrics {
  prometheus::Registry reg;
  std::map<std::string, prometheus::Histogram*> stage;
  std::map<std::string, prometheus::Histogram*> route_ms;
  prometheus::Counter *cache_hits = nullptr, *cache_misses = nullptr, *redis_errors = nullptr,
                      *events_written = nullptr, *stale_reads = nullptr, *journaled = nullptr,
                      *replayed = nullptr, *replay_duplicates = nullptr, *overloaded = nullptr,
                      *shed = nullptr;
  std::mutex sync_mu;
  FeatureStoreStats last;

  prometheus::Counter& requests(const std::string& route, int status) {
    return reg.counter("cascade_requests_total", "HTTP requests by route and status",
                       {{"route", route}, {"status", std::to_string(status)}});
  }

  void observe(const RecommendTimes& t) {
    stage["store"]->observe(t.store_ms);
    stage["recall"]->observe(t.stages.recall_ms);
    stage["features"]->observe(t.stages.features_ms);
    stage["pre_rank"]->observe(t.stages.pre_rank_ms);
    stage["fine_rank"]->observe(t.stages.fine_rank_ms);
    stage["rerank"]->observe(t.stages.rerank_ms);
    stage["total"]->observe(t.total_ms);
  }

  // The exposition text. The feature store keeps its own totals; the counters are brought up
  // to them first. The bundle version is rendered outside the registry: a registered series
  // would outlive a reload.
  std::string render(const FeatureStore& store, const std::string& version) {
    {
      std::lock_guard<std::mutex> lock(sync_mu);
      const FeatureStoreStats s = store.stats();
      cache_hits->inc(s.cache_hits - last.cache_hits);
      cache_misses->inc(s.cache_misses - last.cache_misses);
      redis_errors->inc(s.redis_errors - last.redis_errors);
      events_written->inc(s.events_written - last.events_written);
      stale_reads->inc(s.stale_reads - last.stale_reads);
      journaled->inc(s.events_journaled - last.events_journaled);
      replayed->inc(s.events_replayed - last.events_replayed);
      replay_duplicates->inc(s.replay_duplicates - last.replay_duplicates);
      overloaded->inc(s.overloaded - last.overloaded);
      last = s;
    }
    return reg.render() + prometheus::render_gauge("cascade_bundle_info",
                                                   "the serving bundle's version",
                                                   {{"version", version}}, 1);
  }
};

Server::Server(ServerOptions opt) : opt_(std::move(opt)) {
  store_ = std::make_unique<FeatureStore>(opt_.store);
  metrics_ = std::make_unique<Metrics>();
  http_ = std::make_unique<Http>();
  bundle_path_ = opt_.bundle;
  started_ = Clock::now();
  if (!opt_.admin_token_file.empty()) {
    admin_token_ = read_admin_token(opt_.admin_token_file);
    bundle_root_ =
        opt_.bundle_root.empty() ? fs::absolute(opt_.bundle).parent_path() : opt_.bundle_root;
    if (!fs::is_directory(bundle_root_))
      throw Error("serve: the bundle root " + bundle_root_.string() +
                  " is not a directory (set --bundle-root to the directory reloads may name "
                  "bundles under)");
  } else if (!opt_.bundle_root.empty()) {
    spdlog::warn(
        "serve: --bundle-root has no effect without --admin-token-file (admin routes are off)");
  }
  Metrics& m = *metrics_;
  const auto stage_buckets = prometheus::exponential_buckets(0.025, 2, 14);  // 25 us .. 205 ms
  for (const char* s : {"store", "recall", "features", "pre_rank", "fine_rank", "rerank", "total"})
    m.stage[s] = &m.reg.histogram("cascade_stage_latency_ms", "time per /recommend stage (ms)",
                                  stage_buckets, {{"stage", s}});
  for (const char* r : {"recommend", "similar", "events"})
    m.route_ms[r] =
        &m.reg.histogram("cascade_request_duration_ms", "request handling time by route (ms)",
                         stage_buckets, {{"route", r}});
  m.cache_hits = &m.reg.counter("cascade_feature_store_cache_hits_total",
                                "history reads answered by the in-process cache");
  m.cache_misses = &m.reg.counter("cascade_feature_store_cache_misses_total",
                                  "history reads that went to Redis");
  m.redis_errors = &m.reg.counter("cascade_redis_errors_total",
                                  "failed Redis connects/commands and malformed entries");
  m.events_written = &m.reg.counter("cascade_events_written_total", "events acknowledged by Redis");
  m.stale_reads =
      &m.reg.counter("cascade_feature_store_stale_reads_total",
                     "reads answered from the in-process copy while Redis was unusable");
  m.journaled = &m.reg.counter(
      "cascade_events_journaled_total",
      "events written to the local journal (not acknowledged by Redis when answered)");
  m.replayed =
      &m.reg.counter("cascade_events_replayed_total", "events read back from the journal at start");
  m.replay_duplicates =
      &m.reg.counter("cascade_events_replay_duplicates_total",
                     "replayed events Redis already had (skipped, not written twice)");
  m.overloaded = &m.reg.counter("cascade_events_overloaded_total",
                                "POST /events refused with 503: max pending events already queued");
  m.shed = &m.reg.counter(
      "cascade_requests_shed_total",
      "requests answered 503 because their connection waited past max_queue_wait_ms");
  m.reg.gauge_callback("cascade_connections_queued", "connections waiting for a worker", {},
                       [this] {
                         const AdmissionQueue* q = queue_.load();
                         return q ? static_cast<double>(q->queued()) : 0.0;
                       });
  FeatureStore* store = store_.get();
  m.reg.gauge_callback("cascade_events_journal_bytes", "size of the local event journal", {},
                       [store] { return static_cast<double>(store->stats().journal_bytes); });
  m.reg.gauge_callback("cascade_event_cache_users", "users in the in-process event cache", {},
                       [store] { return static_cast<double>(store->cache_usage().users); });
  m.reg.gauge_callback("cascade_event_cache_events", "events held by the in-process event cache",
                       {}, [store] { return static_cast<double>(store->cache_usage().events); });
  m.reg.gauge_callback(
      "cascade_event_cache_bytes_estimate",
      "heap bytes of the event cache, estimated (allocator overhead not counted)", {},
      [store] { return static_cast<double>(store->cache_usage().bytes_estimate); });
  m.reg.gauge_callback("cascade_redis_up", "1 when Redis is configured and reachable", {},
                       [store] { return store->health().redis_ok ? 1.0 : 0.0; });
  m.reg.gauge_callback("cascade_events_pending", "events waiting to be written back to Redis", {},
                       [store] { return static_cast<double>(store->health().pending_writes); });
  m.reg.gauge_callback("cascade_process_resident_memory_mb", "resident set size (MB)", {},
                       [] { return rss_mb(); });
  auto* self = this;
  m.reg.gauge_callback("cascade_bundle_loaded", "1 once a bundle is serving", {},
                       [self] { return self->state() ? 1.0 : 0.0; });
  install_routes();
}

Server::~Server() {
  stop();
}

std::string Server::load_error() const {
  std::lock_guard<std::mutex> lock(error_mu_);
  return load_error_;
}

std::string Server::bundle_version() const {
  const auto s = state();
  return s ? s->bundle->version() : "";
}

std::string Server::reload(const fs::path& dir) {
  std::lock_guard<std::mutex> lock(reload_mu_);
  const fs::path path = dir.empty() ? bundle_path_ : dir;
  // The bundle is loaded on a thread of its own, so its memory comes from an arena that holds
  // bundles only (glibc gives a new thread the arena a finished thread left, and the request
  // workers keep theirs): loaded from a worker, a bundle's blocks were interleaved with that
  // worker's request memory, and the pages the old bundle leaves could not all be returned.
  std::shared_ptr<const ServingState> st;
  std::exception_ptr failed;
  std::thread loader([&] {
    try {
      st = ServingState::load(path);
    } catch (...) {
      failed = std::current_exception();
    }
  });
  loader.join();
  if (failed) std::rethrow_exception(failed);  // the reason; the serving state stays
  const std::string version = st->bundle->version();
  {
    std::lock_guard state_lock(state_mu_);
    state_.swap(st);
  }
  // The old state (st now) is freed outside the lock, here or by the last request still using
  // it. Its memory goes back to the kernel, or each reload would leave the last bundle's pages
  // resident (keep_freed_memory keeps freed blocks for the request path).
  st.reset();
  release_freed_memory();
  bundle_path_ = path;
  spdlog::info("serving bundle {} from {}", version, path.string());
  return version;
}

void Server::start() {
  Eigen::setNbThreads(1);  // one request = one thread; parallelism comes from concurrent requests
  // A request allocates and frees a few hundred KB (feature rows, ranker activations, score
  // vectors at large catalogues): keep those blocks rather than fault them in again each time.
  keep_freed_memory();
  httplib::Server& svr = http_->svr;
  const int threads = opt_.threads > 0
                          ? opt_.threads
                          : 4 * static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  auto* self = this;
  svr.new_task_queue = [threads, self] {
    auto* q = new AdmissionQueue(static_cast<size_t>(threads));
    self->queue_.store(q);
    return q;
  };
  svr.set_tcp_nodelay(true);  // small JSON responses: without it Nagle + delayed ACK add ~40 ms
  svr.set_keep_alive_max_count(opt_.keep_alive_max_requests);
  svr.set_keep_alive_timeout(opt_.keep_alive_timeout_s);
  svr.set_read_timeout(opt_.read_timeout_s);
  svr.set_write_timeout(opt_.write_timeout_s);
  // Bodies up to twice the limit reach the parser, which answers 413 naming "body"; beyond
  // that httplib refuses them itself (the error handler gives the same JSON).
  svr.set_payload_max_length(opt_.limits.max_body_bytes * 2);
  if (opt_.port == 0) {
    port_ = svr.bind_to_any_port(opt_.host);
    if (port_ <= 0) throw Error("serve: cannot bind a port on " + opt_.host);
  } else {
    if (!svr.bind_to_port(opt_.host, opt_.port))
      throw Error(fmt::format("serve: cannot bind {}:{} (in use? try --port 0 for any free port)",
                              opt_.host, opt_.port));
    port_ = opt_.port;
  }
  listen_thread_ = std::thread([this] {
    http_->svr.listen_after_bind();
    queue_.store(nullptr);  // httplib has shut the pool down and freed it
  });
  spdlog::info("listening on http://{}:{} with {} worker threads", opt_.host, port_, threads);
  if (opt_.release_memory_every_s > 0) {
    release_thread_ = std::thread([this] {
      const auto every = std::chrono::seconds(opt_.release_memory_every_s);
      std::unique_lock<std::mutex> lock(release_mu_);
      while (!release_cv_.wait_for(lock, every, [this] { return release_stop_; })) {
        lock.unlock();
        const auto t0 = Clock::now();
        release_freed_memory();
        spdlog::debug("freed heap memory returned to the kernel in {:.2f} ms",
                      std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        lock.lock();
      }
    });
  }
  load_thread_ = std::thread([this] {
    try {
      reload({});
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(error_mu_);
      load_error_ = e.what();
      spdlog::error("bundle refused: {}", e.what());
    }
  });
}

bool Server::wait_ready(std::chrono::milliseconds timeout) {
  const auto until = Clock::now() + timeout;
  while (Clock::now() < until) {
    if (state()) return true;
    {
      if (!load_error().empty()) return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return state() != nullptr;
}

void Server::wait() {
  std::unique_lock<std::mutex> lock(stop_mu_);
  stop_cv_.wait(lock, [this] { return stopped_; });
}

void Server::stop() {
  // One thread does the joining; the others wait for it (joining a std::thread twice is UB).
  std::lock_guard<std::mutex> once(join_mu_);
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    if (stopped_) return;
  }
  if (http_) http_->svr.stop();
  if (listen_thread_.joinable()) listen_thread_.join();
  if (load_thread_.joinable()) load_thread_.join();
  {
    std::lock_guard<std::mutex> lock(release_mu_);
    release_stop_ = true;
  }
  release_cv_.notify_all();
  if (release_thread_.joinable()) release_thread_.join();
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stopped_ = true;
  }
  stop_cv_.notify_all();
}

// The request's view of the server. The bundle snapshot is taken once, here, and kept by the
// route to its end; the load error (behind a lock) is read only when no bundle serves.
RouteContext Server::route_context() const {
  RouteContext ctx;
  ctx.state = state();
  if (!ctx.state) ctx.load_error = load_error();
  ctx.store = store_.get();
  ctx.limits = &opt_.limits;
  ctx.started = started_;
  return ctx;
}

void Server::install_routes() {
  httplib::Server& svr = http_->svr;

  // Every route runs through `wrap`: the handler's answer (or a 500 for an unexpected
  // exception) goes into the response, and the route's status and time are counted.
  using Route = std::function<RouteResponse(const httplib::Request&)>;
  auto wrap = [this](std::string route, Route fn) {
    return [this, route = std::move(route), fn = std::move(fn)](const httplib::Request& req,
                                                                httplib::Response& res) {
      const auto t0 = Clock::now();
      RouteResponse r;
      const std::optional<double> waited = AdmissionQueue::take_connection_wait_ms();
      const bool exempt = route == "health" || route == "ready" || route == "metrics";
      try {
        if (waited && opt_.max_queue_wait_ms > 0 && *waited > opt_.max_queue_wait_ms && !exempt) {
          // Overloaded: this connection waited too long for a worker. Tell the client to back off.
          r = {503,
               json_error(503, "",
                          fmt::format("server overloaded: the connection waited {:.0f} ms for a "
                                      "worker (limit {} ms); retry later",
                                      *waited, opt_.max_queue_wait_ms))};
          r.headers.emplace_back("Retry-After", "1");
          metrics_->shed->inc();
        } else {
          r = fn(req);
        }
      } catch (const std::exception& e) {
        spdlog::error("{} {}: {}", req.method, req.path, e.what());
        r = {500, json_error(500, "", e.what())};
      }
      res.status = r.status;
      for (const auto& [name, value] : r.headers) res.set_header(name, value);
      if (r.status != 304) res.set_content(r.body, r.content_type);
      metrics_->requests(route, r.status).inc();
      auto it = metrics_->route_ms.find(route);
      if (it != metrics_->route_ms.end())
        it->second->observe(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    };
  };

  svr.Get(R"(/recommend/([^/]*))", wrap("recommend", [this](const httplib::Request& req) {
            RecommendTimes times;
            RouteResponse r =
                handle_recommend(route_context(), req.matches[1].str(), req.params, &times);
            if (r.status == 200) metrics_->observe(times);
            return r;
          }));
  svr.Get(R"(/similar/([^/]*))", wrap("similar", [this](const httplib::Request& req) {
            return handle_similar(route_context(), req.matches[1].str(), req.params);
          }));
  svr.Post("/events", wrap("events", [this](const httplib::Request& req) {
             return handle_events(route_context(), req.body);
           }));
  svr.Get("/health", wrap("health", [this](const httplib::Request&) {
            return handle_health(route_context());
          }));
  svr.Get("/ready",
          wrap("ready", [this](const httplib::Request&) { return handle_ready(route_context()); }));
  svr.Get("/metrics", wrap("metrics", [this](const httplib::Request&) {
            return RouteResponse{200, metrics_->render(*store_, bundle_version()),
                                 prometheus::kContentType};
          }));
  svr.Get("/openapi.json", wrap("openapi", [](const httplib::Request&) {
            return RouteResponse{200, openapi_json()};
          }));
  if (!admin_token_.empty())
    svr.Post("/admin/reload", wrap("reload", [this](const httplib::Request& req) {
               if (auto why =
                       bearer_token_problem(req.get_header_value("Authorization"), admin_token_)) {
                 RouteResponse r{401, json_error(401, "Authorization", *why)};
                 r.headers.emplace_back("WWW-Authenticate", "Bearer");
                 return r;
               }
               return handle_reload(req.body, bundle_version(), bundle_root_,
                                    [this](const fs::path& dir) { return reload(dir); });
             }));

  // The dashboard and the JSON it reads. None of these touch /recommend's path: the assets are
  // static bytes, and /stats reads the metrics text /metrics renders.
  svr.Get("/users", wrap("users", [this](const httplib::Request& req) {
            return handle_users(route_context(), req.params);
          }));
  svr.Get(R"(/users/([^/]*)/history)", wrap("history", [this](const httplib::Request& req) {
            return handle_user_history(route_context(), req.matches[1].str(), req.params);
          }));
  svr.Get("/offline", wrap("offline", [this](const httplib::Request&) {
            return handle_offline(route_context());
          }));
  svr.Get("/stats", wrap("stats", [this](const httplib::Request&) {
            return handle_stats(route_context(), metrics_->render(*store_, bundle_version()),
                                !admin_token_.empty());
          }));
  svr.Get("/", wrap("ui", [](const httplib::Request& req) {
            return handle_asset("index.html", req.get_header_value("If-None-Match"));
          }));
  svr.Get(R"(/ui/(.*))", wrap("ui", [](const httplib::Request& req) {
            return handle_asset(req.matches[1].str(), req.get_header_value("If-None-Match"));
          }));

  // Unmatched routes and httplib's own refusals (oversize body) get the JSON error shape too.
  svr.set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request&, httplib::Response& res) -> httplib::Server::HandlerResponse {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        if (res.status == 404) {
          res.set_content(json_error(404, "", "no such route; see /openapi.json"), kJson);
          metrics_->requests("other", 404).inc();
        } else if (res.status == 413) {
          res.set_content(json_error(413, "body", "request body too large"), kJson);
          metrics_->requests("other", 413).inc();
        } else {
          res.set_content(json_error(res.status, "", "request refused"), kJson);
          metrics_->requests("other", res.status).inc();
        }
        return httplib::Server::HandlerResponse::Handled;
      }));
}

}  // namespace cascade
