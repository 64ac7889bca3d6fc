// prepare_dataset: protocols, filters, id order, catalogue mapping and errors, on raw logs
// built by hand (no loader involved).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "cascade/core/error.h"
#include "cascade/data/dataset.h"
#include "support/test_util.h"

namespace cascade {
namespace {
using test::error_of;

struct Row {
  std::string user, item;
  float rating;
  int64_t ts;
};

RawLog make_log(const std::vector<Row>& rows, bool has_rating = true, bool has_timestamp = true) {
  RawLog log;
  log.source = "test-log";
  log.has_rating = has_rating;
  log.has_timestamp = has_timestamp;
  std::unordered_map<std::string, uint32_t> users, items;
  auto intern = [](std::unordered_map<std::string, uint32_t>& m, std::vector<std::string>& keys,
                   const std::string& k) {
    auto [it, fresh] = m.emplace(k, static_cast<uint32_t>(keys.size()));
    if (fresh) keys.push_back(k);
    return it->second;
  };
  for (size_t i = 0; i < rows.size(); ++i) {
    log.user.push_back(intern(users, log.user_keys, rows[i].user));
    log.item.push_back(intern(items, log.item_keys, rows[i].item));
    log.rating.push_back(has_rating ? rows[i].rating : 1.0f);
    log.timestamp.push_back(has_timestamp ? rows[i].ts : static_cast<int64_t>(i));
  }
  return log;
}

PrepareOptions opts(Protocol p, uint32_t min_positives = 3) {
  PrepareOptions o;
  o.protocol = p;
  o.min_positives = min_positives;
  return o;
}

std::vector<std::string> row_items(const Dataset& ds, const Interactions& m, uint32_t u) {
  std::vector<std::string> out;
  for (uint32_t i : m.row(u)) out.push_back(ds.item_ids[i]);
  return out;
}

using Strings = std::vector<std::string>;

TEST(PrepareProtocol, NamesRoundTrip) {
  for (Protocol p : {Protocol::kSeedLoo, Protocol::kSeedOof, Protocol::kTime}) {
    EXPECT_EQ(parse_protocol(protocol_name(p)), p);
  }
  EXPECT_EQ(protocol_name(Protocol::kSeedLoo), "seed-loo");
  EXPECT_EQ(protocol_name(Protocol::kSeedOof), "seed-oof");
  EXPECT_EQ(protocol_name(Protocol::kTime), "time");
  EXPECT_NE(error_of([] { parse_protocol("loo"); }).find("loo"), std::string::npos);
}

// Hand-computed seed-loo split with numeric ids that sort differently as strings.
TEST(PrepareSeedLoo, HandComputedSplit) {
  RawLog log = make_log({
      {"10", "5", 5, 300},  {"10", "20", 4, 100}, {"10", "100", 4, 200}, {"10", "7", 2, 50},  // 7: rating 2
      {"9", "20", 4, 10},   {"9", "5", 5, 40},    {"9", "3", 4, 30},     {"9", "100", 4, 20},
      {"100", "5", 4, 1},   {"100", "20", 4, 2},  {"100", "3", 3.5, 3},                       // 2 positives
  });
  Dataset ds = prepare_dataset(log, "hand", opts(Protocol::kSeedLoo));
  EXPECT_EQ(ds.name, "hand");
  EXPECT_EQ(ds.source, "test-log");
  // Users "9" and "10" kept ("100" has 2 positives < 3), numeric order.
  EXPECT_EQ(ds.user_ids, (Strings{"9", "10"}));
  // Catalogue = items of kept positives; "7" only had a rating-2 row.
  EXPECT_EQ(ds.item_ids, (Strings{"3", "5", "20", "100"}));
  EXPECT_EQ(ds.n_users, 2u);
  EXPECT_EQ(ds.n_items, 4u);
  // User 9 by time: 20(10) 100(20) 3(30) 5(40).
  EXPECT_EQ(row_items(ds, ds.train, 0), (Strings{"20", "100"}));
  EXPECT_EQ(row_items(ds, ds.valid, 0), (Strings{"3"}));
  EXPECT_EQ(row_items(ds, ds.test, 0), (Strings{"5"}));
  // User 10 by time: 20(100) 100(200) 5(300).
  EXPECT_EQ(row_items(ds, ds.train, 1), (Strings{"20"}));
  EXPECT_EQ(row_items(ds, ds.valid, 1), (Strings{"100"}));
  EXPECT_EQ(row_items(ds, ds.test, 1), (Strings{"5"}));
  EXPECT_EQ(std::vector<int64_t>(ds.train.row_times(0).begin(), ds.train.row_times(0).end()),
            (std::vector<int64_t>{10, 20}));
  EXPECT_EQ(ds.test.row_values(1)[0], 5.0f);
  EXPECT_EQ(ds.valid.row_times(1)[0], 200);
  EXPECT_EQ(ds.train.nnz(), 3u);
  EXPECT_EQ(ds.train.n_rows, 2u);
  EXPECT_EQ(ds.train.n_cols, 4u);
  EXPECT_TRUE(ds.recall_rows.empty());
  EXPECT_NO_THROW(ds.train.validate());
  EXPECT_NO_THROW(ds.valid.validate());
  EXPECT_NO_THROW(ds.test.validate());
  EXPECT_EQ(ds.content_hash.size(), 32u);
}

TEST(PrepareSeen, LowRatingsBecomeSeenEventsPlacedAmongThePositives) {
  // User "1" in (time, file order): a+ z- b- c+ d- e+ x- f+ g-; z is not a catalogue item.
  RawLog log = make_log({
      {"1", "a", 5, 10},
      {"1", "b", 2, 15},
      {"1", "c", 4, 20},
      {"1", "d", 3, 25},
      {"1", "e", 4, 30},
      {"1", "x", 1, 30},  // x ties with e, later in the file: after e
      {"1", "f", 5, 40},
      {"1", "g", 1, 50},  // g after the test item: known to no request
      {"1", "z", 2, 12},  // z has no positive anywhere: not in the catalogue
      {"2", "b", 5, 1},
      {"2", "d", 5, 2},
      {"2", "x", 5, 3},
      {"2", "g", 5, 4},
      {"2", "a", 1, 0},
  });
  PrepareOptions o = opts(Protocol::kSeedLoo);
  o.keep_seen = true;
  const Dataset ds = prepare_dataset(log, "s", o);
  const Dataset plain = prepare_dataset(log, "s", opts(Protocol::kSeedLoo));
  // The positives and their split are what they are without keep_seen.
  EXPECT_EQ(ds.item_ids, plain.item_ids);
  EXPECT_EQ(ds.train.indices, plain.train.indices);
  EXPECT_EQ(ds.test.indices, plain.test.indices);
  EXPECT_EQ(plain.seen.nnz(), 0u);
  EXPECT_EQ(plain.seen_before(0, 99).size(), 0u);
  // User "1": positives a c e f -> train a c, valid e, test f.
  EXPECT_EQ(row_items(ds, ds.train, 0), (Strings{"a", "c"}));
  EXPECT_EQ(row_items(ds, ds.valid, 0), (Strings{"e"}));
  EXPECT_EQ(row_items(ds, ds.test, 0), (Strings{"f"}));
  EXPECT_EQ(row_items(ds, ds.seen, 0), (Strings{"b", "d", "x", "g"}));
  EXPECT_EQ(ds.seen_after, (std::vector<uint32_t>{1, 2, 3, 4, 0}));  // user 2's "a" before all
  EXPECT_EQ(ds.seen.row_values(0)[0], 2.0f);
  EXPECT_EQ(ds.seen.row_times(0)[2], 30);
  auto items = [&](std::span<const ItemId> s) {
    Strings out;
    for (ItemId i : s) out.push_back(ds.item_ids[i]);
    return out;
  };
  EXPECT_EQ(items(ds.seen_before(0, 0)), (Strings{}));
  EXPECT_EQ(items(ds.seen_before(0, 2)), (Strings{"b", "d"}));       // a validation request
  EXPECT_EQ(items(ds.seen_before(0, 3)), (Strings{"b", "d", "x"}));  // a test request
  EXPECT_EQ(items(ds.seen_before(0, 99)), (Strings{"b", "d", "x", "g"}));
  EXPECT_EQ(ds.seen_at_valid().row_size(0), 2u);
  EXPECT_EQ(ds.seen_at_test().row_size(0), 3u);
  EXPECT_EQ(ds.seen_at_test().row_size(1), 1u);
  const Interactions news = ds.seen_since_train();
  EXPECT_EQ(items(news.row(0)), (Strings{"x"}));
  EXPECT_EQ(news.row_size(1), 0u);
  EXPECT_NO_THROW(ds.seen.validate());
  EXPECT_THROW(ds.seen_at_ranker_slice(), Error);  // seed-loo has no ranker slice

  // seed-oof: the ranker-slice request knows the seen events before its first positive.
  PrepareOptions oof = opts(Protocol::kSeedOof);
  oof.keep_seen = true;
  oof.oof_fraction = 0.5;
  const Dataset d2 = prepare_dataset(log, "s", oof);
  ASSERT_EQ(d2.recall_rows[0], 1u);                      // recall slice a, ranker slice c
  EXPECT_EQ(d2.seen_at_ranker_slice().row_size(0), 1u);  // b only

  // time: not supported, said plainly.
  PrepareOptions t = opts(Protocol::kTime, 1);
  t.keep_seen = true;
  EXPECT_NE(error_of([&] { prepare_dataset(log, "s", t); }).find("keep_seen needs a seed protocol"),
            std::string::npos);
}

TEST(PrepareSeedLoo, TiesFollowFileOrder) {
  // All rows at the same time: the row later in the file counts as later.
  RawLog log = make_log({{"1", "a", 5, 7}, {"1", "b", 5, 7}, {"1", "c", 5, 7}, {"1", "d", 5, 7}});
  Dataset ds = prepare_dataset(log, "t", opts(Protocol::kSeedLoo));
  EXPECT_EQ(row_items(ds, ds.train, 0), (Strings{"a", "b"}));
  EXPECT_EQ(row_items(ds, ds.valid, 0), (Strings{"c"}));
  EXPECT_EQ(row_items(ds, ds.test, 0), (Strings{"d"}));
  // Reversed file order reverses the split.
  RawLog rev = make_log({{"1", "d", 5, 7}, {"1", "c", 5, 7}, {"1", "b", 5, 7}, {"1", "a", 5, 7}});
  Dataset dr = prepare_dataset(rev, "t", opts(Protocol::kSeedLoo));
  EXPECT_EQ(row_items(dr, dr.train, 0), (Strings{"d", "c"}));
  EXPECT_EQ(row_items(dr, dr.test, 0), (Strings{"a"}));
  // A tie between an early and a late row is broken by file order; times still decide otherwise.
  RawLog mixed = make_log({{"1", "x", 5, 9}, {"1", "y", 5, 1}, {"1", "z", 5, 9}, {"1", "w", 5, 5}});
  Dataset dm = prepare_dataset(mixed, "t", opts(Protocol::kSeedLoo));
  EXPECT_EQ(row_items(dm, dm.train, 0), (Strings{"y", "w"}));
  EXPECT_EQ(row_items(dm, dm.valid, 0), (Strings{"x"}));
  EXPECT_EQ(row_items(dm, dm.test, 0), (Strings{"z"}));
}

TEST(PrepareSeedLoo, IdOrderNumericVersusLexicographic) {
  auto user_order = [](const Strings& users) {
    std::vector<Row> rows;
    int64_t t = 0;
    for (const auto& u : users) {
      for (const char* it : {"i1", "i2", "i3"}) rows.push_back({u, it, 5, t++});
    }
    return prepare_dataset(make_log(rows), "ids", opts(Protocol::kSeedLoo)).user_ids;
  };
  EXPECT_EQ(user_order({"10", "9", "100", "-3", "0"}), (Strings{"-3", "0", "9", "10", "100"}));
  // One non-integer id makes the whole order lexicographic (byte-wise).
  EXPECT_EQ(user_order({"10", "9", "100", "x"}), (Strings{"10", "100", "9", "x"}));
  EXPECT_EQ(user_order({"b", "B", "a", "10"}), (Strings{"10", "B", "a", "b"}));
  // Numeric ties ("7" vs "07") fall back to the string order.
  EXPECT_EQ(user_order({"7", "07", "6"}), (Strings{"6", "07", "7"}));
  // Beyond int64 is not an integer.
  EXPECT_EQ(user_order({"99999999999999999999", "5"}), (Strings{"5", "99999999999999999999"}));
  // Items follow the same rule independently of users.
  RawLog log = make_log({{"u", "20", 5, 1}, {"u", "3", 5, 2}, {"u", "100", 5, 3}, {"v", "a", 5, 1}, {"v", "3", 5, 2},
                         {"v", "20", 5, 3}});
  Dataset ds = prepare_dataset(log, "ids", opts(Protocol::kSeedLoo));
  EXPECT_EQ(ds.user_ids, (Strings{"u", "v"}));
  EXPECT_EQ(ds.item_ids, (Strings{"100", "20", "3", "a"}));
}

TEST(PrepareSeedLoo, MinRatingAndMinPositivesFilters) {
  std::vector<Row> rows;
  // u1: 5 positives (4.0 counts), 2 negatives; u2: 4 positives + 3 negatives; u3: 6 positives.
  for (int k = 0; k < 5; ++k) rows.push_back({"u1", "p" + std::to_string(k), k == 0 ? 4.0f : 5.0f, k});
  rows.push_back({"u1", "neg1", 3.5f, 100});
  rows.push_back({"u1", "neg2", 1.0f, 101});
  for (int k = 0; k < 4; ++k) rows.push_back({"u2", "q" + std::to_string(k), 4.5f, k});
  for (int k = 0; k < 3; ++k) rows.push_back({"u2", "p" + std::to_string(k), 2.0f, 10 + k});
  for (int k = 0; k < 6; ++k) rows.push_back({"u3", "p" + std::to_string(k), 4.0f, k});
  RawLog log = make_log(rows);

  Dataset ds = prepare_dataset(log, "f", opts(Protocol::kSeedLoo, 5));
  EXPECT_EQ(ds.user_ids, (Strings{"u1", "u3"}));
  EXPECT_EQ(ds.item_ids, (Strings{"p0", "p1", "p2", "p3", "p4", "p5"}));
  EXPECT_EQ(ds.train.nnz(), 3u + 4u);
  // The negatives are not the "last" items: u1's test item is its last positive, p4.
  EXPECT_EQ(row_items(ds, ds.test, 0), (Strings{"p4"}));

  // min_positives 4 also keeps u2 (its q-items join the catalogue).
  Dataset d4 = prepare_dataset(log, "f", opts(Protocol::kSeedLoo, 4));
  EXPECT_EQ(d4.user_ids, (Strings{"u1", "u2", "u3"}));
  EXPECT_EQ(d4.n_items, 10u);

  // min_rating 5 drops the 4.0 and 4.5 ratings: only u1 has 4 positives (p1..p4).
  PrepareOptions o5 = opts(Protocol::kSeedLoo, 4);
  o5.min_rating = 5.0f;
  Dataset d5 = prepare_dataset(log, "f", o5);
  EXPECT_EQ(d5.user_ids, (Strings{"u1"}));
  EXPECT_EQ(d5.item_ids, (Strings{"p1", "p2", "p3", "p4"}));

  // Without a rating column every row is a positive, whatever the rating vector says.
  RawLog unrated = make_log(rows, /*has_rating=*/false);
  Dataset du = prepare_dataset(unrated, "f", opts(Protocol::kSeedLoo, 7));
  EXPECT_EQ(du.user_ids, (Strings{"u1", "u2"}));
  EXPECT_EQ(du.train.nnz(), 5u + 5u);
  for (float v : du.train.values) EXPECT_EQ(v, 1.0f);
}

TEST(PrepareSeedLoo, NoTimestampColumnUsesFileOrder) {
  RawLog log = make_log({{"1", "c", 5, 0}, {"1", "a", 5, 0}, {"1", "b", 5, 0}}, true, /*has_timestamp=*/false);
  log.timestamp.clear();  // allowed when has_timestamp is false: row numbers are implied
  Dataset ds = prepare_dataset(log, "n", opts(Protocol::kSeedLoo));
  EXPECT_EQ(row_items(ds, ds.train, 0), (Strings{"c"}));
  EXPECT_EQ(row_items(ds, ds.test, 0), (Strings{"b"}));
  EXPECT_EQ(ds.test.row_times(0)[0], 2);
}

// Invariants on a random log without duplicate (user, item) rows.
TEST(PrepareSeedLoo, RandomLogInvariants) {
  std::mt19937_64 rng(7);
  std::vector<Row> rows;
  std::map<std::string, size_t> positives;
  for (int u = 0; u < 200; ++u) {
    std::set<int> items;
    const int n = 1 + static_cast<int>(rng() % 30);
    while (static_cast<int>(items.size()) < n) items.insert(static_cast<int>(rng() % 300));
    for (int it : items) {
      const float r = 1.0f + static_cast<float>(rng() % 5);
      rows.push_back({"u" + std::to_string(u), std::to_string(it), r, static_cast<int64_t>(rng() % 50)});
      if (r >= 4.0f) ++positives["u" + std::to_string(u)];
    }
  }
  std::shuffle(rows.begin(), rows.end(), rng);
  Dataset ds = prepare_dataset(make_log(rows), "rnd", opts(Protocol::kSeedLoo, 5));
  size_t expect_users = 0, expect_rows = 0;
  for (auto& [u, n] : positives) {
    if (n >= 5) ++expect_users, expect_rows += n;
  }
  ASSERT_EQ(ds.n_users, expect_users);
  EXPECT_EQ(ds.train.nnz() + ds.valid.nnz() + ds.test.nnz(), expect_rows);
  EXPECT_EQ(ds.valid.nnz(), ds.n_users);
  EXPECT_EQ(ds.test.nnz(), ds.n_users);
  EXPECT_TRUE(std::is_sorted(ds.item_ids.begin(), ds.item_ids.end(),
                             [](const std::string& a, const std::string& b) { return std::stoi(a) < std::stoi(b); }));
  for (uint32_t u = 0; u < ds.n_users; ++u) {
    EXPECT_EQ(positives[ds.user_ids[u]], ds.train.row_size(u) + 2u);
    ASSERT_EQ(ds.valid.row_size(u), 1u);
    ASSERT_EQ(ds.test.row_size(u), 1u);
    ASSERT_GE(ds.train.row_size(u), 3u);
    auto tr = ds.train.row(u);
    const uint32_t v = ds.valid.row(u)[0], t = ds.test.row(u)[0];
    EXPECT_EQ(std::count(tr.begin(), tr.end(), v), 0);
    EXPECT_EQ(std::count(tr.begin(), tr.end(), t), 0);
    EXPECT_NE(v, t);
    auto times = ds.train.row_times(u);
    EXPECT_TRUE(std::is_sorted(times.begin(), times.end()));
    EXPECT_LE(times.back(), ds.valid.row_times(u)[0]);
    EXPECT_LE(ds.valid.row_times(u)[0], ds.test.row_times(u)[0]);
    for (float r : ds.train.row_values(u)) EXPECT_GE(r, 4.0f);
  }
  // Every catalogue item occurs in some split.
  std::vector<int> seen(ds.n_items, 0);
  for (const Interactions* m : {&ds.train, &ds.valid, &ds.test}) {
    for (uint32_t i : m->indices) seen[i] = 1;
  }
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 0), 0);
}

TEST(PrepareSeedOof, SliceSizesIncludingRoundHalf) {
  // Users with n = 1, 5, 10, 14, 15, 16 training rows (n + 2 positives each).
  const std::vector<uint32_t> n_train = {1, 5, 10, 14, 15, 16};
  // ranker = max(1, lround(0.1 n)): 1, 1 (0.5 rounds up), 1, 1, 2 (1.5 rounds up), 2.
  const std::vector<uint32_t> want_recall = {0, 4, 9, 13, 13, 14};
  std::vector<Row> rows;
  for (size_t k = 0; k < n_train.size(); ++k) {
    for (uint32_t j = 0; j < n_train[k] + 2; ++j) {
      rows.push_back({std::to_string(k), "i" + std::to_string(j), 5, static_cast<int64_t>(j)});
    }
  }
  Dataset ds = prepare_dataset(make_log(rows), "oof", opts(Protocol::kSeedOof, 3));
  ASSERT_EQ(ds.n_users, n_train.size());
  EXPECT_EQ(ds.recall_rows, want_recall);
  Interactions recall = ds.recall_slice(), ranker = ds.ranker_slice();
  ASSERT_EQ(recall.n_rows, ds.n_users);
  ASSERT_EQ(ranker.n_rows, ds.n_users);
  EXPECT_EQ(recall.n_cols, ds.n_items);
  EXPECT_EQ(ranker.n_cols, ds.n_items);
  for (uint32_t u = 0; u < ds.n_users; ++u) {
    EXPECT_EQ(ds.train.row_size(u), n_train[u]);
    EXPECT_EQ(recall.row_size(u), want_recall[u]);
    EXPECT_EQ(ranker.row_size(u), n_train[u] - want_recall[u]);
    // Recall slice = the oldest rows, ranker slice = the newest, together the train row.
    std::vector<uint32_t> joined(recall.row(u).begin(), recall.row(u).end());
    joined.insert(joined.end(), ranker.row(u).begin(), ranker.row(u).end());
    EXPECT_EQ(joined, std::vector<uint32_t>(ds.train.row(u).begin(), ds.train.row(u).end()));
    if (recall.row_size(u) > 0) {
      EXPECT_LE(recall.row_times(u).back(), ranker.row_times(u).front());
    }
  }
  // A larger fraction: 0.25 * 10 = 2.5 rounds half away from zero -> 3.
  PrepareOptions o = opts(Protocol::kSeedOof, 3);
  o.oof_fraction = 0.25;
  Dataset d25 = prepare_dataset(make_log(rows), "oof", o);
  EXPECT_EQ(d25.recall_rows, (std::vector<uint32_t>{0, 4, 7, 10, 11, 12}));
  // seed-loo: the recall slice is the whole train matrix and there is no ranker slice.
  Dataset loo = prepare_dataset(make_log(rows), "loo", opts(Protocol::kSeedLoo, 3));
  EXPECT_EQ(loo.recall_slice().indices, loo.train.indices);
  EXPECT_THROW(loo.ranker_slice(), Error);
  // Same train/valid/test as seed-loo.
  EXPECT_EQ(loo.train.indices, ds.train.indices);
  EXPECT_EQ(loo.test.indices, ds.test.indices);
}

TEST(PrepareTime, GlobalCutSizesAndOrder) {
  // 20 kept rows with distinct timestamps 0..19 over 4 users, in shuffled file order,
  // plus two negatives that must not count.
  std::vector<Row> rows;
  for (int t = 0; t < 20; ++t) rows.push_back({"u" + std::to_string(t % 4), "i" + std::to_string(t), 5, t});
  std::mt19937_64 rng(3);
  std::shuffle(rows.begin(), rows.end(), rng);
  rows.push_back({"u0", "neg", 1, 100});
  rows.push_back({"u9", "neg", 1, 100});
  PrepareOptions o = opts(Protocol::kTime, 1);
  Dataset ds = prepare_dataset(make_log(rows), "time", o);
  EXPECT_EQ(ds.n_users, 4u);
  EXPECT_EQ(ds.n_items, 20u);
  EXPECT_EQ(ds.train.nnz(), 16u);  // floor(0.8 * 20)
  EXPECT_EQ(ds.valid.nnz(), 2u);   // floor(0.9 * 20) - 16
  EXPECT_EQ(ds.test.nnz(), 2u);
  int64_t max_train = -1, min_valid = 1 << 30, max_valid = -1, min_test = 1 << 30;
  for (int64_t t : ds.train.times) max_train = std::max(max_train, t);
  for (int64_t t : ds.valid.times) min_valid = std::min(min_valid, t), max_valid = std::max(max_valid, t);
  for (int64_t t : ds.test.times) min_test = std::min(min_test, t);
  EXPECT_EQ(max_train, 15);
  EXPECT_EQ(min_valid, 16);
  EXPECT_EQ(max_valid, 17);
  EXPECT_EQ(min_test, 18);
  EXPECT_TRUE(ds.recall_rows.empty());
  for (const Interactions* m : {&ds.train, &ds.valid, &ds.test}) {
    EXPECT_EQ(m->n_rows, 4u);
    EXPECT_NO_THROW(m->validate());
    for (uint32_t u = 0; u < 4; ++u) EXPECT_TRUE(std::is_sorted(m->row_times(u).begin(), m->row_times(u).end()));
  }
  // 18 -> u2, 19 -> u3: the test matrix has their rows only.
  EXPECT_EQ(ds.test.row_size(0), 0u);
  EXPECT_EQ(ds.test.row_size(2), 1u);
  EXPECT_EQ(ds.test.row_size(3), 1u);

  // 7 rows: floor(5.6) = 5 train, floor(6.3) = 6 -> 1 valid, 1 test.
  std::vector<Row> seven(rows.begin(), rows.begin() + 7);
  Dataset d7 = prepare_dataset(make_log(seven), "time", o);
  EXPECT_EQ(d7.train.nnz(), 5u);
  EXPECT_EQ(d7.valid.nnz(), 1u);
  EXPECT_EQ(d7.test.nnz(), 1u);

  // time_valid 0: no validation rows; 0.29 * 100 is 29 rows despite floating point.
  std::vector<Row> hundred;
  for (int t = 0; t < 100; ++t) hundred.push_back({"u" + std::to_string(t % 7), "i" + std::to_string(t), 5, t});
  PrepareOptions o2 = opts(Protocol::kTime, 1);
  o2.time_train = 0.29;
  o2.time_valid = 0.0;
  Dataset d100 = prepare_dataset(make_log(hundred), "time", o2);
  EXPECT_EQ(d100.train.nnz(), 29u);
  EXPECT_EQ(d100.valid.nnz(), 0u);
  EXPECT_EQ(d100.test.nnz(), 71u);
}

TEST(PrepareTime, TiesAtTheCutFollowFileOrderAndTrainItemsStayInTest) {
  // Ten rows at the same time for one user; the last two in the file are the test rows.
  std::vector<Row> rows;
  for (int k = 0; k < 10; ++k) rows.push_back({"u", "i" + std::to_string(9 - k), 5, 42});
  rows.push_back({"u", "i9", 5, 43});  // the user's train item again, later: kept in test
  Dataset ds = prepare_dataset(make_log(rows), "time", opts(Protocol::kTime, 1));
  // 11 rows: train floor(8.8) = 8, valid floor(9.9) - 8 = 1, test 2.
  EXPECT_EQ(row_items(ds, ds.train, 0), (Strings{"i9", "i8", "i7", "i6", "i5", "i4", "i3", "i2"}));
  EXPECT_EQ(row_items(ds, ds.valid, 0), (Strings{"i1"}));
  EXPECT_EQ(row_items(ds, ds.test, 0), (Strings{"i0", "i9"}));
}

TEST(PrepareTime, MinPositivesAppliesBeforeTheCut) {
  std::vector<Row> rows;
  for (int t = 0; t < 10; ++t) rows.push_back({"a", "i" + std::to_string(t), 5, t});
  rows.push_back({"b", "i0", 5, 100});  // one positive: dropped with min_positives 2
  Dataset ds = prepare_dataset(make_log(rows), "time", opts(Protocol::kTime, 2));
  EXPECT_EQ(ds.user_ids, (Strings{"a"}));
  EXPECT_EQ(ds.train.nnz() + ds.valid.nnz() + ds.test.nnz(), 10u);
  Dataset all = prepare_dataset(make_log(rows), "time", opts(Protocol::kTime, 1));
  EXPECT_EQ(all.user_ids, (Strings{"a", "b"}));
  EXPECT_EQ(row_items(all, all.test, 1), (Strings{"i0"}));  // b's only row is the latest
}

TEST(PrepareCatalog, MetadataMappedByRawId) {
  RawLog log = make_log({{"2", "x", 5, 1}, {"2", "y", 5, 2}, {"2", "z", 5, 3}, {"1", "x", 5, 1}, {"1", "y", 5, 2},
                         {"1", "z", 5, 3}});
  log.genre_names = {"Action", "Comedy"};
  log.tag_names = {"funny"};
  ItemInfo y;
  y.title = "Why";
  y.year = 1995;
  y.genres = {0, 1};
  y.tags = {0, 0};
  log.item_meta["y"] = y;
  log.item_meta["not-in-log"] = ItemInfo{"Ghost", 2000, {}, {}};
  UserInfo u2;
  u2.gender = 'F';
  u2.age = 31;
  u2.age_bucket = 2;
  u2.occupation = "writer";
  log.user_meta["2"] = u2;
  Dataset ds = prepare_dataset(log, "cat", opts(Protocol::kSeedLoo));
  ASSERT_EQ(ds.catalog.items.size(), 3u);
  ASSERT_EQ(ds.catalog.users.size(), 2u);
  EXPECT_EQ(ds.catalog.genre_names, (Strings{"Action", "Comedy"}));
  EXPECT_EQ(ds.catalog.tag_names, (Strings{"funny"}));
  EXPECT_EQ(ds.catalog.items[1].title, "Why");
  EXPECT_EQ(ds.catalog.items[1].year, 1995);
  EXPECT_EQ(ds.catalog.items[1].genres, (std::vector<uint16_t>{0, 1}));
  EXPECT_EQ(ds.catalog.items[1].tags, (std::vector<uint32_t>{0, 0}));
  EXPECT_EQ(ds.catalog.items[0].title, "");
  EXPECT_EQ(ds.catalog.items[0].year, -1);
  EXPECT_EQ(ds.catalog.users[0].gender, '?');  // user "1": unknown
  EXPECT_EQ(ds.catalog.users[1].gender, 'F');
  EXPECT_EQ(ds.catalog.users[1].occupation, "writer");
  EXPECT_EQ(ds.catalog.users[1].age, 31);
}

TEST(PrepareLookup, FindUserAndItem) {
  RawLog log = make_log({{"7", "a", 5, 1}, {"7", "b", 5, 2}, {"7", "c", 5, 3}, {"3", "c", 5, 1}, {"3", "d", 5, 2},
                         {"3", "a", 5, 3}});
  Dataset ds = prepare_dataset(log, "find", opts(Protocol::kSeedLoo));
  EXPECT_EQ(ds.find_user("3"), 0);
  EXPECT_EQ(ds.find_user("7"), 1);
  EXPECT_EQ(ds.find_user("8"), -1);
  EXPECT_EQ(ds.find_item("d"), 3);
  EXPECT_EQ(ds.find_item(""), -1);
  Dataset copy = ds;  // copies get their own lookup
  EXPECT_EQ(copy.find_item("b"), 1);
  // An edit after the first lookup: the stale hit on "b" is detected and the map rebuilt.
  copy.item_ids[1] = "bb";
  EXPECT_EQ(copy.find_item("b"), -1);
  EXPECT_EQ(copy.find_item("bb"), 1);
  EXPECT_EQ(ds.find_item("b"), 1);  // the original is untouched
  copy.item_ids.push_back("e");     // a size change rebuilds too
  EXPECT_EQ(copy.find_item("e"), 4);
  Dataset moved = std::move(copy);
  EXPECT_EQ(moved.find_user("7"), 1);
}

TEST(PrepareHash, DeterministicAndSensitive) {
  std::vector<Row> rows = {{"1", "a", 5, 1}, {"1", "b", 4, 2}, {"1", "c", 5, 3}, {"1", "d", 5, 4}};
  Dataset a = prepare_dataset(make_log(rows), "h", opts(Protocol::kSeedLoo));
  Dataset b = prepare_dataset(make_log(rows), "h", opts(Protocol::kSeedLoo));
  EXPECT_EQ(a.content_hash, b.content_hash);
  Dataset c = prepare_dataset(make_log(rows), "other-name", opts(Protocol::kSeedLoo));
  EXPECT_NE(a.content_hash, c.content_hash);
  rows[1].rating = 5;
  Dataset d = prepare_dataset(make_log(rows), "h", opts(Protocol::kSeedLoo));
  EXPECT_NE(a.content_hash, d.content_hash);
  RawLog moved = make_log(rows);
  moved.source = "elsewhere";  // the path it was read from is not content
  EXPECT_EQ(prepare_dataset(moved, "h", opts(Protocol::kSeedLoo)).content_hash, d.content_hash);
}

TEST(PrepareErrors, BadOptions) {
  RawLog log = make_log({{"1", "a", 5, 1}, {"1", "b", 5, 2}, {"1", "c", 5, 3}});
  auto err = [&](PrepareOptions o) { return error_of([&] { prepare_dataset(log, "e", o); }); };
  EXPECT_NE(err(opts(Protocol::kSeedLoo, 2)).find("min_positives"), std::string::npos);
  EXPECT_NE(err(opts(Protocol::kSeedOof, 0)).find("min_positives"), std::string::npos);
  PrepareOptions o = opts(Protocol::kSeedOof);
  o.oof_fraction = 0;
  EXPECT_NE(err(o).find("oof_fraction"), std::string::npos);
  o.oof_fraction = 1;
  EXPECT_NE(err(o).find("oof_fraction"), std::string::npos);
  o.oof_fraction = std::nan("");
  EXPECT_NE(err(o).find("oof_fraction"), std::string::npos);
  PrepareOptions t = opts(Protocol::kTime, 1);
  t.time_train = 0;
  EXPECT_NE(err(t).find("time_train"), std::string::npos);
  t.time_train = 0.9;
  t.time_valid = 0.1;
  EXPECT_NE(err(t).find("time_train + time_valid"), std::string::npos);
  t.time_valid = -0.1;
  EXPECT_NE(err(t).find("time_valid"), std::string::npos);
  PrepareOptions r = opts(Protocol::kSeedLoo);
  r.min_rating = std::nanf("");
  EXPECT_NE(err(r).find("min_rating"), std::string::npos);
  // Irrelevant options are not checked: seed-loo ignores the time shares.
  PrepareOptions loo = opts(Protocol::kSeedLoo);
  loo.time_train = 5;
  EXPECT_NO_THROW(prepare_dataset(log, "e", loo));
}

TEST(PrepareErrors, EmptyResultSaysWhichFilterDroppedWhat) {
  RawLog log = make_log({{"1", "a", 5, 1}, {"1", "b", 2, 2}, {"1", "c", 5, 3}, {"2", "a", 1, 1}});
  std::string msg = error_of([&] { prepare_dataset(log, "tiny", opts(Protocol::kSeedLoo, 3)); });
  EXPECT_NE(msg.find("tiny"), std::string::npos) << msg;
  EXPECT_NE(msg.find("4 rows / 2 users read"), std::string::npos) << msg;
  EXPECT_NE(msg.find("min_rating 4 dropped 2 rows"), std::string::npos) << msg;
  EXPECT_NE(msg.find("min_positives 3 dropped 1 users (2 positive rows)"), std::string::npos) << msg;

  RawLog empty;
  empty.source = "empty.csv";
  EXPECT_NE(error_of([&] { prepare_dataset(empty, "e", opts(Protocol::kSeedLoo)); }).find("empty.csv"),
            std::string::npos);

  // Time split too small for a train part: floor(0.8 * 1) = 0.
  RawLog one = make_log({{"1", "a", 5, 1}});
  EXPECT_NE(error_of([&] { prepare_dataset(one, "e", opts(Protocol::kTime, 1)); }).find("empty train"),
            std::string::npos);
}

TEST(PrepareErrors, InconsistentRawLog) {
  RawLog log = make_log({{"1", "a", 5, 1}, {"1", "b", 5, 2}, {"1", "c", 5, 3}});
  RawLog short_rating = log;
  short_rating.rating.pop_back();
  EXPECT_THROW(prepare_dataset(short_rating, "e", opts(Protocol::kSeedLoo)), Error);
  RawLog bad_key = log;
  bad_key.item[1] = 17;
  EXPECT_NE(error_of([&] { prepare_dataset(bad_key, "e", opts(Protocol::kSeedLoo)); }).find("row 1"),
            std::string::npos);
}

}  // namespace
}  // namespace cascade
