// A Redis client for tests (header-only), to look at (or tamper with) Redis behind the
// feature store's back. It goes through the store's own connection wrapper
// (src/serve/redis_conn.h), with generous timeouts; every failure is a test failure.
//
//   cascade::testing::RedisClient redis(server.address());
//   redis.run({"RPUSH", "t:events:u", "a\t1\t1"});
//   EXPECT_EQ(redis.lrange("t:events:u"), std::vector<std::string>{"a\t1\t1"});
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "serve/redis_conn.h"

namespace cascade::testing {

class RedisClient {
 public:
  /// `address` in the feature store's syntax ("unix:<path>" or "host:port").
  explicit RedisClient(const std::string& address) {
    std::string err;
    conn_ = redis::Connection::connect(redis::Address::parse(address), 2000, 2000, &err);
    EXPECT_TRUE(conn_ != nullptr) << "cannot connect to redis at " << address << ": " << err;
  }

  /// One command; a null Reply (and a test failure) when it could not be sent or answered.
  redis::Reply run(const std::vector<std::string>& argv) {
    std::string err;
    if (!conn_) return redis::Reply();
    redis::Reply r = conn_->command(argv, &err);
    EXPECT_TRUE(bool(r)) << err;
    return r;
  }

  /// The whole list at `key`, oldest first (empty, and a test failure, when it is not a list).
  std::vector<std::string> lrange(const std::string& key) {
    std::vector<std::string> out;
    redis::Reply r = run({"LRANGE", key, "0", "-1"});
    if (!r.is_array()) {
      ADD_FAILURE() << "LRANGE " << key << " did not return a list";
      return out;
    }
    for (const std::optional<std::string>& el : r.string_elements()) {
      EXPECT_TRUE(el.has_value()) << "a non-string element in " << key;
      out.push_back(el.value_or(""));
    }
    return out;
  }

 private:
  std::unique_ptr<redis::Connection> conn_;
};

}  // namespace cascade::testing
