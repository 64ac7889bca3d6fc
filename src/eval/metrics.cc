// Per-list ranking metrics (SYSTEM.md "Protocols", step 4; definitions in metrics.h).
#include "cascade/eval/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "cascade/core/error.h"
#include "eval/metrics_internal.h"

namespace cascade {

namespace eval_detail {

RelevantSet::RelevantSet(std::span<const ItemId> relevant) { assign(relevant); }

void RelevantSet::assign(std::span<const ItemId> relevant) {
  items_.assign(relevant.begin(), relevant.end());
  std::sort(items_.begin(), items_.end());
  items_.erase(std::unique(items_.begin(), items_.end()), items_.end());
  seen_.assign(items_.size(), 0);
}

int RelevantSet::find(ItemId item) const {
  // Held-out sets are tiny (one item under seed-loo): a linear scan beats a search.
  if (items_.size() <= 8) {
    for (size_t i = 0; i < items_.size(); ++i)
      if (items_[i] == item) return static_cast<int>(i);
    return -1;
  }
  auto it = std::lower_bound(items_.begin(), items_.end(), item);
  return (it != items_.end() && *it == item) ? static_cast<int>(it - items_.begin()) : -1;
}

double inverse_log2_rank(size_t rank) { return 1.0 / std::log2(static_cast<double>(rank) + 1.0); }

void ranking_metrics(std::span<const ItemId> ranked, RelevantSet& rel, std::span<const size_t> ks,
                     RankingAtK* out) {
  // One pass over the list: record, per distinct relevant item, the first rank that hits it
  // (a relevant item repeated in the list counts once), then read off every K.
  const size_t n_rel = rel.size();
  std::fill(rel.seen_.begin(), rel.seen_.end(), 0);
  size_t max_k = 0;
  for (size_t k : ks) max_k = std::max(max_k, k);
  const size_t depth = std::min(max_k, ranked.size());

  // hit_ranks: the ranks (1-based, increasing) at which a new relevant item appears.
  std::vector<size_t>& hit_ranks = rel.hit_ranks_;
  hit_ranks.clear();
  if (n_rel > 0) {
    for (size_t pos = 0; pos < depth && hit_ranks.size() < n_rel; ++pos) {
      int idx = rel.find(ranked[pos]);
      if (idx < 0 || rel.seen_[idx]) continue;
      rel.seen_[idx] = 1;
      hit_ranks.push_back(pos + 1);
    }
  }
  for (size_t j = 0; j < ks.size(); ++j) {
    const size_t k = ks[j];
    RankingAtK& r = out[j];
    r = RankingAtK{};
    if (n_rel == 0 || k == 0) continue;
    double dcg = 0;
    size_t hits = 0;
    for (size_t rank : hit_ranks) {
      if (rank > k) break;
      ++hits;
      dcg += inverse_log2_rank(rank);
    }
    if (hits == 0) continue;
    double idcg = 0;
    const size_t ideal = std::min(k, n_rel);
    for (size_t rank = 1; rank <= ideal; ++rank) idcg += inverse_log2_rank(rank);
    r.recall = static_cast<double>(hits) / static_cast<double>(n_rel);
    r.hit_rate = 1.0;
    r.ndcg = dcg / idcg;
    r.mrr = 1.0 / static_cast<double>(hit_ranks.front());
  }
}

double ils_normalized(std::span<const ItemId> ranked, const float* vectors, uint32_t dim, size_t k,
                      std::vector<double>& sum) {
  // Mean pairwise cosine over n items = (|sum_i u_i|^2 - sum_i |u_i|^2) / (n (n - 1)) with
  // u_i = v_i / |v_i| (zero vectors stay zero): O(n * dim) instead of O(n^2 * dim).
  const size_t n = std::min(k, ranked.size());
  if (n < 2) return 0.0;
  sum.assign(dim, 0.0);
  double self = 0;
  for (size_t p = 0; p < n; ++p) {
    const float* v = vectors + static_cast<size_t>(ranked[p]) * dim;
    double norm2 = 0;
    for (uint32_t d = 0; d < dim; ++d) norm2 += static_cast<double>(v[d]) * v[d];
    if (norm2 <= 0) continue;
    const double inv = 1.0 / std::sqrt(norm2);
    for (uint32_t d = 0; d < dim; ++d) sum[d] += v[d] * inv;
    self += norm2 * inv * inv;  // 1 up to rounding; kept exact to cancel the diagonal
  }
  double total = 0;
  for (uint32_t d = 0; d < dim; ++d) total += sum[d] * sum[d];
  return (total - self) / (static_cast<double>(n) * static_cast<double>(n - 1));
}

}  // namespace eval_detail

namespace {
eval_detail::RankingAtK one_k(std::span<const ItemId> ranked, std::span<const ItemId> relevant,
                              size_t k) {
  eval_detail::RelevantSet rel(relevant);
  eval_detail::RankingAtK r;
  const size_t ks[1] = {k};
  eval_detail::ranking_metrics(ranked, rel, ks, &r);
  return r;
}
}  // namespace

double recall_at(std::span<const ItemId> ranked, std::span<const ItemId> relevant, size_t k) {
  return one_k(ranked, relevant, k).recall;
}

double hit_rate_at(std::span<const ItemId> ranked, std::span<const ItemId> relevant, size_t k) {
  return one_k(ranked, relevant, k).hit_rate;
}

double ndcg_at(std::span<const ItemId> ranked, std::span<const ItemId> relevant, size_t k) {
  return one_k(ranked, relevant, k).ndcg;
}

double mrr_at(std::span<const ItemId> ranked, std::span<const ItemId> relevant, size_t k) {
  return one_k(ranked, relevant, k).mrr;
}

double novelty_at(std::span<const ItemId> ranked, std::span<const uint32_t> item_users,
                  uint32_t n_users, size_t k) {
  CASCADE_CHECK(n_users > 0, "novelty_at: n_users must be positive");
  const size_t n = std::min(k, ranked.size());
  if (n == 0) return 0.0;
  const double total = static_cast<double>(n_users);
  double sum = 0;
  for (size_t p = 0; p < n; ++p) {
    const ItemId item = ranked[p];
    CASCADE_CHECK(item < item_users.size(),
                  fmt::format("novelty_at: item {} has no popularity entry ({} items)", item,
                              item_users.size()));
    // Floor at one user so items never seen in training get the largest finite novelty.
    const double users = std::max<double>(1.0, item_users[item]);
    sum += -std::log2(users / total);
  }
  return sum / static_cast<double>(n);
}

double ils_at(std::span<const ItemId> ranked, const float* vectors, uint32_t dim, size_t k) {
  if (std::min(k, ranked.size()) < 2) return 0.0;
  CASCADE_CHECK(vectors != nullptr && dim > 0, "ils_at: item vectors are missing");
  std::vector<double> sum;
  return eval_detail::ils_normalized(ranked, vectors, dim, k, sum);
}

}  // namespace cascade
