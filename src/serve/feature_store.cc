// The serving feature store (see include/cascade/serve/feature_store.h for the semantics).
//
// Concurrency design
//  - mu_ guards the cache (cache_, serve/event_cache.h), the pending queue, the health fields
//    and the write generations. It is held only for memory work: no Redis I/O ever happens
//    under it, so a cache hit never waits for Redis.
//  - writer_mu_ makes one thread at a time "the writer": it owns writer_conn_ and sends the head
//    of the pending queue. An appender queues its event under mu_, then takes writer_mu_ and
//    writes the queue up to its own event (including everybody's queued before it): concurrent
//    appends are group-committed and each user's events reach Redis in queue order.
//  - Redis reads (cache misses) use connections from a small pool (pool_mu_), one per
//    concurrent reader, so misses of different users run in parallel.
//  - The background thread wakes every retry_interval_ms; while degraded it reconnects, writes
//    the whole queue back in order and only then marks the store healthy.
//  - journal_mu_ serialises the journal (serve/event_journal.h): appends write their still
//    unacknowledged events to it after their write attempt; whoever sees the queue empty after
//    a drain truncates it. Journal I/O happens under journal_mu_ only, never under mu_.
//  Lock order: writer_mu_, then journal_mu_, then mu_; pool_mu_ and bg_mu_ are never held with
//  another lock.
//
// Read/write race. A cache miss reads the list with LRANGE and then installs it as the user's
// "confirmed" events (what Redis holds); the user's unacknowledged events are shown after it.
// If one of the user's writes was in flight while the LRANGE ran, the result may or may not
// contain that event, so installing it could show the event twice or not at all. Each entry
// carries the global generation of its last write-state change; a miss that overlapped one
// re-reads while holding writer_mu_ (no write can be in flight then), which is rare and exact.
#include "cascade/serve/feature_store.h"

#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "cascade/core/error.h"
#include "serve/event_cache.h"
#include "serve/event_journal.h"
#include "serve/redis_conn.h"

namespace cascade {

namespace {

using Clock = std::chrono::steady_clock;

// Events sent per pipelined round trip by the writer.
constexpr size_t kWriteBatch = 256;
// Idle read connections kept in the pool (more concurrent readers open short-lived ones).
constexpr size_t kMaxIdleConnections = 16;

void validate_user(const std::string& user) {
  CASCADE_CHECK(!user.empty(), "feature store: the user id is empty");
}

void validate_event(const std::string& user, const StoredEvent& e) {
  validate_user(user);
  CASCADE_CHECK(!e.item.empty(),
                "feature store: event of user '" + user + "' has an empty item id");
  CASCADE_CHECK(e.item.find_first_of("\t\n\r") == std::string::npos,
                "feature store: item id '" + e.item + "' of user '" + user +
                    "' contains a tab or newline (not allowed in raw ids)");
  CASCADE_CHECK(std::isfinite(e.rating), "feature store: event (user '" + user + "', item '" +
                                             e.item + "') has a non-finite rating");
}

}  // namespace

struct FeatureStore::Impl {
  using Entry = EventCache::Entry;
  struct Pending {
    uint64_t seq;
    std::string user;
    std::string value;      // serialised event
    bool replayed = false;  // read back from the journal: Redis may have it already
  };

  // The cache is built before the options are checked; it does nothing with bad ones before
  // the checks throw.
  explicit Impl(FeatureStoreOptions o)
      : opt_(std::move(o)),
        cache_(opt_.cache_capacity, opt_.max_events_per_user,
               std::chrono::milliseconds(opt_.cache_ttl_ms), opt_.clock) {
    CASCADE_CHECK(opt_.connect_timeout_ms > 0, "feature store: connect_timeout_ms must be > 0");
    CASCADE_CHECK(opt_.command_timeout_ms > 0, "feature store: command_timeout_ms must be > 0");
    CASCADE_CHECK(opt_.retry_interval_ms > 0, "feature store: retry_interval_ms must be > 0");
    CASCADE_CHECK(opt_.cache_ttl_ms >= 0, "feature store: cache_ttl_ms must be >= 0");
    CASCADE_CHECK(opt_.cache_capacity > 0, "feature store: cache_capacity must be > 0");
    CASCADE_CHECK(opt_.max_events_per_user > 0, "feature store: max_events_per_user must be > 0");
    CASCADE_CHECK(opt_.max_pending > 0, "feature store: max_pending must be > 0");
    configured_ = !opt_.redis.empty();
    if (configured_) addr_ = redis::Address::parse(opt_.redis);
    CASCADE_CHECK(
        opt_.journal_path.empty() || configured_,
        "feature store: an event journal needs Redis (without it the process is the whole store)");
    if (!opt_.journal_path.empty())
      replay(std::make_unique<EventJournal>(opt_.journal_path, opt_.journal_sync));
  }

  // ---- journal ----

  // Queues the journal's records as unacknowledged events, in order (at construction).
  void replay(std::unique_ptr<EventJournal> journal) {
    journal_ = std::move(journal);
    journal_bytes_.store(journal_->bytes(), std::memory_order_relaxed);
    size_t bad = 0;
    for (const EventJournal::Record& r : journal_->replayed()) {
      std::optional<StoredEvent> ev = parse(r.entry);
      if (!ev) {
        ++bad;
        continue;
      }
      Entry& entry = cache_.get_or_create(r.user);
      const uint64_t seq = ++next_seq_;
      entry.unacked.push_back({seq, std::move(*ev)});
      entry.write_gen = ++write_gen_;
      pending_.push_back({seq, r.user, r.entry, true});
    }
    replayed_ = journal_->replayed().size() - bad;
    if (!journal_->replayed().empty())
      spdlog::info("feature store: {} events replayed from the journal {} ({} unreadable skipped)",
                   replayed_, journal_->path().string(), bad);
  }

  // Writes the events of seq >= first among `events` (this append's, seqs first..) that are still
  // queued to the journal. Over-approximates (an event acknowledged out of order may be written
  // too; a replay then finds it in Redis and skips it). Takes journal_mu_ then mu_.
  void journal_unacked(const std::vector<std::pair<std::string, StoredEvent>>& events,
                       uint64_t first) {
    std::lock_guard j(journal_mu_);
    std::vector<EventJournal::Record> records;
    {
      std::lock_guard lk(mu_);
      if (pending_.empty()) return;
      const uint64_t head = pending_.front().seq;
      for (size_t k = 0; k < events.size(); ++k)
        if (first + k >= head) records.push_back({events[k].first, serialize(events[k].second)});
    }
    journal_->append(records);
    journal_bytes_.store(journal_->bytes(), std::memory_order_relaxed);
    journaled_.fetch_add(records.size(), std::memory_order_relaxed);
  }

  // Truncates the journal when nothing is queued (everything in it reached Redis).
  void clear_journal_if_drained() {
    if (!journal_) return;
    std::lock_guard j(journal_mu_);
    {
      std::lock_guard lk(mu_);
      if (!pending_.empty()) return;
    }
    journal_->clear();
    journal_bytes_.store(0, std::memory_order_relaxed);
  }

  // Caller holds writer_mu_ with a live writer_conn_. Drops replayed events whose entry the
  // user's Redis list already holds (matched as a multiset: one list entry absorbs one replayed
  // event) and counts them. Returns false on a Redis failure (nothing dropped then). Only the
  // writer removes from pending_, so the replayed events stay put while mu_ is released for I/O.
  bool skip_replayed_duplicates() {
    std::unordered_map<std::string, std::vector<std::pair<uint64_t, std::string>>>
        by_user;  // user -> (seq, entry)
    {
      std::lock_guard lk(mu_);
      for (const Pending& p : pending_)
        if (p.replayed) by_user[p.user].emplace_back(p.seq, p.value);
    }
    if (by_user.empty()) return true;
    std::unordered_set<uint64_t> dup;
    std::unordered_map<std::string, size_t> dup_users;
    for (const auto& [user, events] : by_user) {
      std::string error;
      redis::Reply r = writer_conn_->command(
          {"LRANGE", key_of(user), "-" + std::to_string(opt_.max_events_per_user), "-1"}, &error);
      if (!r || !r.is_array()) {
        note_error(r ? "LRANGE " + key_of(user) + ": unexpected reply" : error);
        if (!r) writer_conn_.reset();
        return false;
      }
      std::unordered_map<std::string, size_t> in_redis;
      for (size_t i = 0; i < r->elements; ++i)
        if (r->element[i]->type == REDIS_REPLY_STRING)
          ++in_redis[std::string(r->element[i]->str, r->element[i]->len)];
      for (const auto& [seq, entry] : events) {
        auto it = in_redis.find(entry);
        if (it == in_redis.end() || it->second == 0) continue;
        --it->second;
        dup.insert(seq);
        ++dup_users[user];
      }
    }
    std::lock_guard lk(mu_);
    for (Pending& p : pending_) p.replayed = false;  // checked: written normally from now on
    if (dup.empty()) return true;
    std::erase_if(pending_, [&](const Pending& p) { return dup.count(p.seq) > 0; });
    for (const auto& [user, n] : dup_users) {
      Entry& e = cache_.at(user);
      std::erase_if(e.unacked, [&](const auto& u) { return dup.count(u.seq) > 0; });
      e.write_gen = ++write_gen_;
    }
    replay_duplicates_.fetch_add(dup.size(), std::memory_order_relaxed);
    return true;
  }

  std::string key_of(const std::string& user) const { return opt_.key_prefix + "events:" + user; }

  // The user's events as readers see them (none for a user not in the cache). Under mu_.
  std::vector<StoredEvent> view_of(const std::string& user) {
    const Entry* e = cache_.find(user);
    return e ? cache_.view(*e) : std::vector<StoredEvent>{};
  }

  // ---- health ----

  // A connection-level failure (or a rejected write): reads stop touching Redis and writes
  // queue until the background thread has reconnected and written the queue back.
  void mark_degraded(const std::string& error) {
    bool was_ok;
    {
      std::lock_guard lk(mu_);
      was_ok = redis_ok_;
      redis_ok_ = false;
      last_error_ = error;
    }
    redis_errors_.fetch_add(1, std::memory_order_relaxed);
    clear_pool();  // the pooled connections most likely died with the server
    if (was_ok)
      spdlog::warn("feature store: redis unusable, serving from the local copy: {}", error);
  }

  // A failure that says nothing about the connection (error reply to a read).
  void note_error(const std::string& error) {
    {
      std::lock_guard lk(mu_);
      last_error_ = error;
    }
    redis_errors_.fetch_add(1, std::memory_order_relaxed);
  }

  // ---- read connections ----

  std::unique_ptr<redis::Connection> acquire(uint64_t* epoch, std::string* error) {
    {
      std::lock_guard lk(pool_mu_);
      *epoch = pool_epoch_;
      if (!idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        return c;
      }
    }
    return redis::Connection::connect(addr_, opt_.connect_timeout_ms, opt_.command_timeout_ms,
                                      error);
  }

  void release(std::unique_ptr<redis::Connection> c, uint64_t epoch) {
    if (!c || c->broken()) return;
    std::lock_guard lk(pool_mu_);
    if (epoch == pool_epoch_ && idle_.size() < kMaxIdleConnections) idle_.push_back(std::move(c));
  }

  void clear_pool() {
    std::vector<std::unique_ptr<redis::Connection>> dead;
    {
      std::lock_guard lk(pool_mu_);
      ++pool_epoch_;
      dead.swap(idle_);
    }
  }

  // LRANGE of the user's newest cap events; nullopt on failure (already recorded).
  std::optional<std::vector<StoredEvent>> fetch(const std::string& user) {
    std::string error;
    uint64_t epoch = 0;
    auto conn = acquire(&epoch, &error);
    if (!conn) {
      mark_degraded(error);
      return std::nullopt;
    }
    redis::Reply r = conn->command(
        {"LRANGE", key_of(user), "-" + std::to_string(opt_.max_events_per_user), "-1"}, &error);
    if (!r) {
      mark_degraded(error);
      return std::nullopt;
    }
    if (!r.is_array()) {
      note_error("LRANGE " + key_of(user) + ": unexpected reply " +
                 (r.is_error() ? r.text() : std::string("(not a list)")));
      release(std::move(conn), epoch);
      return std::nullopt;
    }
    release(std::move(conn), epoch);  // the reply is owned separately
    std::vector<StoredEvent> out;
    out.reserve(r->elements);
    uint64_t bad = 0;
    for (size_t i = 0; i < r->elements; ++i) {
      const auto* el = r->element[i];
      std::optional<StoredEvent> ev;
      if (el->type == REDIS_REPLY_STRING) ev = parse(std::string_view(el->str, el->len));
      if (ev)
        out.push_back(std::move(*ev));
      else
        ++bad;
    }
    if (bad > 0) {
      malformed_.fetch_add(bad, std::memory_order_relaxed);
      redis_errors_.fetch_add(bad, std::memory_order_relaxed);
      std::lock_guard lk(mu_);
      last_error_ = std::to_string(bad) + " malformed entries skipped in " + key_of(user);
    }
    return out;
  }

  // Installs a fetched list as the user's confirmed events and returns the view. Under mu_.
  std::vector<StoredEvent> install(const std::string& user, std::vector<StoredEvent> fetched,
                                   Clock::time_point fetched_at) {
    Entry& e = cache_.get_or_create(user);
    cache_.install(e, std::move(fetched), fetched_at);
    return cache_.view(e);
  }

  static std::optional<StoredEvent> parse(std::string_view s) {
    size_t t1 = s.find('\t');
    if (t1 == std::string_view::npos) return std::nullopt;
    size_t t2 = s.find('\t', t1 + 1);
    if (t2 == std::string_view::npos || s.find('\t', t2 + 1) != std::string_view::npos)
      return std::nullopt;
    std::string_view item = s.substr(0, t1), ts = s.substr(t1 + 1, t2 - t1 - 1),
                     rating = s.substr(t2 + 1);
    if (item.empty() || item.find_first_of("\n\r") != std::string_view::npos) return std::nullopt;
    StoredEvent e;
    e.item = std::string(item);
    auto r1 = std::from_chars(ts.data(), ts.data() + ts.size(), e.timestamp);
    if (ts.empty() || r1.ec != std::errc() || r1.ptr != ts.data() + ts.size()) return std::nullopt;
    auto r2 = std::from_chars(rating.data(), rating.data() + rating.size(), e.rating);
    if (rating.empty() || r2.ec != std::errc() || r2.ptr != rating.data() + rating.size() ||
        !std::isfinite(e.rating))
      return std::nullopt;
    return e;
  }

  // ---- writes ----

  // Writes the pending queue, batch by batch, until the event `upto` (and all before it) has
  // left it. Caller holds writer_mu_. Returns false on a failure (the store is then degraded,
  // the failed events stay queued in order) or, unless `recovering`, when already degraded.
  bool drain(uint64_t upto, bool recovering) {
    while (true) {
      std::vector<Pending> batch;
      {
        std::lock_guard lk(mu_);
        if (!recovering && !redis_ok_) return false;
        if (pending_.empty() || pending_.front().seq > upto) return true;
        size_t n = std::min(kWriteBatch, pending_.size());
        batch.assign(pending_.begin(), pending_.begin() + static_cast<ptrdiff_t>(n));
        uint64_t gen = ++write_gen_;
        for (const Pending& p : batch) {
          Entry& e = cache_.at(p.user);  // pinned while it has pending events
          ++e.in_flight;
          e.write_gen = gen;
        }
      }

      // Group by user (first-appearance order): one RPUSH with all of a user's values keeps
      // that user's order atomically, then LTRIM applies the cap.
      struct Group {
        std::string user;
        std::vector<size_t> idx;  // positions in batch, ascending
      };
      std::vector<Group> groups;
      {
        std::unordered_map<std::string_view, size_t> pos;
        for (size_t i = 0; i < batch.size(); ++i) {
          auto [it, fresh] = pos.emplace(batch[i].user, groups.size());
          if (fresh) groups.push_back({batch[i].user, {}});
          groups[it->second].idx.push_back(i);
        }
      }

      std::string error;
      std::vector<char> acked(batch.size(), 0);
      bool failed = false;
      if (!writer_conn_ || writer_conn_->broken()) {
        writer_conn_ = redis::Connection::connect(addr_, opt_.connect_timeout_ms,
                                                  opt_.command_timeout_ms, &error);
        if (!writer_conn_) failed = true;
      }
      if (!failed) {
        const std::string cap = "-" + std::to_string(opt_.max_events_per_user);
        for (const Group& g : groups) {
          std::vector<std::string> argv{"RPUSH", key_of(g.user)};
          for (size_t i : g.idx) argv.push_back(batch[i].value);
          writer_conn_->append(argv);
          writer_conn_->append({"LTRIM", key_of(g.user), cap, "-1"});
        }
        for (const Group& g : groups) {
          std::string push_error;
          redis::Reply push = writer_conn_->get_reply(&push_error);
          if (!push) {  // I/O error or timeout: this and later groups stay queued
            if (!failed) error = push_error;
            failed = true;
            break;
          }
          if (push.is_integer()) {
            for (size_t i : g.idx) acked[i] = 1;
          } else if (!failed) {  // report the first problem of the batch
            failed = true;
            error = "RPUSH " + key_of(g.user) + " rejected: " + push.text();
          }
          std::string trim_error;
          redis::Reply trim = writer_conn_->get_reply(&trim_error);
          if (!trim) {
            if (!failed) error = trim_error;
            failed = true;
            break;
          }
          if (trim.is_error() && !failed) {  // the events are stored; only the cap was not applied
            failed = true;
            error = "LTRIM " + key_of(g.user) + " rejected: " + trim.text();
          }
        }
        if (writer_conn_->broken()) writer_conn_.reset();
      }

      uint64_t written = 0;
      {
        std::lock_guard lk(mu_);
        uint64_t gen = ++write_gen_;
        for (const Group& g : groups) {
          Entry& e = cache_.at(g.user);
          e.in_flight -= g.idx.size();
          e.write_gen = gen;
          if (!acked[g.idx.front()]) continue;
          for (size_t k = 0; k < g.idx.size(); ++k) {
            cache_.add_confirmed(e, std::move(e.unacked.front().event));
            e.unacked.pop_front();
          }
          written += g.idx.size();
        }
        // Only the writer removes from pending_, and appends only push at the back, so the
        // queue's first batch.size() elements are still exactly `batch`.
        std::vector<Pending> kept;
        for (size_t i = 0; i < batch.size(); ++i)
          if (!acked[i]) kept.push_back(std::move(pending_[i]));
        pending_.erase(pending_.begin(), pending_.begin() + static_cast<ptrdiff_t>(batch.size()));
        pending_.insert(pending_.begin(), std::make_move_iterator(kept.begin()),
                        std::make_move_iterator(kept.end()));
      }
      events_written_.fetch_add(written, std::memory_order_relaxed);
      if (failed) {
        mark_degraded(error);
        return false;
      }
    }
  }

  // Caller holds writer_mu_. Reconnects, writes the whole queue back, then marks the store
  // healthy (atomically with seeing the queue empty, so no append is left behind).
  bool recover() {
    std::string error;
    if (!writer_conn_ || writer_conn_->broken()) {
      writer_conn_ = redis::Connection::connect(addr_, opt_.connect_timeout_ms,
                                                opt_.command_timeout_ms, &error);
      if (!writer_conn_) {
        note_error(error);
        return false;
      }
    }
    redis::Reply pong = writer_conn_->command({"PING"}, &error);
    if (!pong.is_status("PONG")) {
      note_error(pong ? "PING: unexpected reply " + pong.text() : error);
      writer_conn_.reset();
      return false;
    }
    if (!skip_replayed_duplicates()) return false;
    for (int round = 0; round < 100; ++round) {
      if (!drain(UINT64_MAX, /*recovering=*/true)) return false;
      clear_pool();  // connections opened before the outage are dead
      bool announce;
      {
        std::lock_guard lk(mu_);
        if (!pending_.empty()) continue;  // appended meanwhile (queued, not written): again
        announce = !redis_ok_ && !last_error_.empty();  // not at construction
        redis_ok_ = true;
      }
      if (announce) spdlog::info("feature store: redis at {} is back", addr_.to_string());
      clear_journal_if_drained();
      return true;
    }
    return false;
  }

  // One write-back attempt: recover when degraded, else write whatever is queued.
  void write_back() {
    std::lock_guard w(writer_mu_);
    bool ok;
    {
      std::lock_guard lk(mu_);
      ok = redis_ok_;
    }
    if (!ok)
      recover();
    else if (drain(UINT64_MAX, false))
      clear_journal_if_drained();
  }

  void background_loop() {
    std::unique_lock lk(bg_mu_);
    while (!stop_) {
      bg_cv_.wait_for(lk, std::chrono::milliseconds(opt_.retry_interval_ms), [&] { return stop_; });
      if (stop_) break;
      bool work;
      {
        std::lock_guard m(mu_);
        work = !redis_ok_ || !pending_.empty();
      }
      if (!work) continue;
      lk.unlock();
      write_back();
      lk.lock();
    }
  }

  FeatureStoreOptions opt_;
  bool configured_ = false;
  redis::Address addr_;

  mutable std::mutex journal_mu_;
  std::unique_ptr<EventJournal> journal_;  // guarded by journal_mu_ (after construction)
  // Its size, readable without journal_mu_: stats() (/metrics) must not wait behind an fdatasync.
  std::atomic<uint64_t> journal_bytes_{0};
  uint64_t replayed_ = 0;

  mutable std::mutex mu_;
  // cache_usage()'s last walk and when it ran (guarded by mu_): the three /metrics gauges of one
  // scrape share one walk instead of walking the cache three times under mu_.
  mutable FeatureStoreCacheUsage usage_memo_;
  mutable std::optional<std::chrono::steady_clock::time_point> usage_at_;
  EventCache cache_;             // the local copy, users in LRU order
  std::deque<Pending> pending_;  // seq ascending
  uint64_t next_seq_ = 0;
  uint64_t write_gen_ = 0;
  bool redis_ok_ = false;
  std::string last_error_;

  std::mutex writer_mu_;
  std::unique_ptr<redis::Connection> writer_conn_;  // guarded by writer_mu_

  std::mutex pool_mu_;
  std::vector<std::unique_ptr<redis::Connection>> idle_;
  uint64_t pool_epoch_ = 0;

  std::mutex bg_mu_;
  std::condition_variable bg_cv_;
  bool stop_ = false;
  std::thread bg_;

  std::atomic<uint64_t> cache_hits_{0}, cache_misses_{0}, redis_errors_{0}, events_written_{0},
      events_appended_{0}, stale_reads_{0}, malformed_{0}, journaled_{0}, replay_duplicates_{0},
      overloaded_{0};
};

FeatureStore::FeatureStore(FeatureStoreOptions opt)
    : impl_(std::make_unique<Impl>(std::move(opt))) {
  Impl& s = *impl_;
  if (!s.configured_) return;
  {
    std::lock_guard w(s.writer_mu_);
    if (!s.recover()) {
      std::lock_guard lk(s.mu_);
      spdlog::warn("feature store: redis at {} unreachable, starting degraded: {}",
                   s.addr_.to_string(), s.last_error_);
    }
  }
  s.bg_ = std::thread([&s] { s.background_loop(); });
}

FeatureStore::~FeatureStore() {
  Impl& s = *impl_;
  if (!s.configured_) return;
  {
    std::lock_guard lk(s.bg_mu_);
    s.stop_ = true;
  }
  s.bg_cv_.notify_all();
  s.bg_.join();
  if (!flush(
          std::chrono::milliseconds(s.opt_.connect_timeout_ms + 2 * s.opt_.command_timeout_ms))) {
    size_t lost;
    {
      std::lock_guard lk(s.mu_);
      lost = s.pending_.size();
    }
    spdlog::error("feature store: {} events could not be written to redis at {} before shutdown",
                  lost, s.addr_.to_string());
  }
}

std::string FeatureStore::key_of(const std::string& user) const {
  return impl_->key_of(user);
}

std::string FeatureStore::serialize(const StoredEvent& e) {
  char buf[64];
  auto ts = std::to_chars(buf, buf + sizeof buf, e.timestamp);
  std::string out = e.item;
  out += '\t';
  out.append(buf, ts.ptr);
  out += '\t';
  auto r = std::to_chars(buf, buf + sizeof buf, e.rating);  // shortest exact round trip
  out.append(buf, r.ptr);
  return out;
}

std::optional<StoredEvent> FeatureStore::parse(std::string_view entry) {
  return Impl::parse(entry);
}

void FeatureStore::append(const std::string& user, const StoredEvent& e) {
  append_batch({{user, e}});
}

void FeatureStore::append_batch(const std::vector<std::pair<std::string, StoredEvent>>& events) {
  for (const auto& [user, e] : events) validate_event(user, e);
  if (events.empty()) return;
  Impl& s = *impl_;
  uint64_t last_seq = 0;
  bool ok;
  {
    std::lock_guard lk(s.mu_);
    if (s.configured_ && s.pending_.size() + events.size() > s.opt_.max_pending) {
      s.overloaded_.fetch_add(1, std::memory_order_relaxed);
      throw StoreOverloaded("feature store: " + std::to_string(s.pending_.size()) +
                            " events already wait for redis (max_pending " +
                            std::to_string(s.opt_.max_pending) + "); retry later");
    }
    for (const auto& [user, e] : events) {
      Impl::Entry& entry = s.cache_.get_or_create(user);
      if (!s.configured_) {
        s.cache_.add_confirmed(entry, e);
        entry.fetched = true;  // the local copy is the whole truth
        continue;
      }
      last_seq = ++s.next_seq_;
      entry.unacked.push_back({last_seq, e});
      entry.write_gen = ++s.write_gen_;
      s.pending_.push_back({last_seq, user, serialize(e)});
    }
    ok = s.redis_ok_;
  }
  s.events_appended_.fetch_add(events.size(), std::memory_order_relaxed);
  if (!s.configured_) return;
  if (ok) {
    std::lock_guard w(s.writer_mu_);
    if (s.drain(last_seq, false)) {  // every event of this append is in Redis
      s.clear_journal_if_drained();
      return;
    }
  }
  // Not acknowledged by Redis (degraded, or the write failed): on disk before the answer.
  if (s.journal_) s.journal_unacked(events, last_seq + 1 - events.size());
}

std::vector<StoredEvent> FeatureStore::events(const std::string& user) {
  validate_user(user);
  Impl& s = *impl_;
  const Clock::time_point now = s.cache_.now();
  bool exact;
  uint64_t gen_before;
  {
    std::lock_guard lk(s.mu_);
    Impl::Entry* e = s.cache_.find(user);
    if (!s.configured_) {
      if (!e) {
        s.cache_misses_.fetch_add(1, std::memory_order_relaxed);
        return {};
      }
      s.cache_hits_.fetch_add(1, std::memory_order_relaxed);
      s.cache_.touch(*e);
      return s.cache_.view(*e);
    }
    if (e && s.cache_.fresh(*e, now)) {
      s.cache_hits_.fetch_add(1, std::memory_order_relaxed);
      s.cache_.touch(*e);
      return s.cache_.view(*e);
    }
    if (!s.redis_ok_) {  // degraded: never wait for Redis, answer with what we know
      s.stale_reads_.fetch_add(1, std::memory_order_relaxed);
      if (!e) return {};
      s.cache_.touch(*e);
      return s.cache_.view(*e);
    }
    s.cache_misses_.fetch_add(1, std::memory_order_relaxed);
    // A write of this user in flight now would make the result ambiguous: take the exact path.
    exact = e && e->in_flight > 0;
    gen_before = s.write_gen_;
  }

  if (!exact) {
    std::optional<std::vector<StoredEvent>> got = s.fetch(user);
    std::lock_guard lk(s.mu_);
    if (!got) {
      s.stale_reads_.fetch_add(1, std::memory_order_relaxed);
      return s.view_of(user);
    }
    const Impl::Entry* e = s.cache_.find(user);
    const bool quiet = !e || (e->in_flight == 0 && e->write_gen <= gen_before);
    if (quiet) return s.install(user, std::move(*got), now);
  }

  // Exact path: while we hold writer_mu_ no write is in flight, so every event of this user
  // is either in Redis (and in the LRANGE) or still unacknowledged here, never both.
  std::lock_guard w(s.writer_mu_);
  {
    std::lock_guard lk(s.mu_);
    if (!s.redis_ok_) {
      s.stale_reads_.fetch_add(1, std::memory_order_relaxed);
      return s.view_of(user);
    }
  }
  std::optional<std::vector<StoredEvent>> got = s.fetch(user);
  std::lock_guard lk(s.mu_);
  if (!got) {
    s.stale_reads_.fetch_add(1, std::memory_order_relaxed);
    return s.view_of(user);
  }
  return s.install(user, std::move(*got), now);
}

FeatureStoreHealth FeatureStore::health() const {
  const Impl& s = *impl_;
  std::lock_guard lk(s.mu_);
  FeatureStoreHealth h;
  h.redis_configured = s.configured_;
  h.redis_ok = s.configured_ && s.redis_ok_;
  h.pending_writes = s.pending_.size();
  h.last_error = s.last_error_;
  return h;
}

FeatureStoreStats FeatureStore::stats() const {
  const Impl& s = *impl_;
  FeatureStoreStats st;
  st.cache_hits = s.cache_hits_.load(std::memory_order_relaxed);
  st.cache_misses = s.cache_misses_.load(std::memory_order_relaxed);
  st.redis_errors = s.redis_errors_.load(std::memory_order_relaxed);
  st.events_written = s.events_written_.load(std::memory_order_relaxed);
  st.events_appended = s.events_appended_.load(std::memory_order_relaxed);
  st.stale_reads = s.stale_reads_.load(std::memory_order_relaxed);
  st.malformed_entries = s.malformed_.load(std::memory_order_relaxed);
  st.evictions = s.cache_.evictions();
  st.events_journaled = s.journaled_.load(std::memory_order_relaxed);
  st.events_replayed = s.replayed_;
  st.replay_duplicates = s.replay_duplicates_.load(std::memory_order_relaxed);
  st.overloaded = s.overloaded_.load(std::memory_order_relaxed);
  st.journal_bytes = s.journal_bytes_.load(std::memory_order_relaxed);
  return st;
}

FeatureStoreCacheUsage FeatureStore::cache_usage() const {
  const Impl& s = *impl_;
  std::lock_guard lk(s.mu_);
  const auto now = std::chrono::steady_clock::now();
  if (!s.usage_at_ || now - *s.usage_at_ >= std::chrono::seconds(1)) {
    const EventCache::Usage u = s.cache_.usage();
    s.usage_memo_ = {u.users, u.events, u.bytes_estimate};
    s.usage_at_ = now;
  }
  return s.usage_memo_;
}

bool FeatureStore::flush(std::chrono::milliseconds timeout) {
  Impl& s = *impl_;
  if (!s.configured_) return true;
  const auto deadline = Clock::now() + timeout;
  while (true) {
    s.write_back();
    {
      std::lock_guard lk(s.mu_);
      if (s.pending_.empty() && s.redis_ok_) return true;
    }
    auto left = deadline - Clock::now();
    if (left <= Clock::duration::zero()) break;
    std::this_thread::sleep_for(std::min<Clock::duration>(left, std::chrono::milliseconds(20)));
  }
  std::lock_guard lk(s.mu_);
  return s.pending_.empty();
}

}  // namespace cascade
