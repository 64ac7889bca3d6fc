// Side information about items and users, indexed by dense id.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cascade {

struct ItemInfo {
  std::string title;
  int32_t year = -1;              ///< release year; -1 when unknown
  std::vector<uint16_t> genres;   ///< indices into Catalog::genre_names, ascending
  std::vector<uint32_t> tags;     ///< indices into Catalog::tag_names; repeated = applied several times
};

struct UserInfo {
  char gender = '?';        ///< 'M', 'F' or '?' when unknown
  int32_t age = -1;         ///< raw age (ML-100K) or the ML-1M age code; -1 when unknown
  int32_t age_bucket = -1;  ///< see age_bucket(); -1 when unknown
  std::string occupation;   ///< empty when unknown
};

struct Catalog {
  std::vector<std::string> genre_names;
  std::vector<std::string> tag_names;
  std::vector<ItemInfo> items;  ///< size n_items (dense ids)
  std::vector<UserInfo> users;  ///< size n_users (dense ids); may be all-unknown
};

/// Age buckets used across datasets: <18, 18-24, 25-34, 35-44, 45-49, 50-55, 56+ -> 0..6
/// (the ML-1M coding, applied to raw ages too). -1 for unknown.
int32_t age_bucket(int32_t age);

/// Year bucket used by content features: <1970, 1970s, 1980s, 1990s, >=2000 -> 0..4
/// (the reference system's 5 buckets). -1 for unknown.
int32_t year_bucket(int32_t year);

}  // namespace cascade
