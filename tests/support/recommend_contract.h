// The shape of a GET /recommend answer, checked the same way over HTTP (tests/serve/
// test_server.cc) and on the route handler directly (tests/serve/test_handlers.cc).
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

namespace cascade::testing {

/// `j` answers user `user` from bundle `version` with `k` distinct items, each with a title,
/// the four stage scores (the final score is the re-rank stage's), its channels and, exactly
/// when `explain`, a reason; every latency is present and >= 0.
inline void expect_recommend_contract(const nlohmann::json& j, const std::string& user,
                                      const std::string& version, size_t k, bool explain) {
  EXPECT_EQ(j["user_id"], user);
  EXPECT_EQ(j["bundle_version"], version);
  EXPECT_TRUE(j["known_user"].is_boolean());
  EXPECT_TRUE(j["history"].is_number_unsigned());
  EXPECT_TRUE(j["live_events"].is_number_unsigned());
  EXPECT_TRUE(j["diversity"].is_number());
  ASSERT_EQ(j["items"].size(), k);
  std::set<std::string> ids;
  for (const nlohmann::json& it : j["items"]) {
    ids.insert(it["item_id"].get<std::string>());
    EXPECT_TRUE(it["title"].is_string());
    for (const char* s : {"fused", "pre_rank", "fine_rank", "rerank"})
      EXPECT_TRUE(it["stages"][s].is_number()) << s;
    EXPECT_DOUBLE_EQ(it["score"].get<double>(), it["stages"]["rerank"].get<double>());
    EXPECT_FALSE(it["channels"].empty());
    EXPECT_EQ(it.contains("reason"), explain);
    if (explain) {
      EXPECT_TRUE(it["reason"].is_string());
    }
  }
  EXPECT_EQ(ids.size(), k);
  for (const char* s : {"store", "recall", "features", "pre_rank", "fine_rank", "rerank", "total"})
    EXPECT_GE(j["latency_ms"][s].get<double>(), 0.0) << s;
}

}  // namespace cascade::testing
