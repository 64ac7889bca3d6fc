// Request parsing and validation for `cascade serve`: pure functions over decoded query
// parameters, path segments and request bodies (no HTTP library types), so that every rule
// is unit-testable and the server maps one exception type to one status.
//
// Every problem throws BadRequest naming the parameter (the query parameter, "user_id" /
// "item_id", "body", or the JSON field with its index such as "events[3].rating") and a
// message that says what was received and what is allowed. Received text is quoted through
// a printable form (control and non-ASCII bytes as \xNN, at most 40 bytes), so messages are
// ASCII and safe to put in a JSON response or a log line. No other exception escapes these
// functions on any input (besides std::bad_alloc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cascade/core/error.h"

namespace cascade {

/// A client error: HTTP status() (400, or 413 for an oversize body); param() names the
/// offending parameter or field; what() is the message (it names the parameter too).
class BadRequest : public Error {
 public:
  BadRequest(std::string param, std::string message, int status = 400);
  const std::string& param() const { return param_; }
  int status() const { return status_; }

 private:
  std::string param_;
  int status_;
};

struct RecommendParams {
  size_t k = 10;
  std::optional<double> diversity;  ///< absent: the bundle's configured value
  bool explain = false;
};

struct RequestLimits {
  size_t max_k = 200;
  size_t max_body_bytes = 1 << 20;
  size_t max_batch = 10000;  ///< events per POST /events
  size_t max_id_length = 64;
};

/// GET /recommend/{user_id} query: k (integer, ASCII digits only, 1..max_k, default 10),
/// diversity (plain decimal such as 0.3, .3 or 1, in [0, 1]; no sign or exponent),
/// explain (true|false|1|0). A repeated or unknown parameter throws BadRequest naming it.
RecommendParams parse_recommend_params(const std::multimap<std::string, std::string>& query,
                                       const RequestLimits& limits);

/// GET /similar/{item_id} query: only k (rules as above, default 10).
size_t parse_similar_k(const std::multimap<std::string, std::string>& query,
                       const RequestLimits& limits);

/// GET /users query: q (an id prefix, at most max_id_length bytes, default "" = every user)
/// and limit (integer 1..100, default 20). Unknown or repeated parameters throw BadRequest.
struct UsersQuery {
  std::string prefix;
  size_t limit = 20;
};
inline constexpr size_t kMaxUsersLimit = 100;
UsersQuery parse_users_query(const std::multimap<std::string, std::string>& query,
                             const RequestLimits& limits);

/// GET /users/{user_id}/history query: n, the newest n items (integer 1..500, default 20).
inline constexpr size_t kMaxHistoryN = 500;
size_t parse_history_n(const std::multimap<std::string, std::string>& query);

/// A decoded path id ({user_id} / {item_id}): non-empty and at most max_id_length bytes.
/// numeric_ids: ASCII digits only (no sign, no spaces), returned in canonical decimal form
/// without leading zeros ("007" -> "7", "000" -> "0"), as the bundle's id tables store
/// numeric ids. Otherwise: valid UTF-8 without control characters, returned as is.
/// Throws BadRequest(param, ...).
std::string parse_id(std::string_view raw, std::string_view param, bool numeric_ids,
                     const RequestLimits& limits);

struct EventIn {
  std::string user_id, item_id;
  std::optional<float> rating;
  std::optional<int64_t> timestamp;  ///< seconds since the epoch
};

/// POST /events body: one JSON object {user_id, item_id, rating?, timestamp?}, an array of
/// them, or {"events": [...]}.
///  - user_id / item_id: a JSON string or a non-negative integer (converted to its decimal
///    text), then checked as parse_id() does (so numeric ids come back canonical);
///  - rating: a number, finite in float; timestamp: an integer in [0, 2^63); JSON null for
///    either means "not given";
///  - unknown fields, wrong types, a missing id, an empty array, more than max_batch events,
///    malformed JSON or nesting deeper than 8 throw BadRequest; a body over max_body_bytes
///    throws BadRequest("body", ..., 413).
/// param names the field: "user_id" for the single-object form, "events[3].rating" for the
/// array and wrapper forms ("events" for the array itself, "body" for the whole body).
std::vector<EventIn> parse_events_body(std::string_view body, bool numeric_ids,
                                       const RequestLimits& limits);

/// The error body: {"error":{"status":400,"param":"k","message":"..."}} ("param" omitted
/// when empty). Never throws on odd bytes: invalid UTF-8 is replaced by U+FFFD.
std::string json_error(int status, const std::string& param, const std::string& message);

/// The OpenAPI 3.0.3 document describing the HTTP API (built once; thread-safe).
const std::string& openapi_json();

}  // namespace cascade
