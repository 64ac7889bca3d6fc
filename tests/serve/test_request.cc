#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cascade/serve/request.h"

namespace cascade {
namespace {

using Query = std::multimap<std::string, std::string>;

struct Caught {
  bool thrown = false;
  std::string param;
  std::string message;
  int status = 0;
};

// Runs `fn`, recording the BadRequest it throws (any other exception fails the test).
template <class Fn>
Caught catch_bad(Fn&& fn) {
  Caught c;
  try {
    fn();
  } catch (const BadRequest& e) {
    c.thrown = true;
    c.param = e.param();
    c.message = e.what();
    c.status = e.status();
  }
  return c;
}

#define EXPECT_BAD(expr, expected_param)                                   \
  do {                                                                     \
    const Caught c_ = catch_bad([&] { (void)(expr); });                    \
    EXPECT_TRUE(c_.thrown) << #expr << " did not throw BadRequest";        \
    EXPECT_EQ(c_.param, expected_param) << #expr << ": " << c_.message;    \
    EXPECT_NE(c_.message.find(expected_param), std::string::npos)          \
        << #expr << ": message does not name the parameter: " << c_.message; \
  } while (0)

const RequestLimits kLimits;

// ---------------------------------------------------------------------------------------
// Query parameters

TEST(RequestParams, DefaultsWhenEmpty) {
  const RecommendParams p = parse_recommend_params({}, kLimits);
  EXPECT_EQ(p.k, 10u);
  EXPECT_FALSE(p.diversity.has_value());
  EXPECT_FALSE(p.explain);
  EXPECT_EQ(parse_similar_k({}, kLimits), 10u);
}

TEST(RequestParams, ParsesValidValues) {
  const RecommendParams p =
      parse_recommend_params({{"k", "25"}, {"diversity", "0.3"}, {"explain", "true"}}, kLimits);
  EXPECT_EQ(p.k, 25u);
  ASSERT_TRUE(p.diversity.has_value());
  EXPECT_DOUBLE_EQ(*p.diversity, 0.3);
  EXPECT_TRUE(p.explain);

  EXPECT_EQ(parse_recommend_params({{"k", "1"}}, kLimits).k, 1u);
  EXPECT_EQ(parse_recommend_params({{"k", "200"}}, kLimits).k, 200u);
  EXPECT_EQ(parse_recommend_params({{"k", "007"}}, kLimits).k, 7u);
  for (const auto& [text, value] : std::vector<std::pair<std::string, double>>{
           {"0", 0}, {"1", 1}, {"0.5", 0.5}, {".5", 0.5}, {"1.0", 1}, {"0.", 0}, {"0.125", 0.125}}) {
    EXPECT_EQ(parse_recommend_params({{"diversity", text}}, kLimits).diversity, value) << text;
  }
  EXPECT_TRUE(parse_recommend_params({{"explain", "1"}}, kLimits).explain);
  EXPECT_FALSE(parse_recommend_params({{"explain", "0"}}, kLimits).explain);
  EXPECT_FALSE(parse_recommend_params({{"explain", "false"}}, kLimits).explain);
  EXPECT_EQ(parse_similar_k({{"k", "50"}}, kLimits), 50u);
}

TEST(RequestParams, RejectsBadK) {
  for (const char* bad : {"0", "201", "abc", "+5", "-1", " 5", "5 ", "", "1.0", "1e2", "0x10",
                          "99999999999999999999999", "18446744073709551617"}) {
    EXPECT_BAD(parse_recommend_params({{"k", bad}}, kLimits), "k");
    EXPECT_BAD(parse_similar_k({{"k", bad}}, kLimits), "k");
  }
  const Caught c = catch_bad([] { parse_recommend_params({{"k", "abc"}}, kLimits); });
  EXPECT_EQ(c.message, "k must be an integer in [1, 200], got \"abc\"");
  EXPECT_EQ(c.status, 400);
  RequestLimits small;
  small.max_k = 50;
  const Caught c2 = catch_bad([&] { parse_similar_k({{"k", "51"}}, small); });
  EXPECT_EQ(c2.message, "k must be an integer in [1, 50], got \"51\"");
  // Control bytes are shown escaped, and long values are cut.
  const Caught c3 = catch_bad([] { parse_similar_k({{"k", std::string("1\n\0", 3)}}, kLimits); });
  EXPECT_EQ(c3.message, "k must be an integer in [1, 200], got \"1\\x0A\\x00\"");
  const Caught c4 = catch_bad([] { parse_similar_k({{"k", std::string(1000, '9')}}, kLimits); });
  EXPECT_LT(c4.message.size(), 120u);
}

TEST(RequestParams, RejectsBadDiversity) {
  for (const char* bad : {"1.01", "2", "-0.1", "-0", "+0.5", "nan", "inf", "1e-1", "", "0.5.5", ".", "abc",
                          "0,5", " 0.5", "0.5 "}) {
    EXPECT_BAD(parse_recommend_params({{"diversity", bad}}, kLimits), "diversity");
  }
  const Caught c = catch_bad([] { parse_recommend_params({{"diversity", "1.5"}}, kLimits); });
  EXPECT_EQ(c.message, "diversity must be a decimal number in [0, 1] (e.g. 0.3), got \"1.5\"");
}

TEST(RequestParams, RejectsBadExplain) {
  for (const char* bad : {"yes", "TRUE", "True", "", "2", "on", "true "}) {
    EXPECT_BAD(parse_recommend_params({{"explain", bad}}, kLimits), "explain");
  }
  const Caught c = catch_bad([] { parse_recommend_params({{"explain", "yes"}}, kLimits); });
  EXPECT_EQ(c.message, "explain must be one of true, false, 1, 0, got \"yes\"");
}

TEST(RequestParams, RejectsRepeatedAndUnknownParameters) {
  EXPECT_BAD(parse_recommend_params({{"k", "5"}, {"k", "6"}}, kLimits), "k");
  const Caught rep = catch_bad([] { parse_recommend_params({{"explain", "1"}, {"explain", "1"}}, kLimits); });
  EXPECT_EQ(rep.message, "explain is given 2 times; give it at most once");
  EXPECT_BAD(parse_similar_k({{"k", "5"}, {"k", "5"}}, kLimits), "k");

  EXPECT_BAD(parse_recommend_params({{"foo", "1"}}, kLimits), "foo");
  EXPECT_BAD(parse_recommend_params({{"K", "5"}}, kLimits), "K");  // names are case-sensitive
  const Caught unk = catch_bad([] { parse_recommend_params({{"k", "5"}, {"limit", "3"}}, kLimits); });
  EXPECT_EQ(unk.param, "limit");
  EXPECT_EQ(unk.message, "unknown query parameter \"limit\"; allowed: k, diversity, explain");
  // /similar takes only k.
  const Caught sim = catch_bad([] { parse_similar_k({{"diversity", "0.5"}}, kLimits); });
  EXPECT_EQ(sim.param, "diversity");
  EXPECT_EQ(sim.message, "unknown query parameter \"diversity\"; allowed: k");
  EXPECT_BAD(parse_similar_k({{"explain", "1"}}, kLimits), "explain");
}

// ---------------------------------------------------------------------------------------
// Path ids

TEST(RequestUsers, PrefixAndLimit) {
  UsersQuery u = parse_users_query({}, kLimits);
  EXPECT_EQ(u.prefix, "");
  EXPECT_EQ(u.limit, 20u);
  u = parse_users_query({{"q", "12"}, {"limit", "100"}}, kLimits);
  EXPECT_EQ(u.prefix, "12");
  EXPECT_EQ(u.limit, 100u);
  EXPECT_BAD(parse_users_query({{"limit", "0"}}, kLimits), "limit");
  EXPECT_BAD(parse_users_query({{"limit", "101"}}, kLimits), "limit");
  EXPECT_BAD(parse_users_query({{"limit", "5x"}}, kLimits), "limit");
  EXPECT_BAD(parse_users_query({{"q", std::string(kLimits.max_id_length + 1, '1')}}, kLimits), "q");
  EXPECT_BAD(parse_users_query({{"q", "1"}, {"q", "2"}}, kLimits), "q");
  EXPECT_BAD(parse_users_query({{"k", "1"}}, kLimits), "k");
}

TEST(RequestUsers, HistoryN) {
  EXPECT_EQ(parse_history_n({}), 20u);
  EXPECT_EQ(parse_history_n({{"n", "1"}}), 1u);
  EXPECT_EQ(parse_history_n({{"n", "500"}}), 500u);
  EXPECT_BAD(parse_history_n({{"n", "501"}}), "n");
  EXPECT_BAD(parse_history_n({{"n", "-1"}}), "n");
  EXPECT_BAD(parse_history_n({{"limit", "3"}}), "limit");
}

TEST(RequestId, NumericIds) {
  EXPECT_EQ(parse_id("42", "user_id", true, kLimits), "42");
  EXPECT_EQ(parse_id("007", "user_id", true, kLimits), "7");  // canonical, as the bundle stores it
  EXPECT_EQ(parse_id("0", "user_id", true, kLimits), "0");
  EXPECT_EQ(parse_id("000", "user_id", true, kLimits), "0");
  EXPECT_EQ(parse_id(std::string(64, '9'), "user_id", true, kLimits), std::string(64, '9'));
  for (const char* bad : {"-1", "+1", " 1", "1 ", "1a", "abc", "1.0", "", "\xd9\xa3"}) {
    EXPECT_BAD(parse_id(bad, "user_id", true, kLimits), "user_id");
  }
  EXPECT_BAD(parse_id(std::string(65, '1'), "item_id", true, kLimits), "item_id");
  const Caught c = catch_bad([] { parse_id("-5", "user_id", true, kLimits); });
  EXPECT_EQ(c.message,
            "user_id must be a non-negative integer (ASCII digits only) because this bundle has numeric ids, "
            "got \"-5\"");
  const Caught e = catch_bad([] { parse_id("", "item_id", true, kLimits); });
  EXPECT_EQ(e.message, "item_id must not be empty");
}

TEST(RequestId, StringIds) {
  EXPECT_EQ(parse_id("alice", "user_id", false, kLimits), "alice");
  EXPECT_EQ(parse_id("007", "user_id", false, kLimits), "007");  // kept as is
  EXPECT_EQ(parse_id("Am\xc3\xa9lie 2", "item_id", false, kLimits), "Am\xc3\xa9lie 2");
  EXPECT_BAD(parse_id("", "user_id", false, kLimits), "user_id");
  EXPECT_BAD(parse_id("\xff\xfe", "user_id", false, kLimits), "user_id");     // invalid UTF-8
  EXPECT_BAD(parse_id("a\nb", "item_id", false, kLimits), "item_id");         // control char
  EXPECT_BAD(parse_id(std::string("a\0b", 3), "item_id", false, kLimits), "item_id");
  EXPECT_BAD(parse_id(std::string(65, 'x'), "user_id", false, kLimits), "user_id");
  RequestLimits lim;
  lim.max_id_length = 3;
  EXPECT_EQ(parse_id("abc", "user_id", false, lim), "abc");
  const Caught c = catch_bad([&] { parse_id("abcd", "user_id", false, lim); });
  EXPECT_EQ(c.message, "user_id must be at most 3 bytes long, got 4 bytes (\"abcd\")");
}

// ---------------------------------------------------------------------------------------
// Events body

TEST(RequestEvents, SingleObject) {
  auto ev = parse_events_body(R"({"user_id": "u1", "item_id": "i9"})", false, kLimits);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].user_id, "u1");
  EXPECT_EQ(ev[0].item_id, "i9");
  EXPECT_FALSE(ev[0].rating.has_value());
  EXPECT_FALSE(ev[0].timestamp.has_value());

  ev = parse_events_body(R"({"user_id": 42, "item_id": "007", "rating": 4.5, "timestamp": 881250949})", true,
                         kLimits);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].user_id, "42");
  EXPECT_EQ(ev[0].item_id, "7");
  EXPECT_EQ(ev[0].rating, 4.5f);
  EXPECT_EQ(ev[0].timestamp, 881250949);

  // JSON "-0" is a signed zero integer: accepted as 0.
  ev = parse_events_body(R"({"user_id": -0, "item_id": 2, "timestamp": -0})", true, kLimits);
  EXPECT_EQ(ev[0].user_id, "0");
  EXPECT_EQ(ev[0].timestamp, 0);

  // null means "not given".
  ev = parse_events_body(R"({"user_id": 1, "item_id": 2, "rating": null, "timestamp": null})", true, kLimits);
  EXPECT_FALSE(ev[0].rating.has_value());
  EXPECT_FALSE(ev[0].timestamp.has_value());
}

TEST(RequestEvents, ArrayAndWrapperForms) {
  const std::string arr = R"([{"user_id": 1, "item_id": 2, "rating": 3},
                              {"user_id": "1", "item_id": 5, "timestamp": 0}])";
  for (const std::string& body : {arr, "{\"events\": " + arr + "}", " \n" + arr + "\n "}) {
    const auto ev = parse_events_body(body, true, kLimits);
    ASSERT_EQ(ev.size(), 2u) << body;
    EXPECT_EQ(ev[0].user_id, "1");
    EXPECT_EQ(ev[0].item_id, "2");
    EXPECT_EQ(ev[0].rating, 3.0f);
    EXPECT_FALSE(ev[0].timestamp.has_value());
    EXPECT_EQ(ev[1].user_id, "1");
    EXPECT_EQ(ev[1].item_id, "5");
    EXPECT_FALSE(ev[1].rating.has_value());
    EXPECT_EQ(ev[1].timestamp, 0);
  }
  // Large but valid values.
  const auto ev = parse_events_body(
      R"([{"user_id": 18446744073709551615, "item_id": 1, "timestamp": 9223372036854775807, "rating": -1e30}])",
      true, kLimits);
  EXPECT_EQ(ev[0].user_id, "18446744073709551615");
  EXPECT_EQ(ev[0].timestamp, INT64_MAX);
  EXPECT_EQ(ev[0].rating, -1e30f);
}

TEST(RequestEvents, FieldErrorsNameTheFieldWithItsIndex) {
  const std::string ok = R"({"user_id": 1, "item_id": 2})";
  EXPECT_BAD(parse_events_body(R"({"user_id": "1"})", true, kLimits), "item_id");
  EXPECT_BAD(parse_events_body(R"({"item_id": "1"})", true, kLimits), "user_id");
  EXPECT_BAD(parse_events_body("[" + ok + R"(, {"user_id": 1, "item_id": 2, "rating": "x"}])", true, kLimits),
             "events[1].rating");
  EXPECT_BAD(parse_events_body(R"({"events": [)" + ok + "," + ok + "," + ok +
                                   R"(, {"user_id": 1, "item_id": 2, "rating": true}]})",
                               true, kLimits),
             "events[3].rating");
  EXPECT_BAD(parse_events_body(R"({"events": [{"user_id": 1, "item_id": 2, "foo": 1}]})", true, kLimits),
             "events[0].foo");
  EXPECT_BAD(parse_events_body(R"({"user_id": 1, "item_id": 2, "Rating": 1})", true, kLimits), "Rating");
  EXPECT_BAD(parse_events_body("[" + ok + R"(, {"user_id": 1}])", true, kLimits), "events[1].item_id");
  EXPECT_BAD(parse_events_body("[" + ok + ", 1]", true, kLimits), "events[1]");
  EXPECT_BAD(parse_events_body(R"([[1, 2]])", true, kLimits), "events[0]");
  // ids
  EXPECT_BAD(parse_events_body(R"({"user_id": -1, "item_id": 2})", true, kLimits), "user_id");
  EXPECT_BAD(parse_events_body(R"({"user_id": 1.5, "item_id": 2})", true, kLimits), "user_id");
  EXPECT_BAD(parse_events_body(R"({"user_id": 1, "item_id": true})", true, kLimits), "item_id");
  EXPECT_BAD(parse_events_body(R"({"user_id": 1, "item_id": null})", true, kLimits), "item_id");
  EXPECT_BAD(parse_events_body(R"({"user_id": [1], "item_id": 2})", true, kLimits), "user_id");
  EXPECT_BAD(parse_events_body(R"([{"user_id": "abc", "item_id": 2}])", true, kLimits), "events[0].user_id");
  EXPECT_NO_THROW(parse_events_body(R"([{"user_id": "abc", "item_id": 2}])", false, kLimits));
  EXPECT_BAD(parse_events_body(R"({"user_id": "", "item_id": 2})", false, kLimits), "user_id");
  EXPECT_BAD(parse_events_body(R"({"user_id": "a\u0000b", "item_id": 2})", false, kLimits), "user_id");
  EXPECT_BAD(parse_events_body(R"({"user_id": ")" + std::string(65, 'x') + R"(", "item_id": 2})", false, kLimits),
             "user_id");
  // rating
  EXPECT_BAD(parse_events_body(R"({"user_id": 1, "item_id": 2, "rating": 1e39})", true, kLimits), "rating");
  EXPECT_BAD(parse_events_body(R"({"user_id": 1, "item_id": 2, "rating": "4"})", true, kLimits), "rating");
  EXPECT_BAD(parse_events_body(R"({"user_id": 1, "item_id": 2, "rating": {}})", true, kLimits), "rating");
  // timestamp
  for (const char* bad : {"-5", "1.5", "1e9", "\"123\"", "9223372036854775808", "true"}) {
    EXPECT_BAD(parse_events_body(std::string(R"({"user_id": 1, "item_id": 2, "timestamp": )") + bad + "}", true,
                                 kLimits),
               "timestamp");
  }
  const Caught c = catch_bad([] {
    parse_events_body(R"([{"user_id": 1, "item_id": 2, "timestamp": -5}])", true, kLimits);
  });
  EXPECT_EQ(c.message, "events[0].timestamp must be an integer number of seconds >= 0, got -5");
  const Caught u = catch_bad([] { parse_events_body(R"({"user_id": 1, "item_id": 2, "x": 0})", true, kLimits); });
  EXPECT_EQ(u.message, "x is not a known field; allowed: user_id, item_id, rating, timestamp");
  const Caught u2 = catch_bad([] { parse_events_body(R"([{"user_id": 1, "item_id": 2, "": 0}])", true, kLimits); });
  EXPECT_EQ(u2.param, "events[0].\"\"");
  const Caught q = catch_bad([] { parse_similar_k({{"", "5"}}, kLimits); });
  EXPECT_EQ(q.param, "query");
  EXPECT_EQ(q.message, "unknown query parameter \"\"; allowed: k");
}

TEST(RequestEvents, BodyLevelErrors) {
  const std::string ok = R"({"user_id": 1, "item_id": 2})";
  EXPECT_BAD(parse_events_body("", true, kLimits), "body");
  EXPECT_BAD(parse_events_body("  \n", true, kLimits), "body");
  EXPECT_BAD(parse_events_body(R"({"user_id": )", true, kLimits), "body");
  EXPECT_BAD(parse_events_body(ok + "x", true, kLimits), "body");       // trailing garbage
  EXPECT_BAD(parse_events_body(ok + ok, true, kLimits), "body");        // two documents
  EXPECT_BAD(parse_events_body("{'user_id': 1}", true, kLimits), "body");
  EXPECT_BAD(parse_events_body("42", true, kLimits), "body");
  EXPECT_BAD(parse_events_body("\"text\"", true, kLimits), "body");
  EXPECT_BAD(parse_events_body("null", true, kLimits), "body");
  EXPECT_BAD(parse_events_body("{\"user_id\": \"\xff\", \"item_id\": 1}", false, kLimits), "body");  // bad UTF-8
  EXPECT_BAD(parse_events_body(std::string(100, '[') + std::string(100, ']'), true, kLimits), "body");
  EXPECT_BAD(parse_events_body("[]", true, kLimits), "events");
  EXPECT_BAD(parse_events_body(R"({"events": []})", true, kLimits), "events");
  EXPECT_BAD(parse_events_body(R"({"events": {}})", true, kLimits), "events");
  EXPECT_BAD(parse_events_body(R"({"events": null})", true, kLimits), "events");
  EXPECT_BAD(parse_events_body(R"({"events": [)" + ok + R"(], "source": "web"})", true, kLimits), "source");
  const Caught e = catch_bad([] { parse_events_body("[]", true, kLimits); });
  EXPECT_EQ(e.message, "events must contain at least one event, got an empty array");
  // Brackets inside strings do not count towards the depth limit.
  EXPECT_BAD(parse_events_body(R"({"user_id": ")" + std::string(50, '[') + R"(", "item_id": 2})", true, kLimits),
             "user_id");

  RequestLimits lim;
  lim.max_batch = 3;
  EXPECT_EQ(parse_events_body("[" + ok + "," + ok + "," + ok + "]", true, lim).size(), 3u);
  const Caught many = catch_bad([&] { parse_events_body("[" + ok + "," + ok + "," + ok + "," + ok + "]", true, lim); });
  EXPECT_EQ(many.param, "events");
  EXPECT_EQ(many.message, "events has 4 entries; at most 3 are allowed per request");

  lim.max_body_bytes = ok.size();
  EXPECT_EQ(parse_events_body(ok, true, lim).size(), 1u);
  const Caught big = catch_bad([&] { parse_events_body(ok + " ", true, lim); });
  EXPECT_TRUE(big.thrown);
  EXPECT_EQ(big.param, "body");
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(big.message, "body is " + std::to_string(ok.size() + 1) + " bytes; at most " +
                             std::to_string(ok.size()) + " bytes are allowed");
}

// ---------------------------------------------------------------------------------------
// Error body

TEST(RequestJsonError, ShapeAndEscaping) {
  EXPECT_EQ(json_error(400, "k", "k must be an integer in [1, 200], got \"abc\""),
            R"({"error":{"status":400,"param":"k","message":"k must be an integer in [1, 200], got \"abc\""}})");
  EXPECT_EQ(json_error(503, "", "loading"), R"({"error":{"status":503,"message":"loading"}})");
  // Invalid UTF-8 never makes it throw; the output is valid JSON.
  const std::string s = json_error(400, "x\xff", "bad \xc3\x28 byte\n");
  const auto j = nlohmann::json::parse(s);
  EXPECT_EQ(j["error"]["status"], 400);
  EXPECT_EQ(j["error"]["message"], "bad \xef\xbf\xbd( byte\n");
}

// ---------------------------------------------------------------------------------------
// Fuzz: random and mutated inputs either give a valid result or throw BadRequest.

void check_events(const std::vector<EventIn>& ev, bool numeric, const RequestLimits& lim) {
  ASSERT_FALSE(ev.empty());
  ASSERT_LE(ev.size(), lim.max_batch);
  for (const auto& e : ev) {
    for (const std::string* id : {&e.user_id, &e.item_id}) {
      ASSERT_FALSE(id->empty());
      ASSERT_LE(id->size(), lim.max_id_length);
      if (numeric) {
        for (char c : *id) ASSERT_TRUE(c >= '0' && c <= '9') << *id;
        ASSERT_TRUE(*id == "0" || (*id)[0] != '0') << *id;
      } else {
        for (char c : *id) ASSERT_FALSE(static_cast<unsigned char>(c) < 0x20) << *id;
      }
    }
    if (e.rating) {
      ASSERT_TRUE(std::isfinite(*e.rating));
    }
    if (e.timestamp) {
      ASSERT_GE(*e.timestamp, 0);
    }
  }
}

struct FuzzStats {
  size_t ok = 0, bad = 0;
  size_t field = 0;  // BadRequests about a field or parameter, not the body as a whole
};

// Runs fn; a BadRequest must carry a param, a message and a renderable error body.
void fuzz_call(const std::function<void()>& fn, const std::string& input, FuzzStats& st) {
  try {
    fn();
    ++st.ok;
  } catch (const BadRequest& e) {
    ++st.bad;
    if (e.param() != "body") ++st.field;
    ASSERT_FALSE(e.param().empty()) << "input: " << nlohmann::json(input).dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
    ASSERT_FALSE(std::string(e.what()).empty());
    ASSERT_TRUE(e.status() == 400 || e.status() == 413);
    // Every 4th: the error renders as valid JSON whatever bytes the message quotes.
    if (st.bad % 4 == 0) {
      ASSERT_TRUE(nlohmann::json::accept(json_error(e.status(), e.param(), e.what())));
    }
  } catch (const std::exception& e) {
    FAIL() << "unexpected exception " << e.what() << " for input "
           << nlohmann::json(input).dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
  }
}

void fuzz_all(const std::string& s, bool numeric, const RequestLimits& lim, FuzzStats& events, FuzzStats& other) {
  fuzz_call([&] { check_events(parse_events_body(s, numeric, lim), numeric, lim); }, s, events);
  fuzz_call([&] { (void)parse_id(s, "user_id", numeric, lim); }, s, other);
  fuzz_call(
      [&] {
        const auto p = parse_recommend_params({{"k", s}}, lim);
        ASSERT_TRUE(p.k >= 1 && p.k <= lim.max_k);
      },
      s, other);
  fuzz_call(
      [&] {
        const auto p = parse_recommend_params({{"diversity", s}}, lim);
        ASSERT_TRUE(p.diversity && *p.diversity >= 0 && *p.diversity <= 1);
      },
      s, other);
  fuzz_call([&] { (void)parse_recommend_params({{"explain", s}}, lim); }, s, other);
  fuzz_call([&] { (void)parse_similar_k({{s, "5"}}, lim); }, s, other);
}

TEST(RequestFuzz, RandomBytes) {
  std::mt19937_64 rng(20240611);
  RequestLimits lim;
  lim.max_body_bytes = 256;  // so that some random inputs are oversize
  FuzzStats events, other;
  const std::string alphabet = "0123456789{}[]\",:. -+eE\\untrfalsu_id";
  for (int iter = 0; iter < 20000; ++iter) {
    const size_t len = (iter % 10 == 0) ? rng() % 400 : rng() % 24;
    std::string s(len, '\0');
    const bool json_ish = iter % 2 == 0;  // half raw bytes, half from JSON-ish characters
    for (auto& c : s) c = json_ish ? alphabet[rng() % alphabet.size()] : static_cast<char>(rng() & 0xFF);
    fuzz_all(s, (iter / 2) % 2 == 0, lim, events, other);
    if (HasFatalFailure() || HasFailure()) return;
  }
  EXPECT_GT(events.bad, 0u);
  EXPECT_GT(other.ok, 0u);  // short digit strings are valid ks and ids
  EXPECT_GT(other.bad, 0u);
}

std::string mutate(std::string s, std::mt19937_64& rng) {
  static const std::vector<std::string> kTokens = {
      "\"", "{", "}", "[", "]", ",", ":", "null", "true", "-1", "0", "1.5", "1e999", "-1e999",
      "99999999999999999999999999", "18446744073709551616", "9223372036854775808", "\\u0000", "\\ud800",
      "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xff", "\xc3\x28", std::string("\0", 1), "\\",
      "\"user_id\":", "\"item_id\":", "\"rating\":", "\"timestamp\":", "\"events\":", "[[[[[[[[[[", "}}}}",
      "\"\"", " ", "\n", "NaN", "Infinity"};
  // Values that keep the JSON well-formed but test each field's type and range checks.
  static const std::vector<std::string> kValues = {
      "\"x\"", "\"007\"", "\"\"", "\"\\u0000\"", "\"\xc3\xa9\"", "-1", "0", "1.5", "1e999", "1e39", "null", "true",
      "[]", "{}", "[1]", "18446744073709551615", "18446744073709551616", "9223372036854775808", "-0", "3"};
  const int n_mut = 1 + static_cast<int>(rng() % 3);
  for (int m = 0; m < n_mut; ++m) {
    const size_t pos = s.empty() ? 0 : rng() % (s.size() + 1);
    switch (rng() % 7) {
      case 5:  // replace the value after a random ':' (well-formed JSON, wrong value)
      case 6: {
        const size_t colon = s.find(':', pos);
        if (colon == std::string::npos) break;
        const size_t end = s.find_first_of(",}]", colon);
        if (end == std::string::npos) break;
        s.replace(colon + 1, end - colon - 1, kValues[rng() % kValues.size()]);
        break;
      }
      case 0:  // flip a byte
        if (!s.empty()) s[rng() % s.size()] = static_cast<char>(rng() & 0xFF);
        break;
      case 1:  // truncate
        s.resize(pos);
        break;
      case 2:  // insert a token
      case 3:
        s.insert(pos, kTokens[rng() % kTokens.size()]);
        break;
      default: {  // delete a range
        const size_t n = std::min<size_t>(rng() % 8, s.size() - std::min(pos, s.size()));
        s.erase(std::min(pos, s.size()), n);
      }
    }
  }
  return s;
}

TEST(RequestFuzz, MutatedValidInputs) {
  std::mt19937_64 rng(7);
  RequestLimits lim;
  lim.max_batch = 5;
  const std::vector<std::string> bodies = {
      R"({"user_id": 1, "item_id": 2})",
      R"({"user_id": "196", "item_id": "242", "rating": 3, "timestamp": 881250949})",
      R"([{"user_id": 1, "item_id": 2, "rating": 4.5}, {"user_id": 3, "item_id": 4}])",
      R"({"events": [{"user_id": 10, "item_id": 20, "timestamp": 0}, {"user_id": "7", "item_id": "8", "rating": null}]})",
  };
  const std::vector<std::string> values = {"10", "1", "200", "0.5", ".25", "1", "true", "false", "0", "42", "007"};
  const std::vector<std::string> keys = {"k", "diversity", "explain", "K", "", "k ", "limit"};
  FuzzStats events, other;
  for (int iter = 0; iter < 20000; ++iter) {
    // A mutated body through the events parser.
    const std::string body = mutate(bodies[rng() % bodies.size()], rng);
    for (bool numeric : {true, false})
      fuzz_call([&] { check_events(parse_events_body(body, numeric, lim), numeric, lim); }, body, events);
    // A mutated query: 0-3 parameters, keys and values mutated now and then.
    Query q;
    const int n = static_cast<int>(rng() % 4);
    for (int i = 0; i < n; ++i) {
      std::string key = keys[rng() % 3];
      if (rng() % 8 == 0) key = keys[rng() % keys.size()];
      std::string value = values[rng() % values.size()];
      if (rng() % 2 == 0) value = mutate(value, rng);
      q.emplace(key, value);
    }
    fuzz_call(
        [&] {
          const auto p = parse_recommend_params(q, lim);
          ASSERT_TRUE(p.k >= 1 && p.k <= lim.max_k);
          if (p.diversity) {
            ASSERT_TRUE(*p.diversity >= 0 && *p.diversity <= 1);
          }
        },
        body, other);
    fuzz_call([&] { (void)parse_similar_k(q, lim); }, body, other);
    const std::string id = mutate(values[rng() % values.size()], rng);
    fuzz_call([&] { (void)parse_id(id, "item_id", true, lim); }, id, other);
    fuzz_call([&] { (void)parse_id(id, "item_id", false, lim); }, id, other);
    if (HasFailure()) return;
  }
  // Mutations keep a share of valid inputs and of well-formed JSON with bad fields, so the
  // success path and the field checks (not only the JSON parser) were exercised.
  EXPECT_GT(events.ok, 1000u);
  EXPECT_GT(events.field, 5000u);
  EXPECT_GT(events.bad - events.field, 1000u);
  EXPECT_GT(other.ok, 1000u);
  EXPECT_GT(other.bad, 1000u);
}

// ---------------------------------------------------------------------------------------
// OpenAPI document

using Json = nlohmann::json;

void collect_refs(const Json& j, std::vector<std::string>& out) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      if (k == "$ref" && v.is_string()) out.push_back(v.get<std::string>());
      else collect_refs(v, out);
    }
  } else if (j.is_array()) {
    for (const auto& v : j) collect_refs(v, out);
  }
}

TEST(OpenApi, ParsesAsOpenApi303) {
  const std::string& text = openapi_json();
  EXPECT_EQ(&text, &openapi_json());  // built once
  Json doc = Json::parse(text);
  EXPECT_EQ(doc.at("openapi"), "3.0.3");
  EXPECT_TRUE(doc.at("info").at("title").is_string());
  EXPECT_TRUE(doc.at("info").at("version").is_string());
  EXPECT_TRUE(doc.at("paths").is_object());
}

TEST(OpenApi, EveryPathMethodAndStatusIsPresent) {
  Json doc = Json::parse(openapi_json());
  struct Op {
    const char* path;
    const char* method;
    std::vector<const char*> statuses;
  };
  const std::vector<Op> ops = {
      {"/recommend/{user_id}", "get", {"200", "400", "503"}},
      {"/similar/{item_id}", "get", {"200", "400", "404", "503"}},
      {"/events", "post", {"200", "400", "413", "503"}},
      {"/health", "get", {"200"}},
      {"/ready", "get", {"200", "503"}},
      {"/metrics", "get", {"200"}},
      {"/openapi.json", "get", {"200"}},
      {"/admin/reload", "post", {"200", "400", "401", "403", "500"}},
      {"/users", "get", {"200", "400", "503"}},
      {"/users/{user_id}/history", "get", {"200", "400", "503"}},
      {"/offline", "get", {"200", "503"}},
      {"/stats", "get", {"200"}},
      {"/", "get", {"200"}},
      {"/ui/{asset}", "get", {"200", "304", "404"}},
  };
  for (const auto& op : ops) {
    ASSERT_TRUE(doc["paths"].contains(op.path)) << op.path;
    ASSERT_TRUE(doc["paths"][op.path].contains(op.method)) << op.path << " " << op.method;
    const Json& responses = doc["paths"][op.path][op.method].at("responses");
    for (const char* s : op.statuses) EXPECT_TRUE(responses.contains(s)) << op.path << " " << s;
  }
  EXPECT_EQ(doc["paths"].size(), ops.size());
  EXPECT_TRUE(doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"].contains("text/plain"));
  EXPECT_FALSE(doc["paths"]["/admin/reload"]["post"]["requestBody"]["required"].get<bool>());
  // The k parameter quotes the validator's limit and default.
  const Json& k = doc["components"]["parameters"]["K"];
  EXPECT_EQ(k["schema"]["maximum"], RequestLimits{}.max_k);
  EXPECT_EQ(k["schema"]["default"], RecommendParams{}.k);
  EXPECT_EQ(k["in"], "query");
}

TEST(OpenApi, EveryRefResolves) {
  Json doc = Json::parse(openapi_json());
  std::vector<std::string> refs;
  collect_refs(doc, refs);
  EXPECT_GT(refs.size(), 20u);
  std::set<std::string> used;
  for (const auto& r : refs) {
    ASSERT_EQ(r.rfind("#/components/", 0), 0u) << r;
    const Json::json_pointer ptr(r.substr(1));
    EXPECT_TRUE(doc.contains(ptr)) << "dangling $ref " << r;
    used.insert(r);
  }
  for (const char* name : {"Error", "Event", "EventsBody", "RecommendResponse", "RecommendItem", "SimilarResponse",
                           "Health", "ReloadRequest", "ReloadResponse", "UsersResponse", "HistoryResponse",
                           "HistoryItem", "OfflineResponse", "StatsResponse"}) {
    EXPECT_TRUE(used.count(std::string("#/components/schemas/") + name)) << name << " is never referenced";
  }
}

TEST(OpenApi, RequiredFieldsAreDeclaredProperties) {
  // Every "required" list of a schema names properties it declares (catches typos).
  Json doc = Json::parse(openapi_json());
  size_t checked = 0;
  std::function<void(const Json&)> walk = [&](const Json& j) {
    if (j.is_object()) {
      if (j.contains("required") && j["required"].is_array() && j.contains("properties")) {
        for (const auto& name : j["required"]) {
          ASSERT_TRUE(name.is_string());
          EXPECT_TRUE(j["properties"].contains(name.get<std::string>())) << name;
          ++checked;
        }
      }
      for (const auto& [k, v] : j.items()) walk(v);
    } else if (j.is_array()) {
      for (const auto& v : j) walk(v);
    }
  };
  walk(doc["components"]["schemas"]);
  EXPECT_GT(checked, 15u);
  const Json& item = doc["components"]["schemas"]["RecommendItem"]["properties"];
  for (const char* f : {"item_id", "title", "score", "stages", "channels", "reason"}) EXPECT_TRUE(item.contains(f)) << f;
  const Json& stages = doc["components"]["schemas"]["StageScores"]["properties"];
  for (const char* f : {"fused", "pre_rank", "fine_rank", "rerank"}) EXPECT_TRUE(stages.contains(f)) << f;
  const Json& lat = doc["components"]["schemas"]["StageLatency"]["properties"];
  for (const char* f : {"recall", "features", "pre_rank", "fine_rank", "rerank", "total"}) EXPECT_TRUE(lat.contains(f)) << f;
}

}  // namespace
}  // namespace cascade
