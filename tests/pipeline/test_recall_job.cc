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

namespace cascade {
namespace {

// data.keep_seen reaches the prepare options, and only an enabled option changes the cache
// fingerprint (snapshots cached before the option existed stay valid).
TEST(RecallJob, KeepSeenIsReadFromTheDataGroupAndOnlyOnChangesTheFingerprint) {
  const YAML::Node off = YAML::Load("{dataset: ml-100k, path: /data/ml-100k}");
  const YAML::Node explicit_off =
      YAML::Load("{dataset: ml-100k, path: /data/ml-100k, keep_seen: false}");
  const YAML::Node on = YAML::Load("{dataset: ml-100k, path: /data/ml-100k, keep_seen: true}");
  EXPECT_FALSE(data_source_from_yaml(off).prepare.keep_seen);
  EXPECT_TRUE(data_source_from_yaml(on).prepare.keep_seen);
  EXPECT_EQ(data_source_from_yaml(off).fingerprint(),
            data_source_from_yaml(explicit_off).fingerprint());
  EXPECT_EQ(data_source_from_yaml(off).fingerprint().find("keep_seen"), std::string::npos);
  EXPECT_NE(data_source_from_yaml(on).fingerprint(), data_source_from_yaml(off).fingerprint());
}

}  // namespace
}  // namespace cascade
