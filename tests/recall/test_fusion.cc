// Multi-channel fusion: hand-computed min-max and RRF arithmetic, quotas, de-duplication
// with per-channel provenance, exclusion after fusion, truncation, tie order, option parsing
// and errors, and fuse_channels over two fixed-score channels.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "cascade/core/error.h"
#include "cascade/recall/fusion.h"
#include "cascade/util/fast_paths.h"

namespace cascade {
namespace {

using ::testing::ElementsAre;

ChannelCandidates list(std::string name, std::vector<ScoredItem> items) {
  return ChannelCandidates{std::move(name), std::move(items)};
}

std::vector<ItemId> items_of(const std::vector<FusedCandidate>& pool) {
  std::vector<ItemId> out;
  for (const auto& f : pool) out.push_back(f.item);
  return out;
}

const FusedCandidate& find(const std::vector<FusedCandidate>& pool, ItemId item) {
  for (const auto& f : pool) {
    if (f.item == item) return f;
  }
  throw std::runtime_error("item " + std::to_string(item) + " not in pool");
}

template <class F>
void expect_error_containing(F&& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "expected cascade::Error containing '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
        << "message: " << e.what() << "\nexpected to contain: " << needle;
  }
}

// A: 10:4, 11:2, 12:0  -> min-max (range 4): 10 -> 1, 11 -> 0.5, 12 -> 0   (weight 1)
// B: 11:9, 13:5, 10:1  -> min-max (range 8): 11 -> 1, 13 -> 0.5, 10 -> 0   (weight 1)
// C: 12:3, 11:1        -> min-max (range 2): 12 -> 1, 11 -> 0               (weight 0.5)
// fused: 11 = 0.5 + 1 + 0.5*0 = 1.5;  10 = 1 + 0 = 1.0;
//        12 = 0 + 0.5*1 = 0.5;        13 = 0.5   (12 and 13 tie: lower id first)
std::vector<ChannelCandidates> three_lists() {
  return {list("a", {{10, 4.f}, {11, 2.f}, {12, 0.f}}),
          list("b", {{11, 9.f}, {13, 5.f}, {10, 1.f}}), list("c", {{12, 3.f}, {11, 1.f}})};
}

TEST(Fusion, NormWeightedSumByHand) {
  FusionOptions opt;
  opt.weights = {1, 1, 0.5};
  auto lists = three_lists();
  auto pool = fuse(lists, opt);
  ASSERT_EQ(items_of(pool), (std::vector<ItemId>{11, 10, 12, 13}));
  EXPECT_FLOAT_EQ(pool[0].score, 1.5f);
  EXPECT_FLOAT_EQ(pool[1].score, 1.0f);
  EXPECT_FLOAT_EQ(pool[2].score, 0.5f);
  EXPECT_FLOAT_EQ(pool[3].score, 0.5f);

  // With default (unit) weights C counts fully: 11 = 1.5, 10 = 1, 12 = 0 + 1 = 1, 13 = 0.5.
  // 10 and 12 tie at 1 -> 10 first.
  auto unit = fuse(lists, FusionOptions{});
  ASSERT_EQ(items_of(unit), (std::vector<ItemId>{11, 10, 12, 13}));
  EXPECT_FLOAT_EQ(unit[2].score, 1.0f);
}

TEST(Fusion, DuplicatesMergedWithChannelsScoresAndRanks) {
  auto lists = three_lists();
  auto pool = fuse(lists, FusionOptions{});
  ASSERT_EQ(pool.size(), 4u);  // 3 + 3 + 2 entries, 4 distinct items
  const auto& f11 = find(pool, 11);
  EXPECT_THAT(f11.channels, ElementsAre(0, 1, 2));
  EXPECT_THAT(f11.channel_ranks, ElementsAre(2, 1, 2));
  EXPECT_THAT(f11.channel_scores, ElementsAre(2.f, 9.f, 1.f));
  const auto& f10 = find(pool, 10);
  EXPECT_THAT(f10.channels, ElementsAre(0, 1));
  EXPECT_THAT(f10.channel_ranks, ElementsAre(1, 3));
  EXPECT_THAT(f10.channel_scores, ElementsAre(4.f, 1.f));
  const auto& f12 = find(pool, 12);
  EXPECT_THAT(f12.channels, ElementsAre(0, 2));
  EXPECT_THAT(f12.channel_ranks, ElementsAre(3, 1));
  const auto& f13 = find(pool, 13);
  EXPECT_THAT(f13.channels, ElementsAre(1));
  EXPECT_THAT(f13.channel_ranks, ElementsAre(2));
  EXPECT_THAT(f13.channel_scores, ElementsAre(5.f));
}

TEST(Fusion, RrfArithmeticK60) {
  // A: 5, 6, 7   B: 8, 9, 5   (scores are irrelevant to RRF; make them odd on purpose)
  std::vector<ChannelCandidates> lists = {list("a", {{5, 0.1f}, {6, 100.f}, {7, -3.f}}),
                                          list("b", {{8, 2.f}, {9, 2.f}, {5, 2.f}})};
  FusionOptions opt;
  opt.method = "rrf";
  auto pool = fuse(lists, opt);
  // 5 = 1/61 + 1/63 (rank 1 in A, rank 3 in B); 8 = 1/61; 6 = 9 = 1/62 (tie -> 6); 7 = 1/63.
  ASSERT_EQ(items_of(pool), (std::vector<ItemId>{5, 8, 6, 9, 7}));
  EXPECT_FLOAT_EQ(pool[0].score, static_cast<float>(1.0 / 61 + 1.0 / 63));
  EXPECT_FLOAT_EQ(pool[1].score, static_cast<float>(1.0 / 61));
  EXPECT_FLOAT_EQ(pool[2].score, static_cast<float>(1.0 / 62));
  EXPECT_FLOAT_EQ(pool[3].score, static_cast<float>(1.0 / 62));
  EXPECT_FLOAT_EQ(pool[4].score, static_cast<float>(1.0 / 63));
  EXPECT_THAT(pool[0].channel_ranks, ElementsAre(1, 3));

  // Weights 2:1 -> 5 = 2/61 + 1/63, 6 = 2/62, 7 = 2/63, 8 = 1/61, 9 = 1/62.
  opt.weights = {2, 1};
  auto weighted = fuse(lists, opt);
  ASSERT_EQ(items_of(weighted), (std::vector<ItemId>{5, 6, 7, 8, 9}));
  EXPECT_FLOAT_EQ(weighted[0].score, static_cast<float>(2.0 / 61 + 1.0 / 63));
  EXPECT_FLOAT_EQ(weighted[2].score, static_cast<float>(2.0 / 63));

  // k = 0: 5 = 1/1 + 1/3.
  opt.weights = {};
  opt.rrf_k = 0;
  auto k0 = fuse(lists, opt);
  EXPECT_FLOAT_EQ(find(k0, 5).score, static_cast<float>(1.0 + 1.0 / 3));
}

TEST(Fusion, QuotasLimitEachChannelAndNormaliseOverTheContribution) {
  // A: 1:5, 2:4, 3:3, 4:2 (quota 2 -> 1, 2; scaled over {5, 4}: 1 -> 1, 2 -> 0)
  // B: 5:10, 6:9, 1:8    (quota 1 -> 5; a one-item list is constant -> 1)
  // fused: 1 = 1, 5 = 1 (tie -> 1 first), 2 = 0. Had A been scaled over its whole list,
  // item 2 would get (4-2)/3 = 0.667 instead of 0; had B's quota been ignored, 1 would get 1 + 0.
  std::vector<ChannelCandidates> lists = {list("a", {{1, 5.f}, {2, 4.f}, {3, 3.f}, {4, 2.f}}),
                                          list("b", {{5, 10.f}, {6, 9.f}, {1, 8.f}})};
  FusionOptions opt;
  opt.quotas = {2, 1};
  auto pool = fuse(lists, opt);
  ASSERT_EQ(items_of(pool), (std::vector<ItemId>{1, 5, 2}));
  EXPECT_FLOAT_EQ(pool[0].score, 1.f);
  EXPECT_FLOAT_EQ(pool[1].score, 1.f);
  EXPECT_FLOAT_EQ(pool[2].score, 0.f);
  EXPECT_THAT(pool[0].channels, ElementsAre(0));  // B's rank-3 copy was cut

  // Quota 0 means "all given": A contributes all four, B all three (8 items less dupes).
  opt.quotas = {0, 0};
  EXPECT_EQ(fuse(lists, opt).size(), 6u);
}

TEST(Fusion, ExcludedItemsNeverAppear) {
  // Every channel returns item 1 first. With 1 excluded the lists become
  // A: 2:2, 3:1 -> 2 -> 1, 3 -> 0 (ranks 1, 2);  B: 3:4, 4:0 -> 3 -> 1, 4 -> 0 (ranks 1, 2).
  // fused: 2 = 1, 3 = 0 + 1 = 1 (tie -> 2 first), 4 = 0.
  std::vector<ChannelCandidates> lists = {list("a", {{1, 3.f}, {2, 2.f}, {3, 1.f}}),
                                          list("b", {{1, 5.f}, {3, 4.f}, {4, 0.f}})};
  const std::vector<ItemId> seen = {1};
  for (const std::string method : {"norm", "rrf"}) {
    FusionOptions opt;
    opt.method = method;
    auto pool = fuse(lists, opt, seen);
    for (const auto& f : pool) EXPECT_NE(f.item, 1u) << method;
    EXPECT_EQ(pool.size(), 3u) << method;
  }
  auto pool = fuse(lists, FusionOptions{}, seen);
  ASSERT_EQ(items_of(pool), (std::vector<ItemId>{2, 3, 4}));
  EXPECT_FLOAT_EQ(pool[0].score, 1.f);
  EXPECT_FLOAT_EQ(pool[1].score, 1.f);
  EXPECT_FLOAT_EQ(pool[2].score, 0.f);
  EXPECT_THAT(find(pool, 3).channel_ranks, ElementsAre(2, 1));

  // Quotas count after exclusion: quota 1 each -> A gives 2, B gives 3.
  FusionOptions q1;
  q1.quotas = {1, 1};
  EXPECT_EQ(items_of(fuse(lists, q1, seen)), (std::vector<ItemId>{2, 3}));

  // Excluding everything any channel returned leaves nothing.
  const std::vector<ItemId> all = {4, 3, 2, 1};
  EXPECT_TRUE(fuse(lists, FusionOptions{}, all).empty());
}

TEST(Fusion, PoolSizeTruncatesAfterSortingWithTiesByLowerId) {
  // Constant list: all three score 1 -> order 3, 5, 7 by id; pool 2 keeps 3 and 5.
  std::vector<ChannelCandidates> lists = {list("a", {{7, 1.f}, {3, 1.f}, {5, 1.f}})};
  FusionOptions opt;
  opt.pool_size = 2;
  EXPECT_EQ(items_of(fuse(lists, opt)), (std::vector<ItemId>{3, 5}));

  // Strictly ordered list of 5 -> the top 2 by score.
  std::vector<ChannelCandidates> five = {
      list("a", {{40, 5.f}, {30, 4.f}, {20, 3.f}, {10, 2.f}, {0, 1.f}})};
  EXPECT_EQ(items_of(fuse(five, opt)), (std::vector<ItemId>{40, 30}));
  opt.pool_size = 1000;
  EXPECT_EQ(fuse(five, opt).size(), 5u);
}

// The pool cut through packed keys (the fast path) against the comparator it replaces: the same
// pool, order and scores, with many tied fused scores (RRF over few ranks, equal channel lists)
// and signed zeros, at pool sizes below, at and above the number of items.
TEST(Fusion, KeyedPoolCutEqualsTheComparator) {
  std::mt19937 rng(5);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<ChannelCandidates> lists;
    const int n_channels = 1 + static_cast<int>(rng() % 4);
    for (int c = 0; c < n_channels; ++c) {
      std::vector<ScoredItem> items;
      std::vector<ItemId> ids(300);
      for (ItemId i = 0; i < 300; ++i) ids[i] = i * 7 + static_cast<ItemId>(rng() % 7);
      std::shuffle(ids.begin(), ids.end(), rng);
      const size_t len = 1 + rng() % 120;
      for (size_t r = 0; r < len; ++r)
        items.push_back({ids[r], rng() % 3 == 0 ? (rng() % 2 ? 0.0f : -0.0f)
                                                : static_cast<float>(rng() % 5) / 4.0f});
      std::stable_sort(items.begin(), items.end(),
                       [](const ScoredItem& a, const ScoredItem& b) { return a.score > b.score; });
      lists.push_back(list("c" + std::to_string(c), items));
    }
    FusionOptions opt;
    opt.method = trial % 2 ? "rrf" : "norm";
    opt.pool_size = 1 + rng() % 200;
    set_fast_paths(true);
    const auto fast = fuse(lists, opt);
    set_fast_paths(false);
    const auto ref = fuse(lists, opt);
    set_fast_paths(true);
    ASSERT_EQ(items_of(fast), items_of(ref)) << "trial " << trial;
    for (size_t p = 0; p < ref.size(); ++p) {
      EXPECT_EQ(fast[p].score, ref[p].score);
      EXPECT_EQ(fast[p].channels, ref[p].channels);
      EXPECT_EQ(fast[p].channel_ranks, ref[p].channel_ranks);
    }
  }
}

TEST(Fusion, ConstantScoreListNormalisesToOne) {
  // A is constant (2.5, 2.5) -> 4 -> 1, 9 -> 1. B: 9:7, 2:3 -> 9 -> 1, 2 -> 0.
  // fused: 9 = 2, 4 = 1, 2 = 0.
  std::vector<ChannelCandidates> lists = {list("a", {{4, 2.5f}, {9, 2.5f}}),
                                          list("b", {{9, 7.f}, {2, 3.f}})};
  auto pool = fuse(lists, FusionOptions{});
  ASSERT_EQ(items_of(pool), (std::vector<ItemId>{9, 4, 2}));
  EXPECT_FLOAT_EQ(pool[0].score, 2.f);
  EXPECT_FLOAT_EQ(pool[1].score, 1.f);
  EXPECT_FLOAT_EQ(pool[2].score, 0.f);

  // A one-item list is constant too; a negative constant is no different.
  std::vector<ChannelCandidates> one = {list("a", {{8, -4.f}})};
  auto single = fuse(one, FusionOptions{});
  ASSERT_EQ(single.size(), 1u);
  EXPECT_FLOAT_EQ(single[0].score, 1.f);
}

TEST(Fusion, ZeroWeightDropsTheChannel) {
  // A: 1:5, 2:1 -> 1 -> 1, 2 -> 0.  B (weight 0): 3:10, 1:0 -> contributes nothing.
  std::vector<ChannelCandidates> lists = {list("a", {{1, 5.f}, {2, 1.f}}),
                                          list("b", {{3, 10.f}, {1, 0.f}})};
  for (const std::string method : {"norm", "rrf"}) {
    FusionOptions opt;
    opt.method = method;
    opt.weights = {1, 0};
    auto pool = fuse(lists, opt);
    ASSERT_EQ(items_of(pool), (std::vector<ItemId>{1, 2})) << method;
    EXPECT_THAT(pool[0].channels, ElementsAre(0)) << method;
  }
  FusionOptions opt;
  opt.weights = {0, 0};
  EXPECT_TRUE(fuse(lists, opt).empty());
  EXPECT_TRUE(fuse(std::span<const ChannelCandidates>{}, FusionOptions{}).empty());
}

TEST(Fusion, BadOptionsAndListsThrow) {
  auto lists = three_lists();
  FusionOptions opt;
  opt.weights = {1, 1};
  expect_error_containing([&] { fuse(lists, opt); }, "2 weights given for 3 channels");
  opt = {};
  opt.quotas = {5, 5, 5, 5};
  expect_error_containing([&] { fuse(lists, opt); }, "4 quotas given for 3 channels");
  opt = {};
  opt.weights = {1, -0.5, 1};
  expect_error_containing([&] { fuse(lists, opt); }, "weight -0.5 of channel 1");
  opt.weights = {1, std::numeric_limits<double>::quiet_NaN(), 1};
  expect_error_containing([&] { fuse(lists, opt); }, "must be finite");
  opt = {};
  opt.method = "sum";
  expect_error_containing([&] { fuse(lists, opt); }, "method 'sum'");
  opt = {};
  opt.pool_size = 0;
  expect_error_containing([&] { fuse(lists, opt); }, "pool_size");
  opt = {};
  opt.rrf_k = -1;
  expect_error_containing([&] { fuse(lists, opt); }, "rrf_k");

  std::vector<ChannelCandidates> dup = {list("pop", {{1, 2.f}, {1, 1.f}})};
  expect_error_containing([&] { fuse(dup, FusionOptions{}); }, "('pop') lists item 1 twice");
  std::vector<ChannelCandidates> nan = {
      list("ials", {{1, 2.f}, {2, std::numeric_limits<float>::infinity()}})};
  expect_error_containing([&] { fuse(nan, FusionOptions{}); }, "non-finite score");
}

TEST(Fusion, MethodsAreRegisteredByName) {
  EXPECT_EQ(fusion_method_names(), (std::vector<std::string>{"norm", "rrf"}));
  expect_error_containing([] { make_fusion_method("borda"); },
                          "unknown fusion method 'borda'; known: norm, rrf");
  // A method's contribution by hand: norm scales 3, 2, 0 to 1, 2/3, 0; rrf gives w / (k + rank).
  const std::vector<ScoredItem> l = {{7, 3.f}, {8, 2.f}, {9, 0.f}};
  std::vector<double> parts(3);
  FusionOptions opt;
  make_fusion_method("norm")->contribute(l, 2.0, opt, parts);
  EXPECT_DOUBLE_EQ(parts[0], 2.0);
  EXPECT_DOUBLE_EQ(parts[1], 2.0 * 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(parts[2], 0.0);
  opt.rrf_k = 10;
  make_fusion_method("rrf")->contribute(l, 2.0, opt, parts);
  EXPECT_DOUBLE_EQ(parts[0], 2.0 / 11);
  EXPECT_DOUBLE_EQ(parts[2], 2.0 / 13);
  EXPECT_EQ(make_fusion_method("rrf")->option_keys(), (std::vector<std::string>{"rrf_k"}));
  EXPECT_TRUE(make_fusion_method("norm")->option_keys().empty());
}

TEST(Fusion, OptionsFromParams) {
  Params empty;
  FusionOptions d = fusion_options_from(empty);
  EXPECT_EQ(d.method, "norm");
  EXPECT_EQ(d.rrf_k, 60.0);
  EXPECT_EQ(d.pool_size, 1000u);
  EXPECT_TRUE(d.weights.empty());
  EXPECT_TRUE(d.quotas.empty());

  Params p = Params::parse("method=rrf,rrf_k=10,pool_size=5,weights=1:1:0.5,quotas=500:0:3");
  FusionOptions o = fusion_options_from(p);
  EXPECT_EQ(o.method, "rrf");
  EXPECT_EQ(o.rrf_k, 10.0);
  EXPECT_EQ(o.pool_size, 5u);
  EXPECT_EQ(o.weights, (std::vector<double>{1, 1, 0.5}));
  EXPECT_EQ(o.quotas, (std::vector<size_t>{500, 0, 3}));

  // The parity config through a factory spec (the first ':' ends the name).
  Spec s = Spec::parse(
      "fusion:method=norm,pool_size=1000,quotas=500:500:500:500:500,weights=1:1:1:0.5:0.5");
  FusionOptions parity = fusion_options_from(s.params);
  EXPECT_EQ(parity.weights, (std::vector<double>{1, 1, 1, 0.5, 0.5}));
  EXPECT_EQ(parity.quotas, (std::vector<size_t>(5, 500)));
  EXPECT_EQ(parity.pool_size, 1000u);

  auto bad = [](const std::string& text, const std::string& needle) {
    Params q = Params::parse(text);
    expect_error_containing([&] { fusion_options_from(q); }, needle);
  };
  bad("weights=1:x", "'x' is not a finite number");
  bad("weights=1::2", "'' is not a finite number");
  bad("weights=1:-1", "'-1' is not a finite number >= 0");
  bad("quotas=5:-1", "'-1' is not a non-negative integer");
  bad("quotas=1.5", "'1.5' is not a non-negative integer");
  bad("method=sum", "unknown fusion method 'sum'; known: norm, rrf");
  bad("pool_size=0", "out of range");
  bad("rrf_k=-3", "out of range");
  bad("method=norm,pool=5", "unknown parameter(s) pool");
}

/// A channel with a fixed score per item (index = item id); counts how often it was scored.
class TableChannel : public Recaller {
 public:
  explicit TableChannel(std::vector<float> scores) : scores_(std::move(scores)) {}
  std::string kind() const override { return "test_table"; }
  void fit(const FitInput&) override {}
  void score(const UserQuery&, std::span<float> out) const override {
    ++calls_;
    std::copy(scores_.begin(), scores_.end(), out.begin());
  }
  Params params() const override { return Params(); }
  void save(const std::filesystem::path&) const override { throw NotSupported("test"); }
  void load(const std::filesystem::path&) override { throw NotSupported("test"); }
  uint32_t n_items() const override { return static_cast<uint32_t>(scores_.size()); }
  int calls() const { return calls_; }

 private:
  std::vector<float> scores_;
  mutable int calls_ = 0;
};

/// Scores each item by its id (higher id is better), a different kind from TableChannel.
class IdChannel : public Recaller {
 public:
  explicit IdChannel(uint32_t n) : n_(n) {}
  std::string kind() const override { return "test_id"; }
  void fit(const FitInput&) override {}
  void score(const UserQuery&, std::span<float> out) const override {
    for (uint32_t i = 0; i < n_; ++i) out[i] = static_cast<float>(i);
  }
  Params params() const override { return Params(); }
  void save(const std::filesystem::path&) const override { throw NotSupported("test"); }
  void load(const std::filesystem::path&) override { throw NotSupported("test"); }
  uint32_t n_items() const override { return n_; }

 private:
  uint32_t n_;
};

TEST(Fusion, MoreChannelsThanStoredInlineKeepEveryContribution) {
  // Per-channel values are stored inline for up to eight channels; eleven channels all
  // listing item 7 (at rank c + 1 with score c, after c filler items) spill to the heap.
  std::vector<ChannelCandidates> lists;
  for (uint32_t c = 0; c < 11; ++c) {
    std::vector<ScoredItem> items;
    for (uint32_t r = 0; r < c; ++r) items.push_back({100 + r, 50.f - static_cast<float>(r)});
    items.push_back({7, static_cast<float>(c)});
    lists.push_back(list("c" + std::to_string(c), items));
  }
  const auto pool = fuse(lists, FusionOptions{});
  const FusedCandidate& f = find(pool, 7);
  ASSERT_EQ(f.channels.size(), 11u);
  for (uint32_t c = 0; c < 11; ++c) {
    EXPECT_EQ(f.channels[c], c);
    EXPECT_EQ(f.channel_ranks[c], c + 1);
    EXPECT_EQ(f.channel_scores[c], static_cast<float>(c));
  }
}

TEST(Fusion, FuseChannelsMasksHistoryAndUsesQuotas) {
  // A scores 5 - id: 0:5, 1:4, 2:3, 3:2, 4:1, 5:0.  B scores id.  History {0, 5} is each
  // channel's favourite. Quota 2: A -> 1:4, 2:3 (scaled 1, 0); B -> 4:4, 3:3 (scaled 1, 0).
  // fused: 1 = 1, 4 = 1 (tie -> 1 first), 2 = 0, 3 = 0 (tie -> 2 first).
  TableChannel a({5, 4, 3, 2, 1, 0});
  IdChannel b(6);
  const std::vector<const Recaller*> channels = {&a, &b};
  const std::vector<ItemId> history = {0, 5};
  UserQuery q;
  q.history = history;
  FusionOptions opt;
  opt.quotas = {2, 2};
  auto pool = fuse_channels(channels, q, opt);
  ASSERT_EQ(items_of(pool), (std::vector<ItemId>{1, 4, 2, 3}));
  EXPECT_FLOAT_EQ(pool[0].score, 1.f);
  EXPECT_FLOAT_EQ(pool[2].score, 0.f);
  EXPECT_THAT(find(pool, 1).channels, ElementsAre(0));
  EXPECT_THAT(find(pool, 4).channels, ElementsAre(1));
  EXPECT_THAT(find(pool, 3).channel_ranks, ElementsAre(2));

  // No quota: each channel is asked for pool_size = 3 -> A: 1, 2, 3 (4, 3, 2 -> 1, .5, 0),
  // B: 4, 3, 2 (4, 3, 2 -> 1, .5, 0). fused: 1 = 1, 2 = 0.5 + 0 = 0.5, 3 = 0 + 0.5 = 0.5,
  // 4 = 1 -> order 1, 4, 2, 3 truncated to 3.
  FusionOptions noq;
  noq.pool_size = 3;
  auto p3 = fuse_channels(channels, q, noq);
  ASSERT_EQ(items_of(p3), (std::vector<ItemId>{1, 4, 2}));
  EXPECT_FLOAT_EQ(p3[2].score, 0.5f);
  EXPECT_THAT(find(p3, 2).channels, ElementsAre(0, 1));

  // An extra exclusion is masked as well; a weight-0 channel is never scored.
  const std::vector<ItemId> extra = {1};
  FusionOptions only_a;
  only_a.quotas = {2, 2};
  only_a.weights = {1, 0};
  const int before = a.calls();
  auto pa = fuse_channels(channels, q, only_a, extra);
  EXPECT_EQ(a.calls(), before + 1);
  ASSERT_EQ(items_of(pa), (std::vector<ItemId>{2, 3}));

  TableChannel unused({1, 2, 3});
  const std::vector<const Recaller*> ab = {&a, &unused};
  fuse_channels(ab, q, only_a);
  EXPECT_EQ(unused.calls(), 0);

  // Bad options are reported before any channel is scored; a null channel throws.
  FusionOptions bad;
  bad.weights = {1};
  expect_error_containing([&] { fuse_channels(channels, q, bad); }, "1 weights given for 2");
  const std::vector<const Recaller*> with_null = {&a, nullptr};
  expect_error_containing([&] { fuse_channels(with_null, q, FusionOptions{}); },
                          "channel 1 is null");
}

}  // namespace
}  // namespace cascade
