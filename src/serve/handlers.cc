#include "serve/handlers.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "cascade/core/error.h"
#include "serve/admin.h"
#include "serve/json_writer.h"
#include "serve/stats.h"
#include "serve/web_assets.h"

namespace cascade {
namespace {

using Json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// A client-visible error with a status other than BadRequest's 400/413.
struct HttpError : Error {
  HttpError(int status, std::string param, const std::string& msg, int retry_after_s = 0)
      : Error(msg), status(status), param(std::move(param)), retry_after_s(retry_after_s) {}
  int status;
  std::string param;
  int retry_after_s;  ///< > 0: sent as Retry-After (seconds)
};

// Runs a route body; the errors a client can cause become their JSON error response.
template <class Fn>
RouteResponse respond(Fn&& fn) {
  try {
    return fn();
  } catch (const BadRequest& e) {
    return {e.status(), json_error(e.status(), e.param(), e.what())};
  } catch (const HttpError& e) {
    RouteResponse r{e.status, json_error(e.status, e.param, e.what())};
    if (e.retry_after_s > 0) r.headers.emplace_back("Retry-After", std::to_string(e.retry_after_s));
    return r;
  }
}

RouteResponse ok(const Json& body) {
  return {200, body.dump()};
}

// The snapshot a model route needs; 503 while none serves.
const ServingState& need_state(const RouteContext& ctx) {
  if (!ctx.state)
    throw HttpError(503, "",
                    ctx.load_error.empty() ? "the model bundle is still loading"
                                           : "no bundle: " + ctx.load_error);
  return *ctx.state;
}

bool all_digits(const std::vector<std::string>& ids) {
  return std::all_of(ids.begin(), ids.end(), [](const std::string& s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
  });
}

// "year" (null when unknown) and "genres" (names) of a catalogue item.
void add_year_genres(Json& j, const Catalog& cat, size_t item) {
  const ItemInfo& info = cat.items[item];
  j["year"] = info.year >= 0 ? Json(info.year) : Json(nullptr);
  Json g = Json::array();
  for (uint16_t x : info.genres) g.push_back(cat.genre_names[x]);
  j["genres"] = std::move(g);
}

// One item of a /recommend body (see recommend_body()).
void write_recommended_item(JsonWriter& w, const RecommendedItem& it, const RecommendResponse& r,
                            const Bundle& b, bool explain) {
  const Dataset& ds = b.data();
  const ItemInfo& info = ds.catalog.items[it.item];
  w.begin_object();
  w.key("item_id").value(ds.item_ids[it.item]);
  w.key("title").value(info.title);
  w.key("year");
  if (info.year >= 0)
    w.value(info.year);
  else
    w.null();
  w.key("genres").begin_array();
  for (uint16_t x : info.genres) w.value(ds.catalog.genre_names[x]);
  w.end_array();
  w.key("score").value(it.score);
  w.key("stages").begin_object();
  w.key("fused").value(it.fused);
  w.key("pre_rank").value(it.pre_rank);
  w.key("fine_rank").value(it.fine_rank);
  w.key("rerank").value(it.score);
  w.end_object();
  w.key("channels").begin_array();
  for (uint16_t c : it.channels) w.value(b.channel_names()[c]);
  w.end_array();
  if (it.relaxed) w.key("relaxed_cap").value(true);
  if (explain) {
    if (it.because >= 0) {
      const auto because = static_cast<size_t>(it.because);
      w.key("reason").value("because you liked " + ds.catalog.items[because].title);
      w.key("because_item_id").value(ds.item_ids[because]);
    } else {
      w.key("reason").value(r.history == 0 ? "popular with everyone (no history yet)"
                                           : "close to your recent history");
    }
    if (!it.attention.empty()) {
      w.key("attention").begin_array();
      for (float a : it.attention) w.value(a);
      w.end_array();
    }
  }
  w.end_object();
}

// The /offline body: what the bundle measured offline and the reports it carries. Built once
// when the bundle loads (the bundle does not change while it serves), so a dashboard poll
// reads no files.
std::string make_offline_body(const Bundle& b) {
  const auto& m = b.manifest();
  Json out;
  out["bundle_version"] = b.version();
  out["funnel"] = b.funnel_spec();
  out["channels"] = b.channel_names();
  out["offline"] = m.contains("offline") ? Json(m["offline"]) : Json(nullptr);
  Json reports, errors = Json::object();
  for (const char* name : {"funnel", "quality", "rerank"}) {
    reports[name] = nullptr;
    try {
      reports[name] = b.report(name);  // null when the manifest lists none by that name
    } catch (const std::exception& e) {
      errors[name] = "reports/" + std::string(name) + ".json: " + e.what();
    }
  }
  out["reports"] = std::move(reports);
  out["report_errors"] = std::move(errors);
  return out.dump();
}

}  // namespace

std::shared_ptr<const ServingState> ServingState::load(const std::filesystem::path& dir) {
  auto st = std::make_shared<ServingState>();
  st->bundle = Bundle::load(dir);
  st->rec = std::make_unique<Recommender>(st->bundle);
  st->numeric_ids =
      all_digits(st->bundle->data().user_ids) && all_digits(st->bundle->data().item_ids);
  st->offline_body = make_offline_body(*st->bundle);
  return st;
}

RouteResponse handle_recommend(const RouteContext& ctx, std::string_view user_id,
                               const QueryParams& query, RecommendTimes* times) {
  return respond([&] {
    const auto t0 = Clock::now();
    const RecommendParams p = parse_recommend_params(query, *ctx.limits);
    const ServingState& st = need_state(ctx);
    const std::string user = parse_id(user_id, "user_id", st.numeric_ids, *ctx.limits);
    const std::vector<StoredEvent> stored = ctx.store->events(user);
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
    const RecommendResponse r = st.rec->recommend(rr);
    const double store_ms = ms_between(t0, t1);
    const double diversity = p.diversity ? *p.diversity : st.rec->rerank_options().diversity;
    JsonWriter w;
    w.begin_object();
    w.key("user_id").value(user);
    w.key("known_user").value(r.known_user);
    w.key("history").value(uint64_t{r.history});
    w.key("live_events").value(uint64_t{r.live_events});
    w.key("bundle_version").value(st.bundle->version());
    w.key("diversity").value(diversity);
    w.key("items").begin_array();
    for (const auto& it : r.items) write_recommended_item(w, it, r, *st.bundle, p.explain);
    w.end_array();
    if (p.explain && !r.attention_stage.empty()) {
      w.key("attention").begin_object();
      w.key("ranker").value(r.attention_ranker);
      w.key("stage").value(r.attention_stage);
      w.key("normalised").value(r.attention_normalised);
      w.key("history").begin_array();
      for (ItemId h : r.attention_history) w.value(st.bundle->data().item_ids[h]);
      w.end_array();
      w.end_object();
    }
    const double total_ms = ms_between(t0, Clock::now());
    w.key("latency_ms").begin_object();
    w.key("store").value(store_ms);
    w.key("recall").value(r.latency.recall_ms);
    w.key("features").value(r.latency.features_ms);
    w.key("pre_rank").value(r.latency.pre_rank_ms);
    w.key("fine_rank").value(r.latency.fine_rank_ms);
    w.key("rerank").value(r.latency.rerank_ms);
    w.key("total").value(total_ms);
    w.end_object();
    w.end_object();
    if (times) *times = {store_ms, r.latency, total_ms};
    return RouteResponse{200, w.take()};
  });
}

RouteResponse handle_similar(const RouteContext& ctx, std::string_view item_id,
                             const QueryParams& query) {
  return respond([&] {
    const size_t k = parse_similar_k(query, *ctx.limits);
    const ServingState& st = need_state(ctx);
    const std::string raw = parse_id(item_id, "item_id", st.numeric_ids, *ctx.limits);
    const Dataset& ds = st.bundle->data();
    const int64_t item = ds.find_item(raw);
    if (item < 0)
      throw HttpError(404, "item_id",
                      "unknown item_id \"" + raw + "\": not in the bundle's catalogue");
    Json items = Json::array();
    for (const ScoredItem& s : st.rec->similar(static_cast<ItemId>(item), k))
      items.push_back({{"item_id", ds.item_ids[s.item]},
                       {"title", ds.catalog.items[s.item].title},
                       {"score", s.score}});
    Json out;
    out["item_id"] = raw;
    out["title"] = ds.catalog.items[static_cast<size_t>(item)].title;
    out["channel"] = st.rec->vectors_channel();
    out["items"] = std::move(items);
    return ok(out);
  });
}

RouteResponse handle_events(const RouteContext& ctx, std::string_view body) {
  return respond([&] {
    const ServingState& st = need_state(ctx);
    const std::vector<EventIn> in = parse_events_body(body, st.numeric_ids, *ctx.limits);
    // Events without a timestamp get the serving clock: the bundle's log time plus the time
    // this process has been up (the models learned the log's clock, not the wall clock's).
    const int64_t now =
        st.bundle->log_clock() +
        std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - ctx.started).count();
    std::vector<std::pair<std::string, StoredEvent>> batch;
    batch.reserve(in.size());
    size_t unknown_items = 0;
    for (const EventIn& e : in) {
      if (st.bundle->data().find_item(e.item_id) < 0) ++unknown_items;
      batch.push_back(
          {e.user_id, StoredEvent{e.item_id, e.rating.value_or(1.0f), e.timestamp.value_or(now)}});
    }
    try {
      ctx.store->append_batch(batch);
    } catch (const StoreOverloaded& e) {
      // Bounded, not growing: the client retries once the feature store has caught up.
      throw HttpError(503, "events", e.what(), 1);
    }
    Json out;
    out["accepted"] = batch.size();
    out["unknown_items"] = unknown_items;
    return ok(out);
  });
}

RouteResponse handle_health(const RouteContext& ctx) {
  const FeatureStoreHealth h = ctx.store->health();
  Json degraded = Json::array();
  if (h.degraded()) degraded.push_back("redis");
  Json out;
  out["status"] = !ctx.state ? (ctx.load_error.empty() ? "loading" : "failed")
                             : (degraded.empty() ? "ok" : "degraded");
  if (!ctx.state && !ctx.load_error.empty()) out["error"] = ctx.load_error;
  out["bundle_version"] = ctx.state ? ctx.state->bundle->version() : "";
  if (ctx.state) {
    // What is served and how it measured offline (the bundle's own held-out users).
    const auto& m = ctx.state->bundle->manifest();
    out["funnel"] = ctx.state->bundle->funnel_spec();
    if (m.contains("offline")) {
      for (const char* split : {"valid", "test"}) {
        if (!m["offline"].contains(split)) continue;
        const auto& o = m["offline"][split];
        out["offline"][split] = {{"users", o.value("users", 0)},
                                 {"recall@10", o.value("recall@10", 0.0)},
                                 {"ndcg@10", o.value("ndcg@10", 0.0)},
                                 {"pool_recall@10", o["pool"].value("recall@10", 0.0)}};
      }
    }
  }
  out["degraded"] = degraded;
  out["feature_store"] = {{"redis_configured", h.redis_configured},
                          {"redis_ok", h.redis_ok},
                          {"pending_writes", h.pending_writes},
                          {"last_error", h.last_error}};
  out["uptime_s"] = std::chrono::duration<double>(Clock::now() - ctx.started).count();
  return ok(out);
}

RouteResponse handle_ready(const RouteContext& ctx) {
  const bool ready = ctx.state != nullptr;
  return {
      ready ? 200 : 503,
      Json{{"ready", ready}, {"bundle_version", ready ? ctx.state->bundle->version() : ""}}.dump()};
}

RouteResponse handle_reload(
    std::string_view body, const std::string& current_version,
    const std::filesystem::path& bundle_root,
    const std::function<std::string(const std::filesystem::path&)>& reload) {
  return respond([&] {
    std::filesystem::path dir;
    if (!body.empty()) {
      nlohmann::json parsed;
      try {
        parsed = nlohmann::json::parse(body);
      } catch (const nlohmann::json::exception&) {
        throw BadRequest("body", "the body must be JSON: {\"bundle\": \"<dir>\"} or empty");
      }
      if (!parsed.is_object()) throw BadRequest("body", "the body must be a JSON object");
      for (const auto& [key, v] : parsed.items()) {
        if (key != "bundle")
          throw BadRequest(key, "unknown field \"" + key + "\" (allowed: bundle)");
        if (!v.is_string() || v.get<std::string>().empty())
          throw BadRequest("bundle", "bundle must be a non-empty path");
        dir = v.get<std::string>();
      }
      try {
        dir = bundle_under_root(dir, bundle_root);
      } catch (const Error& e) {
        throw HttpError(403, "bundle", std::string("reload refused: ") + e.what());
      }
    }
    std::string version;
    try {
      version = reload(dir);
    } catch (const std::exception& e) {
      throw HttpError(500, "bundle",
                      "bundle refused, still serving " + current_version + ": " + e.what());
    }
    return ok(Json{{"bundle_version", version}, {"previous", current_version}});
  });
}

RouteResponse handle_users(const RouteContext& ctx, const QueryParams& query) {
  return respond([&] {
    const UsersQuery q = parse_users_query(query, *ctx.limits);
    const ServingState& st = need_state(ctx);
    const Dataset& ds = st.bundle->data();
    Json users = Json::array();
    size_t matches = 0;
    // A linear scan: ids are short and this is an operator's page, never the serving path.
    for (size_t u = 0; u < ds.user_ids.size(); ++u) {
      if (!ds.user_ids[u].starts_with(q.prefix)) continue;
      if (++matches <= q.limit)
        users.push_back({{"user_id", ds.user_ids[u]},
                         {"history", ds.train.row_size(static_cast<uint32_t>(u))}});
    }
    Json out;
    out["q"] = q.prefix;
    out["matches"] = matches;
    out["users"] = std::move(users);
    return ok(out);
  });
}

RouteResponse handle_user_history(const RouteContext& ctx, std::string_view user_id,
                                  const QueryParams& query) {
  return respond([&] {
    const size_t n = parse_history_n(query);
    const ServingState& st = need_state(ctx);
    const std::string user = parse_id(user_id, "user_id", st.numeric_ids, *ctx.limits);
    const Dataset& ds = st.bundle->data();
    const int64_t u = ds.find_user(user);
    const std::vector<StoredEvent> live = ctx.store->events(user);
    const size_t train_rows = u >= 0 ? ds.train.row_size(static_cast<uint32_t>(u)) : 0;
    // Oldest first, as /recommend builds it: the training row, then the live events.
    Json items = Json::array();
    const size_t total = train_rows + live.size();
    for (size_t i = total; i-- > 0 && items.size() < n;) {
      Json j;
      if (i >= train_rows) {
        const StoredEvent& e = live[i - train_rows];
        const int64_t item = ds.find_item(e.item);
        j["item_id"] = e.item;
        j["title"] =
            item >= 0 ? Json(ds.catalog.items[static_cast<size_t>(item)].title) : Json(nullptr);
        if (item >= 0) add_year_genres(j, ds.catalog, static_cast<size_t>(item));
        j["timestamp"] = e.timestamp;
        j["source"] = "live";
        j["known_item"] = item >= 0;
      } else {
        const auto row = ds.train.row(static_cast<uint32_t>(u));
        const auto times = ds.train.row_times(static_cast<uint32_t>(u));
        j["item_id"] = ds.item_ids[row[i]];
        j["title"] = ds.catalog.items[row[i]].title;
        add_year_genres(j, ds.catalog, row[i]);
        j["timestamp"] = times[i];
        j["source"] = "train";
        j["known_item"] = true;
      }
      items.push_back(std::move(j));
    }
    Json out;
    out["user_id"] = user;
    out["known_user"] = u >= 0;
    out["train_rows"] = train_rows;
    out["live_events"] = live.size();
    out["items"] = std::move(items);
    return ok(out);
  });
}

RouteResponse handle_offline(const RouteContext& ctx) {
  return respond([&] { return RouteResponse{200, need_state(ctx).offline_body}; });
}

RouteResponse handle_stats(const RouteContext& ctx, std::string_view exposition,
                           bool admin_reload) {
  const FeatureStoreHealth h = ctx.store->health();
  Json out;
  out["bundle_version"] = ctx.state ? ctx.state->bundle->version() : "";
  out["uptime_s"] = std::chrono::duration<double>(Clock::now() - ctx.started).count();
  out["admin_reload"] = admin_reload;
  out["redis"] = {{"configured", h.redis_configured},
                  {"up", h.redis_ok},
                  {"pending_writes", h.pending_writes},
                  {"last_error", h.last_error}};
  Json summary = stats::summarise(stats::parse_exposition(exposition));
  out["requests"] = std::move(summary["requests"]);
  out["latency_ms"] = std::move(summary["latency_ms"]);
  return ok(out);
}

RouteResponse handle_asset(std::string_view name, std::string_view if_none_match) {
  for (const WebAsset& a : web_assets()) {
    if (a.name != name) continue;
    RouteResponse r;
    r.headers = {{"ETag", std::string(a.etag)}, {"Cache-Control", "no-cache"}};
    if (!if_none_match.empty() && if_none_match == a.etag) {
      r.status = 304;
      return r;
    }
    r.body = std::string(a.data);
    r.content_type = a.content_type.data();  // generated literals are NUL-terminated
    return r;
  }
  return {404, json_error(
                   404, "asset",
                   "no such dashboard asset \"" + std::string(name) + "\"; the dashboard is at /")};
}

}  // namespace cascade
