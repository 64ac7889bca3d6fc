#include "cascade/util/topk.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <span>

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
// Sorts `keys` ascending: least-significant-digit radix sort over only the digits that
// differ between keys (from the AND and OR of all keys: the high bits of small item ids, often
// the exponent bits of the scores, cost nothing), their histograms counted in one read. Digits
// are 11 bits wide (three per 32-bit half: fewer passes than bytes, and fewer runs of equal
// digits, whose counter updates form a chain through memory) for a thousand keys or more, and
// bytes below that, where the prefix sums over 2,048 counters per digit would cost more than
// the keys. For the few thousand keys of a recall channel this is several times cheaper than
// nth_element + sort. from_score: the keys arrive in ascending item order, and the sort is
// stable, so sorting on the score half alone leaves ties in item order.
void radix_sort_into(std::vector<uint64_t>& keys, std::vector<uint64_t>& tmp, bool from_score) {
  struct Digit {
    int shift, bits;
  };
  static constexpr Digit kWide[6] = {{0, 11}, {11, 11}, {22, 10}, {32, 11}, {43, 11}, {54, 10}};
  static constexpr Digit kByte[8] = {{0, 8},  {8, 8},  {16, 8}, {24, 8},
                                     {32, 8}, {40, 8}, {48, 8}, {56, 8}};
  const size_t n = keys.size();
  const bool wide = n >= 1024;
  const std::span<const Digit> all_digits = wide ? std::span<const Digit>(kWide) : kByte;
  const size_t buckets = wide ? 2048 : 256;
  uint64_t all = ~uint64_t{0}, any = 0;
  for (uint64_t k : keys) {
    all &= k;
    any |= k;
  }
  Digit digits[8];
  int n_digits = 0;
  for (const Digit& d : all_digits.subspan(from_score ? all_digits.size() / 2 : 0))
    if (((all ^ any) >> d.shift) & ((uint64_t{1} << d.bits) - 1)) digits[n_digits++] = d;
  if (n_digits == 0) return;  // one key, or equal keys
  thread_local std::vector<uint32_t> counts;
  counts.assign(static_cast<size_t>(n_digits) * buckets, 0);
  for (uint64_t k : keys)
    for (int m = 0; m < n_digits; ++m)
      ++counts[m * buckets + ((k >> digits[m].shift) & ((uint64_t{1} << digits[m].bits) - 1))];
  tmp.resize(n);
  uint64_t* src = keys.data();
  uint64_t* dst = tmp.data();
  for (int m = 0; m < n_digits; ++m) {
    uint32_t* c = counts.data() + m * buckets;
    const size_t used = size_t{1} << digits[m].bits;
    uint32_t sum = 0;
    for (size_t b = 0; b < used; ++b) {
      const uint32_t here = c[b];
      c[b] = sum;
      sum += here;
    }
    const int shift = digits[m].shift;
    const uint64_t mask = used - 1;
    for (size_t i = 0; i < n; ++i) dst[c[(src[i] >> shift) & mask]++] = src[i];
    std::swap(src, dst);
  }
  if (src != keys.data()) std::copy_n(src, n, keys.data());
}

// Drops, in place and keeping their order, keys that cannot be among the k smallest: one
// histogram of the top 11 varying bits of the score half (an MSD radix digit) finds the
// bucket that holds the k-th key; every key in a later bucket ranks after it. Sorting the
// survivors is then cheaper than sorting all n (a recall channel keeps 500 of a few thousand
// items, the fused pool 200 of about 1,500). Scores that crowd into one bucket leave n keys.
void cut_to_bucket_of_kth(std::vector<uint64_t>& keys, size_t k) {
  constexpr int kBits = 11;
  uint32_t lo = ~uint32_t{0}, hi = 0;
  for (uint64_t key : keys) {
    const auto s = static_cast<uint32_t>(key >> 32);
    lo = std::min(lo, s);
    hi = std::max(hi, s);
  }
  const int shift = std::max(0, static_cast<int>(std::bit_width(hi - lo)) - kBits);
  thread_local std::vector<uint32_t> counts;
  counts.assign(size_t{1} << kBits, 0);
  for (uint64_t key : keys) ++counts[(static_cast<uint32_t>(key >> 32) - lo) >> shift];
  uint32_t last = 0;  // the bucket of the k-th smallest key
  for (size_t seen = 0;; ++last) {
    seen += counts[last];
    if (seen >= k) break;
  }
  const uint64_t limit = lo + (((uint64_t{last} + 1) << shift) - 1);  // highest score half kept
  size_t out = 0;
  for (uint64_t key : keys) {  // branch-free: whether a key stays is a coin flip to a predictor
    keys[out] = key;
    out += (key >> 32) <= limit;
  }
  keys.resize(out);
}

}  // namespace

void smallest_rank_keys(std::vector<uint64_t>& keys, size_t k, bool item_order) {
  thread_local std::vector<uint64_t> tmp;
  if (k == 0) {
    keys.clear();
    return;
  }
  if (keys.size() > 2 * k && keys.size() >= 256) cut_to_bucket_of_kth(keys, k);
  if (!keys.empty()) radix_sort_into(keys, tmp, item_order);
  if (keys.size() > k) keys.resize(k);
}

std::vector<ScoredItem> top_k(std::span<const float> scores, size_t k,
                              std::span<const uint8_t> skip) {
  const size_t n = scores.size();
  if (k != 0 && k * 32 >= n && fast_paths()) {
    // A share of the catalogue above 1/32 (a recall channel's top 200 or 500 of a few thousand
    // items): sort keys (the same total order as `better`, and unique: one per item), keep the
    // first k, then read the scores back. Cutting to the k-th key's bucket first keeps this
    // O(n); a heap of k is the slower way down to about n / 32 (at k = 200 of 1,682 items the
    // heap took 3x as long, BENCHMARKS.md "Stop 31").
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
