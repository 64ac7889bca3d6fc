#include "cascade/util/topk.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

#include "cascade/util/fast_paths.h"

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
  std::sort(heap.begin(), heap.end(),
            [](const ScoredItem& a, const ScoredItem& b) { return better(a, b); });
  return heap;
}
// Sorts `keys` ascending: least-significant-digit radix sort with 11-bit digits (three for
// the item half, three for the score half: fewer passes than bytes, and fewer runs of equal
// digits, whose counter updates form a chain through memory), over only the digits that
// differ between keys (from the AND and OR of all keys: the high bits of small item ids, often
// the exponent bits of the scores, cost nothing), their histograms counted in one read. For
// the few thousand keys of a recall channel this is several times cheaper than nth_element +
// sort. from_score: the keys arrive in ascending item order, and the sort is stable, so
// sorting on the score half alone leaves ties in item order.
void radix_sort_into(std::vector<uint64_t>& keys, std::vector<uint64_t>& tmp, bool from_score) {
  struct Digit {
    int shift, bits;
  };
  static constexpr Digit kDigits[6] = {{0, 11}, {11, 11}, {22, 10}, {32, 11}, {43, 11}, {54, 10}};
  constexpr size_t kBuckets = 2048;
  const size_t n = keys.size();
  uint64_t all = ~uint64_t{0}, any = 0;
  for (uint64_t k : keys) {
    all &= k;
    any |= k;
  }
  Digit digits[6];
  int n_digits = 0;
  for (int d = from_score ? 3 : 0; d < 6; ++d)
    if (((all ^ any) >> kDigits[d].shift) & ((uint64_t{1} << kDigits[d].bits) - 1))
      digits[n_digits++] = kDigits[d];
  if (n_digits == 0) return;  // one key, or equal keys
  thread_local std::vector<uint32_t> counts;
  counts.assign(static_cast<size_t>(n_digits) * kBuckets, 0);
  for (uint64_t k : keys)
    for (int m = 0; m < n_digits; ++m)
      ++counts[m * kBuckets + ((k >> digits[m].shift) & ((uint64_t{1} << digits[m].bits) - 1))];
  tmp.resize(n);
  uint64_t* src = keys.data();
  uint64_t* dst = tmp.data();
  for (int m = 0; m < n_digits; ++m) {
    uint32_t* c = counts.data() + m * kBuckets;
    const size_t buckets = size_t{1} << digits[m].bits;
    uint32_t sum = 0;
    for (size_t b = 0; b < buckets; ++b) {
      const uint32_t here = c[b];
      c[b] = sum;
      sum += here;
    }
    const int shift = digits[m].shift;
    const uint64_t mask = buckets - 1;
    for (size_t i = 0; i < n; ++i) dst[c[(src[i] >> shift) & mask]++] = src[i];
    std::swap(src, dst);
  }
  if (src != keys.data()) std::copy_n(src, n, keys.data());
}

}  // namespace

void smallest_rank_keys(std::vector<uint64_t>& keys, size_t k, bool item_order) {
  thread_local std::vector<uint64_t> tmp;
  if (k == 0) {
    keys.clear();
    return;
  }
  if (!keys.empty()) radix_sort_into(keys, tmp, item_order);
  if (keys.size() > k) keys.resize(k);
}

std::vector<ScoredItem> top_k(std::span<const float> scores, size_t k,
                              std::span<const uint8_t> skip) {
  const size_t n = scores.size();
  if (k != 0 && k * 4 >= n && fast_paths()) {
    // A large share of the catalogue (a recall channel's top 500 of a few thousand items):
    // sort keys (the same total order as `better`, and unique: one per item), keep the first
    // k, then read the scores back.
    thread_local std::vector<uint64_t> keys;
    keys.clear();
    keys.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      if ((!skip.empty() && skip[i]) || !std::isfinite(scores[i])) continue;
      keys.push_back(rank_key(scores[i], static_cast<ItemId>(i)));
    }
    smallest_rank_keys(keys, k, /*item_order=*/true);  // keys were made for i = 0, 1, ...
    std::vector<ScoredItem> out(keys.size());
    for (size_t r = 0; r < keys.size(); ++r) {
      const auto item = static_cast<ItemId>(keys[r] & 0xffffffffu);
      out[r] = {item, scores[item]};
    }
    return out;
  }
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
