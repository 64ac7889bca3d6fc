// Tests of the feature store's in-process cache on its own: LRU order, the capacity bound (and
// pinned users exceeding it), the ttl under an injected clock, and the per-user event cap.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "serve/event_cache.h"

namespace cascade {
namespace {

using std::chrono::milliseconds;
using Clock = EventCache::Clock;

StoredEvent ev(std::string item, int64_t ts = 0) {
  return {std::move(item), 1.f, ts};
}

std::vector<std::string> items_of(const std::vector<StoredEvent>& v) {
  std::vector<std::string> out;
  for (const StoredEvent& e : v) out.push_back(e.item);
  return out;
}

EventCache cache_of(size_t capacity, size_t max_events = 100, int64_t ttl_ms = 1000,
                    std::function<Clock::time_point()> clock = {}) {
  return EventCache(capacity, max_events, milliseconds(ttl_ms), std::move(clock));
}

TEST(EventCache, EvictsLeastRecentlyUsedFirst) {
  EventCache c = cache_of(3);
  c.get_or_create("a");
  c.get_or_create("b");
  c.get_or_create("c");
  c.touch(*c.find("a"));  // order now (newest first): a c b
  c.get_or_create("d");   // evicts b
  EXPECT_EQ(c.find("b"), nullptr);
  EXPECT_EQ(c.evictions(), 1u);
  c.get_or_create("c");  // an existing entry is touched, nothing evicted: c d a
  EXPECT_EQ(c.evictions(), 1u);
  c.get_or_create("e");  // evicts a
  EXPECT_EQ(c.find("a"), nullptr);
  for (const char* u : {"c", "d", "e"}) EXPECT_NE(c.find(u), nullptr) << u;
  EXPECT_EQ(c.size(), 3u);
  EXPECT_EQ(c.evictions(), 2u);
}

TEST(EventCache, FindDoesNotChangeTheOrder) {
  EventCache c = cache_of(2);
  c.get_or_create("a");
  c.get_or_create("b");
  ASSERT_NE(c.find("a"), nullptr);  // a look-up alone is not a use
  c.get_or_create("c");
  EXPECT_EQ(c.find("a"), nullptr);
  EXPECT_NE(c.find("b"), nullptr);
}

TEST(EventCache, CapacityBoundsSizeExceptForPinnedEntries) {
  EventCache c = cache_of(4);
  for (int i = 0; i < 50; ++i) {
    c.get_or_create("u" + std::to_string(i));
    EXPECT_LE(c.size(), c.capacity());
  }
  EXPECT_EQ(c.evictions(), 46u);

  // Entries with unacknowledged or in-flight events are never evicted, even over capacity...
  EventCache p = cache_of(2);
  p.get_or_create("x").unacked.push_back({1, ev("m")});
  p.get_or_create("y").in_flight = 1;
  EventCache::Entry& z = p.get_or_create("z");  // the new entry itself stays too
  EXPECT_EQ(p.size(), 3u);
  EXPECT_EQ(p.evictions(), 0u);
  // ...and once they are acknowledged they are evicted again, least recently used first.
  p.at("x").unacked.clear();
  p.at("y").in_flight = 0;
  p.touch(z);
  p.get_or_create("w");  // one pass: drops x and y (oldest), keeps z and w
  EXPECT_EQ(p.size(), 2u);
  EXPECT_EQ(p.find("x"), nullptr);
  EXPECT_EQ(p.find("y"), nullptr);
  EXPECT_NE(p.find("z"), nullptr);
  EXPECT_NE(p.find("w"), nullptr);
}

TEST(EventCache, TtlExpiresWithTheInjectedClock) {
  Clock::time_point t(milliseconds(1'000'000));
  EventCache c = cache_of(10, 100, 500, [&t] { return t; });
  EXPECT_EQ(c.now(), t);
  EventCache::Entry& e = c.get_or_create("u");
  EXPECT_FALSE(c.fresh(e, c.now()));  // never fetched
  c.install(e, {ev("a"), ev("b")}, c.now());
  EXPECT_TRUE(c.fresh(e, c.now()));
  t += milliseconds(499);
  EXPECT_TRUE(c.fresh(e, c.now()));
  t += milliseconds(1);
  EXPECT_FALSE(c.fresh(e, c.now()));  // exactly the ttl later: stale
  c.install(e, {ev("c")}, c.now());
  EXPECT_TRUE(c.fresh(e, c.now()));
  EXPECT_EQ(items_of(c.view(e)), std::vector<std::string>{"c"});

  EventCache uncached = cache_of(10, 100, 0, [&t] { return t; });
  EventCache::Entry& u = uncached.get_or_create("u");
  uncached.install(u, {}, uncached.now());
  EXPECT_FALSE(uncached.fresh(u, uncached.now()));  // ttl 0: never fresh
}

TEST(EventCache, ViewIsConfirmedThenUnackedCappedToTheNewest) {
  EventCache c = cache_of(10, 3);
  EventCache::Entry& e = c.get_or_create("u");
  c.install(e, {ev("a"), ev("b"), ev("c"), ev("d")}, Clock::time_point{});
  EXPECT_EQ(items_of(c.view(e)), (std::vector<std::string>{"b", "c", "d"}));  // install caps
  e.unacked.push_back({1, ev("x")});
  e.unacked.push_back({2, ev("y")});
  EXPECT_EQ(items_of(c.view(e)), (std::vector<std::string>{"d", "x", "y"}));
  c.add_confirmed(e, ev("x"));  // x acknowledged: moves from unacked to confirmed
  e.unacked.pop_front();
  EXPECT_EQ(items_of(c.view(e)), (std::vector<std::string>{"d", "x", "y"}));
  EXPECT_EQ(e.confirmed.size(), 3u);  // add_confirmed caps too
}

// The usage walk counts confirmed and unacknowledged events, stops growing at the per-user
// cap, and its byte estimate grows with the events (and with item ids past the small-string
// buffer).
TEST(EventCache, UsageCountsEventsUpToTheCap) {
  EventCache c = cache_of(10, /*max_events=*/3);
  EXPECT_EQ(c.usage().users, 0u);
  EXPECT_EQ(c.usage().events, 0u);
  EXPECT_EQ(c.usage().bytes_estimate, 0u);
  EventCache::Entry& a = c.get_or_create("a");
  const uint64_t empty_entry = c.usage().bytes_estimate;
  EXPECT_GT(empty_entry, 0u);
  for (int i = 0; i < 5; ++i) c.add_confirmed(a, ev("i" + std::to_string(i)));
  EXPECT_EQ(c.usage().events, 3u);  // capped
  EXPECT_EQ(c.usage().bytes_estimate, empty_entry + 3 * sizeof(StoredEvent));
  a.unacked.push_back({7, ev("x")});
  c.get_or_create("b");
  const EventCache::Usage u = c.usage();
  EXPECT_EQ(u.users, 2u);
  EXPECT_EQ(u.events, 4u);
  EXPECT_EQ(u.bytes_estimate,
            2 * empty_entry + 3 * sizeof(StoredEvent) + sizeof(EventCache::Entry::Unacked));
  c.add_confirmed(*c.find("b"), ev(std::string(100, 'z')));  // a heap-allocated id
  EXPECT_GE(c.usage().bytes_estimate, u.bytes_estimate + sizeof(StoredEvent) + 101);
}

}  // namespace
}  // namespace cascade
