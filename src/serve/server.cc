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
#include <cctype>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cascade/core/error.h"
#include "cascade/pipeline/recommender.h"
#include "cascade/serve/prometheus.h"

namespace fs = std::filesystem;

namespace cascade {
namespace {

using Json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

// Errors that map to a status other than 400/500.
struct HttpError : Error {
  HttpError(int status, std::string param, const std::string& msg)
      : Error(msg), status(status), param(std::move(param)) {}
  int status;
  std::string param;
};

bool all_digits(const std::vector<std::string>& ids) {
  return std::all_of(ids.begin(), ids.end(), [](const std::string& s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
  });
}

double rss_mb() {
  std::ifstream f("/proc/self/statm");
  uint64_t pages = 0, resident = 0;
  f >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE)) /
         (1024.0 * 1024.0);
}

const char* kJson = "application/json";

}  // namespace

struct Server::State {
  std::shared_ptr<const Bundle> bundle;
  std::unique_ptr<Recommender> rec;
  bool numeric_ids = true;
};

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
                      *events_written = nullptr, *stale_reads = nullptr;
  std::mutex sync_mu;
  FeatureStoreStats last;

  prometheus::Counter& requests(const std::string& route, int status) {
    return reg.counter("cascade_requests_total", "HTTP requests by route and status",
                       {{"route", route}, {"status", std::to_string(status)}});
  }
};

Server::Server(ServerOptions opt) : opt_(std::move(opt)) {
  store_ = std::make_unique<FeatureStore>(opt_.store);
  metrics_ = std::make_unique<Metrics>();
  http_ = std::make_unique<Http>();
  bundle_path_ = opt_.bundle;
  started_ = Clock::now();
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
  FeatureStore* store = store_.get();
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
  auto st = std::make_shared<State>();
  st->bundle = Bundle::load(path);  // throws with the reason; the serving state stays
  st->rec = std::make_unique<Recommender>(st->bundle);
  st->numeric_ids =
      all_digits(st->bundle->data().user_ids) && all_digits(st->bundle->data().item_ids);
  const std::string version = st->bundle->version();
  state_.store(std::shared_ptr<const State>(std::move(st)));
  bundle_path_ = path;
  spdlog::info("serving bundle {} from {}", version, path.string());
  return version;
}

void Server::start() {
  Eigen::setNbThreads(1);  // one request = one thread; parallelism comes from concurrent requests
  httplib::Server& svr = http_->svr;
  const int threads = opt_.threads > 0
                          ? opt_.threads
                          : 4 * static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  svr.set_tcp_nodelay(true);  // small JSON responses: without it Nagle + delayed ACK add ~40 ms
  svr.set_keep_alive_max_count(opt_.keep_alive_max_requests);
  svr.set_keep_alive_timeout(opt_.keep_alive_timeout_s);
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
  listen_thread_ = std::thread([this] { http_->svr.listen_after_bind(); });
  spdlog::info("listening on http://{}:{} with {} worker threads", opt_.host, port_, threads);
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
    std::lock_guard<std::mutex> lock(stop_mu_);
    stopped_ = true;
  }
  stop_cv_.notify_all();
}

void Server::install_routes() {
  httplib::Server& svr = http_->svr;
  Metrics& m = *metrics_;

  // Every route runs through `wrap`: exceptions become JSON errors, the status is counted.
  using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;
  auto wrap = [this](std::string route, Handler fn) {
    return [this, route = std::move(route), fn = std::move(fn)](const httplib::Request& req,
                                                                httplib::Response& res) {
      const auto t0 = Clock::now();
      res.status = 200;  // httplib leaves -1 until after the handler
      try {
        fn(req, res);
      } catch (const BadRequest& e) {
        res.status = e.status();
        res.set_content(json_error(e.status(), e.param(), e.what()), kJson);
      } catch (const HttpError& e) {
        res.status = e.status;
        res.set_content(json_error(e.status, e.param, e.what()), kJson);
      } catch (const std::exception& e) {
        spdlog::error("{} {}: {}", req.method, req.path, e.what());
        res.status = 500;
        res.set_content(json_error(500, "", e.what()), kJson);
      }
      metrics_->requests(route, res.status).inc();
      auto it = metrics_->route_ms.find(route);
      if (it != metrics_->route_ms.end())
        it->second->observe(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    };
  };
  auto need_state = [this]() {
    auto st = state();
    if (!st)
      throw HttpError(
          503, "",
          load_error().empty() ? "the model bundle is still loading" : "no bundle: " + load_error());
    return st;
  };
  const RequestLimits& limits = opt_.limits;

  svr.Get(R"(/recommend/([^/]*))",
          wrap("recommend", [this, need_state, &limits, &m](const httplib::Request& req,
                                                            httplib::Response& res) {
            const auto t0 = Clock::now();
            const RecommendParams p = parse_recommend_params(req.params, limits);
            const auto st = need_state();
            const std::string user =
                parse_id(req.matches[1].str(), "user_id", st->numeric_ids, limits);
            const std::vector<StoredEvent> stored = store_->events(user);
            std::vector<LiveEvent> live;
            live.reserve(stored.size());
            for (const auto& e : stored) live.push_back({e.item, e.timestamp});
            const auto t1 = Clock::now();
            RecommendRequest rr;
            rr.user = user;
            rr.events = live;
            rr.k = p.k;
            rr.diversity = p.diversity ? *p.diversity : -1.0;
            rr.explain = p.explain;
            const RecommendResponse r = st->rec->recommend(rr);
            const Dataset& ds = st->bundle->data();
            const auto& names = st->bundle->channel_names();
            Json items = Json::array();
            for (const auto& it : r.items) {
              Json j;
              j["item_id"] = ds.item_ids[it.item];
              j["title"] = ds.catalog.items[it.item].title;
              j["score"] = it.score;
              j["stages"] = {{"fused", it.fused},
                             {"pre_rank", it.pre_rank},
                             {"fine_rank", it.fine_rank},
                             {"rerank", it.score}};
              Json ch = Json::array();
              for (uint16_t c : it.channels) ch.push_back(names[c]);
              j["channels"] = std::move(ch);
              if (it.relaxed) j["relaxed_cap"] = true;
              if (p.explain) {
                if (it.because >= 0) {
                  j["reason"] = "because you liked " +
                                ds.catalog.items[static_cast<size_t>(it.because)].title;
                  j["because_item_id"] = ds.item_ids[static_cast<size_t>(it.because)];
                } else {
                  j["reason"] = r.history == 0 ? "popular with everyone (no history yet)"
                                               : "close to your recent history";
                }
              }
              items.push_back(std::move(j));
            }
            const double store_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
            const double total_ms =
                std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
            Json out;
            out["user_id"] = user;
            out["known_user"] = r.known_user;
            out["history"] = r.history;
            out["live_events"] = r.live_events;
            out["bundle_version"] = st->bundle->version();
            out["diversity"] = p.diversity ? *p.diversity : st->rec->rerank_options().diversity;
            out["items"] = std::move(items);
            out["latency_ms"] = {{"store", store_ms},
                                 {"recall", r.latency.recall_ms},
                                 {"features", r.latency.features_ms},
                                 {"pre_rank", r.latency.pre_rank_ms},
                                 {"fine_rank", r.latency.fine_rank_ms},
                                 {"rerank", r.latency.rerank_ms},
                                 {"total", total_ms}};
            res.set_content(out.dump(), kJson);
            m.stage["store"]->observe(store_ms);
            m.stage["recall"]->observe(r.latency.recall_ms);
            m.stage["features"]->observe(r.latency.features_ms);
            m.stage["pre_rank"]->observe(r.latency.pre_rank_ms);
            m.stage["fine_rank"]->observe(r.latency.fine_rank_ms);
            m.stage["rerank"]->observe(r.latency.rerank_ms);
            m.stage["total"]->observe(total_ms);
          }));

  svr.Get(
      R"(/similar/([^/]*))",
      wrap("similar", [need_state, &limits](const httplib::Request& req, httplib::Response& res) {
        const size_t k = parse_similar_k(req.params, limits);
        const auto st = need_state();
        const std::string raw = parse_id(req.matches[1].str(), "item_id", st->numeric_ids, limits);
        const Dataset& ds = st->bundle->data();
        const int64_t item = ds.find_item(raw);
        if (item < 0)
          throw HttpError(404, "item_id",
                          "unknown item_id \"" + raw + "\": not in the bundle's catalogue");
        Json items = Json::array();
        for (const ScoredItem& s : st->rec->similar(static_cast<ItemId>(item), k))
          items.push_back({{"item_id", ds.item_ids[s.item]},
                           {"title", ds.catalog.items[s.item].title},
                           {"score", s.score}});
        Json out;
        out["item_id"] = raw;
        out["title"] = ds.catalog.items[static_cast<size_t>(item)].title;
        out["channel"] = st->rec->vectors_channel();
        out["items"] = std::move(items);
        res.set_content(out.dump(), kJson);
      }));

  svr.Post("/events", wrap("events", [this, need_state, &limits](const httplib::Request& req,
                                                                 httplib::Response& res) {
             const auto st = need_state();
             const std::vector<EventIn> in = parse_events_body(req.body, st->numeric_ids, limits);
             // Events without a timestamp get the serving clock: the bundle's log time plus the
             // time this process has been up (the models learned the log's clock, not the wall
             // clock's).
             const int64_t now =
                 st->bundle->log_clock() +
                 std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started_).count();
             std::vector<std::pair<std::string, StoredEvent>> batch;
             batch.reserve(in.size());
             size_t unknown_items = 0;
             for (const EventIn& e : in) {
               if (st->bundle->data().find_item(e.item_id) < 0) ++unknown_items;
               batch.push_back({e.user_id, StoredEvent{e.item_id, e.rating.value_or(1.0f),
                                                       e.timestamp.value_or(now)}});
             }
             store_->append_batch(batch);
             Json out;
             out["accepted"] = batch.size();
             out["unknown_items"] = unknown_items;
             res.set_content(out.dump(), kJson);
           }));

  svr.Get("/health", wrap("health", [this](const httplib::Request&, httplib::Response& res) {
            const auto st = state();
            const FeatureStoreHealth h = store_->health();
            Json degraded = Json::array();
            if (h.degraded()) degraded.push_back("redis");
            Json out;
            {
              const std::string error = load_error();
              out["status"] = !st ? (error.empty() ? "loading" : "failed")
                                  : (degraded.empty() ? "ok" : "degraded");
              if (!error.empty() && !st) out["error"] = error;
            }
            out["bundle_version"] = st ? st->bundle->version() : "";
            out["degraded"] = degraded;
            out["feature_store"] = {{"redis_configured", h.redis_configured},
                                    {"redis_ok", h.redis_ok},
                                    {"pending_writes", h.pending_writes},
                                    {"last_error", h.last_error}};
            out["uptime_s"] = std::chrono::duration<double>(Clock::now() - started_).count();
            res.set_content(out.dump(), kJson);
          }));

  svr.Get("/ready", wrap("ready", [this](const httplib::Request&, httplib::Response& res) {
            const auto st = state();
            res.status = st ? 200 : 503;
            res.set_content(
                Json{{"ready", st != nullptr}, {"bundle_version", st ? st->bundle->version() : ""}}
                    .dump(),
                kJson);
          }));

  svr.Get("/metrics", wrap("metrics", [this, &m](const httplib::Request&, httplib::Response& res) {
            {
              // Feature-store totals are kept by the store; bring the counters up to them.
              std::lock_guard<std::mutex> lock(m.sync_mu);
              const FeatureStoreStats s = store_->stats();
              m.cache_hits->inc(s.cache_hits - m.last.cache_hits);
              m.cache_misses->inc(s.cache_misses - m.last.cache_misses);
              m.redis_errors->inc(s.redis_errors - m.last.redis_errors);
              m.events_written->inc(s.events_written - m.last.events_written);
              m.stale_reads->inc(s.stale_reads - m.last.stale_reads);
              m.last = s;
            }
            std::string text = m.reg.render();
            const std::string v = bundle_version();
            text +=
                "# HELP cascade_bundle_info the serving bundle's version\n# TYPE "
                "cascade_bundle_info gauge\n";
            text += fmt::format("cascade_bundle_info{{version=\"{}\"}} 1\n", v);
            res.set_content(text, "text/plain; version=0.0.4; charset=utf-8");
          }));

  svr.Get("/openapi.json", wrap("openapi", [](const httplib::Request&, httplib::Response& res) {
            res.set_content(openapi_json(), kJson);
          }));

  svr.Post(
      "/admin/reload", wrap("reload", [this](const httplib::Request& req, httplib::Response& res) {
        fs::path dir;
        if (!req.body.empty()) {
          nlohmann::json body;
          try {
            body = nlohmann::json::parse(req.body);
          } catch (const nlohmann::json::exception&) {
            throw BadRequest("body", "the body must be JSON: {\"bundle\": \"<dir>\"} or empty");
          }
          if (!body.is_object()) throw BadRequest("body", "the body must be a JSON object");
          for (const auto& [key, v] : body.items()) {
            if (key != "bundle")
              throw BadRequest(key, "unknown field \"" + key + "\" (allowed: bundle)");
            if (!v.is_string() || v.get<std::string>().empty())
              throw BadRequest("bundle", "bundle must be a non-empty path");
            dir = v.get<std::string>();
          }
        }
        const std::string before = bundle_version();
        std::string version;
        try {
          version = reload(dir);
        } catch (const std::exception& e) {
          throw HttpError(500, "bundle",
                          std::string("bundle refused, still serving ") + before + ": " + e.what());
        }
        res.set_content(Json{{"bundle_version", version}, {"previous", before}}.dump(), kJson);
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
