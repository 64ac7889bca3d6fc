#include "cascade/serve/request.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "data/loaders/text_io.h"

namespace cascade {

namespace {

using Query = std::multimap<std::string, std::string>;
using Json = nlohmann::json;

/// Received text for a message: quoted, printable, at most 40 bytes of it.
std::string quote(std::string_view s) { return "\"" + loaders::printable(s) + "\""; }

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

/// Rejects query parameters not in `allowed` (naming the first one, in key order).
void check_known(const Query& q, std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : q) {
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
    std::string list;
    for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
    // An empty name (e.g. "?=5") is reported as param "query": a param is never empty.
    throw BadRequest(key.empty() ? std::string("query") : loaders::printable(key, 64),
                     fmt::format("unknown query parameter {}; allowed: {}", quote(key), list));
  }
}

/// The value of a parameter given at most once; nullptr when absent.
const std::string* single(const Query& q, const std::string& name) {
  auto [lo, hi] = q.equal_range(name);
  if (lo == hi) return nullptr;
  const auto n = std::distance(lo, hi);
  if (n > 1)
    throw BadRequest(name, fmt::format("{} is given {} times; give it at most once", name, n));
  return &lo->second;
}

size_t parse_k(const std::string& v, const RequestLimits& limits) {
  uint64_t k = 0;
  // 19 digits always fit in a uint64; longer is out of range whatever max_k is.
  const bool digits = all_digits(v) && v.size() <= 19;
  if (digits) std::from_chars(v.data(), v.data() + v.size(), k);
  if (!digits || k < 1 || k > limits.max_k)
    throw BadRequest("k", fmt::format("k must be an integer in [1, {}], got {}", limits.max_k, quote(v)));
  return static_cast<size_t>(k);
}

/// An integer parameter in [1, max] (ASCII digits only).
size_t parse_count(const std::string& name, const std::string& v, size_t max) {
  uint64_t n = 0;
  const bool digits = all_digits(v) && v.size() <= 19;
  if (digits) std::from_chars(v.data(), v.data() + v.size(), n);
  if (!digits || n < 1 || n > max)
    throw BadRequest(name, fmt::format("{} must be an integer in [1, {}], got {}", name, max, quote(v)));
  return static_cast<size_t>(n);
}

double parse_diversity(const std::string& v) {
  // Plain decimal: digits, optionally '.', digits; at least one digit; no sign or exponent.
  size_t n_digits = 0, n_dots = 0;
  bool ok = !v.empty() && v.size() <= 64;
  for (char c : v) {
    if (c >= '0' && c <= '9') ++n_digits;
    else if (c == '.') ++n_dots;
    else ok = false;
  }
  ok = ok && n_digits > 0 && n_dots <= 1;
  double d = -1;
  if (ok) {
    const auto r = std::from_chars(v.data(), v.data() + v.size(), d, std::chars_format::fixed);
    ok = r.ec == std::errc() && r.ptr == v.data() + v.size() && std::isfinite(d) && d >= 0 && d <= 1;
  }
  if (!ok)
    throw BadRequest("diversity",
                     fmt::format("diversity must be a decimal number in [0, 1] (e.g. 0.3), got {}", quote(v)));
  return d;
}

bool parse_explain(const std::string& v) {
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  throw BadRequest("explain", fmt::format("explain must be one of true, false, 1, 0, got {}", quote(v)));
}

// ---------------------------------------------------------------------------------------
// Events body

constexpr size_t kMaxDepth = 8;

/// Rejects bodies nested deeper than kMaxDepth before building a DOM (brackets inside JSON
/// strings do not count). Valid bodies need depth 3 at most.
void check_depth(std::string_view body) {
  size_t depth = 0;
  bool in_str = false, esc = false;
  for (char c : body) {
    if (in_str) {
      if (esc) esc = false;
      else if (c == '\\') esc = true;
      else if (c == '"') in_str = false;
    } else if (c == '"') {
      in_str = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxDepth)
        throw BadRequest("body", fmt::format("body is nested deeper than {} levels", kMaxDepth));
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
}

/// A JSON value for a message: scalars as JSON text, containers by their type.
std::string describe(const Json& v) {
  if (v.is_structured()) return v.is_array() ? "an array" : "an object";
  if (v.is_null()) return "null";
  return loaders::printable(v.dump(-1, ' ', false, Json::error_handler_t::replace));
}

std::string field_param(const std::string& prefix, std::string_view name) {
  return prefix.empty() ? std::string(name) : prefix + "." + std::string(name);
}

std::string parse_json_id(const Json& v, const std::string& param, bool numeric_ids,
                          const RequestLimits& limits) {
  std::string raw;
  if (v.is_string()) raw = v.get_ref<const std::string&>();
  else if (v.is_number_unsigned()) raw = std::to_string(v.get<uint64_t>());
  else if (v.is_number_integer() && v.get<int64_t>() >= 0) raw = std::to_string(v.get<int64_t>());  // "-0"
  else
    throw BadRequest(param, fmt::format("{} must be a string or a non-negative integer, got {}", param,
                                        describe(v)));
  return parse_id(raw, param, numeric_ids, limits);
}

EventIn parse_event(const Json& j, const std::string& prefix, bool numeric_ids, const RequestLimits& limits) {
  if (!j.is_object())
    throw BadRequest(prefix, fmt::format("{} must be a JSON object with user_id and item_id, got {}", prefix,
                                         describe(j)));
  EventIn e;
  bool has_user = false, has_item = false;
  for (const auto& [key, v] : j.items()) {
    if (key == "user_id") {
      e.user_id = parse_json_id(v, field_param(prefix, key), numeric_ids, limits);
      has_user = true;
    } else if (key == "item_id") {
      e.item_id = parse_json_id(v, field_param(prefix, key), numeric_ids, limits);
      has_item = true;
    } else if (key == "rating") {
      if (v.is_null()) continue;
      const std::string param = field_param(prefix, key);
      const double d = v.is_number() ? v.get<double>() : std::nan("");
      if (!std::isfinite(d) || std::fabs(d) > std::numeric_limits<float>::max())
        throw BadRequest(param, fmt::format("{} must be a finite number, got {}", param, describe(v)));
      e.rating = static_cast<float>(d);
    } else if (key == "timestamp") {
      if (v.is_null()) continue;
      const std::string param = field_param(prefix, key);
      // Integers only (1.7e9 is a float in JSON); "-0" parses as a signed 0, which is fine.
      const bool ok = v.is_number_unsigned()
                          ? v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
                          : v.is_number_integer() && v.get<int64_t>() >= 0;
      if (!ok)
        throw BadRequest(param, fmt::format("{} must be an integer number of seconds >= 0, got {}", param,
                                            describe(v)));
      e.timestamp = v.get<int64_t>();
    } else {
      const std::string param = field_param(prefix, key.empty() ? "\"\"" : loaders::printable(key, 64));
      throw BadRequest(param, fmt::format("{} is not a known field; allowed: user_id, item_id, rating, timestamp",
                                          param));
    }
  }
  if (!has_user) throw BadRequest(field_param(prefix, "user_id"), field_param(prefix, "user_id") + " is required");
  if (!has_item) throw BadRequest(field_param(prefix, "item_id"), field_param(prefix, "item_id") + " is required");
  return e;
}

}  // namespace

BadRequest::BadRequest(std::string param, std::string message, int status)
    : Error(std::move(message)), param_(std::move(param)), status_(status) {}

RecommendParams parse_recommend_params(const Query& query, const RequestLimits& limits) {
  check_known(query, {"k", "diversity", "explain"});
  RecommendParams p;
  if (const auto* v = single(query, "k")) p.k = parse_k(*v, limits);
  if (const auto* v = single(query, "diversity")) p.diversity = parse_diversity(*v);
  if (const auto* v = single(query, "explain")) p.explain = parse_explain(*v);
  return p;
}

size_t parse_similar_k(const Query& query, const RequestLimits& limits) {
  check_known(query, {"k"});
  if (const auto* v = single(query, "k")) return parse_k(*v, limits);
  return RecommendParams{}.k;
}

UsersQuery parse_users_query(const Query& query, const RequestLimits& limits) {
  check_known(query, {"q", "limit"});
  UsersQuery u;
  if (const auto* v = single(query, "q")) {
    if (v->size() > limits.max_id_length)
      throw BadRequest("q", fmt::format("q must be at most {} bytes long, got {} bytes ({})",
                                        limits.max_id_length, v->size(), quote(*v)));
    u.prefix = *v;
  }
  if (const auto* v = single(query, "limit")) u.limit = parse_count("limit", *v, kMaxUsersLimit);
  return u;
}

size_t parse_history_n(const Query& query) {
  check_known(query, {"n"});
  if (const auto* v = single(query, "n")) return parse_count("n", *v, kMaxHistoryN);
  return 20;
}

std::string parse_id(std::string_view raw, std::string_view param, bool numeric_ids,
                     const RequestLimits& limits) {
  const std::string p(param);
  if (raw.empty()) throw BadRequest(p, fmt::format("{} must not be empty", p));
  if (raw.size() > limits.max_id_length)
    throw BadRequest(p, fmt::format("{} must be at most {} bytes long, got {} bytes ({})", p,
                                    limits.max_id_length, raw.size(), quote(raw)));
  if (numeric_ids) {
    if (!all_digits(raw))
      throw BadRequest(p, fmt::format("{} must be a non-negative integer (ASCII digits only) because this "
                                      "bundle has numeric ids, got {}",
                                      p, quote(raw)));
    // Canonical decimal, as the bundle's id tables hold numeric ids ("007" is user 7).
    const size_t nz = raw.find_first_not_of('0');
    return nz == std::string_view::npos ? std::string("0") : std::string(raw.substr(nz));
  }
  if (!loaders::is_utf8(raw)) throw BadRequest(p, fmt::format("{} must be valid UTF-8, got {}", p, quote(raw)));
  if (std::any_of(raw.begin(), raw.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7F; }))
    throw BadRequest(p, fmt::format("{} must not contain control characters, got {}", p, quote(raw)));
  return std::string(raw);
}

std::vector<EventIn> parse_events_body(std::string_view body, bool numeric_ids, const RequestLimits& limits) {
  if (body.size() > limits.max_body_bytes)
    throw BadRequest("body",
                     fmt::format("body is {} bytes; at most {} bytes are allowed", body.size(), limits.max_body_bytes),
                     413);
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos)
    throw BadRequest("body", "body is empty; expected a JSON event object, an array of them or {\"events\": [...]}");
  check_depth(body);
  Json j;
  try {
    j = Json::parse(body.begin(), body.end());
  } catch (const Json::exception& e) {
    // Drop nlohmann's "[json.exception.parse_error.101] " prefix; keep "parse error at line 1, column 3: ...".
    std::string_view what = e.what();
    if (auto pos = what.find("] "); pos != std::string_view::npos && what.starts_with("[json.")) what.remove_prefix(pos + 2);
    throw BadRequest("body", "body is not valid JSON: " + loaders::printable(what, 200));
  }

  const Json* events = nullptr;
  if (j.is_object() && j.contains("events")) {
    for (const auto& [key, v] : j.items()) {
      if (key != "events")
        throw BadRequest(key.empty() ? std::string("\"\"") : loaders::printable(key, 64),
                         fmt::format("unknown field {} next to \"events\"; the wrapper holds only \"events\"",
                                     quote(key)));
    }
    events = &j["events"];
    if (!events->is_array())
      throw BadRequest("events", fmt::format("events must be an array of event objects, got {}", describe(*events)));
  } else if (j.is_array()) {
    events = &j;
  } else if (j.is_object()) {
    return {parse_event(j, "", numeric_ids, limits)};
  } else {
    throw BadRequest("body", fmt::format("body must be a JSON event object, an array of them or "
                                         "{{\"events\": [...]}}, got {}",
                                         describe(j)));
  }
  if (events->empty()) throw BadRequest("events", "events must contain at least one event, got an empty array");
  if (events->size() > limits.max_batch)
    throw BadRequest("events", fmt::format("events has {} entries; at most {} are allowed per request",
                                           events->size(), limits.max_batch));
  std::vector<EventIn> out;
  out.reserve(events->size());
  for (size_t i = 0; i < events->size(); ++i)
    out.push_back(parse_event((*events)[i], fmt::format("events[{}]", i), numeric_ids, limits));
  return out;
}

std::string json_error(int status, const std::string& param, const std::string& message) {
  nlohmann::ordered_json inner;
  inner["status"] = status;
  if (!param.empty()) inner["param"] = param;
  inner["message"] = message;
  nlohmann::ordered_json j;
  j["error"] = std::move(inner);
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace cascade
