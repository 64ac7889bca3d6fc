// Small string helpers shared by spec/option parsers.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace cascade {

/// `s` without leading and trailing spaces and tabs.
inline std::string trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

/// `text` cut at every `sep`, empty parts kept ("a++b" gives a, "", b; "" gives one empty part).
inline std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t at = std::min(text.find(sep, start), text.size());
    out.push_back(text.substr(start, at - start));
    if (at == text.size()) break;
    start = at + 1;
  }
  return out;
}

}  // namespace cascade
