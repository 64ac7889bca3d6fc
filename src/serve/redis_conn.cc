#include "serve/redis_conn.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>

#include <cerrno>
#include <charconv>
#include <ctime>

#include "cascade/core/error.h"

namespace cascade::redis {

namespace {

timeval to_timeval(int ms) {
  if (ms < 1) ms = 1;
  timeval tv{};
  tv.tv_sec = ms / 1000;
  tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
  return tv;
}

// Blocks SIGPIPE in this thread for the guard's lifetime; a SIGPIPE raised meanwhile by a
// write to a dead peer is consumed before unblocking, unless one was already pending before
// (that one belongs to somebody else and is left alone). The write itself then fails with
// EPIPE, which hiredis reports as an I/O error.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGPIPE);
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    blocked_ = pthread_sigmask(SIG_BLOCK, &set_, &old_) == 0;
  }
  ~SigpipeGuard() {
    if (!blocked_) return;
    int saved_errno = errno;
    if (!was_pending_) {
      sigset_t pending;
      sigemptyset(&pending);
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        timespec zero{0, 0};
        while (sigtimedwait(&set_, nullptr, &zero) == -1 && errno == EINTR) {
        }
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    errno = saved_errno;
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t set_{};
  sigset_t old_{};
  bool was_pending_ = false;
  bool blocked_ = false;
};

const char* kAddressForms = "expected \"unix:/path/to.sock\" or \"host:port\"";

}  // namespace

Address Address::parse(const std::string& spec) {
  Address a;
  if (spec.rfind("unix:", 0) == 0) {
    a.is_unix = true;
    a.path = spec.substr(5);
    CASCADE_CHECK(!a.path.empty(),
                  "redis address '" + spec + "' has an empty socket path; " + kAddressForms);
    return a;
  }
  std::string port_text;
  if (!spec.empty() && spec[0] == '[') {  // [IPv6]:port
    size_t close = spec.find(']');
    CASCADE_CHECK(close != std::string::npos && close + 1 < spec.size() && spec[close + 1] == ':',
                  "redis address '" + spec + "' is malformed; " + kAddressForms);
    a.host = spec.substr(1, close - 1);
    port_text = spec.substr(close + 2);
  } else {
    size_t colon = spec.rfind(':');
    CASCADE_CHECK(colon != std::string::npos,
                  "redis address '" + spec + "' has no port; " + kAddressForms);
    a.host = spec.substr(0, colon);
    port_text = spec.substr(colon + 1);
  }
  CASCADE_CHECK(!a.host.empty(),
                "redis address '" + spec + "' has an empty host; " + kAddressForms);
  int port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  CASCADE_CHECK(
      ec == std::errc() && end == port_text.data() + port_text.size() && port >= 1 && port <= 65535,
      "redis address '" + spec + "' has an invalid port '" + port_text + "' (1..65535); " +
          kAddressForms);
  a.port = port;
  return a;
}

std::string Address::to_string() const {
  if (is_unix) return "unix:" + path;
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

void Reply::Free::operator()(redisReply* r) const {
  freeReplyObject(r);
}

bool Reply::is_error() const {
  return r_ && r_->type == REDIS_REPLY_ERROR;
}
bool Reply::is_integer() const {
  return r_ && r_->type == REDIS_REPLY_INTEGER;
}
bool Reply::is_array() const {
  return r_ && r_->type == REDIS_REPLY_ARRAY;
}
bool Reply::is_status(std::string_view s) const {
  return r_ && r_->type == REDIS_REPLY_STATUS && std::string_view(r_->str, r_->len) == s;
}
std::string Reply::text() const {
  if (!r_) return "";
  if (r_->type == REDIS_REPLY_STRING || r_->type == REDIS_REPLY_STATUS ||
      r_->type == REDIS_REPLY_ERROR)
    return std::string(r_->str, r_->len);
  return "";
}

std::vector<std::optional<std::string>> Reply::string_elements() const {
  std::vector<std::optional<std::string>> out;
  if (!is_array()) return out;
  out.reserve(r_->elements);
  for (size_t i = 0; i < r_->elements; ++i) {
    const redisReply* el = r_->element[i];
    if (el->type == REDIS_REPLY_STRING)
      out.emplace_back(std::string(el->str, el->len));
    else
      out.emplace_back(std::nullopt);
  }
  return out;
}

std::unique_ptr<Connection> Connection::connect(const Address& addr, int connect_timeout_ms,
                                                int command_timeout_ms, std::string* error) {
  timeval ctv = to_timeval(connect_timeout_ms);
  redisContext* c = addr.is_unix ? redisConnectUnixWithTimeout(addr.path.c_str(), ctv)
                                 : redisConnectWithTimeout(addr.host.c_str(), addr.port, ctv);
  if (c == nullptr) {
    if (error) *error = "cannot allocate a redis context";
    return nullptr;
  }
  if (c->err != 0) {
    if (error) *error = "cannot connect to redis at " + addr.to_string() + ": " + c->errstr;
    redisFree(c);
    return nullptr;
  }
  if (redisSetTimeout(c, to_timeval(command_timeout_ms)) != REDIS_OK) {
    if (error) *error = "cannot set the redis command timeout: " + std::string(c->errstr);
    redisFree(c);
    return nullptr;
  }
  return std::unique_ptr<Connection>(new Connection(c));
}

Connection::~Connection() {
  if (c_ != nullptr) redisFree(c_);
}

std::string Connection::fail_message() const {
  std::string msg = "redis I/O error: ";
  msg += (c_->errstr[0] != '\0') ? c_->errstr : "unknown";
  // A blocking read that hits SO_RCVTIMEO surfaces as EAGAIN.
  if (c_->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK))
    msg += " (command timed out)";
  return msg;
}

Reply Connection::command(const std::vector<std::string>& argv, std::string* error) {
  if (broken_) {
    if (error) *error = "redis connection is broken";
    return Reply();
  }
  std::vector<const char*> args(argv.size());
  std::vector<size_t> lens(argv.size());
  for (size_t i = 0; i < argv.size(); ++i) {
    args[i] = argv[i].data();
    lens[i] = argv[i].size();
  }
  void* r = nullptr;
  {
    SigpipeGuard guard;
    r = redisCommandArgv(c_, static_cast<int>(argv.size()), args.data(), lens.data());
  }
  if (r == nullptr) {
    broken_ = true;
    if (error) *error = fail_message();
    return Reply();
  }
  return Reply(static_cast<redisReply*>(r));
}

void Connection::append(const std::vector<std::string>& argv) {
  if (broken_) return;
  std::vector<const char*> args(argv.size());
  std::vector<size_t> lens(argv.size());
  for (size_t i = 0; i < argv.size(); ++i) {
    args[i] = argv[i].data();
    lens[i] = argv[i].size();
  }
  // Only formats into the output buffer; fails only when out of memory.
  if (redisAppendCommandArgv(c_, static_cast<int>(argv.size()), args.data(), lens.data()) !=
      REDIS_OK)
    broken_ = true;
}

Reply Connection::get_reply(std::string* error) {
  if (broken_) {
    if (error) *error = "redis connection is broken";
    return Reply();
  }
  void* r = nullptr;
  int rc;
  {
    SigpipeGuard guard;
    rc = redisGetReply(c_, &r);
  }
  if (rc != REDIS_OK || r == nullptr) {
    broken_ = true;
    if (error) *error = fail_message();
    if (r != nullptr) freeReplyObject(r);
    return Reply();
  }
  return Reply(static_cast<redisReply*>(r));
}

}  // namespace cascade::redis
