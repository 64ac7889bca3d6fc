// The one top-k selection used everywhere (implicit's TopK): a bounded min-heap over
// (score, item), ties broken toward the lower item id so results are deterministic.
#pragma once

#include <span>
#include <vector>

#include "cascade/core/types.h"

namespace cascade {

/// Top-k of `scores` (index = item id), skipping items whose `skip[item]` is true
/// (skip may be empty) and non-finite scores. Best first.
std::vector<ScoredItem> top_k(std::span<const float> scores, size_t k,
                              std::span<const uint8_t> skip = {});

/// Top-k among explicit candidates: candidates[i] has score scores[i]. Best first.
std::vector<ScoredItem> top_k_of(std::span<const ItemId> candidates, std::span<const float> scores,
                                 size_t k);

}  // namespace cascade
