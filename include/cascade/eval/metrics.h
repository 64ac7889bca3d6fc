// Ranking metrics for one user's list (SYSTEM.md "Protocols", step 4). Ranks count from 1.
//  - Recall@K  = |top-K ∩ relevant| / |relevant|  (= HitRate@K with one relevant item)
//  - HitRate@K = 1 if any relevant item is in the top K
//  - NDCG@K    = DCG / IDCG with gain 1/log2(rank+1), IDCG over min(K, |relevant|) items
//  - MRR@K     = 1/rank of the first relevant item within K, else 0
//  - Novelty@K = mean over the top K of -log2(popularity share of the item), where the share is
//                (training users who interacted with it) / n_users, floored at 1 / n_users
//  - ILS@K     = mean pairwise cosine similarity of the top-K items' vectors
//  - Coverage@K (catalogue-level) = distinct items over all users' top-K / n_items
// Duplicates in `relevant` (and repeats of a relevant item in `ranked`) count once; an empty
// `relevant` or k = 0 gives 0; a list shorter than K is scored as it is (no padding).
#pragma once

#include <span>
#include <vector>

#include "cascade/core/types.h"

namespace cascade {

double recall_at(std::span<const ItemId> ranked, std::span<const ItemId> relevant, size_t k);
double hit_rate_at(std::span<const ItemId> ranked, std::span<const ItemId> relevant, size_t k);
double ndcg_at(std::span<const ItemId> ranked, std::span<const ItemId> relevant, size_t k);
double mrr_at(std::span<const ItemId> ranked, std::span<const ItemId> relevant, size_t k);

/// `item_users[i]` = number of training users of item i; `n_users` > 0.
double novelty_at(std::span<const ItemId> ranked, std::span<const uint32_t> item_users,
                  uint32_t n_users, size_t k);

/// `vectors` row-major n_items x dim. Zero vectors count as similarity 0. Lists shorter
/// than 2 give 0.
double ils_at(std::span<const ItemId> ranked, const float* vectors, uint32_t dim, size_t k);

}  // namespace cascade
