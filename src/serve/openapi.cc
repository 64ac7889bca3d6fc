// The OpenAPI 3.0.3 description of `cascade serve` (served at GET /openapi.json).
// Limits quoted in it (k, id length, batch size) come from RequestLimits' defaults, so the
// document and the validators in request.cc agree.
#include <nlohmann/json.hpp>

#include "cascade/serve/request.h"

#ifndef CASCADE_VERSION
#define CASCADE_VERSION "0.1.0"
#endif

namespace cascade {

namespace {

using J = nlohmann::ordered_json;

J ref(const std::string& kind, const std::string& name) { return J{{"$ref", "#/components/" + kind + "/" + name}}; }
J schema_ref(const std::string& name) { return ref("schemas", name); }

J json_content(J schema) { return J{{"application/json", J{{"schema", std::move(schema)}}}}; }

J response(const std::string& description, const std::string& schema) {
  return J{{"description", description}, {"content", json_content(schema_ref(schema))}};
}

J number(const std::string& description) { return J{{"type", "number"}, {"description", description}}; }
J string(const std::string& description) { return J{{"type", "string"}, {"description", description}}; }

J build() {
  const RequestLimits lim;
  const auto max_k = static_cast<int64_t>(lim.max_k);
  const auto max_id = static_cast<int64_t>(lim.max_id_length);

  const J genres = {{"type", "array"},
                    {"items", {{"type", "string"}}},
                    {"description", "Genre names from the catalogue."}};
  const J year = {
      {"type", "integer"}, {"nullable", true}, {"description", "Release year; null when unknown."}};

  J schemas;
  schemas["Error"] = {
      {"type", "object"},
      {"required", {"error"}},
      {"properties",
       {{"error",
         {{"type", "object"},
          {"required", {"status", "message"}},
          {"properties",
           {{"status", {{"type", "integer"}, {"description", "The HTTP status, repeated."}}},
            {"param", string("The parameter or JSON field at fault, e.g. \"k\" or \"events[3].rating\".")},
            {"message", string("What was received and what is allowed.")}}}}}}}};
  schemas["Id"] = {
      {"description", "A user or item id: a string, or a non-negative integer (sent on as its decimal text). "
                      "A bundle with numeric ids accepts ASCII digits only."},
      {"oneOf",
       {{{"type", "string"}, {"minLength", 1}, {"maxLength", max_id}}, {{"type", "integer"}, {"minimum", 0}}}}};
  schemas["Event"] = {
      {"type", "object"},
      {"required", {"user_id", "item_id"}},
      {"additionalProperties", false},
      {"properties",
       {{"user_id", schema_ref("Id")},
        {"item_id", schema_ref("Id")},
        {"rating", {{"type", "number"}, {"nullable", true}, {"description", "Finite; absent or null: none."}}},
        {"timestamp",
         {{"type", "integer"},
          {"format", "int64"},
          {"minimum", 0},
          {"nullable", true},
          {"description", "Seconds since the Unix epoch; absent or null: not given."}}}}}};
  const J event_array = {{"type", "array"},
                         {"minItems", 1},
                         {"maxItems", static_cast<int64_t>(lim.max_batch)},
                         {"items", schema_ref("Event")}};
  schemas["EventsBody"] = {
      {"description", "One event, an array of events, or {\"events\": [...]}."},
      {"oneOf",
       {schema_ref("Event"),
        event_array,
        {{"type", "object"},
         {"required", {"events"}},
         {"additionalProperties", false},
         {"properties", {{"events", event_array}}}}}}};
  schemas["EventsAccepted"] = {
      {"type", "object"},
      {"required", {"accepted"}},
      {"properties", {{"accepted", {{"type", "integer"}, {"minimum", 0}, {"description", "Events accepted."}}}}}};
  schemas["StageScores"] = {
      {"type", "object"},
      {"description", "The item's score at each stage of the funnel."},
      {"properties",
       {{"fused", number("Fused recall score.")},
        {"pre_rank", number("Pre-ranker score.")},
        {"fine_rank", number("Fine ranker score.")},
        {"rerank", number("Score after re-ranking (diversity).")}}}};
  schemas["StageLatency"] = {
      {"type", "object"},
      {"description", "Wall time per stage, in milliseconds."},
      {"properties",
       {{"recall", number("Recall channels and fusion.")},
        {"features", number("Feature lookup.")},
        {"pre_rank", number("Pre-ranking.")},
        {"fine_rank", number("Fine ranking.")},
        {"rerank", number("Re-ranking.")},
        {"total", number("Whole request.")}}}};
  schemas["RecommendItem"] = {
      {"type", "object"},
      {"required", {"item_id", "title", "score", "stages", "channels"}},
      {"properties",
       {{"item_id", {{"type", "string"}}},
        {"title", {{"type", "string"}}},
        {"year", year},
        {"genres", genres},
        {"score", number("Final score (the order of items).")},
        {"stages", schema_ref("StageScores")},
        {"channels", {{"type", "array"}, {"items", {{"type", "string"}}}, {"description", "Recall channels that proposed the item."}}},
        {"reason", string("Why the item was recommended; present only with explain=true.")}}}};
  schemas["RecommendResponse"] = {
      {"type", "object"},
      {"required", {"user_id", "known_user", "bundle_version", "items", "latency_ms"}},
      {"properties",
       {{"user_id", {{"type", "string"}}},
        {"known_user", {{"type", "boolean"}, {"description", "False: the user is not in the bundle (popular items)."}}},
        {"bundle_version", {{"type", "string"}}},
        {"items", {{"type", "array"}, {"items", schema_ref("RecommendItem")}}},
        {"latency_ms", schema_ref("StageLatency")}}}};
  schemas["UsersResponse"] = {
      {"type", "object"},
      {"required", {"q", "matches", "users"}},
      {"properties",
       {{"q", string("The prefix searched.")},
        {"matches",
         {{"type", "integer"},
          {"description", "How many user ids start with q (all of them, not only those listed)."}}},
        {"users",
         {{"type", "array"},
          {"items",
           {{"type", "object"},
            {"required", {"user_id", "history"}},
            {"properties",
             {{"user_id", {{"type", "string"}}},
              {"history",
               {{"type", "integer"}, {"description", "Training-history length."}}}}}}}}}}}};
  schemas["HistoryItem"] = {{"type", "object"},
                            {"required", {"item_id", "title", "timestamp", "source", "known_item"}},
                            {"properties",
                             {{"item_id", {{"type", "string"}}},
                              {"title",
                               {{"type", "string"},
                                {"nullable", true},
                                {"description", "Null for an item not in the catalogue."}}},
                              {"year", year},
                              {"genres", genres},
                              {"timestamp",
                               {{"type", "integer"},
                                {"format", "int64"},
                                {"description", "Seconds since the Unix epoch."}}},
                              {"source",
                               {{"type", "string"},
                                {"enum", {"train", "live"}},
                                {"description", "Training row or live event."}}},
                              {"known_item",
                               {{"type", "boolean"},
                                {"description",
                                 "False: a live event naming an item outside the catalogue (not "
                                 "used by /recommend)."}}}}}};
  schemas["HistoryResponse"] = {
      {"type", "object"},
      {"required", {"user_id", "known_user", "train_rows", "live_events", "items"}},
      {"properties",
       {{"user_id", {{"type", "string"}}},
        {"known_user", {{"type", "boolean"}}},
        {"train_rows", {{"type", "integer"}}},
        {"live_events", {{"type", "integer"}}},
        {"items",
         {{"type", "array"},
          {"items", schema_ref("HistoryItem")},
          {"description", "Newest first."}}}}}};
  schemas["OfflineResponse"] = {
      {"type", "object"},
      {"required", {"bundle_version", "funnel", "offline", "reports"}},
      {"properties",
       {{"bundle_version", {{"type", "string"}}},
        {"funnel", string("The served funnel spec.")},
        {"channels", {{"type", "array"}, {"items", {{"type", "string"}}}}},
        {"offline",
         {{"type", "object"},
          {"nullable", true},
          {"description",
           "The bundle manifest's offline block (the served funnel on held-out users)."}}},
        {"reports",
         {{"type", "object"},
          {"description",
           "Bench reports stored in the bundle (reports/<name>.json); null when absent."},
          {"properties",
           {{"funnel", {{"type", "object"}, {"nullable", true}}},
            {"quality", {{"type", "object"}, {"nullable", true}}},
            {"rerank", {{"type", "object"}, {"nullable", true}}}}}}},
        {"report_errors",
         {{"type", "object"},
          {"description", "Why a present report could not be read, by name."}}}}}};
  const J latency_summary = {{"type", "object"},
                             {"properties",
                              {{"count", {{"type", "integer"}}},
                               {"mean", {{"type", "number"}, {"nullable", true}}},
                               {"p50", {{"type", "number"}, {"nullable", true}}},
                               {"p95", {{"type", "number"}, {"nullable", true}}},
                               {"p99", {{"type", "number"}, {"nullable", true}}}}}};
  schemas["StatsResponse"] = {
      {"type", "object"},
      {"required", {"bundle_version", "admin_reload", "redis", "requests", "latency_ms"}},
      {"properties",
       {{"bundle_version", {{"type", "string"}}},
        {"uptime_s", number("Seconds since the server started.")},
        {"admin_reload",
         {{"type", "boolean"}, {"description", "Whether POST /admin/reload is served (--admin-token-file given)."}}},
        {"redis",
         {{"type", "object"},
          {"properties",
           {{"configured", {{"type", "boolean"}}},
            {"up", {{"type", "boolean"}}},
            {"pending_writes", {{"type", "integer"}}},
            {"last_error", {{"type", "string"}}}}}}},
        {"requests",
         {{"type", "object"},
          {"description", "Totals since start from cascade_requests_total."},
          {"properties",
           {{"total", {{"type", "integer"}}},
            {"client_errors", {{"type", "integer"}, {"description", "4xx answers."}}},
            {"server_errors", {{"type", "integer"}, {"description", "5xx answers."}}},
            {"by_route",
             {{"type", "array"},
              {"items", {{"type", "object"}}},
              {"description", "{route, status, count}"}}}}}}},
        {"latency_ms",
         {{"type", "object"},
          {"description",
           "Per /recommend stage and per route; percentiles estimated from the histogram buckets."},
          {"properties",
           {{"note", {{"type", "string"}}},
            {"stages", {{"type", "array"}, {"items", latency_summary}}},
            {"routes", {{"type", "array"}, {"items", latency_summary}}}}}}}}}};
  schemas["SimilarItem"] = {
      {"type", "object"},
      {"required", {"item_id", "title", "score"}},
      {"properties", {{"item_id", {{"type", "string"}}}, {"title", {{"type", "string"}}}, {"score", {{"type", "number"}}}}}};
  schemas["SimilarResponse"] = {
      {"type", "object"},
      {"required", {"item_id", "title", "items"}},
      {"properties",
       {{"item_id", {{"type", "string"}}},
        {"title", {{"type", "string"}}},
        {"items", {{"type", "array"}, {"items", schema_ref("SimilarItem")}}}}}};
  schemas["Health"] = {
      {"type", "object"},
      {"required", {"status", "degraded", "uptime_s"}},
      {"properties",
       {{"status", {{"type", "string"}, {"enum", {"ok", "degraded"}}}},
        {"bundle_version", {{"type", "string"}, {"nullable", true}, {"description", "Null while no bundle is loaded."}}},
        {"degraded", {{"type", "array"}, {"items", {{"type", "string"}}}, {"description", "Components running on a fallback (e.g. the Redis feature store)."}}},
        {"uptime_s", number("Seconds since the server started.")}}}};
  schemas["ReloadRequest"] = {
      {"type", "object"},
      {"additionalProperties", false},
      {"properties", {{"bundle", string("Path of the bundle to load; absent: the configured bundle path.")}}}};
  schemas["ReloadResponse"] = {
      {"type", "object"},
      {"required", {"bundle_version"}},
      {"properties", {{"bundle_version", {{"type", "string"}}}}}};

  J parameters;
  parameters["UserId"] = {{"name", "user_id"},
                          {"in", "path"},
                          {"required", true},
                          {"description", "Raw user id (ASCII digits when the bundle has numeric ids)."},
                          {"schema", {{"type", "string"}, {"minLength", 1}, {"maxLength", max_id}}}};
  parameters["ItemId"] = {{"name", "item_id"},
                          {"in", "path"},
                          {"required", true},
                          {"description", "Raw item id (ASCII digits when the bundle has numeric ids)."},
                          {"schema", {{"type", "string"}, {"minLength", 1}, {"maxLength", max_id}}}};
  parameters["K"] = {{"name", "k"},
                     {"in", "query"},
                     {"required", false},
                     {"description", "Number of items to return."},
                     {"schema", {{"type", "integer"}, {"minimum", 1}, {"maximum", max_k}, {"default", 10}}}};
  parameters["Diversity"] = {
      {"name", "diversity"},
      {"in", "query"},
      {"required", false},
      {"description", "Re-ranking diversity weight, a plain decimal; absent: the bundle's configured value."},
      {"schema", {{"type", "number"}, {"minimum", 0}, {"maximum", 1}}}};
  parameters["Explain"] = {{"name", "explain"},
                           {"in", "query"},
                           {"required", false},
                           {"description", "Add a reason to each item (true|false|1|0)."},
                           {"schema", {{"type", "boolean"}, {"default", false}}}};

  parameters["UsersQ"] = {{"name", "q"},
                          {"in", "query"},
                          {"required", false},
                          {"description", "User id prefix; absent: every user."},
                          {"schema", {{"type", "string"}, {"maxLength", max_id}}}};
  parameters["UsersLimit"] = {{"name", "limit"},
                              {"in", "query"},
                              {"required", false},
                              {"description", "Most ids to list."},
                              {"schema",
                               {{"type", "integer"},
                                {"minimum", 1},
                                {"maximum", static_cast<int64_t>(kMaxUsersLimit)},
                                {"default", 20}}}};
  parameters["HistoryN"] = {{"name", "n"},
                            {"in", "query"},
                            {"required", false},
                            {"description", "How many of the newest history items."},
                            {"schema",
                             {{"type", "integer"},
                              {"minimum", 1},
                              {"maximum", static_cast<int64_t>(kMaxHistoryN)},
                              {"default", 20}}}};

  J responses;
  responses["BadRequest"] = response("Invalid parameter or body; param names it.", "Error");
  responses["NotFound"] = response("Unknown id.", "Error");
  responses["PayloadTooLarge"] = response("Body larger than the limit (" + std::to_string(lim.max_body_bytes) + " bytes).", "Error");
  responses["ServiceUnavailable"] = response("No bundle loaded yet (still loading).", "Error");

  J paths;
  paths["/recommend/{user_id}"]["get"] = {
      {"summary", "Top-k recommendations for a user"},
      {"operationId", "recommend"},
      {"parameters", {ref("parameters", "UserId"), ref("parameters", "K"), ref("parameters", "Diversity"),
                      ref("parameters", "Explain")}},
      {"responses",
       {{"200", response("Recommendations, best first, with per-stage scores and latency.", "RecommendResponse")},
        {"400", ref("responses", "BadRequest")},
        {"503", ref("responses", "ServiceUnavailable")}}}};
  paths["/similar/{item_id}"]["get"] = {
      {"summary", "Items similar to an item"},
      {"operationId", "similar"},
      {"parameters", {ref("parameters", "ItemId"), ref("parameters", "K")}},
      {"responses",
       {{"200", response("Similar items, most similar first.", "SimilarResponse")},
        {"400", ref("responses", "BadRequest")},
        {"404", ref("responses", "NotFound")},
        {"503", ref("responses", "ServiceUnavailable")}}}};
  paths["/events"]["post"] = {
      {"summary", "Record interaction events"},
      {"operationId", "postEvents"},
      {"requestBody", {{"required", true}, {"content", json_content(schema_ref("EventsBody"))}}},
      {"responses",
       {{"200", response("All events accepted (a batch is accepted whole or not at all).", "EventsAccepted")},
        {"400", ref("responses", "BadRequest")},
        {"413", ref("responses", "PayloadTooLarge")},
        {"503",
         {{"description",
           "No bundle loaded yet, or (param events) --max-pending-events events already wait for Redis: "
           "nothing was recorded; retry after Retry-After seconds."},
          {"headers", {{"Retry-After", {{"schema", {{"type", "integer"}}}, {"description", "Seconds (overload only)."}}}}},
          {"content", json_content(schema_ref("Error"))}}}}}};
  paths["/health"]["get"] = {
      {"summary", "Liveness and degraded components"},
      {"operationId", "health"},
      {"responses", {{"200", response("The server is alive.", "Health")}}}};
  paths["/ready"]["get"] = {
      {"summary", "Readiness: a bundle is loaded and serving"},
      {"operationId", "ready"},
      {"responses",
       {{"200", {{"description", "Ready to serve."}}}, {"503", ref("responses", "ServiceUnavailable")}}}};
  paths["/metrics"]["get"] = {
      {"summary", "Prometheus metrics"},
      {"operationId", "metrics"},
      {"responses",
       {{"200",
         {{"description", "Prometheus text exposition format 0.0.4."},
          {"content", {{"text/plain", {{"schema", {{"type", "string"}}}}}}}}}}}};
  paths["/openapi.json"]["get"] = {
      {"summary", "This document"},
      {"operationId", "openapi"},
      {"responses", {{"200", {{"description", "OpenAPI 3.0.3 document."}, {"content", json_content({{"type", "object"}})}}}}}};
  paths["/admin/reload"]["post"] = {
      {"summary", "Load a bundle and swap it in atomically"},
      {"description",
       "Served only when the server was started with --admin-token-file (otherwise 404); every request "
       "must carry Authorization: Bearer <the token in that file>. A bundle named in the body must lie "
       "under --bundle-root (default: the directory holding --bundle), after symlinks and '..' are "
       "resolved. An empty body reloads the bundle path the server serves."},
      {"operationId", "reload"},
      {"security", J::array({J{{"adminToken", J::array()}}})},
      {"requestBody", {{"required", false}, {"content", json_content(schema_ref("ReloadRequest"))}}},
      {"responses",
       {{"200", response("The new bundle is serving.", "ReloadResponse")},
        {"400", ref("responses", "BadRequest")},
        {"401", response("No or a wrong bearer token (WWW-Authenticate: Bearer); param is Authorization.", "Error")},
        {"403", response("The bundle path is outside the bundle root; nothing was loaded.", "Error")},
        {"500", response("The bundle was refused; message gives the reason. The previous bundle keeps serving.", "Error")}}}};

  paths["/users"]["get"] = {
      {"summary", "User ids starting with a prefix (for the dashboard's user picker)"},
      {"operationId", "users"},
      {"parameters", {ref("parameters", "UsersQ"), ref("parameters", "UsersLimit")}},
      {"responses",
       {{"200", response("Matching ids in the bundle's order.", "UsersResponse")},
        {"400", ref("responses", "BadRequest")},
        {"503", ref("responses", "ServiceUnavailable")}}}};
  paths["/users/{user_id}/history"]["get"] = {
      {"summary",
       "The newest items of the history /recommend uses (training row, then live events)"},
      {"operationId", "userHistory"},
      {"parameters", {ref("parameters", "UserId"), ref("parameters", "HistoryN")}},
      {"responses",
       {{"200", response("History items, newest first.", "HistoryResponse")},
        {"400", ref("responses", "BadRequest")},
        {"503", ref("responses", "ServiceUnavailable")}}}};
  paths["/offline"]["get"] = {
      {"summary", "The serving bundle's own offline evaluation and stored bench reports"},
      {"operationId", "offline"},
      {"responses",
       {{"200", response("Offline figures; absent parts are null.", "OfflineResponse")},
        {"503", ref("responses", "ServiceUnavailable")}}}};
  paths["/stats"]["get"] = {
      {"summary", "The server's own metrics as JSON (the dashboard's Service page)"},
      {"operationId", "stats"},
      {"responses",
       {{"200", response("Request totals, latency percentiles, Redis and bundle state.",
                         "StatsResponse")}}}};
  const J html = {{"text/html", {{"schema", {{"type", "string"}}}}}};
  paths["/"]["get"] = {{"summary", "The web dashboard"},
                       {"operationId", "dashboard"},
                       {"responses",
                        {{"200",
                          {{"description", "The dashboard page (HTML); its files are under /ui/."},
                           {"content", html}}}}}};
  paths["/ui/{asset}"]["get"] = {
      {"summary", "A dashboard file embedded in the binary"},
      {"operationId", "dashboardAsset"},
      {"parameters",
       {{{"name", "asset"},
         {"in", "path"},
         {"required", true},
         {"schema", {{"type", "string"}}},
         {"description", "index.html, app.js, style.css or chart.min.js."}}}},
      {"responses",
       {{"200",
         {{"description",
           "The file, with its content type, an ETag and Cache-Control: no-cache."}}},
        {"304", {{"description", "Not modified (If-None-Match matched the ETag)."}}},
        {"404", ref("responses", "NotFound")}}}};

  J doc;
  doc["openapi"] = "3.0.3";
  doc["info"] = {{"title", "Cascade recommender API"},
                 {"version", CASCADE_VERSION},
                 {"description", "Multi-stage recommendations (recall, pre-rank, fine rank, re-rank) served from a bundle."}};
  doc["paths"] = std::move(paths);
  doc["components"] = {{"schemas", std::move(schemas)},
                       {"parameters", std::move(parameters)},
                       {"responses", std::move(responses)},
                       {"securitySchemes",
                        {{"adminToken",
                          {{"type", "http"},
                           {"scheme", "bearer"},
                           {"description", "The token in the file given to cascade serve --admin-token-file."}}}}}};
  return doc;
}

}  // namespace

const std::string& openapi_json() {
  static const std::string text = build().dump(2);
  return text;
}

}  // namespace cascade
