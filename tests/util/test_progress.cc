#include "cascade/util/progress.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace cascade {
namespace {

TEST(Progress, FormatsPercentRateAndEta) {
  // 56,700 of 138,228 in 30 s: 1,890 users/s, 81,528 left -> 43.1 s.
  EXPECT_EQ(format_progress("eval", 56700, 138228, "users", 30.0),
            "eval: 41% (56,700 / 138,228 users), 1,890 users/s, ETA 43 s");
}

TEST(Progress, UnknownTotalHasNoPercentOrEta) {
  EXPECT_EQ(format_progress("load", 5000000, 0, "rows", 2.0), "load: 5,000,000 rows, 2,500,000 rows/s");
}

TEST(Progress, SlowRatesKeepTwoDigits) {
  // 3 of 15 iterations in 12.5 s: 0.24 iterations/s, 12 left -> 50 s.
  EXPECT_EQ(format_progress("ials", 3, 15, "iterations", 12.5),
            "ials: 20% (3 / 15 iterations), 0.24 iterations/s, ETA 50 s");
}

TEST(Progress, FinishedStepHasNoEta) {
  EXPECT_EQ(format_progress("x", 10, 10, "epochs", 5.0), "x: 100% (10 / 10 epochs), 2 epochs/s");
}

TEST(Progress, ThrottlesToTheInterval) {
  std::vector<std::string> lines;
  {
    Progress quiet("q", 100, "items", 3600.0, [&](const std::string& l) { lines.push_back(l); });
    for (int i = 0; i < 100; ++i) quiet.add();
    EXPECT_EQ(quiet.done(), 100u);
    EXPECT_EQ(quiet.lines(), 0);  // a step shorter than the interval prints nothing
  }
  Progress every("e", 4, "items", 0.0, [&](const std::string& l) { lines.push_back(l); });
  every.add(2);
  every.add(2);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].rfind("e: 50% (2 / 4 items)", 0), 0u) << lines[0];
  EXPECT_EQ(lines[1].rfind("e: 100% (4 / 4 items)", 0), 0u) << lines[1];
}

}  // namespace
}  // namespace cascade
