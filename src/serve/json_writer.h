// A streaming JSON writer for the /recommend body, the one response written per request at
// full rate: building it as an nlohmann::ordered_json tree and dumping it was 9% of the
// server's CPU (stop 25 profile), mostly allocations of keys and nodes. Everything else the
// server answers is built with nlohmann, and the tests check that both give the same values.
//
// Output matches nlohmann's dump(): no spaces, numbers as the shortest text that reads back
// to the same double (a float is widened first, as nlohmann stores it), integral doubles with
// ".0", non-finite numbers as null, UTF-8 passed through, control characters escaped as
// \uXXXX (or \b \f \n \r \t), and invalid UTF-8 replaced by U+FFFD (nlohmann would throw).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cascade {

class JsonWriter {
 public:
  JsonWriter& begin_object() { return open('{'); }
  JsonWriter& end_object() { return close('}'); }
  JsonWriter& begin_array() { return open('['); }
  JsonWriter& end_array() { return close(']'); }
  /// The next member's name (inside an object; the value follows).
  JsonWriter& key(std::string_view name);
  JsonWriter& value(std::string_view s);
  JsonWriter& value(const std::string& s) { return value(std::string_view(s)); }
  JsonWriter& value(const char* s) { return value(std::string_view(s)); }
  JsonWriter& value(double v);
  JsonWriter& value(float v) { return value(static_cast<double>(v)); }
  JsonWriter& value(int64_t v);
  JsonWriter& value(uint64_t v);
  JsonWriter& value(int v) { return value(static_cast<int64_t>(v)); }
  JsonWriter& value(bool v);
  JsonWriter& null();

  /// The text written so far (complete once every container is closed).
  std::string take() { return std::move(out_); }

 private:
  void separate();  // a comma before every element of a container but its first
  JsonWriter& open(char bracket);
  JsonWriter& close(char bracket);
  std::string out_;
  std::vector<bool> has_element_;  // per open container
  bool after_key_ = false;
};

}  // namespace cascade
