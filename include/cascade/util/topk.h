// The one top-k selection used everywhere (implicit's TopK): a bounded min-heap over
// (score, item), ties broken toward the lower item id so results are deterministic.
#pragma once

#include <bit>
#include <cstdint>
#include <span>
#include <vector>

#include "cascade/core/types.h"

namespace cascade {

/// Top-k of `scores` (index = item id), skipping items whose `skip[item]` is true
/// (skip may be empty) and non-finite scores. Best first.
std::vector<ScoredItem> top_k(std::span<const float> scores, size_t k,
                              std::span<const uint8_t> skip = {});

/// One 64-bit key per item that sorts ascending exactly as top_k orders (score descending,
/// then item ascending): the float's bits mapped to an unsigned order (-0 first made +0, which
/// compares equal to it), complemented, above the item id. For finite scores and NaN-free
/// input; integer compares on one word are several times cheaper than a two-field comparator.
inline uint64_t rank_key(float score, ItemId item) {
  const uint32_t u = std::bit_cast<uint32_t>(score + 0.0f);
  const uint32_t ascending = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
  return (static_cast<uint64_t>(~ascending) << 32) | item;
}

/// Keeps the k smallest of `keys`, sorted ascending: one histogram pass drops the keys past
/// the k-th key's bucket, a radix sort orders the rest (for the few thousand keys of a recall
/// channel several times cheaper than nth_element + sort). item_order: the keys are in
/// ascending item order already (the sort then reads only their score bits).
void smallest_rank_keys(std::vector<uint64_t>& keys, size_t k, bool item_order = false);

/// Top-k among explicit candidates: candidates[i] has score scores[i]. Best first.
std::vector<ScoredItem> top_k_of(std::span<const ItemId> candidates, std::span<const float> scores,
                                 size_t k);

}  // namespace cascade
