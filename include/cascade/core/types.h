#pragma once

#include <cstdint>
#include <limits>

namespace cascade {

/// Dense ids, assigned by `prepare` in ascending raw-id order: 0..n_users-1, 0..n_items-1.
using UserId = uint32_t;
using ItemId = uint32_t;

inline constexpr UserId kUnknownUser = std::numeric_limits<UserId>::max();

/// One recommendation: an item and the score that ranked it.
struct ScoredItem {
  ItemId item;
  float score;
};

}  // namespace cascade
