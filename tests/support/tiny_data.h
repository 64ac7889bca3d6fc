// A small deterministic dataset for recall tests (no files, no randomness from the
// standard library, so it is the same on every platform):
//   - 40 items, 4 genres (Action, Comedy, Drama, Horror), 6 tags, years 1950..2009
//     (all five year buckets). Item i has primary genre i % 4; items with i % 3 == 0 get a
//     second genre. Items 36..37 have metadata but no interactions (brand-new items);
//     items 38..39 have no metadata at all and no interactions.
//   - 24 users; user u prefers genre u % 4 (about 3 in 4 of its items have that primary
//     genre). Histories have 3..11 items, except user 22 (one item) and user 23 (none).
//     Rows are in time order (timestamps in seconds, one day apart), ratings 4 or 5.
// (TempDir, the self-removing temporary directory, is in support/temp_dir.h.)
#pragma once

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "cascade/data/catalog.h"
#include "cascade/data/interactions.h"
#include "cascade/recall/recaller.h"
#include "support/temp_dir.h"

namespace cascade::test {

/// A FitInput over any matrix and catalogue (every field set, so -Wextra stays quiet).
inline FitInput fit_input_of(const Interactions& train, const Catalog& catalog, int threads = 1,
                             const std::string& dataset_hash = "test") {
  return FitInput{.train = train, .catalog = catalog, .threads = threads, .seed = 42,
                  .valid = nullptr, .dataset_hash = dataset_hash};
}

struct TinyData {
  static constexpr uint32_t kItems = 40;
  static constexpr uint32_t kUsers = 24;
  static constexpr uint32_t kGenres = 4;
  static constexpr uint32_t kSingleUser = 22;  ///< exactly one training item
  static constexpr uint32_t kEmptyUser = 23;   ///< no training items

  Interactions train;
  Catalog catalog;
  std::string hash = "tiny-data-v1";

  FitInput fit_input(int threads = 1) const {
    return fit_input_of(train, catalog, threads, hash);
  }
  /// The query of a training user: its id, its items and ratings (views into `train`).
  UserQuery query(UserId u) const { return UserQuery{u, train.row(u), train.row_values(u)}; }
};

namespace tiny_detail {
inline uint64_t splitmix(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
}  // namespace tiny_detail

inline TinyData make_tiny_data() {
  TinyData d;
  Catalog& c = d.catalog;
  c.genre_names = {"Action", "Comedy", "Drama", "Horror"};
  c.tag_names = {"funny", "dark", "classic", "gore", "twist", "quirky"};
  c.items.resize(TinyData::kItems);
  for (uint32_t i = 0; i < TinyData::kItems; ++i) {
    ItemInfo& it = c.items[i];
    it.title = "Item " + std::to_string(i);
    if (i >= 38) continue;  // no metadata at all
    it.year = 1950 + static_cast<int32_t>((i * 7) % 60);
    uint16_t g1 = static_cast<uint16_t>(i % 4);
    it.genres.push_back(g1);
    if (i % 3 == 0) {
      uint16_t g2 = static_cast<uint16_t>((i / 4 + 1) % 4);
      if (g2 != g1) it.genres.push_back(g2);
    }
    std::sort(it.genres.begin(), it.genres.end());
    if (g1 == 1) it.tags.push_back(0);                    // funny
    if (g1 == 1 && i % 8 == 1) it.tags.push_back(0);      // applied twice
    if (g1 == 3) it.tags.insert(it.tags.end(), {1, 3});   // dark, gore
    if (i % 5 == 0) it.tags.push_back(2);                 // classic
    if (i % 6 == 2) it.tags.push_back(4);                 // twist
    if (i == 7) it.tags.push_back(5);                     // quirky: one item only
  }
  c.users.resize(TinyData::kUsers);

  d.train.n_cols = TinyData::kItems;
  uint64_t state = 20240601;
  for (uint32_t u = 0; u < TinyData::kUsers; ++u) {
    uint32_t len = 3 + (u * 5) % 9;
    if (u == TinyData::kSingleUser) len = 1;
    if (u == TinyData::kEmptyUser) len = 0;
    const uint32_t pref = u % 4;
    std::vector<uint32_t> items;
    std::vector<float> vals;
    std::vector<int64_t> times;
    while (items.size() < len) {
      uint64_t r = tiny_detail::splitmix(state);
      uint32_t item = static_cast<uint32_t>(r % 36);  // 36..39 never interacted
      bool liked = (item % 4) == pref;
      if (!liked && (r >> 32) % 4 != 0) continue;  // ~3 in 4 items from the preferred genre
      if (std::find(items.begin(), items.end(), item) != items.end()) continue;
      items.push_back(item);
      vals.push_back(4.0f + static_cast<float>((r >> 40) & 1));
      times.push_back(1'000'000'000 + static_cast<int64_t>(u) * 3600 +
                      static_cast<int64_t>(items.size()) * 86400);
    }
    d.train.append_row(items, vals, times);
  }
  return d;
}


}  // namespace cascade::test
