// Fuzz target: the request parsers of `cascade serve` (src/serve/request.cc). The input is split
// at the first NUL: the head is a query string (k=..&diversity=..), the tail an /events body.
// Every parser must either return a value or throw BadRequest; anything else (a crash, another
// exception, a sanitizer report) is a bug.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "cascade/serve/request.h"

namespace {

std::multimap<std::string, std::string> parse_query(std::string_view q) {
  std::multimap<std::string, std::string> out;
  while (!q.empty()) {
    const size_t amp = q.find('&');
    const std::string_view pair = q.substr(0, amp);
    const size_t eq = pair.find('=');
    out.emplace(std::string(pair.substr(0, eq)), eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1)));
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return out;
}

template <class Fn>
void expect_value_or_bad_request(Fn&& fn) {
  try {
    fn();
  } catch (const cascade::BadRequest&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t nul = in.find('\0');
  const std::string_view query = in.substr(0, nul);
  const std::string_view body = nul == std::string_view::npos ? std::string_view() : in.substr(nul + 1);
  cascade::RequestLimits limits;
  limits.max_batch = 64;
  const auto q = parse_query(query);
  expect_value_or_bad_request([&] { cascade::parse_recommend_params(q, limits); });
  expect_value_or_bad_request([&] { cascade::parse_similar_k(q, limits); });
  expect_value_or_bad_request([&] { cascade::parse_users_query(q, limits); });
  expect_value_or_bad_request([&] { cascade::parse_history_n(q); });
  expect_value_or_bad_request([&] { cascade::parse_id(query, "user_id", true, limits); });
  expect_value_or_bad_request([&] { cascade::parse_id(query, "user_id", false, limits); });
  expect_value_or_bad_request([&] { cascade::parse_events_body(body, true, limits); });
  expect_value_or_bad_request([&] { cascade::parse_events_body(body, false, limits); });
  return 0;
}
