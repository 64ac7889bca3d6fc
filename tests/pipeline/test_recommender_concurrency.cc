// Recommender::recommend and ::similar are documented thread-safe: `cascade serve` calls them
// from every worker at once on one shared bundle. Four threads asking for every user (with live
// events for some, explanations, MMR re-ranking and an attention fine-ranker in the funnel) get
// exactly the lists one thread gets. Run under the tsan preset (scripts/run_tsan_tests.sh) this
// is also the data-race check of the whole request path.
#include <gtest/gtest.h>

#include <thread>

#include "cascade/pipeline/recommender.h"
#include "support/tiny_bundle.h"

namespace cascade {
namespace {

struct Answer {
  std::vector<ItemId> items;
  std::vector<float> scores;
  std::vector<int64_t> because;
  std::vector<ItemId> similar;
};

Answer ask(const Recommender& rec, size_t u) {
  const Dataset& ds = rec.bundle().data();
  std::vector<LiveEvent> live;
  if (u % 5 == 0) {
    for (size_t e = 0; e < 3; ++e)
      live.push_back({ds.item_ids[(u * 11 + e * 17) % ds.n_items],
                      rec.bundle().log_clock() + 30 * static_cast<int64_t>(e + 1)});
  }
  RecommendRequest r;
  r.user = ds.user_ids[u];
  r.events = live;
  r.k = 10;
  r.explain = true;
  const RecommendResponse resp = rec.recommend(r);
  Answer a;
  for (const RecommendedItem& it : resp.items) {
    a.items.push_back(it.item);
    a.scores.push_back(it.score);
    a.because.push_back(it.because);
  }
  for (const ScoredItem& s : rec.similar(static_cast<ItemId>(u % ds.n_items), 5))
    a.similar.push_back(s.item);
  return a;
}

TEST(RecommenderConcurrency, FourThreadsGetTheListsOneThreadGets) {
  testing::TempDir dir;
  testing::build_tiny_bundle(dir.path() / "b", 7, /*diversity=*/0.3, /*fine=*/"din");
  const Recommender rec(Bundle::load(dir.path() / "b"));
  const size_t n = rec.bundle().data().n_users;

  std::vector<Answer> serial(n);
  for (size_t u = 0; u < n; ++u) serial[u] = ask(rec, u);
  ASSERT_FALSE(serial[0].items.empty());

  constexpr size_t kThreads = 4;
  std::vector<std::vector<Answer>> got(kThreads, std::vector<Answer>(n));
  std::vector<std::thread> workers;
  for (size_t t = 0; t < kThreads; ++t) {
    workers.emplace_back([&, t] {
      // Each thread walks the users from a different start, so threads overlap on users.
      for (size_t i = 0; i < n; ++i) {
        const size_t u = (i + t * n / kThreads) % n;
        got[t][u] = ask(rec, u);
      }
    });
  }
  for (std::thread& w : workers) w.join();

  for (size_t t = 0; t < kThreads; ++t) {
    for (size_t u = 0; u < n; ++u) {
      ASSERT_EQ(got[t][u].items, serial[u].items) << "thread " << t << " user " << u;
      ASSERT_EQ(got[t][u].scores, serial[u].scores) << "thread " << t << " user " << u;
      ASSERT_EQ(got[t][u].because, serial[u].because) << "thread " << t << " user " << u;
      ASSERT_EQ(got[t][u].similar, serial[u].similar) << "thread " << t << " user " << u;
    }
  }
}

}  // namespace
}  // namespace cascade
