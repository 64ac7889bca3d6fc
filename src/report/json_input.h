// Reading numbers out of bench JSON with errors that name the file and the field.
#pragma once

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <string>

#include "cascade/core/error.h"
#include "cascade/report/sections.h"

namespace cascade::report::detail {

// Ordered, so tables and bars follow the order of the file (stages, channels) rather than the
// alphabet.
using Json = nlohmann::ordered_json;

/// j[key] as a number; throws naming `file` and `where`.key when absent or not a number.
inline double number(const Json& j, const std::string& key, const std::string& file,
                     const std::string& where) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_number()) {
    throw Error(
        fmt::format("{}: expected a number at {}{}{}", file, where, where.empty() ? "" : ".", key));
  }
  return j[key].get<double>();
}

/// j[key] as an object or array (throws like number()).
inline const Json& child(const Json& j, const std::string& key, const std::string& file,
                         const std::string& where) {
  if (!j.is_object() || !j.contains(key) || !(j[key].is_object() || j[key].is_array())) {
    throw Error(fmt::format("{}: expected an object or array at {}{}{}", file, where,
                            where.empty() ? "" : ".", key));
  }
  return j[key];
}

inline std::string text(const Json& j, const std::string& key, const std::string& fallback = "") {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>()
                                                                : fallback;
}

inline std::string f4(double v) {
  return fmt::format("{:.4f}", v);
}

/// "+0.0123 [-0.0040, +0.0290]" for a {diff|value, ci_low, ci_high} object.
inline std::string interval(double v, double lo, double hi) {
  return fmt::format("{:+.4f} [{:+.4f}, {:+.4f}]", v, lo, hi);
}

/// "file (dataset D, protocol P)" for captions.
inline std::string describe(const JsonInput& in) {
  std::string s = in.path;
  const std::string ds = text(in.j, "dataset"), proto = text(in.j, "protocol");
  if (!ds.empty()) s += ", dataset " + ds;
  if (!proto.empty()) s += ", protocol " + proto;
  return s;
}

}  // namespace cascade::report::detail
