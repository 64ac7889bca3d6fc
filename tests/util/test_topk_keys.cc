// top_k's packed-key path (a large share of the items) against the comparator it replaces:
// the same items, order and scores on ties, signed zeros, infinities, NaNs and masks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "cascade/util/fast_paths.h"
#include "cascade/util/topk.h"

namespace cascade {
namespace {

TEST(TopKKeys, MatchesTheComparatorOnTiesZerosAndNonFinite) {
  std::mt19937 rng(11);
  const float inf = std::numeric_limits<float>::infinity();
  for (size_t trial = 0; trial < 200; ++trial) {
    const size_t n = 1 + rng() % 300;
    std::vector<float> s(n);
    std::vector<uint8_t> skip(n);
    for (size_t i = 0; i < n; ++i) {
      switch (rng() % 8) {
        case 0:
          s[i] = 0.0f;
          break;
        case 1:
          s[i] = -0.0f;
          break;
        case 2:
          s[i] = static_cast<float>(rng() % 5) - 2.0f;
          break;  // many ties
        case 3:
          s[i] = (rng() % 2) ? inf : -inf;
          break;
        case 4:
          s[i] = std::numeric_limits<float>::quiet_NaN();
          break;
        default:
          s[i] = std::uniform_real_distribution<float>(-3, 3)(rng);
      }
      skip[i] = rng() % 6 == 0;
    }
    // k * 32 >= n: the key path; half the trials take k below n / 4 (quotas of 200 of a few
    // thousand items), the others up to past n.
    const size_t k = trial % 4 < 2 ? n / 32 + 1 + rng() % (n / 4 + 1) : n / 4 + rng() % (n + 2);
    const std::span<const uint8_t> mask =
        trial % 2 ? std::span<const uint8_t>(skip) : std::span<const uint8_t>();
    set_fast_paths(true);
    const auto fast = top_k(s, k, mask);
    set_fast_paths(false);
    const auto ref = top_k(s, k, mask);
    set_fast_paths(true);
    ASSERT_EQ(fast.size(), ref.size()) << "trial " << trial;
    for (size_t r = 0; r < ref.size(); ++r) {
      ASSERT_EQ(fast[r].item, ref[r].item) << "trial " << trial << " rank " << r;
      EXPECT_EQ(std::memcmp(&fast[r].score, &ref[r].score, sizeof(float)), 0);  // -0 stays -0
    }
  }
}

// Item ids past 65,536 and scores of every magnitude: the key sort's passes over every byte.
TEST(TopKKeys, MatchesTheComparatorOnALargeCatalogue) {
  std::mt19937 rng(12);
  const size_t n = 70000;
  std::vector<float> s(n);
  for (float& v : s)
    v = rng() % 10 == 0 ? static_cast<float>(rng() % 3)  // ties across the whole range
                        : std::ldexp(std::uniform_real_distribution<float>(-1, 1)(rng),
                                     static_cast<int>(rng() % 40) - 20);
  for (size_t k : {size_t{2200}, size_t{17500}, size_t{69999}, size_t{70000}}) {
    set_fast_paths(true);
    const auto fast = top_k(s, k);
    set_fast_paths(false);
    const auto ref = top_k(s, k);
    set_fast_paths(true);
    ASSERT_EQ(fast.size(), ref.size());
    for (size_t r = 0; r < ref.size(); ++r)
      ASSERT_EQ(fast[r].item, ref[r].item) << "k " << k << " rank " << r;
  }
}

// smallest_rank_keys against std::sort on the keys: sizes on both sides of the cut (256 keys,
// more than 2k) and of the byte/11-bit digit switch (1,024), score halves crowded into one
// bucket, spread over the whole 32 bits (0 and 0xffffffff: the cut's upper limit must not
// wrap), with many ties, and keys in item order or not.
TEST(TopKKeys, SmallestKeysEqualAFullSort) {
  std::mt19937 rng(13);
  for (size_t trial = 0; trial < 400; ++trial) {
    const size_t n = std::vector<size_t>{1, 255, 256, 700, 1023, 1024, 1500, 3000}[trial % 8];
    const bool item_order = trial % 3 != 0;
    std::vector<uint64_t> keys(n);
    for (size_t i = 0; i < n; ++i) {
      uint32_t score = 0;
      switch ((trial / 8) % 4) {
        case 0:  // the whole range, ends included
          score = rng() % 50 == 0 ? (rng() % 2 ? 0xffffffffu : 0u) : static_cast<uint32_t>(rng());
          break;
        case 1:  // crowded: one bucket of the cut holds almost everything
          score = rng() % 100 == 0 ? static_cast<uint32_t>(rng()) : 0x40000000u + rng() % 64;
          break;
        case 2:  // ties
          score = static_cast<uint32_t>(rng() % 7);
          break;
        default:  // what rank_key makes of real scores
          score = static_cast<uint32_t>(
              rank_key(std::uniform_real_distribution<float>(-2, 2)(rng), 0) >> 32);
      }
      const auto item = static_cast<uint32_t>(item_order ? i : rng() % 100000);
      keys[i] = (uint64_t{score} << 32) | item;
    }
    for (size_t k : {size_t{1}, n / 10 + 1, n / 3 + 1, n, n + 5}) {
      std::vector<uint64_t> got = keys, want = keys;
      smallest_rank_keys(got, k, item_order);
      std::sort(want.begin(), want.end());
      want.resize(std::min(k, n));
      ASSERT_EQ(got, want) << "trial " << trial << " n " << n << " k " << k;
    }
  }
}

TEST(TopKKeys, OrdersByScoreThenLowerItem) {
  const std::vector<float> s = {1.0f, -0.0f, 2.0f, 0.0f, 2.0f, -1.0f};
  const auto t = top_k(s, 5);
  ASSERT_EQ(t.size(), 5u);
  const ItemId want[] = {2, 4, 0, 1, 3};  // 2 and 4 tie; -0 == +0 ties go to the lower id
  for (size_t r = 0; r < 5; ++r) EXPECT_EQ(t[r].item, want[r]) << r;
  EXPECT_TRUE(std::signbit(t[3].score));
}

}  // namespace
}  // namespace cascade
