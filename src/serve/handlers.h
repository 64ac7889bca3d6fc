// The routes of `cascade serve` as plain functions: the values taken from an HTTP request
// (path id, query parameters, body) plus what the server holds (the bundle snapshot, the
// feature store) in, a status and a JSON body out. No HTTP library type appears here, so every
// route, success and error alike, is testable without a socket; server.cc only registers the
// routes, moves values between httplib and these functions, and records per-route metrics.
//
// Errors a client can cause come back as responses (json_error() bodies: 400/413 from the
// request parsers naming the parameter, 404 for an unknown item, 503 while no bundle serves,
// 500 for a refused reload). Anything else (a bug, std::bad_alloc) propagates, and the server
// answers 500.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cascade/pipeline/recommender.h"
#include "cascade/serve/feature_store.h"
#include "cascade/serve/request.h"

namespace cascade {

/// One loaded bundle, as requests use it. Immutable once built; a request takes a shared
/// snapshot at its start and keeps it to the end, so a reload never mixes two versions.
struct ServingState {
  std::shared_ptr<const Bundle> bundle;
  std::unique_ptr<Recommender> rec;
  bool numeric_ids = true;   ///< every user and item id is ASCII digits (path ids canonicalised)
  std::string offline_body;  ///< GET /offline's answer, built at load (reports read once)

  /// Loads and checks the bundle at `dir`. Throws cascade::Error with the reason it was refused.
  static std::shared_ptr<const ServingState> load(const std::filesystem::path& dir);
};

/// What a route sees of the server for one request.
struct RouteContext {
  std::shared_ptr<const ServingState> state;  ///< null while no bundle serves
  std::string load_error;  ///< why state is null: "" = still loading (unused when state is set)
  FeatureStore* store = nullptr;
  const RequestLimits* limits = nullptr;
  /// When the process started serving: uptime, and the serving clock for undated events.
  std::chrono::steady_clock::time_point started;
};

/// A route's answer: the HTTP status and the body (JSON, but for /metrics' text).
struct RouteResponse {
  RouteResponse() = default;
  RouteResponse(int status, std::string body, const char* content_type = "application/json")
      : status(status), body(std::move(body)), content_type(content_type) {}
  int status = 200;
  std::string body;
  const char* content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  ///< extra response headers
};

/// Per-stage times of a /recommend answer, for the stage latency histograms.
struct RecommendTimes {
  double store_ms = 0;  ///< parsing and reading the user's live events
  StageLatency stages;  ///< the funnel's own stages
  double total_ms = 0;  ///< the whole handler (the "total" in the response body)
};

using QueryParams = std::multimap<std::string, std::string>;

/// GET /recommend/{user_id}: the funnel for the user's history plus live events. `times`
/// (optional) is filled when the answer is 200.
RouteResponse handle_recommend(const RouteContext& ctx, std::string_view user_id,
                               const QueryParams& query, RecommendTimes* times = nullptr);

/// GET /similar/{item_id}: the k nearest items of the bundle's `vectors` channel; 404 naming
/// item_id when the item is not in the catalogue.
RouteResponse handle_similar(const RouteContext& ctx, std::string_view item_id,
                             const QueryParams& query);

/// POST /events: validates the whole body, then appends every event to the feature store
/// (undated events get the serving clock: the bundle's log time plus the uptime).
RouteResponse handle_events(const RouteContext& ctx, std::string_view body);

/// GET /health: always 200; "loading" / "failed" / "ok" / "degraded" and the store's state.
RouteResponse handle_health(const RouteContext& ctx);

/// GET /ready: 200 once a bundle serves, else 503.
RouteResponse handle_ready(const RouteContext& ctx);

/// POST /admin/reload with an empty body (reload the current path) or {"bundle": "<dir>"}.
/// `reload` loads and swaps in a directory (empty = the current one) and returns the new
/// version, or throws with the reason; `current_version` is what serves before it ("" = none).
/// A directory named in the body must lie under `bundle_root` (admin.h bundle_under_root; 403
/// otherwise, before anything is loaded). The caller has checked the admin token.
RouteResponse handle_reload(std::string_view body, const std::string& current_version,
                            const std::filesystem::path& bundle_root,
                            const std::function<std::string(const std::filesystem::path&)>& reload);

/// GET /users?q=PREFIX&limit=N: the bundle's raw user ids starting with q (in the bundle's id
/// order, at most `limit`), each with its training-history length, and how many matched.
RouteResponse handle_users(const RouteContext& ctx, const QueryParams& query);

/// GET /users/{user_id}/history?n=20: the newest n items of the history /recommend uses (the
/// training row, then the feature store's live events), newest first, each with item_id, title,
/// year, genres, timestamp, source ("train" | "live") and whether the item is in the catalogue.
RouteResponse handle_user_history(const RouteContext& ctx, std::string_view user_id,
                                  const QueryParams& query);

/// GET /offline: the bundle's own evaluation: the manifest's "offline" block and funnel spec,
/// and the bench reports stored in the bundle (reports/funnel.json, quality.json,
/// rerank.json; null when absent, with the reason in "report_errors" when unreadable).
RouteResponse handle_offline(const RouteContext& ctx);

/// GET /stats: `exposition` is the server's own /metrics text; the answer is its requests and
/// latency percentiles (stats.h) plus the bundle version, the feature store's Redis status, the
/// uptime and whether POST /admin/reload is enabled.
RouteResponse handle_stats(const RouteContext& ctx, std::string_view exposition, bool admin_reload);

/// GET / and GET /ui/{name}: a dashboard asset embedded in the binary (web_assets.h), with its
/// content type, an ETag and "Cache-Control: no-cache" (revalidate: a new binary's page is
/// never stale); 304 when `if_none_match` is the asset's ETag; 404 JSON for an unknown name.
RouteResponse handle_asset(std::string_view name, std::string_view if_none_match);

}  // namespace cascade
