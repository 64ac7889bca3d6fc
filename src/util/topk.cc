#include "cascade/util/topk.h"

#include <algorithm>
#include <cmath>

namespace cascade {

namespace {
// "a ranks before b": higher score, then lower id.
inline bool better(const ScoredItem& a, const ScoredItem& b) {
  return a.score > b.score || (a.score == b.score && a.item < b.item);
}

template <class Fn>
std::vector<ScoredItem> select(size_t n, size_t k, Fn&& at) {
  std::vector<ScoredItem> heap;
  if (k == 0) return heap;
  if (k * 4 >= n) {
    // k is a large share of n (a recall channel's top 500 of a few thousand items): selecting
    // over all of them beats a heap of k. `better` is a total order, so both give one result.
    std::vector<ScoredItem> all;
    all.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      ScoredItem s;
      if (at(i, s)) all.push_back(s);
    }
    // A lambda, not the function itself: a function pointer would not be inlined.
    auto cmp = [](const ScoredItem& a, const ScoredItem& b) { return better(a, b); };
    if (all.size() > k) {
      std::nth_element(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k), all.end(), cmp);
      all.resize(k);
    }
    std::sort(all.begin(), all.end(), cmp);
    return all;
  }
  heap.reserve(k + 1);
  // Min-heap by "better": heap.front() is the worst kept item.
  auto cmp = [](const ScoredItem& a, const ScoredItem& b) { return better(a, b); };
  for (size_t i = 0; i < n; ++i) {
    ScoredItem s;
    if (!at(i, s)) continue;
    if (heap.size() < k) {
      heap.push_back(s);
      std::push_heap(heap.begin(), heap.end(), cmp);
    } else if (better(s, heap.front())) {
      std::pop_heap(heap.begin(), heap.end(), cmp);
      heap.back() = s;
      std::push_heap(heap.begin(), heap.end(), cmp);
    }
  }
  std::sort(heap.begin(), heap.end(), [](const ScoredItem& a, const ScoredItem& b) { return better(a, b); });
  return heap;
}
}  // namespace

std::vector<ScoredItem> top_k(std::span<const float> scores, size_t k, std::span<const uint8_t> skip) {
  return select(scores.size(), k, [&](size_t i, ScoredItem& s) {
    if (!skip.empty() && skip[i]) return false;
    if (!std::isfinite(scores[i])) return false;
    s = {static_cast<ItemId>(i), scores[i]};
    return true;
  });
}

std::vector<ScoredItem> top_k_of(std::span<const ItemId> candidates, std::span<const float> scores,
                                 size_t k) {
  return select(candidates.size(), k, [&](size_t i, ScoredItem& s) {
    if (!std::isfinite(scores[i])) return false;
    s = {candidates[i], scores[i]};
    return true;
  });
}

}  // namespace cascade
