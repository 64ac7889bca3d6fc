// Channel selection shared by `train`, `eval` and `bench quality`.
#include <gtest/gtest.h>

#include "cascade/pipeline/recall_job.h"
#include "support/test_util.h"

namespace cascade {
namespace {

TEST(RecallJob, SelectChannelsKeepsTheRequestedOrderAndRejectsUnknownNames) {
  YAML::Node channels = YAML::Load("{popularity: {}, ials: {factors: 8}, ease: {kind: ease, lambda: 5}}");
  const std::vector<ChannelSpec> all = channel_specs_from_yaml(channels);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[1].spec(), "ials:factors=8");
  EXPECT_EQ(select_channels(all, {}).size(), 3u);
  auto some = select_channels(all, {"ease", "popularity"});
  ASSERT_EQ(some.size(), 2u);
  EXPECT_EQ(some[0].name, "ease");
  EXPECT_EQ(some[1].name, "popularity");
  const std::string msg = test::error_of([&] { select_channels(all, {"iasl"}); });
  EXPECT_NE(msg.find("'iasl'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("popularity, ials, ease"), std::string::npos) << msg;
}

}  // namespace
}  // namespace cascade
