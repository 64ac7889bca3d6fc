// A small RAII wrapper over one synchronous hiredis connection (hiredis 0.14), used by the
// feature store and by tests that inspect Redis directly.
//
// A Connection is NOT thread-safe (neither is a redisContext): one thread uses it at a time.
// Every call is bounded by the connect / command timeouts given to connect(). After an I/O
// error or a timeout the connection is broken() for good (hiredis cannot resynchronise the
// protocol), and the owner must drop it and connect again.
//
// Writing to a socket whose peer has gone raises SIGPIPE, which would kill the whole server;
// the calls that write block SIGPIPE in the calling thread for their duration and discard a
// SIGPIPE they caused, so no process-wide signal disposition is changed.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct redisContext;
struct redisReply;

namespace cascade::redis {

/// Where a Redis server listens: "unix:/path/to.sock" or "host:port" ("[::1]:6379" for IPv6).
struct Address {
  bool is_unix = false;
  std::string path;  // unix socket path (is_unix)
  std::string host;  // TCP host (!is_unix)
  int port = 0;      // TCP port (!is_unix)

  /// Throws cascade::Error naming the expected forms when `spec` is not one of them.
  static Address parse(const std::string& spec);
  std::string to_string() const;
};

/// Owns one redisReply (freed on destruction). Null when the command failed at the I/O level.
class Reply {
 public:
  Reply() = default;
  explicit Reply(redisReply* r) : r_(r) {}
  explicit operator bool() const { return r_ != nullptr; }
  const redisReply* get() const { return r_.get(); }
  const redisReply* operator->() const { return r_.get(); }

  bool is_error() const;  // an error reply ("-WRONGTYPE ...")
  bool is_integer() const;
  bool is_status(std::string_view s) const;  // e.g. is_status("PONG"), is_status("OK")
  bool is_array() const;
  /// The text of a string / status / error reply ("" otherwise).
  std::string text() const;
  /// The elements of an array reply: the text of each string element, nullopt for any other
  /// element type (empty when not an array).
  std::vector<std::optional<std::string>> string_elements() const;

 private:
  struct Free {
    void operator()(redisReply* r) const;
  };
  std::unique_ptr<redisReply, Free> r_;
};

class Connection {
 public:
  /// Connects within `connect_timeout_ms`, then sets `command_timeout_ms` as the socket
  /// read/write timeout. Returns null and fills `*error` when the server cannot be reached.
  static std::unique_ptr<Connection> connect(const Address& addr, int connect_timeout_ms,
                                             int command_timeout_ms, std::string* error);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Runs one command (arguments are binary-safe). A null Reply means an I/O error or a
  /// timeout: `*error` says which and the connection is broken() from then on. An error
  /// *reply* (e.g. WRONGTYPE) is a non-null Reply with is_error() and leaves the connection usable.
  Reply command(const std::vector<std::string>& argv, std::string* error);

  /// Pipelining: queue commands with append() (no I/O), then read one reply per appended
  /// command with get_reply(), in order. The first get_reply() sends the whole batch.
  void append(const std::vector<std::string>& argv);
  Reply get_reply(std::string* error);

  bool broken() const { return broken_; }

 private:
  explicit Connection(redisContext* c) : c_(c) {}
  std::string fail_message() const;

  redisContext* c_ = nullptr;  // owned
  bool broken_ = false;
};

}  // namespace cascade::redis
