// The feature store's event journal; see event_journal.h.
#include "serve/event_journal.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <cstring>

#include "cascade/core/error.h"

namespace cascade {
namespace {

constexpr size_t kHeader = 4 + 8;
// A record longer than this is corrupt, not an event (ids are short; /events bodies are small).
constexpr uint32_t kMaxPayload = 1 << 20;

void put_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t get_le(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

std::string errno_text() { return std::strerror(errno); }

}  // namespace

std::string EventJournal::encode(const Record& r) {
  const std::string payload = r.user + '\t' + r.entry;
  std::string out;
  out.reserve(kHeader + payload.size());
  put_le(out, payload.size(), 4);
  put_le(out, XXH3_64bits(payload.data(), payload.size()), 8);
  out += payload;
  return out;
}

EventJournal::EventJournal(std::filesystem::path path, bool sync) : path_(std::move(path)), sync_(sync) {
  const std::string where = "event journal " + path_.string();
  if (path_.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(path_.parent_path(), ec);
    if (ec) throw Error(where + ": cannot create its directory: " + ec.message());
  }
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) throw Error(where + ": cannot open: " + errno_text());
  std::string data;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error(where + ": cannot read: " + errno_text());
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  size_t off = 0;
  while (off < data.size()) {
    if (data.size() - off < kHeader) break;
    const auto len = static_cast<uint32_t>(get_le(data.data() + off, 4));
    const uint64_t sum = get_le(data.data() + off + 4, 8);
    if (len > kMaxPayload || data.size() - off - kHeader < len) break;
    const std::string_view payload(data.data() + off + kHeader, len);
    if (XXH3_64bits(payload.data(), payload.size()) != sum) break;
    const size_t tab = payload.find('\t');
    if (tab == std::string_view::npos || tab == 0) break;
    replayed_.push_back({std::string(payload.substr(0, tab)), std::string(payload.substr(tab + 1))});
    off += kHeader + len;
  }
  if (off < data.size()) {
    torn_bytes_ = data.size() - off;
    spdlog::warn("{}: torn or corrupt tail at byte {} ({} bytes) skipped; {} whole records kept", where, off,
                 torn_bytes_, replayed_.size());
    if (::ftruncate(fd_, static_cast<off_t>(off)) != 0) throw Error(where + ": cannot truncate: " + errno_text());
    if (::fsync(fd_) != 0) throw Error(where + ": cannot sync: " + errno_text());
  }
  bytes_ = off;
  if (::lseek(fd_, static_cast<off_t>(off), SEEK_SET) < 0) throw Error(where + ": cannot seek: " + errno_text());
}

EventJournal::~EventJournal() {
  if (fd_ >= 0) ::close(fd_);
}

void EventJournal::append(const std::vector<Record>& records) {
  if (records.empty()) return;
  std::string out;
  for (const Record& r : records) out += encode(r);
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::write(fd_, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const std::string why = errno_text();
      // Cut a partial record off again, so later appends stay readable.
      if (::ftruncate(fd_, static_cast<off_t>(bytes_)) == 0) ::lseek(fd_, static_cast<off_t>(bytes_), SEEK_SET);
      throw Error("event journal " + path_.string() + ": cannot write: " + why);
    }
    done += static_cast<size_t>(n);
  }
  if (sync_ && ::fdatasync(fd_) != 0) throw Error("event journal " + path_.string() + ": cannot sync: " + errno_text());
  bytes_ += out.size();
}

void EventJournal::clear() {
  if (bytes_ == 0) return;
  if (::ftruncate(fd_, 0) != 0 || ::lseek(fd_, 0, SEEK_SET) < 0)
    throw Error("event journal " + path_.string() + ": cannot truncate: " + errno_text());
  if (sync_) ::fdatasync(fd_);
  bytes_ = 0;
}

}  // namespace cascade
