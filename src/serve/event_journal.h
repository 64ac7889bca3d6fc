// The feature store's local append-only journal of events Redis has not acknowledged yet, so an
// event the server answered 200 for survives a SIGKILL while Redis is down (issue 15).
//
// Format: a sequence of records, each
//     u32 payload length (little endian) | u64 XXH3 of the payload | payload
// with payload = "user\tentry" (entry = FeatureStore::serialize of the event). Records are
// written in one write() each batch, then fdatasync'ed when `sync` is on (the default: an
// acknowledged event is on disk before the answer). open() reads every whole, checksummed record;
// a torn or corrupt tail (a crash in the middle of a write) is logged with its offset, cut off,
// and the records before it are kept. clear() truncates to zero once Redis has everything.
// Not thread-safe: the feature store serialises calls.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace cascade {

class EventJournal {
 public:
  struct Record {
    std::string user;
    std::string entry;
    bool operator==(const Record&) const = default;
  };

  /// Opens (creating) `path` and reads back its records into replayed(). Throws cascade::Error
  /// naming the path when it cannot be opened, read or repaired.
  EventJournal(std::filesystem::path path, bool sync);
  ~EventJournal();
  EventJournal(const EventJournal&) = delete;
  EventJournal& operator=(const EventJournal&) = delete;

  /// What the file held at open (whole records only), oldest first.
  const std::vector<Record>& replayed() const { return replayed_; }
  /// Bytes cut off a torn or corrupt tail at open (0 = none).
  uint64_t torn_bytes() const { return torn_bytes_; }

  /// Appends records (one write, then fdatasync when sync). Throws cascade::Error on I/O failure.
  void append(const std::vector<Record>& records);
  /// Empties the file (everything in it is in Redis).
  void clear();
  uint64_t bytes() const { return bytes_; }
  const std::filesystem::path& path() const { return path_; }

  /// One record's bytes (exposed for tests that tear a file).
  static std::string encode(const Record& r);

 private:
  std::filesystem::path path_;
  bool sync_;
  int fd_ = -1;
  uint64_t bytes_ = 0;
  uint64_t torn_bytes_ = 0;
  std::vector<Record> replayed_;
};

}  // namespace cascade
