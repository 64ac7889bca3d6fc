// Tests of the serving feature store: in-process only, and against a real redis-server
// (tests/support/redis_server.h) including a Redis stop/restart, a rejected write, a stalled
// server and malformed list entries.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cascade/serve/feature_store.h"
#include "support/redis_client.h"
#include "support/redis_server.h"
#include "support/test_util.h"

namespace cascade {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

StoredEvent ev(std::string item, float rating, int64_t ts) {
  return {std::move(item), rating, ts};
}

std::vector<std::string> items_of(const std::vector<StoredEvent>& v) {
  std::vector<std::string> out;
  for (const StoredEvent& e : v) out.push_back(e.item);
  return out;
}

// A clock the test moves by hand, so cache expiry needs no sleeping.
struct FakeClock {
  std::atomic<int64_t> ms{1'000'000};
  std::function<Clock::time_point()> fn() {
    return [this] { return Clock::time_point(milliseconds(ms.load())); };
  }
};

// ---------------------------------------------------------------- in-process only

TEST(FeatureStoreLocal, AppendThenEventsOldestFirst) {
  FeatureStore store(FeatureStoreOptions{});
  store.append("u1", ev("m1", 4.5f, 100));
  store.append("u2", ev("m9", 1.f, 50));
  store.append("u1", ev("m2", 3.f, 90));  // order is append order, not timestamp order
  store.append("u1", ev("m3", 5.f, 110));
  std::vector<StoredEvent> want = {ev("m1", 4.5f, 100), ev("m2", 3.f, 90), ev("m3", 5.f, 110)};
  EXPECT_EQ(store.events("u1"), want);
  EXPECT_EQ(store.events("u2"), std::vector<StoredEvent>{ev("m9", 1.f, 50)});
  EXPECT_TRUE(store.events("nobody").empty());

  FeatureStoreHealth h = store.health();
  EXPECT_FALSE(h.redis_configured);
  EXPECT_FALSE(h.degraded());
  EXPECT_EQ(h.pending_writes, 0u);
  FeatureStoreStats s = store.stats();
  EXPECT_EQ(s.events_appended, 4u);
  EXPECT_EQ(s.events_written, 0u);
  EXPECT_EQ(s.cache_hits, 2u);
  EXPECT_EQ(s.cache_misses, 1u);              // "nobody"
  EXPECT_TRUE(store.flush(milliseconds(0)));  // nothing to write without Redis
}

TEST(FeatureStoreLocal, KeepsNewestMaxEventsPerUser) {
  FeatureStoreOptions o;
  o.max_events_per_user = 3;
  FeatureStore store(o);
  for (int i = 0; i < 5; ++i) store.append("u", ev("m" + std::to_string(i), 1.f, i));
  EXPECT_EQ(items_of(store.events("u")), (std::vector<std::string>{"m2", "m3", "m4"}));
  store.append_batch({{"u", ev("m5", 2.f, 5)}, {"v", ev("x", 1.f, 0)}, {"u", ev("m6", 2.f, 6)}});
  EXPECT_EQ(items_of(store.events("u")), (std::vector<std::string>{"m4", "m5", "m6"}));
  EXPECT_EQ(items_of(store.events("v")), std::vector<std::string>{"x"});
}

TEST(FeatureStoreLocal, InvalidInputThrows) {
  FeatureStore store(FeatureStoreOptions{});
  EXPECT_NE(test::error_of([&] { store.append("", ev("m", 1.f, 0)); }).find("user id is empty"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { store.events(""); }).find("user id is empty"), std::string::npos);
  EXPECT_NE(test::error_of([&] { store.append("u", ev("", 1.f, 0)); }).find("empty item id"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { store.append("u", ev("a\tb", 1.f, 0)); }).find("tab or newline"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] { store.append("u", ev("a\nb", 1.f, 0)); }).find("tab or newline"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] {
              store.append("u", ev("m", std::numeric_limits<float>::quiet_NaN(), 0));
            }).find("non-finite rating"),
            std::string::npos);
  EXPECT_NE(test::error_of([&] {
              store.append("u", ev("m", std::numeric_limits<float>::infinity(), 0));
            }).find("non-finite rating"),
            std::string::npos);
  // A batch is validated as a whole: the good event before the bad one is not recorded.
  EXPECT_NE(test::error_of([&] {
              store.append_batch({{"u", ev("good", 1.f, 0)}, {"u", ev("", 1.f, 1)}});
            }).find("empty item id"),
            std::string::npos);
  EXPECT_TRUE(store.events("u").empty());
  EXPECT_EQ(store.stats().events_appended, 0u);
}

TEST(FeatureStoreLocal, InvalidOptionsThrow) {
  auto with = [](auto change) {
    FeatureStoreOptions o;
    change(o);
    return test::error_of([&] { FeatureStore s(o); });
  };
  EXPECT_NE(with([](auto& o) { o.max_events_per_user = 0; }).find("max_events_per_user"),
            std::string::npos);
  EXPECT_NE(with([](auto& o) { o.cache_capacity = 0; }).find("cache_capacity"), std::string::npos);
  EXPECT_NE(with([](auto& o) { o.command_timeout_ms = 0; }).find("command_timeout_ms"),
            std::string::npos);
  EXPECT_NE(with([](auto& o) { o.redis = "localhost"; }).find("has no port"), std::string::npos);
  EXPECT_NE(with([](auto& o) { o.redis = "localhost:99999"; }).find("invalid port"),
            std::string::npos);
  EXPECT_NE(with([](auto& o) { o.redis = "unix:"; }).find("empty socket path"), std::string::npos);
}

TEST(FeatureStoreLocal, EvictsLeastRecentlyUsedUser) {
  FeatureStoreOptions o;
  o.cache_capacity = 2;
  FeatureStore store(o);
  store.append("u1", ev("a", 1.f, 0));
  store.append("u2", ev("b", 1.f, 0));
  EXPECT_EQ(store.events("u1").size(), 1u);  // u1 is now more recent than u2
  store.append("u3", ev("c", 1.f, 0));       // evicts u2
  EXPECT_EQ(store.stats().evictions, 1u);
  EXPECT_TRUE(store.events("u2").empty());
  EXPECT_EQ(items_of(store.events("u1")), std::vector<std::string>{"a"});
  EXPECT_EQ(items_of(store.events("u3")), std::vector<std::string>{"c"});
}

TEST(FeatureStoreLocal, SerializeParseRoundTrip) {
  EXPECT_EQ(FeatureStore::serialize(ev("i42", 4.5f, 1700000000)), "i42\t1700000000\t4.5");
  EXPECT_EQ(FeatureStore::serialize(ev("x", 1.f, -3)), "x\t-3\t1");
  for (float r : {0.1f, 1.f / 3.f, -2.75f, 1e-30f, 3.4e38f}) {
    StoredEvent e = ev("item", r, 7);
    std::optional<StoredEvent> back = FeatureStore::parse(FeatureStore::serialize(e));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, e);  // exact float round trip
  }
  for (const char* bad : {"", "a", "a\t1", "a\t1\t2\t3", "\t1\t2", "a\tx\t1", "a\t1\tnan",
                          "a\t1\tinf", "a\t1.5\t1", "a\t1\t", "a\t\t1", "a\t1\t2x"})
    EXPECT_FALSE(FeatureStore::parse(bad).has_value()) << "accepted '" << bad << "'";
}

// ---------------------------------------------------------------- with redis-server

using testing::RedisClient;

class FeatureStoreRedis : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.start()); }

  FeatureStoreOptions options() {
    FeatureStoreOptions o;
    o.redis = server_.address();
    o.key_prefix = "t:";
    o.connect_timeout_ms = 100;
    o.command_timeout_ms = 100;
    o.retry_interval_ms = 20;
    return o;
  }

  testing::RedisServer server_;
};

TEST_F(FeatureStoreRedis, AppendReachesRedisUnderExactKey) {
  FeatureStoreOptions o = options();
  o.max_events_per_user = 3;
  FeatureStore store(o);
  ASSERT_TRUE(store.health().redis_ok) << store.health().last_error;
  store.append("user 1", ev("m7", 3.5f, 1700000000));
  RedisClient redis(server_.address());
  EXPECT_EQ(store.key_of("user 1"), "t:events:user 1");
  EXPECT_EQ(redis.lrange("t:events:user 1"), std::vector<std::string>{"m7\t1700000000\t3.5"});

  // The cap is applied in Redis too (LTRIM keeps the newest).
  for (int i = 0; i < 4; ++i) store.append("user 1", ev("n" + std::to_string(i), 1.f, i));
  EXPECT_EQ(redis.lrange("t:events:user 1"),
            (std::vector<std::string>{"n1\t1\t1", "n2\t2\t1", "n3\t3\t1"}));
  EXPECT_EQ(items_of(store.events("user 1")), (std::vector<std::string>{"n1", "n2", "n3"}));

  FeatureStoreStats s = store.stats();
  EXPECT_EQ(s.events_appended, 5u);
  EXPECT_EQ(s.events_written, 5u);
  EXPECT_EQ(s.redis_errors, 0u);
  FeatureStoreHealth h = store.health();
  EXPECT_TRUE(h.redis_configured);
  EXPECT_TRUE(h.redis_ok);
  EXPECT_EQ(h.pending_writes, 0u);
}

TEST_F(FeatureStoreRedis, CacheHitsAndMissesCounted) {
  FakeClock clock;
  FeatureStoreOptions o = options();
  o.cache_ttl_ms = 1000;
  o.clock = clock.fn();
  FeatureStore store(o);
  RedisClient redis(server_.address());
  redis.run({"RPUSH", "t:events:u", "a\t1\t1", "b\t2\t0.5"});

  EXPECT_EQ(items_of(store.events("u")), (std::vector<std::string>{"a", "b"}));  // miss
  EXPECT_EQ(store.events("u").size(), 2u);                                       // hit
  clock.ms += 999;
  EXPECT_EQ(store.events("u").size(), 2u);  // hit, still fresh
  redis.run({"RPUSH", "t:events:u", "c\t3\t1"});
  EXPECT_EQ(store.events("u").size(), 2u);  // hit: a write behind our back is not seen yet
  clock.ms += 1;
  EXPECT_EQ(items_of(store.events("u")), (std::vector<std::string>{"a", "b", "c"}));  // miss
  FeatureStoreStats s = store.stats();
  EXPECT_EQ(s.cache_hits, 3u);
  EXPECT_EQ(s.cache_misses, 2u);

  // ttl 0: every read goes to Redis.
  o.cache_ttl_ms = 0;
  FeatureStore uncached(o);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(uncached.events("u").size(), 3u);
  EXPECT_EQ(uncached.stats().cache_hits, 0u);
  EXPECT_EQ(uncached.stats().cache_misses, 3u);
}

TEST_F(FeatureStoreRedis, SecondReplicaSeesWritesAfterTtl) {
  FakeClock clock;
  FeatureStoreOptions o = options();
  o.cache_ttl_ms = 500;
  o.clock = clock.fn();
  FeatureStore a(o), b(o);
  EXPECT_TRUE(b.events("u").empty());  // b caches "no events"
  a.append("u", ev("m1", 4.f, 10));
  a.append("u", ev("m2", 2.f, 11));
  EXPECT_EQ(a.events("u").size(), 2u);  // the writer sees its own events at once
  EXPECT_TRUE(b.events("u").empty());   // b trusts its cache for the ttl
  clock.ms += 500;
  std::vector<StoredEvent> want = {ev("m1", 4.f, 10), ev("m2", 2.f, 11)};
  EXPECT_EQ(b.events("u"), want);
  EXPECT_EQ(a.events("u"), want);  // a re-reads too (its copy expired): fresh from now on
  // ...and the other way round: b's append shows up in a after a's ttl.
  b.append("u", ev("m3", 1.f, 12));
  EXPECT_EQ(b.events("u").size(), 3u);
  EXPECT_EQ(a.events("u").size(), 2u);  // a's copy is still within its ttl
  clock.ms += 500;
  EXPECT_EQ(items_of(a.events("u")), (std::vector<std::string>{"m1", "m2", "m3"}));
}

TEST_F(FeatureStoreRedis, RedisStopRestartLosesAndDuplicatesNothing) {
  FeatureStore store(options());
  RedisClient before(server_.address());
  const int kN = 5, kM = 4;
  std::vector<std::string> want_items, want_entries;
  for (int i = 0; i < kN; ++i) {
    StoredEvent e = ev("n" + std::to_string(i), 1.f + i, 100 + i);
    store.append("u", e);
    want_items.push_back(e.item);
    want_entries.push_back(FeatureStore::serialize(e));
  }
  store.append("reader", ev("r0", 1.f, 0));
  EXPECT_EQ(store.events("reader").size(), 1u);
  EXPECT_EQ(before.lrange("t:events:u").size(), static_cast<size_t>(kN));

  ASSERT_TRUE(server_.stop());
  // Generous bound (50x the timeouts): guards against a call that waits without a timeout.
  auto max_call = milliseconds(0);
  auto timed = [&](auto fn) {
    auto t0 = Clock::now();
    fn();
    max_call = std::max(max_call, std::chrono::duration_cast<milliseconds>(Clock::now() - t0));
  };
  for (int i = 0; i < kM; ++i) {
    StoredEvent e = ev("m" + std::to_string(i), 0.5f * i, 200 + i);
    timed([&] { store.append("u", e); });
    want_items.push_back(e.item);
    want_entries.push_back(FeatureStore::serialize(e));
  }
  FeatureStoreHealth h = store.health();
  EXPECT_TRUE(h.degraded());
  EXPECT_EQ(h.pending_writes, static_cast<size_t>(kM));
  EXPECT_FALSE(h.last_error.empty());
  std::vector<StoredEvent> local;
  timed([&] { local = store.events("u"); });
  EXPECT_EQ(items_of(local), want_items);  // N written + M pending, in order
  timed([&] { EXPECT_EQ(store.events("reader").size(), 1u); });
  timed([&] { EXPECT_TRUE(store.events("never-seen").empty()); });
  EXPECT_LT(max_call, milliseconds(5000));
  EXPECT_GE(store.stats().stale_reads, 2u);  // "u" and "never-seen" ("reader" may be a hit)
  EXPECT_GE(store.stats().redis_errors, 1u);

  ASSERT_TRUE(server_.start());
  EXPECT_TRUE(store.flush(milliseconds(10000)));
  h = store.health();
  EXPECT_TRUE(h.redis_ok) << h.last_error;
  EXPECT_EQ(h.pending_writes, 0u);
  RedisClient after(server_.address());
  EXPECT_EQ(after.lrange("t:events:u"), want_entries);  // exactly N+M, in order
  EXPECT_EQ(store.stats().events_written, static_cast<uint64_t>(kN + kM + 1));

  // Healthy again: appends are written synchronously.
  store.append("u", ev("z", 1.f, 300));
  EXPECT_EQ(after.lrange("t:events:u").size(), static_cast<size_t>(kN + kM + 1));
  EXPECT_EQ(store.events("u").back().item, "z");
}

TEST_F(FeatureStoreRedis, StartsDegradedAndBackgroundThreadWritesBack) {
  ASSERT_TRUE(server_.stop());
  FeatureStore store(options());  // Redis is down: must not throw
  FeatureStoreHealth h = store.health();
  EXPECT_TRUE(h.redis_configured);
  EXPECT_FALSE(h.redis_ok);
  EXPECT_NE(h.last_error.find("cannot connect"), std::string::npos) << h.last_error;
  store.append("u", ev("a", 1.f, 1));
  store.append("u", ev("b", 1.f, 2));
  EXPECT_EQ(store.health().pending_writes, 2u);
  EXPECT_EQ(items_of(store.events("u")), (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(store.flush(milliseconds(30)));

  ASSERT_TRUE(server_.start());
  // No flush: the background thread (every retry_interval_ms = 20) must write them back.
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline &&
         !(store.health().redis_ok && store.health().pending_writes == 0))
    std::this_thread::sleep_for(milliseconds(10));
  EXPECT_TRUE(store.health().redis_ok);
  EXPECT_EQ(store.health().pending_writes, 0u);
  RedisClient redis(server_.address());
  EXPECT_EQ(redis.lrange("t:events:u"), (std::vector<std::string>{"a\t1\t1", "b\t2\t1"}));
}

TEST_F(FeatureStoreRedis, MalformedEntriesSkippedAndCounted) {
  RedisClient redis(server_.address());
  redis.run({"RPUSH", "t:events:u", "a\t1\t1", "garbage", "x\t1\tnan", "b\t2\t0.25",
             "c\t3\t1\textra", "d\tsoon\t1"});
  FeatureStore store(options());
  std::vector<StoredEvent> want = {ev("a", 1.f, 1), ev("b", 0.25f, 2)};
  EXPECT_EQ(store.events("u"), want);
  FeatureStoreStats s = store.stats();
  EXPECT_EQ(s.malformed_entries, 4u);
  EXPECT_EQ(s.redis_errors, 4u);
  EXPECT_TRUE(store.health().redis_ok);  // bad data is not a connection problem
  EXPECT_NE(store.health().last_error.find("malformed"), std::string::npos);
}

TEST_F(FeatureStoreRedis, RejectedWriteStaysPendingUntilAccepted) {
  RedisClient redis(server_.address());
  redis.run({"SET", "t:events:u", "not a list"});
  FeatureStore store(options());
  store.append("u", ev("a", 2.f, 5));  // RPUSH fails with WRONGTYPE
  FeatureStoreHealth h = store.health();
  EXPECT_TRUE(h.degraded());
  EXPECT_EQ(h.pending_writes, 1u);
  EXPECT_NE(h.last_error.find("WRONGTYPE"), std::string::npos) << h.last_error;
  EXPECT_EQ(items_of(store.events("u")), std::vector<std::string>{"a"});
  redis.run({"DEL", "t:events:u"});
  EXPECT_TRUE(store.flush(milliseconds(10000)));
  EXPECT_EQ(redis.lrange("t:events:u"), std::vector<std::string>{"a\t5\t2"});
}

TEST_F(FeatureStoreRedis, StalledServerTimesOut) {
  FeatureStore store(options());
  store.append("u", ev("a", 1.f, 1));
  server_.pause();  // accepts nothing, answers nothing: only the timeouts end the calls
  store.append("u", ev("b", 1.f, 2));
  EXPECT_TRUE(store.health().degraded());
  EXPECT_NE(store.health().last_error.find("timed out"), std::string::npos)
      << store.health().last_error;
  EXPECT_EQ(items_of(store.events("u")), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(store.events("other").empty());
  server_.resume();
  EXPECT_TRUE(store.flush(milliseconds(10000)));
  // The timed-out RPUSH may have been applied after the server resumed, and then written again
  // on recovery: at-least-once in this one case (see the header).
  RedisClient redis(server_.address());
  std::vector<std::string> got = redis.lrange("t:events:u");
  ASSERT_GE(got.size(), 2u);
  ASSERT_LE(got.size(), 3u);
  EXPECT_EQ(got.front(), "a\t1\t1");
  EXPECT_EQ(got.back(), "b\t2\t1");
}

TEST_F(FeatureStoreRedis, ConcurrentAppendsKeepPerUserOrder) {
  FeatureStoreOptions o = options();
  o.command_timeout_ms = 2000;  // no spurious timeouts on a loaded (sanitiser) build
  o.cache_ttl_ms = 0;           // every read goes to Redis and races with the writes
  FeatureStore store(o);
  const int kThreads = 4, kPerThread = 40;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&store, t] {
      std::string own = "own" + std::to_string(t);
      for (int i = 0; i < kPerThread; ++i) {
        std::string item = "t" + std::to_string(t) + "-" + std::to_string(i);
        store.append(own, ev(item, 1.f, i));
        store.append("shared", ev(item, 1.f, i));
        std::vector<StoredEvent> mine = store.events(own);
        if (mine.size() != static_cast<size_t>(i + 1) || mine.back().item != item)
          ADD_FAILURE() << own << " does not see its own append " << item;
        // A read racing with writes of the same user must show each event once, own included.
        std::vector<std::string> shared = items_of(store.events("shared"));
        std::set<std::string> distinct(shared.begin(), shared.end());
        if (distinct.size() != shared.size()) ADD_FAILURE() << "a duplicate in the shared view";
        if (!distinct.count(item)) ADD_FAILURE() << "shared view misses own append " << item;
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(store.flush(milliseconds(10000)));
  EXPECT_EQ(store.stats().events_written, static_cast<uint64_t>(2 * kThreads * kPerThread));

  RedisClient redis(server_.address());
  for (int t = 0; t < kThreads; ++t) {
    std::vector<std::string> got = redis.lrange("t:events:own" + std::to_string(t));
    ASSERT_EQ(got.size(), static_cast<size_t>(kPerThread));
    for (int i = 0; i < kPerThread; ++i)
      EXPECT_EQ(got[i], "t" + std::to_string(t) + "-" + std::to_string(i) + "\t" +
                            std::to_string(i) + "\t1");
  }
  // The shared list holds every event once, each thread's in its append order; the local copy
  // shows the same sequence as Redis.
  std::vector<std::string> shared = redis.lrange("t:events:shared");
  ASSERT_EQ(shared.size(), static_cast<size_t>(kThreads * kPerThread));
  std::vector<int> next(kThreads, 0);
  for (const std::string& entry : shared) {
    std::optional<StoredEvent> e = FeatureStore::parse(entry);
    ASSERT_TRUE(e.has_value()) << entry;
    int t = e->item[1] - '0';
    EXPECT_EQ(e->timestamp, next[t]) << "thread " << t << " out of order";
    next[t] = static_cast<int>(e->timestamp) + 1;
  }
  std::vector<std::string> local;
  for (const StoredEvent& e : store.events("shared")) local.push_back(FeatureStore::serialize(e));
  EXPECT_EQ(local, shared);
}

}  // namespace
}  // namespace cascade
