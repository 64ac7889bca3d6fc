// The feature store's in-process cache ("local copy"): per user, the events this process
// knows, in least-recently-used order, bounded by a capacity, with a time-to-live on what was
// read from Redis. The semantics are the feature store's (include/cascade/serve/feature_store.h);
// this unit only keeps the bookkeeping apart from the Redis I/O.
//
// Not thread-safe: the feature store calls it under its own lock (a cache hit is one hash
// lookup and one list splice under that lock, no allocation).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <string>
#include <unordered_map>
#include <vector>

#include "cascade/serve/feature_store.h"

namespace cascade {

class EventCache {
 public:
  using Clock = std::chrono::steady_clock;

  // One user's local copy. Shown to readers as confirmed ++ unacked (the newest
  // max_events_per_user of them).
  struct Entry {
    std::deque<StoredEvent> confirmed;  // best-known Redis contents, oldest first, <= cap
    struct Unacked {
      uint64_t seq;
      StoredEvent event;
    };
    std::deque<Unacked> unacked;  // appended here, not yet acknowledged by Redis, in seq order
    size_t in_flight = 0;         // how many of unacked's front are being written right now
    uint64_t write_gen = 0;       // global generation of the last change to the write state
    bool fetched = false;         // confirmed was read from Redis (or: no Redis at all)
    Clock::time_point fetched_at{};

    // Events not yet in Redis: this copy is the only place they are visible, so it is never
    // evicted.
    bool pinned() const { return !unacked.empty() || in_flight > 0; }

   private:
    friend class EventCache;
    std::list<const std::string*>::iterator lru_;  // position in lru_ (key owned by the map)
  };

  /// `clock` empty = Clock::now. capacity and max_events_per_user are > 0 (the feature store
  /// checks its options before building the cache).
  EventCache(size_t capacity, size_t max_events_per_user, std::chrono::milliseconds ttl,
             std::function<Clock::time_point()> clock);

  Clock::time_point now() const { return clock_ ? clock_() : Clock::now(); }

  /// The user's entry or nullptr; does not change the recency order.
  Entry* find(const std::string& user);
  /// The user's entry, which must exist (pinned entries are never evicted).
  Entry& at(const std::string& user) { return entries_.at(user); }
  /// The user's entry, created empty when absent, made the most recently used. Creating one
  /// may evict least recently used unpinned entries down to the capacity (never this one).
  Entry& get_or_create(const std::string& user);
  /// Marks `e` the most recently used.
  void touch(Entry& e) { lru_.splice(lru_.begin(), lru_, e.lru_); }

  /// True when `e` was read from Redis less than the ttl before `now`.
  bool fresh(const Entry& e, Clock::time_point now) const {
    return e.fetched && now - e.fetched_at < ttl_;
  }
  /// What readers see: confirmed ++ unacked, the newest max_events_per_user, oldest first.
  std::vector<StoredEvent> view(const Entry& e) const;
  /// Appends an acknowledged event, dropping the oldest beyond the cap.
  void add_confirmed(Entry& e, StoredEvent ev);
  /// Replaces the confirmed events with a list read from Redis at `fetched_at`.
  void install(Entry& e, std::vector<StoredEvent> fetched, Clock::time_point fetched_at);

  size_t size() const { return entries_.size(); }
  /// Events held by every entry (confirmed + unacked), and an estimate of the heap bytes they
  /// and their entries take. One pass over the entries: for /metrics, not for the request path.
  struct Usage {
    uint64_t users = 0;
    uint64_t events = 0;
    uint64_t bytes_estimate = 0;
  };
  Usage usage() const;
  size_t capacity() const { return capacity_; }
  /// Entries dropped by the capacity since construction (readable without the owner's lock).
  uint64_t evictions() const { return evictions_.load(std::memory_order_relaxed); }

 private:
  void evict_over_capacity(const Entry& keep);

  size_t capacity_;
  size_t max_events_;
  std::chrono::milliseconds ttl_;
  std::function<Clock::time_point()> clock_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<const std::string*> lru_;  // most recently used first
  std::atomic<uint64_t> evictions_{0};
};

}  // namespace cascade
