// Small string helpers shared by spec/option parsers.
#pragma once

#include <string>
#include <string_view>

namespace cascade {

/// `s` without leading and trailing spaces and tabs.
inline std::string trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

}  // namespace cascade
