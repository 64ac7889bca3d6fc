// JsonWriter against nlohmann::ordered_json, which writes every other body the server sends:
// the same values read back, and the same text where the format is fixed.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

#include "serve/json_writer.h"

namespace cascade {
namespace {

using Json = nlohmann::ordered_json;

TEST(JsonWriter, WritesWhatNlohmannWritesForTheRecommendShapes) {
  JsonWriter w;
  w.begin_object();
  w.key("user_id").value("42");
  w.key("known_user").value(true);
  w.key("history").value(uint64_t{17});
  w.key("year").value(-3);
  w.key("none").null();
  w.key("items").begin_array();
  w.begin_object().key("score").value(0.25f).key("g").begin_array().end_array().end_object();
  w.begin_object().end_object();
  w.end_array();
  w.key("empty").begin_object().end_object();
  w.end_object();
  const Json want = {{"user_id", "42"},
                     {"known_user", true},
                     {"history", 17},
                     {"year", -3},
                     {"none", nullptr},
                     {"items", Json::array({
                                   {{"score", 0.25f}, {"g", Json::array()}},
                                   Json::object(),
                               })},
                     {"empty", Json::object()}};
  EXPECT_EQ(w.take(), want.dump());
}

TEST(JsonWriter, NumbersReadBackToTheSameDouble) {
  // nlohmann widens a float to double; so does the writer. Integral values keep ".0" (a float
  // to strict readers), non-finite ones become null, as nlohmann writes them.
  EXPECT_EQ(JsonWriter().value(1.0).take(), "1.0");
  EXPECT_EQ(JsonWriter().value(-0.0).take(), "-0.0");
  EXPECT_EQ(JsonWriter().value(1e21).take(), Json(1e21).dump());
  EXPECT_EQ(JsonWriter().value(0.1f).take(), Json(0.1f).dump());
  EXPECT_EQ(JsonWriter().value(std::numeric_limits<double>::quiet_NaN()).take(), "null");
  EXPECT_EQ(JsonWriter().value(-std::numeric_limits<float>::infinity()).take(), "null");
  EXPECT_EQ(JsonWriter().value(int64_t{-9007199254740993}).take(), "-9007199254740993");
  EXPECT_EQ(JsonWriter().value(std::numeric_limits<uint64_t>::max()).take(),
            "18446744073709551615");
  std::mt19937_64 rng(7);
  for (int i = 0; i < 20000; ++i) {
    double v = 0;
    switch (i % 4) {
      case 0:  // any finite bit pattern
        do {
          const uint64_t bits = rng();
          std::memcpy(&v, &bits, sizeof v);
        } while (!std::isfinite(v));
        break;
      case 1:  // a widened float, as the scores are
        v = static_cast<float>(std::uniform_real_distribution<double>(-10, 10)(rng));
        break;
      case 2:  // latencies in milliseconds
        v = std::uniform_real_distribution<double>(0, 5)(rng);
        break;
      default:  // integral values
        v = static_cast<double>(static_cast<int64_t>(rng() % 2000001) - 1000000);
    }
    const std::string text = JsonWriter().value(v).take();
    const Json back = Json::parse(text);
    ASSERT_TRUE(back.is_number_float()) << text;
    ASSERT_EQ(back.get<double>(), v) << text;
    ASSERT_EQ(std::signbit(back.get<double>()), std::signbit(v)) << text;
  }
}

TEST(JsonWriter, StringsAreEscapedAndInvalidUtf8IsReplaced) {
  const std::string all_ascii = [] {
    std::string s;
    for (int c = 1; c < 128; ++c) s.push_back(static_cast<char>(c));
    return s;
  }();
  EXPECT_EQ(JsonWriter().value(all_ascii).take(), Json(all_ascii).dump());
  const std::string utf8 = "Am\xC3\xA9lie \xE2\x80\x94 \xF0\x9F\x8E\xAC";  // é, em dash, 🎬
  EXPECT_EQ(JsonWriter().value(utf8).take(), Json(utf8).dump());
  EXPECT_EQ(JsonWriter().value(std::string_view("a\0b", 3)).take(), "\"a\\u0000b\"");
  // Each byte that starts no valid sequence becomes U+FFFD: a lone continuation byte, a
  // truncated sequence, an overlong encoding, a surrogate, a code point past U+10FFFF.
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(JsonWriter().value("x\x80y").take(), "\"x" + fffd + "y\"");
  EXPECT_EQ(JsonWriter().value("\xC3").take(), "\"" + fffd + "\"");
  EXPECT_EQ(JsonWriter().value("\xC0\xAF").take(), "\"" + fffd + fffd + "\"");
  EXPECT_EQ(JsonWriter().value("\xED\xA0\x80").take(), "\"" + fffd + fffd + fffd + "\"");
  EXPECT_EQ(JsonWriter().value("\xF4\x90\x80\x80").take(), "\"" + fffd + fffd + fffd + fffd + "\"");
  // Whatever the bytes, the output parses, and as valid UTF-8.
  std::mt19937 rng(3);
  for (int i = 0; i < 2000; ++i) {
    std::string s(rng() % 12, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    const std::string text = JsonWriter().value(s).take();
    EXPECT_NO_THROW((void)Json::parse(text).dump()) << i;
  }
}

}  // namespace
}  // namespace cascade
