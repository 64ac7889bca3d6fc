// The serving feature store: the events posted to the live service per user, since the model
// bundle was trained. The bundle holds each user's (immutable) training history; this store
// holds what came after, keyed by the RAW dataset user id so it survives a model reload.
//
// Storage. Redis is the shared truth (several serving replicas may share one Redis): user
// `u`'s events are the Redis LIST `<key_prefix>events:<u>`, one entry per event, oldest
// first, appended with RPUSH and capped with LTRIM to the newest `max_events_per_user`.
// An entry is the text "item\ttimestamp\trating" (rating in the shortest form that reads back
// as the same float, e.g. "4.5"). Entries that do not parse are skipped on read and counted.
//
// In front of Redis each process keeps an in-process cache, the "local copy":
//  - an entry read from Redis is trusted for `cache_ttl_ms` (other replicas' writes show up
//    after that); this process's own appends update its local copy at once;
//  - at most `cache_capacity` users are kept, evicting the least recently used (read or
//    appended) user; a user with events not yet acknowledged by Redis is never evicted (its
//    local copy is the only place those events are visible), so the cache may exceed its
//    capacity while Redis is down;
//  - without Redis (`redis` empty) the local copy is the whole store, so the same capacity
//    bounds memory and the events of evicted users are forgotten.
//
// Writes. append() updates the local copy, queues the event in an ordered pending queue and
// (unless the store is degraded) writes the queue's head to Redis before returning: a single
// writer at a time sends a batch of queued events (one RPUSH with all of a user's values plus
// one LTRIM per user, pipelined), so concurrent appends are group-committed and each user's
// events reach Redis in the order they were appended. An event leaves the queue only when Redis
// acknowledged its RPUSH. If Redis is unreachable, times out or rejects a command, the store
// becomes degraded: appends only queue, reads answer from the local copy without touching
// Redis, and a background thread reconnects every `retry_interval_ms`, writes the queue back in
// order, and only then reports healthy again.
// Delivery is exactly once in the normal path. When a write times out AFTER Redis applied it
// (e.g. a stalled server that resumes), the store cannot know and writes it again on recovery:
// at-least-once in that case.
//
// Durability. The pending queue is bounded (`max_pending`): past it append throws
// StoreOverloaded (the server answers 503 with Retry-After) instead of growing. With a
// `journal_path`, every event still unacknowledged when its append returns is first written to a
// local append-only journal (serve/event_journal.h; fdatasync'ed unless journal_sync is off), so
// an acknowledged event survives a SIGKILL while Redis is down: the next store on the same journal
// replays it into the queue, in order, and writes it to Redis. Before writing replayed events, a
// user's Redis list is read and replayed entries already in it (the process died after Redis
// acknowledged them, before the journal was truncated) are skipped and counted as duplicates
// (events identical in item, timestamp and rating count as one). The journal is truncated
// whenever the queue is empty. Without a journal, events pending when the process dies are lost
// (the destructor's bounded last flush logs how many).
//
// Thread safety: every public method may be called concurrently. Cache hits take one short
// lock and do no I/O; Redis reads use a small pool of connections (one per concurrent caller),
// writes a dedicated connection; no Redis I/O happens under the lock that cache hits take.
// A call that reaches Redis waits at most about connect_timeout_ms + command_timeout_ms (an
// append may also wait for the writer ahead of it, itself bounded the same way).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cascade {

/// One posted event, with raw (dataset) ids.
struct StoredEvent {
  std::string item;       // raw item id; non-empty, no tab or newline
  float rating = 1;       // finite
  int64_t timestamp = 0;  // seconds
  bool operator==(const StoredEvent&) const = default;
};

struct FeatureStoreOptions {
  /// "unix:/path/to.sock" or "host:port"; empty = no Redis (in-process only, never degraded).
  std::string redis;
  /// Keys are `<key_prefix>events:<user>`.
  std::string key_prefix = "cascade:";
  int connect_timeout_ms = 200;
  int command_timeout_ms = 200;
  /// An entry read from Redis is trusted this long; 0 = every read goes to Redis.
  int64_t cache_ttl_ms = 2000;
  /// Users kept in the cache (least recently used evicted; users with pending writes pinned).
  size_t cache_capacity = 100000;
  /// Background reconnect / write-back period while degraded.
  int retry_interval_ms = 200;
  /// Newest events kept per user (LTRIM in Redis, same cap locally).
  size_t max_events_per_user = 1000;
  /// Events waiting for Redis at most (memory and journal); past it append throws StoreOverloaded.
  size_t max_pending = 100000;
  /// Local journal of events Redis has not acknowledged yet; empty = none. Needs `redis`.
  std::string journal_path;
  /// fdatasync each journal write before append returns (off: an OS crash may lose the last ones).
  bool journal_sync = true;
  /// The clock behind the cache ttl; empty = std::chrono::steady_clock::now. Tests inject a
  /// fake clock to step over the ttl without sleeping.
  std::function<std::chrono::steady_clock::time_point()> clock;
};

struct FeatureStoreHealth {
  bool redis_configured = false;
  bool redis_ok = false;      // connected and nothing known to be wrong (false when not configured)
  size_t pending_writes = 0;  // events queued for Redis, not yet acknowledged
  std::string last_error;     // the most recent Redis error ("" if none since construction)
  /// Redis is configured but not usable: reads come from the local copy, writes are queued.
  bool degraded() const { return redis_configured && !redis_ok; }
};

struct FeatureStoreStats {
  uint64_t cache_hits = 0;         // reads answered from a fresh local copy
  uint64_t cache_misses = 0;       // reads that went to Redis (in-process only: user not found)
  uint64_t redis_errors = 0;       // failed connects/commands + malformed entries read
  uint64_t events_written = 0;     // events Redis acknowledged
  uint64_t events_appended = 0;    // events accepted by append() / append_batch()
  uint64_t stale_reads = 0;        // reads answered from the local copy because Redis was unusable
  uint64_t malformed_entries = 0;  // entries read that did not parse (also in redis_errors)
  uint64_t evictions = 0;          // users dropped from the cache by the capacity
  uint64_t events_journaled = 0;   // events written to the journal (unacknowledged at return)
  uint64_t events_replayed = 0;    // events read back from the journal at start
  uint64_t replay_duplicates = 0;  // replayed events Redis already had (skipped)
  uint64_t overloaded = 0;         // appends refused by max_pending
  uint64_t journal_bytes = 0;      // current size of the journal file
};

/// What the in-process cache holds now (bounded by cache_capacity users of at most
/// max_events_per_user events each, plus pinned users' unacknowledged events).
struct FeatureStoreCacheUsage {
  uint64_t users = 0;
  uint64_t events = 0;
  uint64_t bytes_estimate =
      0;  // element arrays, hash and LRU nodes; allocator overhead not counted
};

/// append() refused because `max_pending` events already wait for Redis; retry later.
class StoreOverloaded : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class FeatureStore {
 public:
  /// Throws cascade::Error on invalid options (bad address syntax, zero caps, negative times).
  /// Does not throw when Redis is down: the store then starts degraded.
  explicit FeatureStore(FeatureStoreOptions opt);
  /// Stops the background thread, then tries a last flush (bounded by about
  /// connect_timeout_ms + 2 * command_timeout_ms).
  ~FeatureStore();
  FeatureStore(const FeatureStore&) = delete;
  FeatureStore& operator=(const FeatureStore&) = delete;

  /// Records one event of `user`. Visible to events(user) in this process at once; written
  /// to Redis before returning unless degraded (then queued, and journaled when configured).
  /// Throws StoreOverloaded when max_pending events are already queued. Throws cascade::Error on an
  /// empty user or item id, an item id with a tab or newline, or a non-finite rating.
  void append(const std::string& user, const StoredEvent& e);
  /// append() for several events at once (validated all before any is recorded); the writes
  /// share one round trip.
  void append_batch(const std::vector<std::pair<std::string, StoredEvent>>& events);

  /// `user`'s events, oldest first (at most max_events_per_user, the newest). Never throws
  /// because of Redis: when it is unusable, answers from what this process knows. Throws
  /// cascade::Error on an empty user id.
  std::vector<StoredEvent> events(const std::string& user);

  FeatureStoreHealth health() const;
  FeatureStoreStats stats() const;
  /// Walks the cache under its lock (O(events)): for /metrics scrapes, not per request. At most
  /// one walk a second: calls within a second of a walk return its figures (so the gauges of
  /// one scrape share one walk).
  FeatureStoreCacheUsage cache_usage() const;

  /// Tries to write every pending event now (reconnecting if needed), retrying until
  /// `timeout` has passed; true when nothing is pending. Can overrun `timeout` by one attempt.
  bool flush(std::chrono::milliseconds timeout);

  /// The Redis key of `user`'s list.
  std::string key_of(const std::string& user) const;
  /// The list entry of `e` ("item\ttimestamp\trating") and its inverse (nullopt when malformed).
  static std::string serialize(const StoredEvent& e);
  static std::optional<StoredEvent> parse(std::string_view entry);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cascade
