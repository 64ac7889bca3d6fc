#include "cascade/core/params.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <string_view>
#include <cmath>
#include <cstdlib>

#include "cascade/core/error.h"
#include "cascade/util/strings.h"

namespace cascade {

Params Params::parse(const std::string& text) {
  Params p;
  size_t start = 0;
  while (start < text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    std::string part = trim(text.substr(start, comma - start));
    start = comma + 1;
    if (part.empty()) continue;
    size_t eq = part.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw Error(fmt::format("parameter '{}' is not of the form key=value (in '{}')", part, text));
    }
    p.values_[trim(part.substr(0, eq))] = trim(part.substr(eq + 1));
  }
  return p;
}

int64_t Params::get_int(const std::string& key, int64_t def, int64_t lo, int64_t hi) {
  used_.insert(key);
  int64_t v = def;
  if (auto it = values_.find(key); it != values_.end()) {
    const std::string& s = it->second;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || ptr != s.data() + s.size()) {
      throw Error(fmt::format("parameter '{}': '{}' is not an integer", key, s));
    }
  }
  if (v < lo || v > hi) {
    throw Error(fmt::format("parameter '{}' = {} is out of range [{}, {}]", key, v, lo, hi));
  }
  resolved_[key] = std::to_string(v);
  return v;
}

double Params::get_double(const std::string& key, double def, double lo, double hi) {
  used_.insert(key);
  double v = def;
  if (auto it = values_.find(key); it != values_.end()) {
    const std::string& s = it->second;
    char* end = nullptr;
    v = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v)) {
      throw Error(fmt::format("parameter '{}': '{}' is not a finite number", key, s));
    }
  }
  if (v < lo || v > hi) {
    throw Error(fmt::format("parameter '{}' = {} is out of range [{}, {}]", key, v, lo, hi));
  }
  resolved_[key] = fmt::format("{}", v);
  return v;
}

bool Params::get_bool(const std::string& key, bool def) {
  used_.insert(key);
  bool v = def;
  if (auto it = values_.find(key); it != values_.end()) {
    const std::string& s = it->second;
    if (s == "true" || s == "1" || s == "yes" || s == "on") {
      v = true;
    } else if (s == "false" || s == "0" || s == "no" || s == "off") {
      v = false;
    } else {
      throw Error(fmt::format("parameter '{}': '{}' is not a boolean (true/false)", key, s));
    }
  }
  resolved_[key] = v ? "true" : "false";
  return v;
}

std::string Params::get_string(const std::string& key, const std::string& def,
                               const std::set<std::string>& allowed) {
  used_.insert(key);
  std::string v = def;
  if (auto it = values_.find(key); it != values_.end()) v = it->second;
  if (!allowed.empty() && !allowed.count(v)) {
    std::string names;
    for (const auto& a : allowed) names += (names.empty() ? "" : ", ") + a;
    throw Error(fmt::format("parameter '{}' = '{}' is not one of: {}", key, v, names));
  }
  resolved_[key] = v;
  return v;
}

std::vector<int> Params::get_layers(const std::string& key, const std::string& def,
                                   const LayerLimits& limits) {
  const std::string text = get_string(key, def);
  return parse_layers(key, text, limits);
}

std::vector<int> Params::parse_layers(const std::string& key, const std::string& text,
                                      const LayerLimits& limits) {
  if (!limits.none.empty() && text == limits.none) return {};
  auto fail = [&] {
    return Error(fmt::format("parameter '{}' = '{}' must be layer widths in [{}, {}] joined by '-' (e.g. "
                             "64-32){}{}",
                             key, text, limits.min_width, limits.max_width,
                             limits.max_layers > 0 ? fmt::format(", at most {} of them", limits.max_layers) : "",
                             limits.none.empty() ? "" : fmt::format(", or {} for none", limits.none)));
  };
  std::vector<int> out;
  size_t start = 0;
  while (true) {
    const size_t dash = std::min(text.find('-', start), text.size());
    const std::string_view part(text.data() + start, dash - start);
    // Digits only: from_chars alone would accept a sign, strtol-like parsers also whitespace.
    const bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    int v = 0;
    auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (!digits || ec != std::errc() || ptr != part.data() + part.size() || v < limits.min_width ||
        v > limits.max_width) {
      throw fail();
    }
    out.push_back(v);
    if (dash == text.size()) break;
    start = dash + 1;
  }
  // max_layers 0: no limit on the count (DIN and BST never had one).
  if (limits.max_layers > 0 && out.size() > limits.max_layers) throw fail();
  return out;
}

void Params::check_unused(const std::string& context) const {
  std::string unknown;
  for (const auto& [k, v] : values_) {
    if (!used_.count(k)) unknown += (unknown.empty() ? "" : ", ") + k;
  }
  if (unknown.empty()) return;
  std::string known;
  for (const auto& k : used_) known += (known.empty() ? "" : ", ") + k;
  throw Error(fmt::format("{}: unknown parameter(s) {}; known: {}", context, unknown, known));
}

Params Params::in_force() const {
  Params p(resolved_);
  p.resolved_ = resolved_;
  for (const auto& [k, v] : resolved_) p.used_.insert(k);
  return p;
}

std::string Params::to_string() const {
  std::string out;
  for (const auto& [k, v] : values_) out += fmt::format("{}{}={}", out.empty() ? "" : ",", k, v);
  return out;
}

Spec Spec::parse(const std::string& text) {
  Spec s;
  size_t colon = text.find(':');
  s.name = trim(text.substr(0, colon));
  if (s.name.empty()) throw Error(fmt::format("empty model name in spec '{}'", text));
  if (colon != std::string::npos) s.params = Params::parse(text.substr(colon + 1));
  return s;
}

}  // namespace cascade
