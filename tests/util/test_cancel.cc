// Cooperative cancellation: a set flag stops a fit at its next check point with Cancelled, only
// on the thread whose scope holds the flag, and an unset flag changes nothing.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <thread>

#include "cascade/recall/recaller.h"
#include "cascade/util/cancel.h"
#include "support/tiny_data.h"

namespace cascade {
namespace {

TEST(Cancel, NoScopeNeverCancels) {
  EXPECT_FALSE(cancel_requested());
  EXPECT_NO_THROW(check_cancelled());
}

TEST(Cancel, ScopeReportsItsFlagAndRestoresTheOuterOne) {
  std::atomic<bool> outer{true}, inner{false};
  {
    CancelScope a(&outer);
    EXPECT_THROW(check_cancelled(), Cancelled);
    {
      CancelScope b(&inner);
      EXPECT_FALSE(cancel_requested());
      inner = true;
      EXPECT_TRUE(cancel_requested());
    }
    EXPECT_TRUE(cancel_requested());  // back to the outer flag
  }
  EXPECT_FALSE(cancel_requested());
}

TEST(Cancel, FlagIsPerThread) {
  std::atomic<bool> set{true};
  CancelScope scope(&set);
  bool other_thread_sees_it = true;
  std::thread t([&] { other_thread_sees_it = cancel_requested(); });
  t.join();
  EXPECT_FALSE(other_thread_sees_it);
  EXPECT_TRUE(cancel_requested());
}

TEST(Cancel, SetFlagStopsAnIalsFitAndAClearOneLetsItFinish) {
  const test::TinyData d = test::make_tiny_data();
  auto model = make_recaller("ials:factors=4,iters=3");
  std::atomic<bool> flag{true};
  {
    CancelScope scope(&flag);
    EXPECT_THROW(model->fit(d.fit_input()), Cancelled);
    flag = false;
    EXPECT_NO_THROW(model->fit(d.fit_input()));
  }
  std::vector<float> scores(model->n_items());
  UserQuery q;
  q.user = 0;
  q.history = d.train.row(0);
  model->score(q, scores);
  EXPECT_TRUE(std::isfinite(scores[0]));
}

}  // namespace
}  // namespace cascade
