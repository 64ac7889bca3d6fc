// Seen events served: a bundle prepared with keep_seen never lists a user's seen items (the
// bundle's, and the ones a request brings), and its offline test requests bring the seen items
// between the training row and the test item.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "cascade/pipeline/funnel_train.h"
#include "cascade/pipeline/served_eval.h"
#include "support/tiny_bundle.h"

namespace cascade {
namespace {

using testing::TempDir;

TEST(SeenEvents, ServedListsNeverHoldTheUsersSeenItems) {
  TempDir dir;
  BundleBuildOptions bo;
  bo.threads = 1;
  build_bundle(testing::tiny_config(), testing::tiny_dataset(5, 4, true), dir.path() / "b", bo);
  const Recommender rec(Bundle::load(dir.path() / "b"));
  const Dataset& ds = rec.bundle().data();
  ASSERT_TRUE(ds.options.keep_seen);
  ASSERT_GT(ds.seen.nnz(), 1000u);
  size_t checked = 0, users_with_seen = 0;
  for (uint32_t u = 0; u < ds.n_users; u += 7) {
    const auto seen = ds.seen_before(u, ds.train.row_size(u));
    users_with_seen += !seen.empty();
    RecommendRequest r;
    r.user = ds.user_ids[u];
    r.k = 20;
    r.pool_top = 100;
    const RecommendResponse resp = rec.recommend(r);
    ASSERT_EQ(resp.items.size(), 20u);
    const std::set<ItemId> s(seen.begin(), seen.end());
    for (const auto& it : resp.items) EXPECT_FALSE(s.count(it.item)) << "user " << u;
    for (const ItemId i : resp.pool_top) EXPECT_FALSE(s.count(i)) << "user " << u;
    ++checked;
  }
  EXPECT_GT(users_with_seen, checked / 2);

  // The channels' query interleaves the history and the seen events by time, exactly as offline
  // requests (collect_candidates over Dataset::seen_at_valid) and channel fits do.
  const Interactions valid_seen = ds.seen_at_valid();
  for (uint32_t u = 0; u < ds.n_users; u += 11) {
    RecommendRequest q;
    q.user = ds.user_ids[u];
    const ResolvedRequest rr = rec.resolve(q);
    std::vector<ItemId> want;
    merge_by_time(ds.train.row(u), ds.train.row_times(u), valid_seen.row(u),
                  valid_seen.row_times(u), want);
    EXPECT_EQ(rr.query().context.size(), valid_seen.row_size(u) == 0 ? 0u : want.size()) << u;
    if (valid_seen.row_size(u) > 0) {
      EXPECT_TRUE(std::equal(want.begin(), want.end(), rr.query().context.begin())) << u;
    }
  }
  // A test request served after the validation item (a live event) that brings the seen events
  // since the training row: the same context as offline test requests (training row + the
  // validation item, merged with Dataset::seen_at_test).
  const Interactions test_rows = with_heldout_appended(ds.train, ds.valid);
  const Interactions test_seen = ds.seen_at_test(), since = ds.seen_since_train();
  size_t with_news = 0;
  for (uint32_t u = 0; u < ds.n_users; ++u) {
    if (since.row_size(u) == 0) continue;
    ++with_news;
    const std::vector<LiveEvent> live = {
        {ds.item_ids[ds.valid.row(u)[0]], ds.valid.row_times(u)[0]}};
    std::vector<std::string> news;
    for (const ItemId i : since.row(u)) news.push_back(ds.item_ids[i]);
    RecommendRequest q;
    q.user = ds.user_ids[u];
    q.events = live;
    q.seen = news;
    const ResolvedRequest rr = rec.resolve(q);
    std::vector<ItemId> want;
    merge_by_time(test_rows.row(u), test_rows.row_times(u), test_seen.row(u),
                  test_seen.row_times(u), want);
    EXPECT_EQ(rr.context, want) << u;
  }
  EXPECT_GT(with_news, 10u);

  // A request's own seen items leave its list, which is refilled.
  RecommendRequest r;
  r.user = ds.user_ids[3];
  r.k = 10;
  const RecommendResponse before = rec.recommend(r);
  ASSERT_EQ(before.items.size(), 10u);
  const std::vector<std::string> now_seen = {ds.item_ids[before.items[0].item],
                                             ds.item_ids[before.items[4].item], "no-such-item"};
  r.seen = now_seen;
  const RecommendResponse after = rec.recommend(r);
  ASSERT_EQ(after.items.size(), 10u);
  for (const auto& it : after.items) {
    EXPECT_NE(it.item, before.items[0].item);
    EXPECT_NE(it.item, before.items[4].item);
  }

  // Offline test requests: the seen items between the training row and the test item are sent
  // as the request's seen items; served figures with them differ from figures without.
  const Interactions news = ds.seen_since_train();
  ASSERT_GT(news.nnz(), 0u);
  ServedEvalOptions o;
  o.threads = 1;
  o.prior_events = &ds.valid;
  const ServedEval without = evaluate_served(rec, ds.test, o);
  o.prior_seen = &news;
  const ServedEval with = evaluate_served(rec, ds.test, o);
  EXPECT_EQ(with.users, without.users);
  EXPECT_NE(with.pool_recall, without.pool_recall);
}

}  // namespace
}  // namespace cascade
