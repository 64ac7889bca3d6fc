// RawLog: what a loader reads, before filtering, splitting and id remapping.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "cascade/data/catalog.h"

namespace cascade {

struct RawLog {
  std::string source;  ///< the path read, for messages

  /// Raw ids as they appear in the file, interned: row i has user key user_keys[user[i]].
  std::vector<std::string> user_keys;
  std::vector<std::string> item_keys;

  /// One entry per interaction row, in file order (the order that breaks timestamp ties).
  std::vector<uint32_t> user;
  std::vector<uint32_t> item;
  std::vector<float> rating;      ///< 1.0 for every row when has_rating is false
  std::vector<int64_t> timestamp; ///< the row number when has_timestamp is false
  bool has_rating = true;
  bool has_timestamp = true;

  /// Side information keyed by raw id (absent keys: unknown).
  std::vector<std::string> genre_names;
  std::vector<std::string> tag_names;
  std::unordered_map<std::string, ItemInfo> item_meta;
  std::unordered_map<std::string, UserInfo> user_meta;

  size_t skipped_rows = 0;  ///< rows dropped under --skip-bad-rows (all files)

  size_t size() const { return user.size(); }
};

}  // namespace cascade
