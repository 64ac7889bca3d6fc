// The ranking feature pipeline: hand-computed values on a tiny catalogue, the seed-oof
// training examples (time semantics, no candidate in its own history, negatives), and the
// identity of the training and serving paths for the same (user, item, time).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <set>

#include "cascade/core/error.h"
#include "cascade/data/synth.h"
#include "cascade/pipeline/fused_pool.h"
#include "cascade/pipeline/rank_job.h"
#include "cascade/rank/features.h"
#include "cascade/recall/recaller.h"
#include "support/test_util.h"

namespace cascade {
namespace {

// Bitwise equality that treats NaN == NaN (a missing feature must be missing on both paths).
bool same_float(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

float col(const RankBatch& b, size_t row, const std::string& name) {
  const int c = b.schema.dense_index(name);
  EXPECT_GE(c, 0) << name;
  return b.dense_row(row)[static_cast<size_t>(c)];
}

// Four items: genres {0}, {0,1}, {1}, {} ; years 1975, 1995, -1, 2005.
Catalog tiny_catalog() {
  Catalog c;
  c.genre_names = {"Action", "Drama"};
  c.items.resize(4);
  c.items[0].genres = {0};
  c.items[0].year = 1975;
  c.items[1].genres = {0, 1};
  c.items[1].year = 1995;
  c.items[2].genres = {1};
  c.items[3].year = 2005;
  c.users.resize(2);
  c.users[0].gender = 'F';
  c.users[0].age_bucket = 2;
  c.users[0].occupation = "writer";
  c.users[1].occupation = "artist";
  return c;
}

// fit matrix: user 0 saw items 0 (t=100), 1 (t=200); user 1 saw item 0 (t=50).
Interactions tiny_fit() {
  Interactions m;
  m.n_cols = 4;
  const std::vector<uint32_t> a = {0, 1}, b = {0};
  const std::vector<float> va = {1, 1}, vb = {1};
  const std::vector<int64_t> ta = {100, 200}, tb = {50};
  m.append_row(a, va, ta);
  m.append_row(b, vb, tb);
  return m;
}

TEST(RankFeatures, HandComputedValues) {
  const Catalog cat = tiny_catalog();
  const Interactions fit = tiny_fit();
  auto pop = make_recaller("popularity");
  pop->fit(FitInput{fit, cat});
  FeatureConfig cfg;
  cfg.similarity = {{"pop", "score"}};
  cfg.max_history = 1;
  FeatureBuilder fb(cat, fit, {pop.get()}, {"pop"}, cfg);
  const FeatureSchema& s = fb.schema();
  EXPECT_EQ(s.fields.size(), 7u);
  EXPECT_EQ(s.fields[0].cardinality, 3u);  // 2 users + unknown
  EXPECT_EQ(s.fields[4].cardinality, 3u);  // artist, writer + unknown

  // User 0 at t = 86400 * 2 + 200 with history {0, 1}; candidates: item 2 (pool rank 1,
  // channel rank 1, score 0.5) and item 3 (not in the pool).
  FusedCandidate c2;
  c2.item = 2;
  c2.score = 0.75f;
  c2.channels = {0};
  c2.channel_scores = {0.5f};
  c2.channel_ranks = {1};
  const std::vector<FusedCandidate> pool = {c2};
  const std::vector<ItemId> hist = {0, 1};
  const std::vector<int64_t> times = {100, 200};
  RankRequest req{0, hist, times, 2 * 86400 + 200};
  RankBatch b = fb.empty_batch();
  const std::vector<ItemId> items = {2, 3};
  fb.add_items(req, pool, items, b);
  ASSERT_EQ(b.rows(), 2u);
  ASSERT_NO_THROW(b.validate());
  EXPECT_FLOAT_EQ(col(b, 0, "hist_len"), std::log1p(2.0f));
  EXPECT_FLOAT_EQ(col(b, 0, "days_since_last"), 2.0f);
  EXPECT_FLOAT_EQ(col(b, 0, "pop"), 0.0f);  // item 2 never occurs in the fit matrix
  EXPECT_TRUE(std::isnan(col(b, 0, "age_days")));
  EXPECT_TRUE(std::isnan(col(b, 0, "year")));
  EXPECT_EQ(col(b, 0, "genre_Action"), 0.0f);
  EXPECT_EQ(col(b, 0, "genre_Drama"), 1.0f);
  EXPECT_FLOAT_EQ(col(b, 0, "fused_score"), 0.75f);
  EXPECT_FLOAT_EQ(col(b, 0, "fused_rank"), std::log1p(1.0f));
  EXPECT_FLOAT_EQ(col(b, 0, "score_pop"), 0.5f);
  EXPECT_FLOAT_EQ(col(b, 0, "rank_pop"), std::log1p(1.0f));
  // History genres: Action 2, Drama 1 -> cosine with Drama-only = 1 / sqrt(5); share = 1/2.
  EXPECT_NEAR(col(b, 0, "genre_affinity"), 1.0 / std::sqrt(5.0), 1e-6);
  EXPECT_NEAR(col(b, 0, "genre_share"), 0.5, 1e-6);
  // Item 3: outside the pool -> pool and channel features missing; no genres -> affinity missing.
  EXPECT_TRUE(std::isnan(col(b, 1, "fused_score")));
  EXPECT_TRUE(std::isnan(col(b, 1, "score_pop")));
  EXPECT_TRUE(std::isnan(col(b, 1, "rank_pop")));
  EXPECT_TRUE(std::isnan(col(b, 1, "genre_affinity")));
  EXPECT_FLOAT_EQ(col(b, 1, "year"), 2005.0f);
  // Categorical: user 0 -> 1, item 3 -> 4, F -> 2, age bucket 2 -> 3, writer -> 2, year 2005 -> 5.
  const auto z = b.cat_row(1);
  EXPECT_EQ(z[0], 1u);
  EXPECT_EQ(z[1], 4u);
  EXPECT_EQ(z[2], 2u);
  EXPECT_EQ(z[3], 3u);
  EXPECT_EQ(z[4], 2u);
  EXPECT_EQ(z[5], 5u);
  EXPECT_EQ(z[6], 1u);  // popularity bucket of a never-seen item
  // Item 0 (count 2, first at t=50): age in days from the request time.
  RankBatch b0 = fb.empty_batch();
  const std::vector<ItemId> zero = {0};
  fb.add_items(req, pool, zero, b0);
  EXPECT_FLOAT_EQ(col(b0, 0, "pop"), std::log1p(2.0f));
  EXPECT_NEAR(col(b0, 0, "age_days"), (2.0 * 86400 + 150) / 86400.0, 1e-5);
  EXPECT_EQ(b0.cat_row(0)[6], 2u);  // 1 + floor(log2(1 + 2))
  // Only the newest max_history = 1 items are carried.
  ASSERT_EQ(b.groups(), 1u);
  ASSERT_EQ(b.group_history(0).size(), 1u);
  EXPECT_EQ(b.group_history(0)[0], 1u);
  // Recency similarity through popularity's score for a one-item history = the item's count share.
  EXPECT_FALSE(std::isnan(col(b0, 0, "sim_pop_last")));
  EXPECT_FLOAT_EQ(col(b0, 0, "sim_pop_max"), std::max(col(b0, 0, "sim_pop_last"), col(b0, 0, "sim_pop_mean")));

  // An unknown user gets unknown demographics but still its history features.
  RankRequest anon{kUnknownUser, hist, times, 2 * 86400 + 200};
  RankBatch ba = fb.empty_batch();
  fb.add_items(anon, pool, items, ba);
  EXPECT_EQ(ba.cat_row(0)[0], 0u);
  EXPECT_EQ(ba.cat_row(0)[2], 0u);
  EXPECT_EQ(ba.group_user[0], kUnknownUser);
  EXPECT_FLOAT_EQ(col(ba, 0, "genre_share"), 0.5f);
}

TEST(RankFeatures, BadInputIsRejected) {
  const Catalog cat = tiny_catalog();
  const Interactions fit = tiny_fit();
  FeatureBuilder fb(cat, fit, {}, {}, FeatureConfig{});
  RankBatch b = fb.empty_batch();
  const std::vector<ItemId> bad_hist = {9};
  EXPECT_THROW(fb.add_items(RankRequest{0, bad_hist, {}, 0}, {}, std::vector<ItemId>{0}, b), Error);
  EXPECT_THROW(fb.add_items(RankRequest{0, {}, {}, 0}, {}, std::vector<ItemId>{4}, b), Error);
  const std::vector<ItemId> h = {0, 1};
  const std::vector<int64_t> t = {1};
  EXPECT_THROW(fb.add_items(RankRequest{0, h, t, 0}, {}, std::vector<ItemId>{2}, b), Error);
  // A similarity source asking for vectors from a channel without them names the channel.
  auto pop = make_recaller("popularity");
  pop->fit(FitInput{fit, cat});
  FeatureConfig cfg;
  cfg.similarity = {{"pop", "cosine"}};
  try {
    FeatureBuilder bad(cat, fit, {pop.get()}, {"pop"}, cfg);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("similarity.pop"), std::string::npos) << e.what();
  }
  YAML::Node n = YAML::Load("{recent_items: 0}");
  EXPECT_THROW(FeatureConfig::from_yaml(n), Error);
  EXPECT_THROW(FeatureConfig::from_yaml(YAML::Load("{similarity: {ials: dot}}")), Error);
  EXPECT_THROW(FeatureConfig::from_yaml(YAML::Load("{colour: red}")), Error);
  EXPECT_EQ(FeatureConfig::from_yaml(YAML::Load("{similarity: {ials: none}}")).similarity.size(), 0u);
}

// A seed-oof synthetic dataset with two fitted channels and its training pools.
struct OofFixture {
  Dataset ds;
  Interactions recall;
  std::unique_ptr<Recaller> pop, ials;
  std::vector<std::string> names = {"popularity", "ials"};
  std::vector<std::vector<FusedCandidate>> pools;
  OofFixture() {
    SynthOptions so;
    so.users = 120;
    so.items = 150;
    so.interactions = 4000;
    PrepareOptions po;
    po.protocol = Protocol::kSeedOof;
    po.min_rating = 0;
    ds = synth_dataset(so, po);
    recall = ds.recall_slice();
    pop = make_recaller("popularity");
    ials = make_recaller("ials:factors=8,iters=3");
    pop->fit(FitInput{recall, ds.catalog, 1});
    ials->fit(FitInput{recall, ds.catalog, 1});
    const Interactions ranker = ds.ranker_slice(), none;
    PoolCandidates pc = collect_candidates({pop.get(), ials.get()}, names, recall, ranker, none, 60, 1);
    FusionOptions fo;
    pools = fused_pools(pc, recall, fo, 40, 1);
  }
  std::vector<const Recaller*> channels() const { return {pop.get(), ials.get()}; }
};

TEST(RankExamples, SeedOofTimeSemanticsNegativesAndNoTargetInHistory) {
  OofFixture f;
  FeatureConfig cfg;
  cfg.similarity = {{"ials", "cosine"}};
  FeatureBuilder fb(f.ds.catalog, f.recall, f.channels(), f.names, cfg);
  ExampleOptions eo;
  eo.hard_negatives = 10;
  eo.hard_depth = 40;
  eo.random_negatives = 5;
  const RankTrainSet ts = build_training_set(fb, f.ds, f.pools, eo, 2);
  ASSERT_NO_THROW(ts.validate());
  ASSERT_GT(ts.batch.groups(), 50u);
  size_t positives = 0, in_pool_negatives = 0, outside_negatives = 0;
  std::vector<ItemId> rh;
  for (size_t g = 0; g < ts.batch.groups(); ++g) {
    const UserId u = ts.batch.group_user[g];
    ASSERT_LT(u, f.ds.n_users);
    const auto row = f.ds.train.row(u);
    const uint32_t split = f.ds.recall_rows[u];
    const std::set<ItemId> recall_items(row.begin(), row.begin() + split);
    const std::set<ItemId> ranker_items(row.begin() + split, row.end());
    std::set<ItemId> pool_items;
    for (const auto& c : f.pools[u]) pool_items.insert(c.item);
    // History = the newest recall-slice items, in time order.
    const auto hist = ts.batch.group_history(g);
    const size_t keep = std::min<size_t>(split, cfg.max_history);
    ASSERT_EQ(hist.size(), keep);
    for (size_t k = 0; k < keep; ++k) EXPECT_EQ(hist[k], row[split - keep + k]);
    for (size_t r = ts.batch.group_begin[g]; r < ts.batch.group_begin[g + 1]; ++r) {
      const ItemId it = ts.batch.items[r];
      // No candidate appears in its own history feature (nor anywhere in the recall slice).
      EXPECT_EQ(std::count(hist.begin(), hist.end(), it), 0) << "user " << u << " item " << it;
      EXPECT_EQ(recall_items.count(it), 0u);
      ts.batch.row_history(r, rh);
      EXPECT_EQ(std::count(rh.begin(), rh.end(), it), 0);
      if (ts.labels[r] == 1.0f) {
        ++positives;
        EXPECT_EQ(ranker_items.count(it), 1u);  // positives come from the ranker slice
        EXPECT_EQ(pool_items.count(it), 1u);    // positives_in_pool
      } else {
        EXPECT_EQ(ranker_items.count(it), 0u);  // a ranker-slice item is never a negative
        (pool_items.count(it) ? in_pool_negatives : outside_negatives) += 1;
        // A negative outside the pool has no pool features; one inside has them.
        EXPECT_EQ(std::isnan(col(ts.batch, r, "fused_score")), pool_items.count(it) == 0);
      }
    }
  }
  EXPECT_GT(positives, 0u);
  EXPECT_GT(in_pool_negatives, outside_negatives);
  EXPECT_GT(outside_negatives, 0u);
  // Deterministic whatever the thread count.
  const RankTrainSet again = build_training_set(fb, f.ds, f.pools, eo, 1);
  EXPECT_EQ(again.batch.items, ts.batch.items);
  EXPECT_EQ(again.labels, ts.labels);
}

// The training examples are built by the serving path's feature code, at the request time the
// policy gives (request_time.h), for both policies; and the two policies give different rows, so
// the comparison sees the request time.
// A ranker's item_init reads a channel's item vectors through the feature pipeline: the
// channel's own table, an error naming the channels that have one, and fit_ranker passes the
// lookup on (DIN started from iALS scores otherwise than from random embeddings).
TEST(RankExamples, ItemInitReadsTheChannelsItemVectors) {
  OofFixture f;
  const FeatureBuilder fb(f.ds.catalog, f.recall, f.channels(), f.names, FeatureConfig{});
  const ItemTable t = fb.item_table("ials");
  const ItemVectorsView v = f.ials->item_vectors();
  EXPECT_EQ(t.values.data(), v.data);
  EXPECT_EQ(t.rows, f.ds.n_items);
  EXPECT_EQ(t.dim, 8u);
  for (const std::string name : {"popularity", "sasrec"}) {
    const std::string e = test::error_of([&] { fb.item_table(name); });
    EXPECT_NE(e.find("'" + name + "'"), std::string::npos) << e;
    EXPECT_NE(e.find("with them: ials"), std::string::npos) << e;
  }
  ExampleOptions eo;
  eo.hard_negatives = 10;
  eo.hard_depth = 40;
  eo.random_negatives = 5;
  const RankTrainSet ts = build_training_set(fb, f.ds, f.pools, eo, 1);
  RankerSpec plain;
  plain.name = plain.kind = "din";
  plain.params = Params::parse("dim=8,att_hidden=8,hidden=16,epochs=1");
  RankerSpec init = plain;
  init.params.set("item_init", "ials");
  const RankTrainSet none;
  const auto lookup = [&fb](const std::string& n) { return fb.item_table(n); };
  auto a = fit_ranker(plain, ts, none, 1, 7, "", lookup);
  auto b = fit_ranker(init, ts, none, 1, 7, "", lookup);
  std::vector<float> sa(ts.batch.rows()), sb(ts.batch.rows());
  a->score(ts.batch, sa);
  b->score(ts.batch, sb);
  EXPECT_NE(sa, sb);
  EXPECT_NE(test::error_of([&] { fit_ranker(init, ts, none, 1, 7, ""); }).find("recall channels"),
            std::string::npos);
}

TEST(RankExamples, TrainingAndServingPathsGiveIdenticalFeatureVectors) {
  OofFixture f;
  FeatureConfig cfg;
  cfg.similarity = {{"ials", "cosine"}, {"popularity", "score"}};
  cfg.sequence = {{"ials", {1, 0}}};
  FeatureBuilder fb(f.ds.catalog, f.recall, f.channels(), f.names, cfg);
  std::vector<float> dense_of[2];
  for (const TimePolicy policy : {TimePolicy::kServing, TimePolicy::kEvent}) {
    ExampleOptions eo;
    eo.hard_negatives = 8;
    eo.hard_depth = 40;
    eo.random_negatives = 4;
    eo.request_time = policy;
    const RankTrainSet ts = build_training_set(fb, f.ds, f.pools, eo, 2);
    ASSERT_GT(ts.batch.groups(), 10u);
    dense_of[policy == TimePolicy::kEvent] = ts.batch.dense;
    const size_t nd = fb.schema().n_dense(), nf = fb.schema().n_fields();
    size_t compared = 0;
    for (size_t g = 0; g < 10; ++g) {
      const UserId u = ts.batch.group_user[g];
      const uint32_t split = f.ds.recall_rows[u];
      // The serving path: a request just before the ranker slice, one item at a time, and the
      // whole pool at once (add_pool), for the same (user, item, time).
      const auto times = f.ds.train.row_times(u).subspan(0, split);
      RankRequest req{u, f.ds.train.row(u).subspan(0, split), times,
                      request_time(policy, training_clock(f.ds), times, f.ds.train.row_times(u)[split])};
      RankBatch whole = fb.empty_batch();
      fb.add_pool(req, f.pools[u], whole);
      for (size_t r = ts.batch.group_begin[g]; r < ts.batch.group_begin[g + 1]; ++r) {
        RankBatch one = fb.empty_batch();
        const ItemId it = ts.batch.items[r];
        fb.add_items(req, f.pools[u], std::span<const ItemId>(&it, 1), one);
        for (size_t d = 0; d < nd; ++d) {
          ASSERT_TRUE(same_float(one.dense[d], ts.batch.dense_row(r)[d]))
              << "user " << u << " item " << it << " column " << fb.schema().dense[d];
        }
        for (size_t k = 0; k < nf; ++k) ASSERT_EQ(one.cats[k], ts.batch.cat_row(r)[k]);
        ASSERT_EQ(std::vector<ItemId>(one.history.begin(), one.history.end()),
                  std::vector<ItemId>(ts.batch.group_history(g).begin(), ts.batch.group_history(g).end()));
        for (size_t p = 0; p < whole.rows(); ++p) {
          if (whole.items[p] != it) continue;
          for (size_t d = 0; d < nd; ++d) ASSERT_TRUE(same_float(whole.dense_row(p)[d], one.dense[d]));
          ++compared;
        }
      }
    }
    EXPECT_GT(compared, 50u);
  }
  ASSERT_EQ(dense_of[0].size(), dense_of[1].size());
  EXPECT_NE(dense_of[0], dense_of[1]);
}

// With `off`, exactly the columns `cols` are missing (NaN) in every row of a pool, the others
// bit-identical to the default configuration's; when on, those columns are mostly present.
void expect_only_missing(const FeatureConfig& off, const std::set<std::string>& cols) {
  OofFixture f;
  FeatureConfig on;
  FeatureBuilder a(f.ds.catalog, f.recall, f.channels(), f.names, on), b(f.ds.catalog, f.recall, f.channels(),
                                                                         f.names, off);
  const UserId u = 3;
  const uint32_t split = f.ds.recall_rows[u];
  RankRequest req{u, f.ds.train.row(u).subspan(0, split), f.ds.train.row_times(u).subspan(0, split),
                  f.ds.train.row_times(u)[split]};
  RankBatch with = a.empty_batch(), without = b.empty_batch();
  a.add_pool(req, f.pools[u], with);
  b.add_pool(req, f.pools[u], without);
  ASSERT_EQ(a.schema().dense, b.schema().dense);
  const size_t nd = a.schema().n_dense();
  size_t present_when_on = 0;
  for (size_t d = 0; d < nd; ++d) {
    const std::string& col = a.schema().dense[d];
    for (size_t r = 0; r < with.rows(); ++r) {
      if (cols.count(col)) {
        EXPECT_TRUE(std::isnan(without.dense_row(r)[d])) << col;
        present_when_on += !std::isnan(with.dense_row(r)[d]);
      } else {
        EXPECT_TRUE(same_float(with.dense_row(r)[d], without.dense_row(r)[d])) << col;
      }
    }
  }
  EXPECT_GT(present_when_on, with.rows());  // the columns are mostly present when on
}

TEST(RankFeatures, TimeFeaturesOffAreMissing) {
  FeatureConfig off;
  off.time = false;
  expect_only_missing(off, {"days_since_last", "age_days"});
  EXPECT_EQ(FeatureConfig::from_yaml(YAML::Load("{time: false}")).time, false);
}

TEST(RankFeatures, GenreFeaturesOffAreMissing) {
  FeatureConfig off;
  off.genres = false;
  expect_only_missing(off, {"genre_affinity", "genre_share"});
  EXPECT_EQ(FeatureConfig::from_yaml(YAML::Load("{genres: false}")).genres, false);
  EXPECT_THROW(FeatureConfig::from_yaml(YAML::Load("{genres: maybe}")), Error);
}

// User priors and session features, by hand: user 0 with history {0 (t = 100), 1 (t = 200)}.
TEST(RankFeatures, PriorsAndSessionHandComputed) {
  const Catalog cat = tiny_catalog();
  const Interactions fit = tiny_fit();
  auto pop = make_recaller("popularity");
  pop->fit(FitInput{fit, cat});
  FeatureConfig cfg =
      FeatureConfig::from_yaml(YAML::Load("{similarity: {}, priors: true, session: true}"));
  const FeatureBuilder fb(cat, fit, {pop.get()}, {"pop"}, cfg);
  const auto& dense = fb.schema().dense;
  // The new groups are the last columns; off (a config without the keys), they are absent.
  ASSERT_GE(dense.size(), 5u);
  EXPECT_EQ(std::vector<std::string>(dense.end() - 5, dense.end()),
            (std::vector<std::string>{"user_pop_mean", "pop_vs_user", "year_vs_user", "session_len",
                                      "last_gap_hours"}));
  const FeatureConfig plain = FeatureConfig::from_yaml(YAML::Load("{similarity: {}}"));
  EXPECT_FALSE(plain.priors || plain.session);
  EXPECT_EQ(FeatureBuilder(cat, fit, {pop.get()}, {"pop"}, plain).schema().n_dense(),
            dense.size() - 5);

  const std::vector<FusedCandidate> pool;
  const std::vector<ItemId> hist = {0, 1}, items = {0, 2, 3};
  // Counts in the fit matrix: item 0 twice, item 1 once -> user_pop_mean = (log 3 + log 2) / 2.
  const float user_pop = (std::log1p(2.0f) + std::log1p(1.0f)) / 2;
  for (const int64_t gap : {int64_t{100}, int64_t{3600}}) {
    const std::vector<int64_t> times = {100, 100 + gap};
    RankBatch b = fb.empty_batch();
    fb.add_items(RankRequest{0, hist, times, 10000}, pool, items, b);
    EXPECT_NEAR(col(b, 0, "user_pop_mean"), user_pop, 1e-6);
    EXPECT_NEAR(col(b, 0, "pop_vs_user"), std::log1p(2.0f) - user_pop, 1e-6);
    EXPECT_NEAR(col(b, 1, "pop_vs_user"), 0.0f - user_pop, 1e-6);  // item 2 never seen
    // History years 1975 and 1995 -> 1985; item 0 is 1975, item 2 has no year, item 3 is 2005.
    EXPECT_FLOAT_EQ(col(b, 0, "year_vs_user"), -10.0f);
    EXPECT_TRUE(std::isnan(col(b, 1, "year_vs_user")));
    EXPECT_FLOAT_EQ(col(b, 2, "year_vs_user"), 20.0f);
    // 100 s apart: one session of two events; an hour apart: the newest alone.
    EXPECT_FLOAT_EQ(col(b, 0, "session_len"), std::log1p(gap <= 1800 ? 2.0f : 1.0f));
    EXPECT_NEAR(col(b, 0, "last_gap_hours"), std::log1p(gap / 3600.0), 1e-6);
  }
  // No history: priors missing; no times or time features off: session missing.
  RankBatch empty = fb.empty_batch();
  fb.add_items(RankRequest{0, {}, {}, 10000}, pool, items, empty);
  EXPECT_TRUE(std::isnan(col(empty, 0, "user_pop_mean")));
  EXPECT_TRUE(std::isnan(col(empty, 0, "session_len")));
  cfg.time = false;
  const FeatureBuilder no_time(cat, fit, {pop.get()}, {"pop"}, cfg);
  RankBatch nt = no_time.empty_batch();
  const std::vector<int64_t> times = {100, 200};
  no_time.add_items(RankRequest{0, hist, times, 10000}, pool, items, nt);
  EXPECT_TRUE(std::isnan(col(nt, 0, "session_len")));
  EXPECT_TRUE(std::isnan(col(nt, 0, "last_gap_hours")));
  EXPECT_FALSE(std::isnan(col(nt, 0, "user_pop_mean")));
  EXPECT_THROW(FeatureConfig::from_yaml(YAML::Load("{priors: often}")), Error);
}

// Sequence scores: seq_<c>_<L> is channel c's score of the candidate for the newest L history
// items alone (0 = all of them), for every candidate; missing without history; bad configs
// are rejected naming the key.
TEST(RankFeatures, SequenceScoresAreTheChannelsScoreOfTheNewestItems) {
  OofFixture f;
  FeatureConfig cfg =
      FeatureConfig::from_yaml(YAML::Load("{similarity: {}, sequence: {ials: 1/3/0}}"));
  ASSERT_EQ(cfg.sequence.at("ials"), (std::vector<uint32_t>{1, 3, 0}));
  const FeatureBuilder fb(f.ds.catalog, f.recall, f.channels(), f.names, cfg);
  const auto& dense = fb.schema().dense;
  ASSERT_GE(dense.size(), 3u);
  EXPECT_EQ(std::vector<std::string>(dense.end() - 3, dense.end()),
            (std::vector<std::string>{"seq_ials_1", "seq_ials_3", "seq_ials_0"}));
  const UserId u = 5;
  const uint32_t split = f.ds.recall_rows[u];
  ASSERT_GE(split, 4u);
  const auto hist = f.ds.train.row(u).subspan(0, split);
  // Candidates: the pool's items plus one outside it (no channel score there, a sequence score).
  std::vector<ItemId> items;
  for (const auto& c : f.pools[u]) items.push_back(c.item);
  for (ItemId i = 0; i < f.ds.n_items; ++i) {
    if (std::find(items.begin(), items.end(), i) == items.end() &&
        std::find(hist.begin(), hist.end(), i) == hist.end()) {
      items.push_back(i);
      break;
    }
  }
  RankBatch b = fb.empty_batch();
  fb.add_items(RankRequest{u, hist, {}, 0}, f.pools[u], items, b);
  std::vector<float> full(f.ds.n_items);
  size_t differ = 0;
  for (const uint32_t len : {1u, 3u, 0u}) {
    UserQuery q;
    q.user = u;
    q.history = len == 0 ? hist : hist.subspan(hist.size() - len);
    q.past_fit = true;
    f.ials->score(q, full);
    for (size_t r = 0; r < items.size(); ++r) {
      const float got = col(b, r, fmt::format("seq_ials_{}", len));
      EXPECT_NEAR(got, full[items[r]], 1e-5f * (1 + std::abs(full[items[r]]))) << len << " " << r;
      if (len == 1) differ += std::abs(got - col(b, r, "seq_ials_0")) > 1e-4f;
    }
  }
  EXPECT_GT(differ, items.size() / 2);  // one item and the whole history are different users
  EXPECT_TRUE(std::isnan(col(b, items.size() - 1, "score_ials")));
  EXPECT_FALSE(std::isnan(col(b, items.size() - 1, "seq_ials_1")));
  RankBatch empty = fb.empty_batch();
  fb.add_items(RankRequest{u, {}, {}, 0}, f.pools[u], items, empty);
  EXPECT_TRUE(std::isnan(col(empty, 0, "seq_ials_3")));

  // Parsing: a list, one number, none; repeats, out of range, bad text rejected.
  EXPECT_EQ(FeatureConfig::from_yaml(YAML::Load("{sequence: {ials: [5, 1]}}")).sequence.at("ials"),
            (std::vector<uint32_t>{5, 1}));
  EXPECT_EQ(FeatureConfig::from_yaml(YAML::Load("{sequence: {ials: 2}}")).sequence.at("ials"),
            (std::vector<uint32_t>{2}));
  EXPECT_TRUE(
      FeatureConfig::from_yaml(YAML::Load("{sequence: {ials: none}}")).sequence.at("ials").empty());
  for (const char* bad :
       {"{sequence: {ials: 1/1}}", "{sequence: {ials: 1/x}}", "{sequence: {ials: -1}}",
        "{sequence: {ials: 1//2}}", "{sequence: [ials]}"}) {
    try {
      FeatureConfig::from_yaml(YAML::Load(bad));
      ADD_FAILURE() << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("rank.features.sequence"), std::string::npos)
          << e.what();
    }
  }
  // A channel that is not there, or has no user vector, is named.
  for (const char* bad :
       {"{similarity: {}, sequence: {sasrec: 1}}", "{similarity: {}, sequence: {popularity: 1}}"}) {
    try {
      FeatureBuilder(f.ds.catalog, f.recall, f.channels(), f.names,
                     FeatureConfig::from_yaml(YAML::Load(bad)));
      ADD_FAILURE() << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("rank.features.sequence."), std::string::npos)
          << e.what();
    }
  }
}

}  // namespace
}  // namespace cascade
