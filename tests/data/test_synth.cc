// Synthetic logs: determinism, exact totals, per-user invariants, the popularity / activity
// shape, the CSV writer matching the in-memory log, and option errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "cascade/core/error.h"
#include "cascade/data/synth.h"
#include "cascade/io/artifact.h"

namespace fs = std::filesystem;

namespace cascade {
namespace {

SynthOptions small_options() {
  SynthOptions o;
  o.users = 2000;
  o.items = 3000;
  o.interactions = 120000;
  o.seed = 11;
  return o;
}

TEST(Synth, DeterministicForASeed) {
  SynthOptions o = small_options();
  o.interactions = 20000;
  RawLog a = synth_log(o), b = synth_log(o);
  EXPECT_EQ(a.user, b.user);
  EXPECT_EQ(a.item, b.item);
  EXPECT_EQ(a.rating, b.rating);
  EXPECT_EQ(a.timestamp, b.timestamp);
  EXPECT_EQ(a.item_keys, b.item_keys);
  ASSERT_EQ(a.item_meta.size(), b.item_meta.size());
  EXPECT_EQ(a.item_meta.at("17").genres, b.item_meta.at("17").genres);
  o.seed = 12;
  RawLog c = synth_log(o);
  EXPECT_NE(a.item, c.item);
}

TEST(Synth, ExactTotalsAndPerUserInvariants) {
  const SynthOptions o = small_options();
  RawLog log = synth_log(o);
  ASSERT_EQ(log.size(), o.interactions);
  EXPECT_EQ(log.item.size(), o.interactions);
  EXPECT_EQ(log.rating.size(), o.interactions);
  EXPECT_EQ(log.timestamp.size(), o.interactions);
  EXPECT_EQ(log.user.capacity(), o.interactions);  // reserved exactly: 20 bytes per row
  EXPECT_EQ(log.user_keys.size(), o.users);
  EXPECT_EQ(log.item_keys.size(), o.items);
  EXPECT_EQ(log.genre_names.size(), o.genres);
  std::vector<uint32_t> per_user(o.users, 0);
  std::vector<uint32_t> last_item_owner(o.items, UINT32_MAX);
  size_t high = 0;
  for (size_t i = 0; i < log.size(); ++i) {
    const uint32_t u = log.user[i];
    ASSERT_LT(u, o.users);
    ASSERT_LT(log.item[i], o.items);
    if (i > 0) {
      ASSERT_LE(log.user[i - 1], u);  // rows come user by user
      if (log.user[i - 1] == u) {
        ASSERT_LT(log.timestamp[i - 1], log.timestamp[i]);
      }
    }
    ASSERT_NE(last_item_owner[log.item[i]], u) << "user " << u << " saw item " << log.item[i] << " twice";
    last_item_owner[log.item[i]] = u;
    ++per_user[u];
    const float r = log.rating[i];
    ASSERT_TRUE(r == 1 || r == 2 || r == 3 || r == 4 || r == 5) << r;
    high += r >= 4;
  }
  EXPECT_GE(*std::min_element(per_user.begin(), per_user.end()), 5u);
  EXPECT_LE(*std::max_element(per_user.begin(), per_user.end()), o.items / 2);
  const double share_high = static_cast<double>(high) / static_cast<double>(log.size());
  EXPECT_GT(share_high, 0.50);
  EXPECT_LT(share_high, 0.62);
  for (const auto& [key, info] : log.item_meta) {
    ASSERT_GE(info.genres.size(), 1u);
    ASSERT_LE(info.genres.size(), 3u);
    ASSERT_TRUE(std::is_sorted(info.genres.begin(), info.genres.end()));
    ASSERT_LT(info.genres.back(), o.genres);
  }
  EXPECT_EQ(log.user_meta.size(), o.users);

  // At 5 interactions per user on average everybody gets exactly the floor of 5.
  SynthOptions five = o;
  five.interactions = 5ull * o.users;
  RawLog f = synth_log(five);
  std::vector<uint32_t> fc(o.users, 0);
  for (uint32_t u : f.user) ++fc[u];
  EXPECT_EQ(std::count(fc.begin(), fc.end(), 5u), static_cast<long>(o.users));
  // Fewer than 5 per user: the floor drops to interactions / users.
  five.interactions = 3ull * o.users + 7;
  RawLog t = synth_log(five);
  std::fill(fc.begin(), fc.end(), 0);
  for (uint32_t u : t.user) ++fc[u];
  EXPECT_EQ(*std::min_element(fc.begin(), fc.end()), 3u);
  EXPECT_EQ(t.size(), 3ull * o.users + 7);
}

TEST(Synth, PopularityAndActivityAreHeavyTailed) {
  const SynthOptions o = small_options();
  RawLog log = synth_log(o);
  std::vector<uint64_t> item_count(o.items, 0), user_count(o.users, 0);
  for (size_t i = 0; i < log.size(); ++i) ++item_count[log.item[i]], ++user_count[log.user[i]];
  std::sort(item_count.rbegin(), item_count.rend());
  std::sort(user_count.rbegin(), user_count.rend());
  auto top_share = [](const std::vector<uint64_t>& c, double frac) {
    const size_t k = std::max<size_t>(1, static_cast<size_t>(frac * static_cast<double>(c.size())));
    const uint64_t total = std::accumulate(c.begin(), c.end(), uint64_t{0});
    return static_cast<double>(std::accumulate(c.begin(), c.begin() + static_cast<ptrdiff_t>(k), uint64_t{0})) /
           static_cast<double>(total);
  };
  // Uniform popularity would give the top 1% of items 1% of the interactions.
  EXPECT_GT(top_share(item_count, 0.01), 0.15);
  // Log-normal activity (sigma 1): the top 10% of users well above 10%, the max far above the median.
  EXPECT_GT(top_share(user_count, 0.10), 0.25);
  EXPECT_GT(user_count.front(), 8 * user_count[user_count.size() / 2]);
  // A steeper exponent concentrates more; sigma 0 makes activity (almost) flat.
  SynthOptions steep = o;
  steep.zipf_exponent = 1.4;
  steep.activity_sigma = 0.0;
  RawLog s = synth_log(steep);
  std::vector<uint64_t> sc(o.items, 0), su(o.users, 0);
  for (size_t i = 0; i < s.size(); ++i) ++sc[s.item[i]], ++su[s.user[i]];
  std::sort(sc.rbegin(), sc.rend());
  EXPECT_GT(top_share(sc, 0.01), top_share(item_count, 0.01));
  const auto [mn, mx] = std::minmax_element(su.begin(), su.end());
  EXPECT_LE(*mx - *mn, 1u);  // 120000 / 2000 = 60 each
}

TEST(Synth, CsvMatchesTheLog) {
  SynthOptions o = small_options();
  o.users = 50;
  o.items = 40;
  o.interactions = 900;
  o.genres = 4;
  const fs::path dir = fs::temp_directory_path() / ("cascade_synth_test_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const fs::path csv = dir / "ratings.csv";
  EXPECT_EQ(synth_write_csv(o, csv.string()), 900u);
  RawLog log = synth_log(o);
  std::ifstream in(csv);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "user,item,rating,timestamp");
  size_t i = 0;
  while (std::getline(in, line)) {
    ASSERT_LT(i, log.size());
    std::ostringstream want;
    want << log.user_keys[log.user[i]] << ',' << log.item_keys[log.item[i]] << ',' << log.rating[i] << ','
         << log.timestamp[i];
    ASSERT_EQ(line, want.str()) << "row " << i;
    ++i;
  }
  EXPECT_EQ(i, 900u);
  std::ifstream items(dir / "items.csv");
  std::getline(items, line);
  EXPECT_EQ(line, "item,genres");
  size_t n_items = 0;
  while (std::getline(items, line)) {
    ++n_items;
    const std::string key = line.substr(0, line.find(','));
    const auto& g = log.item_meta.at(key).genres;
    std::string want = key + ",";
    for (size_t k = 0; k < g.size(); ++k) want += (k ? "|" : "") + log.genre_names[g[k]];
    EXPECT_EQ(line, want);
  }
  EXPECT_EQ(n_items, 40u);
  fs::remove_all(dir);
}

TEST(Synth, PreparesUnderEveryProtocol) {
  SynthOptions o = small_options();
  o.interactions = 30000;
  PrepareOptions p;
  Dataset loo = synth_dataset(o, p);
  EXPECT_EQ(loo.name, "synth");
  EXPECT_GT(loo.n_users, 100u);
  EXPECT_EQ(loo.valid.nnz(), loo.n_users);
  EXPECT_EQ(loo.test.nnz(), loo.n_users);
  EXPECT_EQ(loo.catalog.genre_names.size(), o.genres);
  // No duplicate rows, so a test item never occurs in the user's train row.
  for (uint32_t u = 0; u < loo.n_users; ++u) {
    auto tr = loo.train.row(u);
    EXPECT_EQ(std::count(tr.begin(), tr.end(), loo.test.row(u)[0]), 0);
  }
  p.protocol = Protocol::kTime;
  p.min_positives = 1;
  Dataset t = synth_dataset(o, p);
  const uint64_t n = t.train.nnz() + t.valid.nnz() + t.test.nnz();
  EXPECT_EQ(t.train.nnz(), static_cast<uint64_t>(0.8 * static_cast<double>(n)));
}

TEST(Synth, BadOptions) {
  SynthOptions o = small_options();
  o.interactions = o.users - 1;  // cannot give every user a row
  EXPECT_THROW(synth_log(o), Error);
  o = small_options();
  o.users = 10;
  o.items = 10;
  o.interactions = 101;  // more than users x items distinct pairs
  EXPECT_THROW(synth_log(o), Error);
  o.interactions = 100;  // exactly every pair
  RawLog full = synth_log(o);
  EXPECT_EQ(full.size(), 100u);
  o = small_options();
  o.taste = 1.5;
  EXPECT_THROW(synth_log(o), Error);
  o = small_options();
  o.zipf_exponent = -1;
  EXPECT_THROW(synth_log(o), Error);
  o = small_options();
  o.items = 0;
  EXPECT_THROW(synth_log(o), Error);
  // No genres: allowed, taste has nothing to act on.
  o = small_options();
  o.genres = 0;
  o.interactions = 10000;
  RawLog ng = synth_log(o);
  EXPECT_EQ(ng.size(), 10000u);
  EXPECT_TRUE(ng.genre_names.empty());
}

}  // namespace
}  // namespace cascade
