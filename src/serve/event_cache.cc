#include "serve/event_cache.h"

#include <iterator>
#include <utility>

namespace cascade {

EventCache::EventCache(size_t capacity, size_t max_events_per_user, std::chrono::milliseconds ttl,
                       std::function<Clock::time_point()> clock)
    : capacity_(capacity), max_events_(max_events_per_user), ttl_(ttl), clock_(std::move(clock)) {}

EventCache::Entry* EventCache::find(const std::string& user) {
  auto it = entries_.find(user);
  return it == entries_.end() ? nullptr : &it->second;
}

EventCache::Entry& EventCache::get_or_create(const std::string& user) {
  auto it = entries_.find(user);
  if (it != entries_.end()) {
    touch(it->second);
    return it->second;
  }
  it = entries_.emplace(user, Entry{}).first;
  lru_.push_front(&it->first);
  it->second.lru_ = lru_.begin();
  evict_over_capacity(it->second);
  return it->second;
}

// Least recently used first; pinned entries are skipped and moved to the front so a long run
// of them is not rescanned on every insertion. At most one pass over the entries: when only
// pinned ones are left the cache stays over its capacity.
void EventCache::evict_over_capacity(const Entry& keep) {
  size_t scans = entries_.size();
  while (entries_.size() > capacity_ && scans-- > 0) {
    const std::string* key = lru_.back();
    auto it = entries_.find(*key);
    if (&it->second == &keep || it->second.pinned()) {
      lru_.splice(lru_.begin(), lru_, std::prev(lru_.end()));
      continue;
    }
    lru_.pop_back();
    entries_.erase(it);
    evictions_.fetch_add(1, std::memory_order_relaxed);
  }
}

std::vector<StoredEvent> EventCache::view(const Entry& e) const {
  const size_t total = e.confirmed.size() + e.unacked.size();
  size_t skip = total > max_events_ ? total - max_events_ : 0;
  std::vector<StoredEvent> out;
  out.reserve(total - skip);
  for (const StoredEvent& ev : e.confirmed) {
    if (skip > 0) {
      --skip;
      continue;
    }
    out.push_back(ev);
  }
  for (const Entry::Unacked& u : e.unacked) {
    if (skip > 0) {
      --skip;
      continue;
    }
    out.push_back(u.event);
  }
  return out;
}

// The estimate counts the element arrays, the hash node with its key and the LRU node; item
// ids longer than the small-string buffer add their heap block. Allocator headers and the
// deques' partly used blocks are not counted, so the real figure is somewhat higher.
EventCache::Usage EventCache::usage() const {
  Usage u;
  u.users = entries_.size();
  const auto id_bytes = [](const std::string& s) {
    return s.capacity() > std::string().capacity() ? s.capacity() + 1 : 0;
  };
  for (const auto& [user, e] : entries_) {
    u.events += e.confirmed.size() + e.unacked.size();
    u.bytes_estimate += sizeof(std::pair<const std::string, Entry>) + id_bytes(user) +
                        3 * sizeof(void*)  // LRU list node
                        + e.confirmed.size() * sizeof(StoredEvent) +
                        e.unacked.size() * sizeof(Entry::Unacked);
    for (const StoredEvent& ev : e.confirmed) u.bytes_estimate += id_bytes(ev.item);
    for (const Entry::Unacked& x : e.unacked) u.bytes_estimate += id_bytes(x.event.item);
  }
  return u;
}

void EventCache::add_confirmed(Entry& e, StoredEvent ev) {
  e.confirmed.push_back(std::move(ev));
  while (e.confirmed.size() > max_events_) e.confirmed.pop_front();
}

void EventCache::install(Entry& e, std::vector<StoredEvent> fetched, Clock::time_point fetched_at) {
  e.confirmed.assign(std::make_move_iterator(fetched.begin()),
                     std::make_move_iterator(fetched.end()));
  while (e.confirmed.size() > max_events_) e.confirmed.pop_front();
  e.fetched = true;
  e.fetched_at = fetched_at;
}

}  // namespace cascade
