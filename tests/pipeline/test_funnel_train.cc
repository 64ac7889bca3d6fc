// What every funnel is trained from: fusion weights are a function of the channel quota alone
// (tuned on validation at that quota), and the training pools do not depend on the served
// quota or pool depth, so the funnel `bench funnel` evaluates at some quota is the one a bundle
// configured for that quota builds.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "cascade/core/error.h"
#include "cascade/pipeline/funnel_bench.h"
#include "cascade/pipeline/funnel_train.h"
#include "recall/popularity.h"
#include "support/tiny_bundle.h"

namespace cascade {
namespace {

YAML::Node config_with_quota(size_t quota) {
  YAML::Node cfg = testing::tiny_config();
  cfg["recall"]["fusion"]["tune"] = true;
  cfg["recall"]["fusion"]["quota"] = quota;
  cfg["recall"]["fusion"]["tune_metric"] = "recall@10";  // sensitive enough for weights to move
  cfg["rank"]["examples"]["pool_quota"] = 100;
  return cfg;
}

TEST(FunnelInputs, FusionWeightsDependOnTheQuotaOnlyAndTrainingPoolsOnNeither) {
  const Dataset ds = testing::tiny_dataset();
  FunnelTrainOptions to;
  to.threads = 1;
  const FunnelInputs a = prepare_funnel_inputs(config_with_quota(100), ds, to);
  const FunnelInputs b = prepare_funnel_inputs(config_with_quota(20), ds, to);
  // The experiment's fusion at quota 20 is the fusion a bundle configured with quota 20 serves.
  const FusionOptions a_at_20 = fusion_at_quota(a, ds, 20, 1);
  EXPECT_EQ(a_at_20.weights, b.fusion.weights);
  EXPECT_EQ(a_at_20.quotas, b.fusion.quotas);
  EXPECT_NE(a.fusion.weights, b.fusion.weights)
      << "the two quotas tune to the same weights: the test sees nothing";
  // Training pools come from rank.examples.pool_quota, whatever the served quota.
  ASSERT_EQ(a.train_pools.size(), b.train_pools.size());
  size_t rows = 0;
  for (size_t u = 0; u < a.train_pools.size(); ++u) {
    ASSERT_EQ(a.train_pools[u].size(), b.train_pools[u].size()) << "user " << u;
    for (size_t r = 0; r < a.train_pools[u].size(); ++r) {
      ASSERT_EQ(a.train_pools[u][r].item, b.train_pools[u][r].item);
      ASSERT_EQ(a.train_pools[u][r].score, b.train_pools[u][r].score);
      ++rows;
    }
  }
  EXPECT_GT(rows, 1000u);
}

// Big logs: eval.max_users bounds the held-out users fusion is tuned on (and a bundle reports
// on), rank.examples.max_users the users whose training requests are built.
TEST(FunnelInputs, UserCapsSampleTheHeldOutAndTheRankerUsers) {
  const Dataset ds = testing::tiny_dataset();
  FunnelTrainOptions to;
  to.threads = 1;
  YAML::Node cfg = config_with_quota(50);
  cfg["eval"]["max_users"] = 25;
  cfg["rank"]["examples"]["max_users"] = 30;
  const FunnelInputs in = prepare_funnel_inputs(cfg, ds, to);
  ASSERT_GT(nonempty_rows(ds.valid), 25u);
  EXPECT_EQ(nonempty_rows(in.valid), 25u);
  EXPECT_EQ(nonempty_rows(in.test), 25u);
  size_t with_candidates = 0, with_pool = 0;
  for (uint32_t u = 0; u < in.heldout.per_user.size(); ++u) {
    if (in.heldout.per_user[u].empty()) continue;
    ++with_candidates;
    EXPECT_TRUE(in.valid.row_size(u) > 0 || in.test.row_size(u) > 0)
        << "user " << u << " is outside the sample";
  }
  EXPECT_GE(with_candidates, 25u);
  EXPECT_LE(with_candidates, 50u);
  for (const auto& pool : in.train_pools) with_pool += !pool.empty();
  EXPECT_EQ(with_pool, 30u);
  // Only sampled users give training groups.
  TrainingSets sets(in.training_features(), ds, in.train_pools, 0.0, 1, 42);
  EXPECT_LE(sets.get(in.rank.examples).first.batch.groups(), 30u);
  EXPECT_GT(sets.get(in.rank.examples).first.batch.groups(), 15u);
  // Uncapped, every held-out user is kept.
  const FunnelInputs all = prepare_funnel_inputs(config_with_quota(50), ds, to);
  EXPECT_EQ(nonempty_rows(all.valid), nonempty_rows(ds.valid));
}

TEST(FunnelInputs, HeldOutUserCapIsValidated) {
  YAML::Node cfg;
  EXPECT_EQ(heldout_user_cap(cfg), 0u);
  cfg["eval"]["max_users"] = 500;
  EXPECT_EQ(heldout_user_cap(cfg), 500u);
  for (const char* bad : {"-3", "many", "1.5"}) {
    cfg["eval"]["max_users"] = bad;
    try {
      heldout_user_cap(cfg);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("eval.max_users"), std::string::npos) << e.what();
    }
  }
}

std::vector<ItemId> ids(const ChannelCandidates& c) {
  std::vector<ItemId> out;
  for (const ScoredItem& i : c.items) out.push_back(i.item);
  return out;
}

// --test-sees-valid: the test requests' history is the training row plus the validation item,
// their candidates are queried with it (so the validation item is masked out of the test pool),
// and the validation users' candidates are the same as without the option.
TEST(FunnelInputs, TestRequestsCanSeeTheValidationItem) {
  const Dataset ds = testing::tiny_dataset();
  FunnelTrainOptions to;
  to.threads = 1;
  const FunnelInputs plain = prepare_funnel_inputs(config_with_quota(50), ds, to);
  to.test_sees_valid = true;
  const FunnelInputs seen = prepare_funnel_inputs(config_with_quota(50), ds, to);
  EXPECT_EQ(&plain.test_history(ds), &ds.train);
  const Interactions& h = seen.test_history(ds);
  ASSERT_EQ(h.n_rows, ds.train.n_rows);
  size_t users = 0, changed = 0;
  for (uint32_t u = 0; u < ds.train.n_rows; ++u) {
    ASSERT_EQ(h.row_size(u), ds.train.row_size(u) + ds.valid.row_size(u)) << u;
    ASSERT_TRUE(std::ranges::equal(h.row(u).first(ds.train.row_size(u)), ds.train.row(u))) << u;
    if (ds.valid.row_size(u) == 0) continue;
    const ItemId v = ds.valid.row(u)[0];
    EXPECT_EQ(h.row(u).back(), v);
    EXPECT_EQ(h.row_times(u).back(), ds.valid.row_times(u)[0]);
    // Every channel's test candidates leave the validation item out.
    if (u < seen.test_candidates().per_user.size() && !seen.test_candidates().per_user[u].empty()) {
      ++users;
      for (const ChannelCandidates& c : seen.test_candidates().per_user[u])
        for (const ScoredItem& i : c.items) EXPECT_NE(i.item, v) << "user " << u;
      if (ids(seen.test_candidates().per_user[u][0]) != ids(plain.heldout.per_user[u][0]))
        ++changed;
    }
  }
  EXPECT_GT(users, 10u);
  EXPECT_GT(changed, 0u)
      << "the extra history item changed no candidate list: the test sees nothing";
  // Validation candidates do not depend on the option.
  for (uint32_t u = 0; u < ds.valid.n_rows; ++u) {
    if (ds.valid.row_size(u) == 0 || u >= seen.heldout.per_user.size()) continue;
    ASSERT_EQ(seen.heldout.per_user[u].size(), plain.heldout.per_user[u].size());
    for (size_t c = 0; c < seen.heldout.per_user[u].size(); ++c)
      EXPECT_EQ(ids(seen.heldout.per_user[u][c]), ids(plain.heldout.per_user[u][c]));
  }
}

// rank.channel_folds = k: the served channels see every training row; each training request
// is answered by the channels of its user's fold, which never saw that fold's ranker slice.
TEST(FunnelInputs, ChannelFoldsKeepEveryTrainingRequestAwayFromItsPositives) {
  const Dataset ds = testing::tiny_dataset();
  FunnelTrainOptions to;
  to.threads = 1;
  YAML::Node cfg = config_with_quota(50);
  cfg["rank"]["channel_folds"] = 3;
  const FunnelInputs in = prepare_funnel_inputs(cfg, ds, to);
  ASSERT_EQ(in.folds.size(), 3u);
  ASSERT_EQ(in.fold_of_user.size(), ds.n_users);
  EXPECT_EQ(in.fit_matrix.nnz(), ds.train.nnz()) << "the served channels see every training row";
  std::vector<size_t> fold_users(3, 0);
  for (uint32_t u = 0; u < ds.n_users; ++u) ++fold_users.at(in.fold_of_user[u]);
  for (size_t f = 0; f < 3; ++f) EXPECT_GT(fold_users[f], ds.n_users / 6) << "fold " << f;

  // Fold f's matrix: the recall slice of its users, every training row of the others.
  for (uint32_t f = 0; f < 3; ++f) {
    const Interactions& m = in.folds[f].fit_matrix;
    ASSERT_EQ(m.n_rows, ds.train.n_rows);
    for (uint32_t u = 0; u < ds.n_users; ++u) {
      const uint32_t want = in.fold_of_user[u] == f ? ds.recall_rows[u] : ds.train.row_size(u);
      ASSERT_EQ(m.row_size(u), want) << "fold " << f << " user " << u;
      ASSERT_TRUE(std::ranges::equal(m.row(u), ds.train.row(u).first(want)));
    }
    // The fold's popularity channel counts exactly the fold's rows (so no ranker-slice row of
    // the fold's users).
    const auto* pop = dynamic_cast<const PopularityRecaller*>(in.folds[f].channels[0]);
    ASSERT_NE(pop, nullptr);
    std::vector<float> count(ds.n_items, 0.0f);
    for (ItemId i : m.indices) count[i] += 1.0f;
    ASSERT_TRUE(std::ranges::equal(pop->scores(), count)) << "fold " << f;
  }

  // Training rows are built by the user's fold pipeline: their item popularity feature is the
  // fold's count, not the served channels' (which differs for some rows).
  TrainingSets sets(in.training_features(), ds, in.train_pools, 0.0, 1, 42);
  const RankTrainSet& tr = sets.get(in.rank.examples).first;
  ASSERT_GT(tr.batch.groups(), 50u);
  const int c_pop = tr.batch.schema.dense_index("pop");
  ASSERT_GE(c_pop, 0);
  std::vector<std::vector<float>> fold_count(3, std::vector<float>(ds.n_items, 0.0f));
  std::vector<float> served_count(ds.n_items, 0.0f);
  for (uint32_t f = 0; f < 3; ++f)
    for (ItemId i : in.folds[f].fit_matrix.indices) fold_count[f][i] += 1.0f;
  for (ItemId i : ds.train.indices) served_count[i] += 1.0f;
  size_t differs = 0;
  for (size_t g = 0; g < tr.batch.groups(); ++g) {
    const uint32_t f = in.fold_of_user.at(tr.batch.group_user[g]);
    for (uint32_t r = tr.batch.group_begin[g]; r < tr.batch.group_begin[g + 1]; ++r) {
      const ItemId i = tr.batch.items[r];
      ASSERT_FLOAT_EQ(tr.batch.dense_row(r)[c_pop], std::log1p(fold_count[f][i])) << "row " << r;
      differs += fold_count[f][i] != served_count[i];
    }
  }
  EXPECT_GT(differs, 100u);
  // The same config gives the same folds and pools.
  const FunnelInputs again = prepare_funnel_inputs(cfg, ds, to);
  EXPECT_EQ(again.fold_of_user, in.fold_of_user);
  ASSERT_EQ(again.train_pools.size(), in.train_pools.size());
  for (size_t u = 0; u < in.train_pools.size(); ++u) {
    ASSERT_EQ(again.train_pools[u].size(), in.train_pools[u].size());
    for (size_t r = 0; r < in.train_pools[u].size(); ++r)
      ASSERT_EQ(again.train_pools[u][r].item, in.train_pools[u][r].item);
  }
}

TEST(FunnelBench, FeatureGroupAblationsTurnTheirGroupOff) {
  FeatureConfig c;
  ablate_feature_group(c, "similarity");
  EXPECT_TRUE(c.similarity.empty());
  ablate_feature_group(c, "ids");
  EXPECT_FALSE(c.user_id || c.item_id);
  ablate_feature_group(c, "time");
  EXPECT_FALSE(c.time);
  FeatureConfig g;
  ablate_feature_group(g, "genres");
  EXPECT_FALSE(g.genres);
  EXPECT_TRUE(g.time && g.user_id && !g.similarity.empty());  // one group at a time
  FeatureConfig ps;
  ps.priors = ps.session = true;
  ablate_feature_group(ps, "priors");
  EXPECT_TRUE(!ps.priors && ps.session);
  ablate_feature_group(ps, "session");
  EXPECT_FALSE(ps.session);
  ps.sequence = {{"sasrec", {1, 5}}};
  ablate_feature_group(ps, "sequence");
  EXPECT_TRUE(ps.sequence.empty());
  for (const auto& name : feature_group_names()) {  // the CLI's list is the library's
    FeatureConfig any;
    EXPECT_NO_THROW(ablate_feature_group(any, name)) << name;
  }
  try {
    ablate_feature_group(g, "colour");
    ADD_FAILURE() << "an unknown group was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("colour"), std::string::npos) << e.what();
  }
}

TEST(FunnelInputs, ChannelFoldsAreValidated) {
  for (const char* bad : {"1", "-2", "21", "two"}) {
    YAML::Node cfg = config_with_quota(50);
    cfg["rank"]["channel_folds"] = bad;
    try {
      rank_config_from_yaml(cfg["rank"], 7);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("rank.channel_folds"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(channel_fold_of_users(10, 1, 7), Error);
}

}  // namespace
}  // namespace cascade
