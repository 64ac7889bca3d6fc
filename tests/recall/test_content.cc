// Content (TF-IDF) channel: hand-computed vectors, profiles (recency, ratings), cold-start
// items, tag vocabulary, persistence.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <vector>

#include "cascade/core/error.h"
#include "cascade/io/artifact.h"
#include "recall/content_tfidf.h"
#include "support/tiny_data.h"

namespace cascade {
namespace {

using test::TempDir;
using test::TinyData;

ItemInfo item(std::vector<uint16_t> genres, int32_t year, std::vector<uint32_t> tags = {}) {
  ItemInfo it;
  it.genres = std::move(genres);
  it.year = year;
  it.tags = std::move(tags);
  return it;
}

// A catalogue-only dataset: `items` with an empty interaction matrix of matching width.
struct Small {
  Interactions train;
  Catalog catalog;
  Small(std::vector<ItemInfo> items, std::vector<std::string> genres,
        std::vector<std::string> tags = {}) {
    catalog.items = std::move(items);
    catalog.genre_names = std::move(genres);
    catalog.tag_names = std::move(tags);
    train.n_cols = static_cast<uint32_t>(catalog.items.size());
  }
  FitInput in() const { return test::fit_input_of(train, catalog); }
};

std::vector<float> all_scores(const Recaller& r, const UserQuery& q) {
  std::vector<float> s(r.n_items());
  r.score(q, s);
  return s;
}

std::span<const float> row(const ContentRecaller& c, ItemId i) {
  ItemVectorsView v = c.item_vectors();
  return {v.data + static_cast<size_t>(i) * v.dim, v.dim};
}

bool shares_genre(const ItemInfo& a, const ItemInfo& b) {
  for (uint16_t g : a.genres) {
    if (std::find(b.genres.begin(), b.genres.end(), g) != b.genres.end()) return true;
  }
  return false;
}

TEST(Content, HandComputedTfIdf) {
  // A {g0} 1995, B {g0} 1985, C {g0, g1} 1995; n = 3; year_weight 0.5.
  // idf = ln(4 / (1 + df)) + 1: g0 (df 3) 1, g1 (df 1) 1.6931472, 1980s (df 1) 1.6931472,
  // 1990s (df 2) 1.2876821, unused buckets (df 0) 2.3862944.
  // Columns [g0, g1, <1970, 1970s, 1980s, 1990s, >=2000]; rows before normalising:
  //   A = [1, 0, 0, 0, 0, 0.5 * 1.2876821, 0]           -> [0.8408020, 0, 0, 0, 0, 0.5413428, 0]
  //   B = [1, 0, 0, 0, 0.5 * 1.6931472, 0, 0]           -> [0.7632283, 0, 0, 0, 0.6461289, 0, 0]
  //   C = [1, 1.6931472, 0, 0, 0, 0.5 * 1.2876821, 0]   -> [0.4832961, 0.8182914, 0, 0, 0, 0.3111658, 0]
  Small s({item({0}, 1995), item({0}, 1985), item({0, 1}, 1995)}, {"g0", "g1"});
  ContentRecaller c{Params::parse("year_weight=0.5")};
  c.fit(s.in());
  ASSERT_EQ(c.n_items(), 3u);
  ASSERT_EQ(c.n_features(), 7u);
  EXPECT_TRUE(c.kept_tags().empty());

  const std::vector<double> idf = {1.0, 1.6931472, 2.3862944, 2.3862944, 1.6931472, 1.2876821, 2.3862944};
  for (size_t f = 0; f < idf.size(); ++f) EXPECT_NEAR(c.idf()[f], idf[f], 1e-6) << "feature " << f;

  const std::vector<std::vector<double>> rows = {
      {0.8408020, 0, 0, 0, 0, 0.5413428, 0},
      {0.7632283, 0, 0, 0, 0.6461289, 0, 0},
      {0.4832961, 0.8182914, 0, 0, 0, 0.3111658, 0},
  };
  ItemVectorsView v = c.item_vectors();
  ASSERT_EQ(v.rows, 3u);
  ASSERT_EQ(v.dim, 7u);
  for (ItemId i = 0; i < 3; ++i) {
    for (uint32_t f = 0; f < 7; ++f) EXPECT_NEAR(row(c, i)[f], rows[i][f], 1e-6) << i << "," << f;
  }

  // History {A}: cosine with A, B, C = 1, 0.6417239, 0.5748037.
  std::vector<ItemId> hist = {0};
  auto sc = all_scores(c, UserQuery{kUnknownUser, hist, {}});
  EXPECT_NEAR(sc[0], 1.0, 1e-6);
  EXPECT_NEAR(sc[1], 0.6417239, 1e-6);
  EXPECT_NEAR(sc[2], 0.5748037, 1e-6);
}

TEST(Content, SingleInteractionUserGetsItsGenreFirst) {
  TinyData d = test::make_tiny_data();
  ContentRecaller c{Params::parse("year_weight=0,tag_weight=0")};
  c.fit(d.fit_input());
  UserQuery q = d.query(TinyData::kSingleUser);
  ASSERT_EQ(q.history.size(), 1u);
  const ItemInfo& seen = d.catalog.items[q.history[0]];

  auto top = c.top_n(q, TinyData::kItems);
  ASSERT_EQ(top.size(), TinyData::kItems - 1);
  // Every item sharing a genre comes before every item that does not.
  bool left_genre = false;
  size_t n_sharing = 0;
  for (const ScoredItem& s : top) {
    bool share = shares_genre(seen, d.catalog.items[s.item]);
    if (share) {
      EXPECT_FALSE(left_genre) << "item " << s.item << " shares a genre but ranks after one that does not";
      EXPECT_GT(s.score, 0.0f);
      ++n_sharing;
    } else {
      left_genre = true;
      EXPECT_EQ(s.score, 0.0f) << "item " << s.item;
    }
  }
  EXPECT_GE(n_sharing, 5u);

  // With the default weights the best item still shares the genre.
  ContentRecaller def{Params()};
  def.fit(d.fit_input());
  auto top_def = def.top_n(q, 3);
  ASSERT_EQ(top_def.size(), 3u);
  for (const ScoredItem& s : top_def) EXPECT_TRUE(shares_genre(seen, d.catalog.items[s.item])) << s.item;
}

TEST(Content, NewItemsGetVectorsAndCanBeRecommended) {
  TinyData d = test::make_tiny_data();
  ContentRecaller c{Params()};
  c.fit(d.fit_input());

  // For catalogue items vector_for() reproduces the fitted row exactly.
  for (ItemId i = 0; i < TinyData::kItems; ++i) {
    auto v = c.vector_for(d.catalog.items[i]);
    auto r = row(c, i);
    ASSERT_TRUE(std::equal(v.begin(), v.end(), r.begin(), r.end())) << "item " << i;
  }

  // A user whose history is all Comedy (genre 1) of the 2000s (items 17, 25, 33).
  std::vector<ItemId> hist;
  for (ItemId i = 0; i < TinyData::kItems; ++i) {
    const ItemInfo& it = d.catalog.items[i];
    if (it.genres == std::vector<uint16_t>{1} && year_bucket(it.year) == 4) hist.push_back(i);
  }
  ASSERT_EQ(hist, (std::vector<ItemId>{17, 25, 33}));
  UserQuery q{kUnknownUser, hist, {}};
  std::vector<float> prof = c.user_profile(q);
  auto score_of = [&](const ItemInfo& info) {
    auto v = c.vector_for(info);
    double s = 0;
    for (size_t f = 0; f < v.size(); ++f) s += double(v[f]) * prof[f];
    return s;
  };
  // Not in the catalogue at all; tag id 99 is unknown and ignored.
  double like = score_of(item({1}, 2004, {99}));
  double unrelated = score_of(item({3}, 1962));
  EXPECT_GT(like, 0.5);
  EXPECT_GT(like, unrelated + 0.3);
  EXPECT_THROW(c.vector_for(item({7}, 2004)), Error);  // genre id out of range

  // The user id does not matter, and profile . row == score.
  auto sc = all_scores(c, q);
  for (ItemId i = 0; i < TinyData::kItems; ++i) {
    double dotp = 0;
    auto r = row(c, i);
    for (size_t f = 0; f < r.size(); ++f) dotp += double(r[f]) * prof[f];
    EXPECT_NEAR(sc[i], dotp, 1e-6) << i;
  }

  // Item 37 (Comedy, no interactions) is scored by Comedy fans above every non-Comedy item.
  ASSERT_EQ(d.catalog.items[37].genres, std::vector<uint16_t>{1});
  ContentRecaller g{Params::parse("year_weight=0,tag_weight=0")};
  g.fit(d.fit_input());
  auto gs = all_scores(g, q);
  EXPECT_GT(gs[37], 0.9f);
  for (ItemId i = 0; i < TinyData::kItems; ++i) {
    const auto& gi = d.catalog.items[i].genres;
    if (std::find(gi.begin(), gi.end(), uint16_t{1}) == gi.end()) {
      EXPECT_LT(gs[i], gs[37]) << i;
    }
  }
}

TEST(Content, RowsAreUnitOrZero) {
  TinyData d = test::make_tiny_data();
  ContentRecaller c{Params()};
  c.fit(d.fit_input());
  for (ItemId i = 0; i < TinyData::kItems; ++i) {
    double n2 = 0;
    for (float x : row(c, i)) n2 += double(x) * x;
    if (i >= 38) {
      EXPECT_EQ(n2, 0.0) << "item " << i << " has no metadata";
    } else {
      EXPECT_NEAR(n2, 1.0, 1e-6) << "item " << i;
    }
  }
  // An item without features scores 0 for a non-empty profile.
  auto sc = all_scores(c, d.query(0));
  EXPECT_EQ(sc[38], 0.0f);
  EXPECT_EQ(sc[39], 0.0f);
}

TEST(Content, TagVocabulary) {
  // Tiny data tag document frequencies: funny 10, dark 9, classic 8, gore 9, twist 6, quirky 1.
  TinyData d = test::make_tiny_data();
  auto kept = [&](const std::string& spec) {
    ContentRecaller c{Params::parse(spec)};
    c.fit(d.fit_input());
    EXPECT_EQ(c.n_features(), TinyData::kGenres + 5 + c.kept_tags().size());
    return c.kept_tags();
  };
  EXPECT_EQ(kept(""), (std::vector<uint32_t>{0, 1, 2, 3, 4}));  // quirky (1 item) dropped
  EXPECT_EQ(kept("min_tag_items=1"), (std::vector<uint32_t>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(kept("min_tag_items=9"), (std::vector<uint32_t>{0, 1, 3}));
  EXPECT_EQ(kept("max_tags=1"), (std::vector<uint32_t>{0}));
  EXPECT_EQ(kept("max_tags=2"), (std::vector<uint32_t>{0, 1}));  // dark/gore tie: lower id
  EXPECT_EQ(kept("max_tags=0"), (std::vector<uint32_t>{}));

  // Item 1: Comedy, 1957, "funny" applied twice -> tf 1 + ln 2.
  ContentRecaller c{Params()};
  c.fit(d.fit_input());
  const ItemInfo& it = d.catalog.items[1];
  ASSERT_EQ(it.genres, std::vector<uint16_t>{1});
  ASSERT_EQ(it.tags, (std::vector<uint32_t>{0, 0}));
  const uint32_t g = 1, y = 4 + 0, t = 4 + 5 + 0;
  std::vector<double> raw(c.n_features(), 0.0);
  raw[g] = c.idf()[g];
  raw[y] = c.idf()[y];
  raw[t] = (1.0 + std::log(2.0)) * c.idf()[t];
  double n = std::sqrt(raw[g] * raw[g] + raw[y] * raw[y] + raw[t] * raw[t]);
  for (uint32_t f = 0; f < c.n_features(); ++f) EXPECT_NEAR(row(c, 1)[f], raw[f] / n, 1e-6) << f;
  // funny: df 10 of 40 items -> ln(41/11) + 1.
  EXPECT_NEAR(c.idf()[t], std::log(41.0 / 11.0) + 1.0, 1e-6);

  // tag_weight 0 zeroes every tag column.
  ContentRecaller z{Params::parse("tag_weight=0")};
  z.fit(d.fit_input());
  for (ItemId i = 0; i < TinyData::kItems; ++i) {
    auto r = row(z, i);
    for (uint32_t f = 4 + 5; f < z.n_features(); ++f) EXPECT_EQ(r[f], 0.0f);
  }
}

// Four one-genre items: 0, 2 in g0; 1, 3 in g1; no years, no tags -> rows are unit vectors.
Small two_genres() {
  return Small({item({0}, -1), item({1}, -1), item({0}, -1), item({1}, -1)}, {"g0", "g1"});
}

TEST(Content, RecencyDecayWeightsNewestItems) {
  Small s = two_genres();
  std::vector<ItemId> hist = {0, 1};  // 1 is the newest
  ContentRecaller plain{Params()};
  plain.fit(s.in());
  auto a = all_scores(plain, UserQuery{kUnknownUser, hist, {}});
  EXPECT_NEAR(a[2], 0.7071068, 1e-6);
  EXPECT_NEAR(a[3], 0.7071068, 1e-6);

  // decay 0.5: weights 0.5 (item 0), 1 (item 1) -> profile [0.5, 1] / sqrt(1.25).
  ContentRecaller rec{Params::parse("recency_decay=0.5")};
  rec.fit(s.in());
  auto b = all_scores(rec, UserQuery{kUnknownUser, hist, {}});
  EXPECT_NEAR(b[2], 0.4472136, 1e-6);
  EXPECT_NEAR(b[3], 0.8944272, 1e-6);
}

TEST(Content, RatingsWeightTheProfileWhenEnabled) {
  Small s = two_genres();
  std::vector<ItemId> hist = {0, 1};
  std::vector<float> vals = {5, 1};
  ContentRecaller off{Params()};
  off.fit(s.in());
  auto a = all_scores(off, UserQuery{kUnknownUser, hist, vals});
  EXPECT_NEAR(a[2], a[3], 1e-7);

  // profile [5, 1] / sqrt(26).
  ContentRecaller on{Params::parse("use_ratings=true")};
  on.fit(s.in());
  auto b = all_scores(on, UserQuery{kUnknownUser, hist, vals});
  EXPECT_NEAR(b[2], 0.9805807, 1e-6);
  EXPECT_NEAR(b[3], 0.1961161, 1e-6);
  // Without values the ratings option changes nothing.
  auto c = all_scores(on, UserQuery{kUnknownUser, hist, {}});
  EXPECT_NEAR(c[2], 0.7071068, 1e-6);

  // Both: weights 0.5 * 5 = 2.5 (item 0), 1 (item 1) -> [2.5, 1] / sqrt(7.25).
  ContentRecaller both{Params::parse("use_ratings=true,recency_decay=0.5")};
  both.fit(s.in());
  auto e = all_scores(both, UserQuery{kUnknownUser, hist, vals});
  EXPECT_NEAR(e[2], 0.9284767, 1e-6);
  EXPECT_NEAR(e[3], 0.3713907, 1e-6);

  std::vector<float> short_vals = {5};
  EXPECT_THROW(all_scores(on, UserQuery{kUnknownUser, hist, short_vals}), Error);
}

TEST(Content, EmptyHistoryScoresZero) {
  TinyData d = test::make_tiny_data();
  ContentRecaller c{Params()};
  c.fit(d.fit_input());
  UserQuery q = d.query(TinyData::kEmptyUser);
  ASSERT_TRUE(q.history.empty());
  auto s = all_scores(c, q);
  EXPECT_TRUE(std::all_of(s.begin(), s.end(), [](float x) { return x == 0.0f; }));
  auto top = c.top_n(q, 3);  // all ties: lowest ids
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].item, 0u);
  EXPECT_EQ(top[2].item, 2u);
}

TEST(Content, ScoreItemsMatchesScoreExactly) {
  TinyData d = test::make_tiny_data();
  ContentRecaller c{Params::parse("recency_decay=0.8,use_ratings=true")};
  c.fit(d.fit_input());
  std::vector<ItemId> cand = {39, 0, 17, 17, 36, 5};
  for (UserId u = 0; u < TinyData::kUsers; ++u) {
    auto all = all_scores(c, d.query(u));
    std::vector<float> out(cand.size());
    c.score_items(d.query(u), cand, out);
    for (size_t k = 0; k < cand.size(); ++k) EXPECT_EQ(out[k], all[cand[k]]) << "user " << u;
  }
  std::vector<ItemId> bad_hist = {40};
  std::vector<float> buf(TinyData::kItems);
  EXPECT_THROW(c.score(UserQuery{kUnknownUser, bad_hist, {}}, buf), Error);
}

TEST(Content, ParamsAndInputsAreChecked) {
  EXPECT_THROW(ContentRecaller{Params::parse("recency_decay=0")}, Error);
  EXPECT_THROW(ContentRecaller{Params::parse("recency_decay=1.5")}, Error);
  EXPECT_THROW(ContentRecaller{Params::parse("genre_weight=-1")}, Error);
  EXPECT_THROW(ContentRecaller{Params::parse("min_tag_items=0")}, Error);
  EXPECT_THROW(ContentRecaller{Params::parse("use_ratings=maybe")}, Error);
  EXPECT_THROW(ContentRecaller{Params::parse("genre_wieght=2")}, Error);
  Params p = ContentRecaller{Params()}.params();
  EXPECT_EQ(p.raw().size(), 7u);
  EXPECT_EQ(p.raw().at("max_tags"), "1000");
  EXPECT_EQ(p.raw().at("use_ratings"), "false");

  TinyData d = test::make_tiny_data();
  ContentRecaller c{Params()};
  Interactions narrow = d.train;
  narrow.n_cols = 39;
  EXPECT_THROW(c.fit(test::fit_input_of(narrow, d.catalog)), Error);
  Catalog bad = d.catalog;
  bad.items[3].genres = {9};
  EXPECT_THROW(c.fit(test::fit_input_of(d.train, bad)), Error);
  bad = d.catalog;
  bad.items[3].tags = {6};
  EXPECT_THROW(c.fit(test::fit_input_of(d.train, bad)), Error);
}

TEST(Content, SaveLoadRoundTrip) {
  TinyData d = test::make_tiny_data();
  ContentRecaller c{Params::parse("tag_weight=0.5,recency_decay=0.9,max_tags=3")};
  c.fit(d.fit_input());
  TempDir tmp("content");
  c.save(tmp.path());

  auto manifest = nlohmann::json::parse(read_file(tmp.path() / "manifest.json"));
  EXPECT_EQ(manifest["kind"], "content");
  EXPECT_EQ(manifest["format_version"], 1);
  EXPECT_EQ(manifest["dataset_hash"], d.hash);
  EXPECT_EQ(manifest["params"]["max_tags"], "3");
  EXPECT_EQ(manifest["n_features"], c.n_features());

  auto loaded = load_recaller(tmp.path());
  auto* l = dynamic_cast<ContentRecaller*>(loaded.get());
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->kept_tags(), c.kept_tags());
  EXPECT_EQ(l->params().raw(), c.params().raw());
  EXPECT_EQ(l->dataset_hash(), d.hash);
  for (UserId u = 0; u < TinyData::kUsers; ++u) {
    EXPECT_EQ(all_scores(*l, d.query(u)), all_scores(c, d.query(u))) << "user " << u;
  }
  ItemInfo fresh = item({0, 2}, 2003, {0, 3, 3});
  EXPECT_EQ(l->vector_for(fresh), c.vector_for(fresh));

  // A manifest whose shape disagrees with the arrays is rejected, model unchanged.
  auto bad = manifest;
  bad["n_features"] = c.n_features() + 1;
  write_file_atomic(tmp.path() / "manifest.json", bad.dump());
  EXPECT_THROW(l->load(tmp.path()), Error);
  EXPECT_EQ(l->n_features(), c.n_features());
}

}  // namespace
}  // namespace cascade
