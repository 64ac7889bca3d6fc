// Tests for the "two_tower" recall channel (src/recall/two_tower.cc) and its torch-free
// helpers (src/recall/two_tower_model.h). Tiny dims and few epochs: every test runs in well
// under a second in Release.
#include <gtest/gtest.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cascade/core/error.h"
#include "cascade/io/artifact.h"
#include "cascade/recall/recaller.h"
#include "support/tiny_data.h"
#include "recall/two_tower_model.h"
#include "support/test_util.h"

namespace cascade {
namespace {

using test::error_of;
using test::make_rows;
using test::TempDir;
using test::TinyData;

// Small, fast settings; the rest are the channel's defaults.
const std::string kSmall =
    "two_tower:dim=16,feat_dim=4,epochs=20,batch=32,negatives=8,lr=0.02,eval_every=0,"
    "use_user_id=true,history_dropout=0";

const TinyData& data() {
  static const TinyData d = test::make_tiny_data();
  return d;
}

std::unique_ptr<Recaller> fit_tiny(const std::string& spec, int threads = 1, uint64_t seed = 42) {
  auto m = make_recaller(spec);
  FitInput in = data().fit_input(threads);
  in.seed = seed;
  m->fit(in);
  return m;
}

std::vector<float> scores_of(const Recaller& m, const UserQuery& q) {
  std::vector<float> s(m.n_items());
  m.score(q, s);
  return s;
}

bool bit_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Four user groups, four item groups of 10 items: each of the 12 users of group g has 5 of
// group g's items (a deterministic subset). No side information: the model must learn the
// structure from co-occurrence alone.
struct BlockData {
  static constexpr uint32_t kGroups = 4, kPerGroup = 10, kUsersPerGroup = 12, kSeen = 5;
  Interactions train;
  Catalog catalog;
  static uint32_t group_of(uint32_t id_or_user, bool user) {
    return user ? id_or_user / kUsersPerGroup : id_or_user / kPerGroup;
  }
};

const BlockData& block() {
  static const BlockData d = [] {
    BlockData b;
    std::vector<std::vector<uint32_t>> rows;
    two_tower::Rng rng(5);
    for (uint32_t u = 0; u < BlockData::kGroups * BlockData::kUsersPerGroup; ++u) {
      std::vector<uint32_t> items;
      for (uint32_t k = 0; k < BlockData::kPerGroup; ++k) items.push_back(BlockData::group_of(u, true) * BlockData::kPerGroup + k);
      for (uint32_t k = items.size(); k > 1; --k) std::swap(items[k - 1], items[rng.below(k)]);
      items.resize(BlockData::kSeen);
      rows.push_back(items);
    }
    b.train = make_rows(BlockData::kGroups * BlockData::kPerGroup, rows);
    b.catalog.items.resize(BlockData::kGroups * BlockData::kPerGroup);
    return b;
  }();
  return d;
}

std::unique_ptr<Recaller> fit_block(const std::string& spec) {
  auto m = make_recaller(spec);
  m->fit(test::fit_input_of(block().train, block().catalog, 1, "block"));
  return m;
}

// Mean share of the top-5 (history masked) that lies in the user's own item group; the
// 5 unseen items of that group make 1.0 reachable, chance is 5/35.
double block_share(const Recaller& m) {
  double share = 0;
  const uint32_t n_users = block().train.n_rows;
  for (UserId u = 0; u < n_users; ++u) {
    auto top = m.top_n(UserQuery{u, block().train.row(u), {}}, 5);
    for (const auto& s : top) share += BlockData::group_of(s.item, false) == BlockData::group_of(u, true) ? 0.2 : 0.0;
  }
  return share / n_users;
}

// ---------------------------------------------------------------- (8) history pooling

// With H = identity (dim = n_items), a sample's pooled vector is its weight per item.
std::vector<float> pooled_weights(const two_tower::HistoryBatch& hb, size_t b, uint32_t target,
                                  uint32_t n_items) {
  std::vector<float> H(static_cast<size_t>(n_items) * n_items, 0.f);
  for (uint32_t i = 0; i < n_items; ++i) H[i * n_items + i] = 1.f;
  std::vector<float> out(n_items);
  two_tower::pool_sample(hb, b, target, H.data(), n_items, out);
  return out;
}

TEST(TwoTowerPooling, TrainingHistoryExcludesTheTarget) {
  // user 0: items 1, 2, 3, 2 (a duplicate of 2); user 1: item 4 only; user 2: 0, 5.
  const Interactions R = make_rows(6, {{1, 2, 3, 2}, {4}, {0, 5}});
  const std::vector<uint32_t> users = {0, 2, 0, 1, 0};
  const std::vector<uint32_t> targets = {2, 5, 1, 4, 3};
  const auto hb = two_tower::build_history_batch(R, users, targets, 0.0, 7);
  EXPECT_EQ(hb.bag_offsets.size(), 3u);  // one bag per distinct user
  EXPECT_EQ(hb.sample_bag[0], hb.sample_bag[2]);
  EXPECT_EQ(hb.sample_bag[0], hb.sample_bag[4]);
  // (0, 2): both occurrences of 2 removed -> mean of {1, 3}.
  EXPECT_EQ(pooled_weights(hb, 0, 2, 6), (std::vector<float>{0, 0.5f, 0, 0.5f, 0, 0}));
  EXPECT_EQ(hb.target_weight[0], 2.f);
  // (2, 5) -> {0}.
  EXPECT_EQ(pooled_weights(hb, 1, 5, 6), (std::vector<float>{1, 0, 0, 0, 0, 0}));
  // (0, 1) -> mean of {2, 3, 2}.
  auto w = pooled_weights(hb, 2, 1, 6);
  EXPECT_FLOAT_EQ(w[1], 0.f);
  EXPECT_FLOAT_EQ(w[2], 2.f / 3.f);
  EXPECT_FLOAT_EQ(w[3], 1.f / 3.f);
  // (1, 4): the only item is the target -> an empty (zero) history, not the target.
  EXPECT_EQ(pooled_weights(hb, 3, 4, 6), std::vector<float>(6, 0.f));
  EXPECT_EQ(hb.inv_count[3], 0.f);
  // (0, 3) -> {1, 2, 2}.
  w = pooled_weights(hb, 4, 3, 6);
  EXPECT_FLOAT_EQ(w[3], 0.f);
  EXPECT_FLOAT_EQ(w[1], 1.f / 3.f);
  EXPECT_FLOAT_EQ(w[2], 2.f / 3.f);
}

TEST(TwoTowerPooling, DropoutNeverLeaksTheTargetAndKeepsAMean) {
  std::vector<uint32_t> row;
  for (uint32_t i = 0; i < 30; ++i) row.push_back(i);
  row.push_back(7);  // duplicate
  const Interactions R = make_rows(30, {row});
  size_t dropped_some = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const std::vector<uint32_t> users = {0, 0, 0};
    const std::vector<uint32_t> targets = {7, 0, 29};
    const auto hb = two_tower::build_history_batch(R, users, targets, 0.5, seed);
    dropped_some += hb.bag_items.size() < row.size() ? 1 : 0;
    for (size_t b = 0; b < 3; ++b) {
      auto w = pooled_weights(hb, b, targets[b], 30);
      EXPECT_EQ(w[targets[b]], 0.f) << "seed " << seed << " sample " << b;
      double sum = 0;
      for (float x : w) sum += x;
      if (hb.inv_count[b] > 0) {
        EXPECT_NEAR(sum, 1.0, 1e-5);
      }
    }
  }
  EXPECT_GT(dropped_some, 15u);
  // Deterministic given the seed.
  const std::vector<uint32_t> users = {0}, targets = {3};
  EXPECT_EQ(two_tower::build_history_batch(R, users, targets, 0.5, 11).bag_items,
            two_tower::build_history_batch(R, users, targets, 0.5, 11).bag_items);
}

TEST(TwoTowerPooling, RejectsOutOfRangeIds) {
  const Interactions R = make_rows(3, {{0, 1}});
  const std::vector<uint32_t> bad_user = {1}, ok = {0}, bad_item = {3};
  EXPECT_THROW(two_tower::build_history_batch(R, bad_user, ok, 0.0, 1), Error);
  EXPECT_THROW(two_tower::build_history_batch(R, ok, bad_item, 0.0, 1), Error);
}

TEST(TwoTowerMlp, ParsesHiddenSizes) {
  EXPECT_EQ(two_tower::parse_mlp("0"), std::vector<int>{});
  EXPECT_EQ(two_tower::parse_mlp("128"), std::vector<int>{128});
  EXPECT_EQ(two_tower::parse_mlp("256-64"), (std::vector<int>{256, 64}));
  for (const char* bad : {"", "-", "128-", "a", "12x", "0-4", "99999", "1-1-1-1-1-1-1-1-1"}) {
    EXPECT_THROW(two_tower::parse_mlp(bad), Error) << bad;
  }
}

TEST(TwoTowerMlp, DenseForwardMatchesHandComputation) {
  two_tower::DenseMlp m;
  m.layers.push_back({2, 2, {1, -1, 2, 0.5f}, {0, -10}});  // relu([x0 - x1, 2 x0 + 0.5 x1 - 10])
  m.layers.push_back({2, 1, {3, 1}, {0.25f}});
  const float x[2] = {3, 1};
  float y = 0, work[4];
  m.forward(x, &y, work);
  EXPECT_FLOAT_EQ(y, 3 * 2 + 0 + 0.25f);  // second hidden unit clipped at 0
}

// ---------------------------------------------------------------- (1) it learns

TEST(TwoTower, LearnsTheBlockStructure) {
  // Chance is 5/35 = 0.14; measured (seed 42): softmax 0.73, bpr 0.98, softmax without the
  // user id and with history dropout 0.5 (the channel defaults) 0.97.
  for (const std::string& spec : {kSmall, kSmall + ",loss=bpr", kSmall + ",use_user_id=false,history_dropout=0.5"}) {
    SCOPED_TRACE(spec);
    EXPECT_GT(block_share(*fit_block(spec)), 0.6);
  }
}

// ---------------------------------------------------------------- (2) masking

TEST(TwoTower, TopNNeverReturnsHistoryItems) {
  auto m = fit_tiny(kSmall);
  for (UserId u = 0; u < TinyData::kUsers; ++u) {
    UserQuery q = data().query(u);
    std::set<ItemId> hist(q.history.begin(), q.history.end());
    auto top = m->top_n(q, TinyData::kItems);
    EXPECT_EQ(top.size(), TinyData::kItems - hist.size());
    for (const auto& s : top) EXPECT_FALSE(hist.count(s.item)) << "user " << u << " item " << s.item;
  }
  // A long history (35 of 40 items, with a repeat), known and unknown user.
  std::vector<ItemId> longh;
  for (ItemId i = 0; i < 35; ++i) longh.push_back((i * 7) % 40);
  longh.push_back(longh.front());
  for (UserId user : {UserId{3}, kUnknownUser}) {
    UserQuery q{user, longh, {}};
    std::set<ItemId> hist(longh.begin(), longh.end());
    auto top = m->top_n(q, 100);
    EXPECT_EQ(top.size(), TinyData::kItems - hist.size());
    for (const auto& s : top) EXPECT_FALSE(hist.count(s.item)) << "item " << s.item;
  }
}

// ---------------------------------------------------------------- (3) save / load

TEST(TwoTower, SaveLoadGivesIdenticalScoresAndVectors) {
  auto m = fit_tiny(kSmall + ",mlp=8");
  TempDir tmp("two_tower_saveload");
  m->save(tmp.path());
  const auto manifest = nlohmann::json::parse(read_file(tmp.path() / "manifest.json"));
  EXPECT_EQ(manifest.at("kind"), "two_tower");
  EXPECT_EQ(manifest.at("dataset_hash"), data().hash);
  EXPECT_EQ(manifest.at("params").at("mlp"), "8");
  EXPECT_EQ(manifest.at("n_items"), TinyData::kItems);
  EXPECT_EQ(manifest.at("tensors").at("net.user_mlp.fc0.weight"), (std::vector<int>{8, 16 + 16 + 3 * 4}));

  auto l = load_recaller(tmp.path());
  const auto mv = m->item_vectors(), lv = l->item_vectors();
  ASSERT_EQ(mv.rows, lv.rows);
  ASSERT_EQ(mv.dim, 16u);
  EXPECT_EQ(std::memcmp(mv.data, lv.data, sizeof(float) * mv.rows * mv.dim), 0);
  std::vector<ItemId> fresh = {1, 5, 9};
  for (UserQuery q : {data().query(0), data().query(TinyData::kEmptyUser), UserQuery{kUnknownUser, fresh, {}}}) {
    EXPECT_TRUE(bit_equal(scores_of(*m, q), scores_of(*l, q)));
    std::vector<float> um(16), ul(16);
    ASSERT_TRUE(m->user_vector(q, um));
    ASSERT_TRUE(l->user_vector(q, ul));
    EXPECT_TRUE(bit_equal(um, ul));
  }
}

// ---------------------------------------------------------------- (4) vectors

TEST(TwoTower, ScoreIsItemVectorsTimesUserVector) {
  for (const char* extra : {",temperature=0.25", ",normalize=false,temperature=2"}) {
    SCOPED_TRACE(extra);
    auto m = fit_tiny(kSmall + extra);
    const auto iv = m->item_vectors();
    ASSERT_EQ(iv.rows, TinyData::kItems);
    ASSERT_EQ(iv.dim, 16u);
    std::vector<ItemId> fresh = {2, 6};
    for (UserQuery q : {data().query(1), data().query(TinyData::kSingleUser), UserQuery{kUnknownUser, fresh, {}},
                        UserQuery{}}) {
      std::vector<float> u(iv.dim);
      ASSERT_TRUE(m->user_vector(q, u));
      const auto s = scores_of(*m, q);
      for (uint32_t i = 0; i < iv.rows; ++i) {
        double dot = 0;
        for (uint32_t j = 0; j < iv.dim; ++j) dot += double(iv.data[i * iv.dim + j]) * u[j];
        EXPECT_NEAR(s[i], dot, 1e-5 * std::max(1.0, std::fabs(dot))) << "item " << i;
      }
      if (std::string(extra) == ",temperature=0.25") {  // unit vectors; the temperature sits in the user vector
        double un = 0;
        for (float x : u) un += double(x) * x;
        EXPECT_NEAR(std::sqrt(un), 4.0, 1e-4);
        for (uint32_t i = 0; i < iv.rows; ++i) {
          double n = 0;
          for (uint32_t j = 0; j < iv.dim; ++j) n += double(iv.data[i * iv.dim + j]) * iv.data[i * iv.dim + j];
          EXPECT_NEAR(std::sqrt(n), 1.0, 1e-4);
        }
      }
    }
  }
}

// ---------------------------------------------------------------- (5) unknown users

TEST(TwoTower, UnknownUserIsServedFromItsHistory) {
  auto m = fit_block(kSmall);
  double mean_share = 0;
  for (uint32_t g = 0; g < BlockData::kGroups; ++g) {
    // A fresh user who has three items of group g.
    std::vector<ItemId> hist = {g * 10 + 1, g * 10 + 4, g * 10 + 8};
    UserQuery q{kUnknownUser, hist, {}};
    std::vector<float> s(m->n_items());
    m->score(q, s);
    for (float x : s) ASSERT_TRUE(std::isfinite(x));
    // Share of group g in the 4 best unseen items (chance ~0.16).
    double share = 0;
    for (const auto& t : m->top_n(q, 4)) share += BlockData::group_of(t.item, false) == g ? 0.25 : 0.0;
    EXPECT_GE(share, 0.5) << "group " << g;
    mean_share += share / BlockData::kGroups;
    // A user id beyond the fitted ones is unknown too.
    UserQuery q2{static_cast<UserId>(block().train.n_rows + 5), hist, {}};
    EXPECT_TRUE(bit_equal(scores_of(*m, q2), s));
  }
  EXPECT_GE(mean_share, 0.75);  // measured 1.0
  std::vector<ItemId> h1 = {0, 4}, h2 = {11, 15};
  EXPECT_FALSE(bit_equal(scores_of(*m, UserQuery{kUnknownUser, h1, {}}), scores_of(*m, UserQuery{kUnknownUser, h2, {}})));
  EXPECT_FALSE(bit_equal(scores_of(*m, UserQuery{kUnknownUser, h1, {}}), scores_of(*m, UserQuery{})));
  // A known user's scores depend on the history too (fresh events count without retraining).
  EXPECT_FALSE(bit_equal(scores_of(*m, UserQuery{2, h1, {}}), scores_of(*m, UserQuery{2, h2, {}})));
  // TinyData (side features, empty and single-item users): finite for fresh users too.
  auto t = fit_tiny(kSmall + ",epochs=3");
  std::vector<ItemId> fresh = {36, 37, 38};  // items without interactions / metadata
  for (float x : scores_of(*t, UserQuery{kUnknownUser, fresh, {}})) EXPECT_TRUE(std::isfinite(x));
}

// A known user whose history has events past the fit (UserQuery::past_fit): the trained id
// embedding is not used (the unknown slot answers, as for a new user), the user's demographics are.
TEST(TwoTower, HistoryPastTheFitKeepsTheUsersDemographicsButNotTheIdEmbedding) {
  // TinyData with demographics.
  Catalog catalog = data().catalog;
  for (size_t u = 0; u < catalog.users.size(); ++u) {
    catalog.users[u].gender = u % 2 ? 'M' : 'F';
    catalog.users[u].age_bucket = static_cast<int32_t>(u % 5);
    catalog.users[u].occupation = u % 3 ? "writer" : "artist";
  }
  auto fit = [&](const std::string& spec) {
    auto m = make_recaller(spec);
    m->fit(test::fit_input_of(data().train, catalog, 1));
    return m;
  };
  auto t = fit(kSmall + ",epochs=3");  // use_user_id and user_features on
  const std::vector<ItemId> h = {1, 2, 3};
  size_t with_features_differ = 0, id_differs = 0, fitted = 0;
  for (UserId u = 0; u < data().train.n_rows; ++u) {
    if (data().train.row_size(u) == 0) continue;  // no trained id embedding to leave out
    ++fitted;
    UserQuery past{u, h, {}};
    past.past_fit = true;
    const auto s_past = scores_of(*t, past);
    with_features_differ += !bit_equal(s_past, scores_of(*t, UserQuery{kUnknownUser, h, {}}));
    id_differs += !bit_equal(s_past, scores_of(*t, UserQuery{u, h, {}}));
  }
  EXPECT_GT(with_features_differ, 0u) << "demographics were dropped";
  EXPECT_EQ(id_differs, fitted) << "a stale id embedding answered";
  // Without an id embedding, past_fit changes nothing for a known user.
  auto no_id =
      fit("two_tower:dim=16,feat_dim=4,epochs=3,batch=32,negatives=8,lr=0.02,eval_every=0");
  UserQuery past{1, h, {}};
  past.past_fit = true;
  EXPECT_TRUE(bit_equal(scores_of(*no_id, past), scores_of(*no_id, UserQuery{1, h, {}})));
}

// ---------------------------------------------------------------- (6) errors

TEST(TwoTower, BadParametersAndInputsThrow) {
  for (const char* spec :
       {"two_tower:dim=0", "two_tower:dim=2000", "two_tower:loss=hinge", "two_tower:mlp=abc",
        "two_tower:mlp=64-", "two_tower:temperature=0", "two_tower:negatives=-1", "two_tower:epochs=0",
        "two_tower:batch=0", "two_tower:history_dropout=1", "two_tower:user_id_dropout=1.5",
        "two_tower:lr=-1", "two_tower:normalize=maybe", "two_tower:seed=-2", "two_tower:threads=-1",
        "two_tower:use_user_id=false,use_history=false,user_features=false",
        "two_tower:use_item_id=false,item_genres=false,item_year=false", "two_tower:no_such=1"}) {
    EXPECT_FALSE(error_of([&] { make_recaller(spec); }).empty()) << spec;
  }
  auto unfitted = make_recaller(kSmall);
  std::vector<float> out(TinyData::kItems);
  EXPECT_FALSE(error_of([&] { unfitted->score(UserQuery{}, out); }).empty());
  EXPECT_FALSE(error_of([&] { unfitted->item_vectors(); }).empty());

  auto m = fit_tiny(kSmall + ",epochs=2");
  std::vector<ItemId> bad = {1, TinyData::kItems};
  const std::string msg = error_of([&] { m->score(UserQuery{0, bad, {}}, out); });
  EXPECT_NE(msg.find("out of range"), std::string::npos) << msg;
  EXPECT_FALSE(error_of([&] { m->score(UserQuery{kUnknownUser, bad, {}}, out); }).empty());
  std::vector<float> small(3);
  EXPECT_FALSE(error_of([&] { m->score(data().query(0), small); }).empty());
  EXPECT_FALSE(error_of([&] { m->user_vector(data().query(0), small); }).empty());

  Interactions empty = make_rows(5, {{}, {}});
  Catalog cat;
  auto e = make_recaller(kSmall);
  EXPECT_FALSE(error_of([&] { e->fit(test::fit_input_of(empty, cat)); }).empty());
}

// ---------------------------------------------------------------- (7) determinism

TEST(TwoTower, SameSeedAndThreadsGiveBitIdenticalScores) {
  const std::string spec = kSmall + ",epochs=10,mlp=8,history_dropout=0.2";
  auto a = fit_tiny(spec, 2, 7);
  auto b = fit_tiny(spec, 2, 7);
  auto c = fit_tiny(spec, 2, 8);
  bool differs = false;
  for (UserId u : {0u, 5u, 13u, TinyData::kEmptyUser}) {
    EXPECT_TRUE(bit_equal(scores_of(*a, data().query(u)), scores_of(*b, data().query(u)))) << "user " << u;
    differs |= !bit_equal(scores_of(*a, data().query(u)), scores_of(*c, data().query(u)));
  }
  EXPECT_TRUE(differs) << "another seed should give another model";
  // The `seed` parameter overrides FitInput::seed.
  auto d = fit_tiny(spec + ",seed=7", 2, 99);
  EXPECT_TRUE(bit_equal(scores_of(*a, data().query(0)), scores_of(*d, data().query(0))));
}

// ---------------------------------------------------------------- validation / early stopping

TEST(TwoTower, KeepsTheBestValidationEpoch) {
  // Validation item of each block user: the first unseen item of its own group.
  const Interactions& train = block().train;
  std::vector<std::vector<uint32_t>> rows(train.n_rows);
  for (UserId u = 0; u < train.n_rows; ++u) {
    const auto hist = train.row(u);
    const uint32_t g = BlockData::group_of(u, true);
    for (ItemId i = g * BlockData::kPerGroup; i < (g + 1) * BlockData::kPerGroup; ++i) {
      if (std::find(hist.begin(), hist.end(), i) == hist.end()) {
        rows[u] = {i};
        break;
      }
    }
  }
  const Interactions valid = make_rows(train.n_cols, rows);
  auto m = make_recaller(kSmall + ",epochs=6,eval_every=2,patience=1");
  FitInput in = test::fit_input_of(train, block().catalog, 1, "block");
  in.valid = &valid;
  m->fit(in);
  TempDir tmp("two_tower_valid");
  m->save(tmp.path());
  const auto manifest = nlohmann::json::parse(read_file(tmp.path() / "manifest.json"));
  const auto& log = manifest.at("validation");
  ASSERT_GE(log.size(), 2u);
  double best = -1;
  int best_epoch = 0;
  for (const auto& e : log) {
    EXPECT_EQ(e.at("epoch").get<int>() % 2, 0);
    const double r = e.at("valid_recall_at_10").get<double>();
    EXPECT_GE(r, 0.0);
    EXPECT_LE(r, 1.0);
    if (r > best) {
      best = r;
      best_epoch = e.at("epoch").get<int>();
    }
  }
  EXPECT_EQ(manifest.at("best_epoch").get<int>(), best_epoch);
  EXPECT_GT(best, 0.7);  // measured 1.0; a random top-10 of 35 unseen items: 10/35 = 0.29
}

}  // namespace
}  // namespace cascade
