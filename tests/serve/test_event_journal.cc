// The feature store's event journal: records round-trip, a torn or corrupt tail is cut off
// (the whole records before it kept), clear() empties it; and the store on top of it: events
// acknowledged while Redis was down survive the process (a second store on the same journal
// writes them), replayed events Redis already had are skipped and counted, and the pending
// bound refuses appends instead of growing.
#include "serve/event_journal.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "cascade/core/error.h"
#include "cascade/serve/feature_store.h"
#include "support/redis_client.h"
#include "support/redis_server.h"
#include "support/temp_dir.h"

namespace cascade {
namespace {

namespace fs = std::filesystem;
using Record = EventJournal::Record;

void write_bytes(const fs::path& p, const std::string& b) { std::ofstream(p, std::ios::binary) << b; }

TEST(EventJournal, RecordsRoundTripAcrossReopenAndClearEmptiesIt) {
  test::TempDir t;
  const fs::path p = t.path() / "j" / "events.journal";  // the directory is created
  const std::vector<Record> a{{"u1", "m1\t10\t4"}, {"user two", "m2\t11\t1"}}, b{{"u1", "m3\t12\t2.5"}};
  {
    EventJournal j(p, true);
    EXPECT_TRUE(j.replayed().empty());
    j.append(a);
    j.append(b);
    EXPECT_EQ(j.bytes(), fs::file_size(p));
  }
  {
    EventJournal j(p, false);
    EXPECT_EQ(j.replayed(), (std::vector<Record>{a[0], a[1], b[0]}));
    EXPECT_EQ(j.torn_bytes(), 0u);
    j.clear();
    EXPECT_EQ(fs::file_size(p), 0u);
    j.append(b);  // appends after a clear start at the beginning
  }
  EXPECT_EQ(EventJournal(p, true).replayed(), b);
  EXPECT_EQ(fs::status(p).permissions() & (fs::perms::group_all | fs::perms::others_all), fs::perms::none);
}

TEST(EventJournal, TornOrCorruptTailIsCutOffKeepingTheWholeRecords) {
  test::TempDir t;
  const fs::path p = t.path() / "events.journal";
  const Record r1{"u", "a\t1\t1"}, r2{"u", "b\t2\t1"}, r3{"v", "c\t3\t1"};
  const std::string whole = EventJournal::encode(r1) + EventJournal::encode(r2);
  const std::string third = EventJournal::encode(r3);
  // Every cut inside the third record (a crash in the middle of its write).
  for (size_t cut = 1; cut < third.size(); ++cut) {
    write_bytes(p, whole + third.substr(0, cut));
    EventJournal j(p, true);
    ASSERT_EQ(j.replayed(), (std::vector<Record>{r1, r2})) << "cut " << cut;
    EXPECT_EQ(j.torn_bytes(), cut);
    EXPECT_EQ(fs::file_size(p), whole.size()) << "the torn bytes stay on disk";
    j.append({r3});  // and later appends are readable again
    EXPECT_EQ(EventJournal(p, true).replayed(), (std::vector<Record>{r1, r2, r3}));
  }
  // A flipped payload byte fails the checksum: that record and everything after it are cut.
  std::string bad = whole + third;
  bad[EventJournal::encode(r1).size() + 14] ^= 0x20;
  write_bytes(p, bad);
  EventJournal j(p, true);
  EXPECT_EQ(j.replayed(), (std::vector<Record>{r1}));
  EXPECT_EQ(j.torn_bytes(), bad.size() - EventJournal::encode(r1).size());
  // An absurd length (garbage where a header should be) is corrupt, not a 4 GB allocation.
  write_bytes(p, EventJournal::encode(r1) + std::string(12, '\xff'));
  EXPECT_EQ(EventJournal(p, true).replayed(), (std::vector<Record>{r1}));
}

TEST(EventJournal, UnopenablePathNamesIt) {
  test::TempDir t;
  write_bytes(t.path() / "file", "x");
  try {
    EventJournal j(t.path() / "file" / "under-a-file", true);
    ADD_FAILURE() << "opened a journal under a regular file";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("under-a-file"), std::string::npos) << e.what();
  }
}

// ---------------------------------------------------------------- the store on a journal

class JournaledStore : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(redis_.start()); }
  FeatureStoreOptions options() {
    FeatureStoreOptions o;
    o.redis = redis_.address();
    o.key_prefix = "j:";
    o.connect_timeout_ms = 100;
    o.command_timeout_ms = 100;
    o.retry_interval_ms = 20;
    o.journal_path = (dir_.path() / "events.journal").string();
    return o;
  }
  std::vector<std::string> in_redis(const std::string& user) {
    return testing::RedisClient(redis_.address()).lrange("j:events:" + user);
  }
  bool wait_drained(FeatureStore& s) {
    for (int i = 0; i < 500; ++i) {
      if (s.health().redis_ok && s.health().pending_writes == 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  testing::RedisServer redis_;
  test::TempDir dir_;
};

StoredEvent ev(const std::string& item, int64_t ts) { return {item, 1.f, ts}; }

TEST_F(JournaledStore, EventsAcknowledgedWhileRedisIsDownSurviveTheProcess) {
  ASSERT_TRUE(redis_.stop());
  constexpr int kEvents = 60;
  {
    FeatureStore store(options());
    for (int i = 0; i < kEvents; ++i) store.append("u" + std::to_string(i % 3), ev("m" + std::to_string(i), i));
    EXPECT_EQ(store.stats().events_journaled, static_cast<uint64_t>(kEvents));
    EXPECT_GT(store.stats().journal_bytes, 0u);
    // The store goes away with Redis still down (its last flush fails): as after a kill -9, the
    // journal is all that is left.
  }
  ASSERT_TRUE(redis_.start());
  FeatureStore again(options());
  EXPECT_EQ(again.stats().events_replayed, static_cast<uint64_t>(kEvents));
  ASSERT_TRUE(wait_drained(again));
  for (int u = 0; u < 3; ++u) {
    std::vector<std::string> want;
    for (int i = u; i < kEvents; i += 3) want.push_back(FeatureStore::serialize(ev("m" + std::to_string(i), i)));
    EXPECT_EQ(in_redis("u" + std::to_string(u)), want) << "user u" << u << ": lost, reordered or doubled";
  }
  EXPECT_EQ(again.stats().replay_duplicates, 0u);
  EXPECT_EQ(again.stats().journal_bytes, 0u) << "the journal is truncated once Redis has everything";
  // In the normal path nothing is journaled: Redis acknowledges before the answer.
  again.append("u0", ev("late", 100));
  EXPECT_EQ(again.stats().events_journaled, 0u);
}

TEST_F(JournaledStore, ReplayedEventsRedisAlreadyHasAreSkippedAndCounted) {
  // A journal whose first two events reached Redis before the process died (it was not truncated).
  {
    EventJournal j(options().journal_path, true);
    j.append({{"u", FeatureStore::serialize(ev("a", 1))},
              {"u", FeatureStore::serialize(ev("b", 2))},
              {"u", FeatureStore::serialize(ev("c", 3))}});
  }
  testing::RedisClient(redis_.address()).run({"RPUSH", "j:events:u", FeatureStore::serialize(ev("a", 1)),
                                              FeatureStore::serialize(ev("b", 2))});
  FeatureStore store(options());
  ASSERT_TRUE(wait_drained(store));
  EXPECT_EQ(in_redis("u"), (std::vector<std::string>{FeatureStore::serialize(ev("a", 1)),
                                                     FeatureStore::serialize(ev("b", 2)),
                                                     FeatureStore::serialize(ev("c", 3))}));
  EXPECT_EQ(store.stats().events_replayed, 3u);
  EXPECT_EQ(store.stats().replay_duplicates, 2u);
  EXPECT_EQ(store.events("u").size(), 3u);
}

TEST_F(JournaledStore, PendingBoundRefusesAppendsInsteadOfGrowing) {
  ASSERT_TRUE(redis_.stop());
  FeatureStoreOptions o = options();
  o.max_pending = 5;
  FeatureStore store(o);
  for (int i = 0; i < 5; ++i) store.append("u", ev("m" + std::to_string(i), i));
  EXPECT_THROW(store.append("u", ev("x", 9)), StoreOverloaded);
  EXPECT_THROW(store.append_batch({{"v", ev("y", 1)}, {"v", ev("z", 2)}}), StoreOverloaded);
  EXPECT_EQ(store.health().pending_writes, 5u);
  EXPECT_EQ(store.stats().overloaded, 2u);
  EXPECT_TRUE(store.events("v").empty()) << "a refused batch must leave nothing behind";
  ASSERT_TRUE(redis_.start());
  ASSERT_TRUE(wait_drained(store));
  store.append("u", ev("x", 9));  // room again once Redis has caught up
  EXPECT_EQ(in_redis("u").size(), 6u);
}

TEST(JournaledStoreOptions, AJournalNeedsRedis) {
  FeatureStoreOptions o;
  o.journal_path = "/tmp/never-created.journal";
  EXPECT_THROW(FeatureStore{o}, Error);
  o.journal_path.clear();
  o.max_pending = 0;
  o.redis = "unix:/nonexistent.sock";
  EXPECT_THROW(FeatureStore{o}, Error);
}

}  // namespace
}  // namespace cascade
