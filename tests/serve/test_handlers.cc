// The serving routes called directly (no HTTP): each route's answer and each error a client
// can cause, over the tests' tiny bundle and an in-process feature store.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "serve/admin.h"
#include "serve/handlers.h"
#include "support/recommend_contract.h"
#include "support/tiny_bundle.h"

namespace cascade {
namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

class HandlerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    version_ = testing::build_tiny_bundle(dir_->path() / "v1", 7);
    state_ = ServingState::load(dir_->path() / "v1");
  }
  static void TearDownTestSuite() {
    state_.reset();
    delete dir_;
    dir_ = nullptr;
  }

  // A context serving the tiny bundle (or, with nullptr, one where no bundle serves yet).
  RouteContext ctx(bool loaded = true, std::string load_error = "") {
    RouteContext c;
    if (loaded) c.state = state_;
    c.load_error = std::move(load_error);
    c.store = &store_;
    c.limits = &limits_;
    c.started = started_;
    return c;
  }
  static Json body(const RouteResponse& r) { return Json::parse(r.body); }
  // The "param" of an error answer with the expected status.
  static std::string error_param(const RouteResponse& r, int status) {
    EXPECT_EQ(r.status, status) << r.body;
    const Json j = Json::parse(r.body, nullptr, false);
    EXPECT_EQ(j["error"]["status"], status) << r.body;
    return j["error"].value("param", "");
  }

  static testing::TempDir* dir_;
  static std::string version_;
  static std::shared_ptr<const ServingState> state_;
  FeatureStore store_{FeatureStoreOptions{}};
  RequestLimits limits_;
  Clock::time_point started_ = Clock::now() - std::chrono::seconds(100);
};
testing::TempDir* HandlerTest::dir_ = nullptr;
std::string HandlerTest::version_;
std::shared_ptr<const ServingState> HandlerTest::state_;

// ------------------------------------------------------------------ /recommend

TEST_F(HandlerTest, RecommendAnswersTheContract) {
  RecommendTimes times;
  const RouteResponse r =
      handle_recommend(ctx(), "1", {{"k", "7"}, {"explain", "true"}, {"diversity", "0.3"}}, &times);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_STREQ(r.content_type, "application/json");
  const Json j = body(r);
  testing::expect_recommend_contract(j, "1", version_, 7, /*explain=*/true);
  EXPECT_EQ(j["known_user"], true);
  EXPECT_EQ(j["live_events"], 0);
  EXPECT_GT(j["history"].get<int>(), 0);
  EXPECT_DOUBLE_EQ(j["diversity"].get<double>(), 0.3);
  // The times handed back for the histograms are the ones in the body.
  EXPECT_DOUBLE_EQ(times.store_ms, j["latency_ms"]["store"].get<double>());
  EXPECT_DOUBLE_EQ(times.stages.recall_ms, j["latency_ms"]["recall"].get<double>());
  EXPECT_DOUBLE_EQ(times.total_ms, j["latency_ms"]["total"].get<double>());
  EXPECT_GE(times.total_ms, times.store_ms);

  // Defaults: k 10, no reasons, the bundle's diversity; the times are optional.
  const Json plain = body(handle_recommend(ctx(), "1", {}));
  testing::expect_recommend_contract(plain, "1", version_, 10, /*explain=*/false);
  EXPECT_DOUBLE_EQ(plain["diversity"].get<double>(), state_->rec->rerank_options().diversity);
  // Numeric ids are canonical; an unknown user gets the cold-start list, not an error.
  EXPECT_EQ(body(handle_recommend(ctx(), "007", {}))["user_id"], "7");
  const Json cold = body(handle_recommend(ctx(), "99999", {}));
  EXPECT_EQ(cold["known_user"], false);
  EXPECT_EQ(cold["items"].size(), 10u);
}

TEST_F(HandlerTest, RecommendErrorsNameTheParameter) {
  RecommendTimes times;
  times.total_ms = -1;
  EXPECT_EQ(error_param(handle_recommend(ctx(), "1", {{"k", "0"}}, &times), 400), "k");
  EXPECT_EQ(times.total_ms, -1);  // only a 200 fills the times
  EXPECT_EQ(error_param(handle_recommend(ctx(), "1", {{"k", "abc"}}), 400), "k");
  EXPECT_EQ(error_param(handle_recommend(ctx(), "1", {{"k", "201"}}), 400), "k");  // > max_k
  EXPECT_EQ(error_param(handle_recommend(ctx(), "1", {{"diversity", "2"}}), 400), "diversity");
  EXPECT_EQ(error_param(handle_recommend(ctx(), "1", {{"diversity", "-0.1"}}), 400), "diversity");
  EXPECT_EQ(error_param(handle_recommend(ctx(), "1", {{"explain", "yes"}}), 400), "explain");
  EXPECT_EQ(error_param(handle_recommend(ctx(), "1", {{"color", "red"}}), 400), "color");
  EXPECT_EQ(error_param(handle_recommend(ctx(), "1", {{"k", "3"}, {"k", "4"}}), 400), "k");
  EXPECT_EQ(error_param(handle_recommend(ctx(), "abc", {}), 400), "user_id");
  EXPECT_EQ(error_param(handle_recommend(ctx(), "", {}), 400), "user_id");
  // No bundle: 503, saying whether it is loading or was refused. Bad parameters still win.
  RouteResponse r = handle_recommend(ctx(false), "1", {});
  EXPECT_EQ(error_param(r, 503), "");
  EXPECT_NE(r.body.find("still loading"), std::string::npos) << r.body;
  r = handle_recommend(ctx(false, "not a directory"), "1", {});
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("no bundle: not a directory"), std::string::npos) << r.body;
  EXPECT_EQ(error_param(handle_recommend(ctx(false), "1", {{"k", "0"}}), 400), "k");
}

// ------------------------------------------------------------------ /events

TEST_F(HandlerTest, EventsAreStoredAndChangeTheNextRecommendation) {
  const Json before = body(handle_recommend(ctx(), "5", {}));
  const std::string top = before["items"][0]["item_id"];
  RouteResponse r = handle_events(ctx(), R"({"user_id": 5, "item_id": ")" + top +
                                             R"(", "rating": 4.5, "timestamp": 2000000000})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body(r), (Json{{"accepted", 1}, {"unknown_items", 0}}));
  EXPECT_EQ(store_.events("5"), (std::vector<StoredEvent>{{top, 4.5f, 2000000000}}));
  const Json after = body(handle_recommend(ctx(), "5", {}));
  EXPECT_EQ(after["live_events"], 1);
  EXPECT_EQ(after["history"], before["history"].get<int>() + 1);
  for (const Json& it : after["items"]) EXPECT_NE(it["item_id"], top);

  // A batch; an item outside the catalogue is accepted but counted. Undated events get the
  // serving clock: the bundle's log time plus the uptime (100 s here).
  r = handle_events(ctx(),
                    R"([{"user_id": "8", "item_id": "3"}, {"user_id": 8, "item_id": 999999}])");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body(r), (Json{{"accepted", 2}, {"unknown_items", 1}}));
  const std::vector<StoredEvent> got = store_.events("8");
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].item, "999999");
  EXPECT_FLOAT_EQ(got[0].rating, 1.0f);
  const int64_t clock = state_->bundle->log_clock();
  EXPECT_GE(got[0].timestamp, clock + 100);
  EXPECT_LE(got[0].timestamp, clock + 160);  // generous: a slow test machine
}

TEST_F(HandlerTest, EventErrorsNameTheField) {
  EXPECT_EQ(error_param(handle_events(ctx(), "{not json"), 400), "body");
  EXPECT_EQ(error_param(handle_events(ctx(), ""), 400), "body");
  EXPECT_EQ(error_param(handle_events(ctx(), R"({"user_id": 1})"), 400), "item_id");
  EXPECT_EQ(error_param(handle_events(ctx(), R"({"user_id": "x1", "item_id": 2})"), 400),
            "user_id");
  EXPECT_EQ(
      error_param(handle_events(ctx(), R"([{"user_id": 1, "item_id": 2, "rating": "x"}])"), 400),
      "events[0].rating");
  EXPECT_EQ(error_param(handle_events(ctx(), "[]"), 400), "events");
  EXPECT_EQ(error_param(handle_events(ctx(), std::string(limits_.max_body_bytes + 1, ' ')), 413),
            "body");
  EXPECT_EQ(error_param(handle_events(ctx(false), R"({"user_id": 1, "item_id": 2})"), 503), "");
  EXPECT_EQ(store_.stats().events_appended, 0u);  // nothing refused was stored
}

// ------------------------------------------------------------------ /similar

TEST_F(HandlerTest, SimilarAnswersAndUnknownItemIs404) {
  const RouteResponse r = handle_similar(ctx(), "3", {{"k", "4"}});
  ASSERT_EQ(r.status, 200) << r.body;
  const Json j = body(r);
  EXPECT_EQ(j["item_id"], "3");
  EXPECT_TRUE(j["title"].is_string());
  EXPECT_EQ(j["channel"], state_->rec->vectors_channel());
  ASSERT_EQ(j["items"].size(), 4u);
  for (const Json& it : j["items"]) {
    EXPECT_NE(it["item_id"], "3");
    EXPECT_TRUE(it["score"].is_number());
  }
  EXPECT_EQ(body(handle_similar(ctx(), "3", {}))["items"].size(), 10u);

  const RouteResponse unknown = handle_similar(ctx(), "123456", {});
  EXPECT_EQ(error_param(unknown, 404), "item_id");
  EXPECT_NE(unknown.body.find("unknown item_id \\\"123456\\\""), std::string::npos) << unknown.body;
  EXPECT_EQ(error_param(handle_similar(ctx(), "abc", {}), 400), "item_id");
  EXPECT_EQ(error_param(handle_similar(ctx(), "3", {{"k", "0"}}), 400), "k");
  EXPECT_EQ(error_param(handle_similar(ctx(), "3", {{"diversity", "0.5"}}), 400), "diversity");
  EXPECT_EQ(error_param(handle_similar(ctx(false), "3", {}), 503), "");
}

// ------------------------------------------------------------------ /health, /ready

TEST_F(HandlerTest, HealthAndReadyFollowTheLoadState) {
  Json h = body(handle_health(ctx()));
  EXPECT_EQ(h["status"], "ok");
  EXPECT_EQ(h["bundle_version"], version_);
  EXPECT_EQ(h["degraded"], Json::array());
  EXPECT_FALSE(h.contains("error"));
  EXPECT_EQ(h["feature_store"]["redis_configured"], false);
  EXPECT_GE(h["uptime_s"].get<double>(), 100.0);
  RouteResponse ready = handle_ready(ctx());
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(body(ready), (Json{{"ready", true}, {"bundle_version", version_}}));

  h = body(handle_health(ctx(false)));
  EXPECT_EQ(h["status"], "loading");
  EXPECT_EQ(h["bundle_version"], "");
  EXPECT_FALSE(h.contains("error"));
  h = body(handle_health(ctx(false, "bad manifest")));
  EXPECT_EQ(h["status"], "failed");
  EXPECT_EQ(h["error"], "bad manifest");
  ready = handle_ready(ctx(false));
  EXPECT_EQ(ready.status, 503);
  EXPECT_EQ(body(ready), (Json{{"ready", false}, {"bundle_version", ""}}));
}

TEST_F(HandlerTest, HealthIsDegradedWhileRedisIsUnreachable) {
  FeatureStoreOptions o;
  o.redis = "unix:/nonexistent/cascade-handler-test.sock";  // fails at once: no such file
  o.connect_timeout_ms = 20;
  o.command_timeout_ms = 20;
  FeatureStore down(o);
  RouteContext c = ctx();
  c.store = &down;
  const RouteResponse r = handle_health(c);
  EXPECT_EQ(r.status, 200);  // still serving, from the local copy
  const Json h = body(r);
  EXPECT_EQ(h["status"], "degraded");
  EXPECT_EQ(h["degraded"], Json::array({"redis"}));
  EXPECT_EQ(h["feature_store"]["redis_configured"], true);
  EXPECT_EQ(h["feature_store"]["redis_ok"], false);
  EXPECT_FALSE(h["feature_store"]["last_error"].get<std::string>().empty());
}

// ------------------------------------------------------------------ /admin/reload

TEST_F(HandlerTest, ReloadParsesTheBodyAndReportsBothVersions) {
  testing::TempDir root;
  std::filesystem::create_directories(root.path() / "v2");
  const auto v2 = std::filesystem::canonical(root.path() / "v2");
  std::vector<std::filesystem::path> asked;
  auto reload = [&](const std::filesystem::path& dir) {
    asked.push_back(dir);
    return std::string("v2");
  };
  RouteResponse r = handle_reload("", "v1", root.path(), reload);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body(r), (Json{{"bundle_version", "v2"}, {"previous", "v1"}}));
  r = handle_reload(Json{{"bundle", v2.string()}}.dump(), "v1", root.path(), reload);
  EXPECT_EQ(r.status, 200) << r.body;
  r = handle_reload(R"({"bundle": "v2"})", "v1", root.path(), reload);  // relative: under the root
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(asked, (std::vector<std::filesystem::path>{"", v2, v2}));

  EXPECT_EQ(error_param(handle_reload("{nope", "v1", root.path(), reload), 400), "body");
  EXPECT_EQ(error_param(handle_reload("[1]", "v1", root.path(), reload), 400), "body");
  EXPECT_EQ(error_param(handle_reload(R"({"dir": "x"})", "v1", root.path(), reload), 400), "dir");
  EXPECT_EQ(error_param(handle_reload(R"({"bundle": ""})", "v1", root.path(), reload), 400),
            "bundle");
  EXPECT_EQ(error_param(handle_reload(R"({"bundle": 3})", "v1", root.path(), reload), 400),
            "bundle");
  EXPECT_EQ(asked.size(), 3u);  // a bad body never reaches the reload

  r = handle_reload(R"({"bundle": "missing"})", "v1", root.path(),
                    [](const std::filesystem::path&) -> std::string { throw Error("not found"); });
  EXPECT_EQ(error_param(r, 500), "bundle");
  EXPECT_NE(r.body.find("bundle refused, still serving v1: not found"), std::string::npos)
      << r.body;
}

TEST_F(HandlerTest, ReloadRefusesBundlesOutsideTheRootWith403) {
  testing::TempDir root, elsewhere;
  std::filesystem::create_directories(root.path() / "v2");
  std::filesystem::create_directories(elsewhere.path() / "evil");
  std::filesystem::create_directory_symlink(elsewhere.path() / "evil", root.path() / "link-out");
  std::filesystem::create_directory_symlink(root.path() / "v2", root.path() / "link-in");
  size_t loads = 0;
  auto reload = [&](const std::filesystem::path&) {
    ++loads;
    return std::string("v2");
  };
  for (const std::string& bad :
       {std::string("/tmp"), (elsewhere.path() / "evil").string(), std::string("../evil"),
        std::string("v2/../v2"), std::string("link-out"), (root.path() / "link-out").string()}) {
    const RouteResponse r = handle_reload(Json{{"bundle", bad}}.dump(), "v1", root.path(), reload);
    EXPECT_EQ(error_param(r, 403), "bundle") << bad;
    EXPECT_NE(r.body.find("reload refused"), std::string::npos) << r.body;
  }
  EXPECT_EQ(loads, 0u) << "a refused path reached the loader";
  // A symlink that stays inside the root is fine (the usual `current -> v2` layout).
  EXPECT_EQ(handle_reload(R"({"bundle": "link-in"})", "v1", root.path(), reload).status, 200);
  EXPECT_EQ(loads, 1u);
}

TEST(AdminAccess, ConstantTimeEqualAndBearerTokens) {
  EXPECT_TRUE(constant_time_equal("secret-token", "secret-token"));
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_FALSE(constant_time_equal("secret-token", "secret-tokem"));
  EXPECT_FALSE(constant_time_equal("secret-token", "secret-token-longer"));
  EXPECT_FALSE(constant_time_equal("secret", "secretsecret"));  // b cycles: still unequal by length
  EXPECT_FALSE(constant_time_equal("", "x"));
  EXPECT_FALSE(constant_time_equal("x", ""));
  EXPECT_FALSE(bearer_token_problem("Bearer s3cr3t", "s3cr3t").has_value());
  EXPECT_NE(bearer_token_problem("", "s3cr3t")->find("Authorization"), std::string::npos);
  EXPECT_NE(bearer_token_problem("Basic czNjcjN0", "s3cr3t")->find("Bearer"), std::string::npos);
  EXPECT_NE(bearer_token_problem("Bearer ", "s3cr3t")->find("Bearer"), std::string::npos);
  EXPECT_EQ(*bearer_token_problem("Bearer s3cr3T", "s3cr3t"), "wrong admin token");
}

TEST(AdminAccess, TokenFileIsTrimmedAndBadFilesAreRefusedNamingTheFile) {
  testing::TempDir t;
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(t.path() / name) << text;
    return t.path() / name;
  };
  EXPECT_EQ(read_admin_token(write("ok", "  abcdefghijklmnopqrstuvwxyz\n\n")),
            "abcdefghijklmnopqrstuvwxyz");
  for (const auto& [name, text] :
       std::vector<std::pair<std::string, std::string>>{{"empty", ""},
                                                        {"blank", " \n\t\n"},
                                                        {"two-words", "abc def"},
                                                        {"control",
                                                         "abc\x01"
                                                         "def"}}) {
    try {
      read_admin_token(write(name, text));
      ADD_FAILURE() << name << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find((t.path() / name).string()), std::string::npos)
          << e.what();
    }
  }
  EXPECT_THROW(read_admin_token(t.path() / "missing"), Error);
}

// ------------------------------------------------------------------ dashboard routes

// The catalogue's year (null when unknown) and genre names of a raw item id, as the routes
// should print them.
Json expected_year(const Dataset& ds, const std::string& raw) {
  const int32_t y = ds.catalog.items[static_cast<size_t>(ds.find_item(raw))].year;
  return y >= 0 ? Json(y) : Json(nullptr);
}
Json expected_genres(const Dataset& ds, const std::string& raw) {
  Json g = Json::array();
  for (uint16_t x : ds.catalog.items[static_cast<size_t>(ds.find_item(raw))].genres)
    g.push_back(ds.catalog.genre_names[x]);
  return g;
}

TEST_F(HandlerTest, RecommendItemsCarryYearAndGenres) {
  const Dataset& ds = state_->bundle->data();
  const Json j = body(handle_recommend(ctx(), "3", {{"k", "10"}}));
  size_t with_genres = 0;
  for (const auto& it : j["items"]) {
    EXPECT_EQ(it["year"], expected_year(ds, it["item_id"])) << it;
    EXPECT_EQ(it["genres"], expected_genres(ds, it["item_id"])) << it;
    with_genres += !it["genres"].empty();
  }
  EXPECT_GT(with_genres, 0u);  // the synthetic catalogue has genres: the check compared something
}

TEST_F(HandlerTest, UsersListsIdsWithThePrefixInBundleOrder) {
  const Dataset& ds = state_->bundle->data();
  std::vector<std::string> want;
  for (const auto& id : ds.user_ids)
    if (id.starts_with("1")) want.push_back(id);
  ASSERT_GT(want.size(), 5u);
  RouteResponse r = handle_users(ctx(), {{"q", "1"}, {"limit", "5"}});
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = body(r);
  EXPECT_EQ(j["matches"], want.size());
  ASSERT_EQ(j["users"].size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(j["users"][i]["user_id"], want[i]);
    const auto u = static_cast<uint32_t>(ds.find_user(want[i]));
    EXPECT_EQ(j["users"][i]["history"], ds.train.row_size(u));
  }
  j = body(handle_users(ctx(), {}));  // no prefix: every user matches; the default limit is 20
  EXPECT_EQ(j["matches"], ds.user_ids.size());
  EXPECT_EQ(j["users"].size(), 20u);
  EXPECT_EQ(body(handle_users(ctx(), {{"q", "x"}}))["matches"], 0);
  EXPECT_EQ(error_param(handle_users(ctx(), {{"limit", "0"}}), 400), "limit");
  EXPECT_EQ(error_param(handle_users(ctx(false), {}), 503), "");
}

TEST_F(HandlerTest, HistoryIsNewestFirstTrainingRowThenLiveEvents) {
  const Dataset& ds = state_->bundle->data();
  const auto u = static_cast<uint32_t>(ds.find_user("4"));
  const auto row = ds.train.row(u);
  const auto times = ds.train.row_times(u);
  ASSERT_GE(row.size(), 3u);
  Json j = body(handle_user_history(ctx(), "4", {{"n", "3"}}));
  EXPECT_EQ(j["known_user"], true);
  EXPECT_EQ(j["train_rows"], row.size());
  EXPECT_EQ(j["live_events"], 0);
  ASSERT_EQ(j["items"].size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    const size_t pos = row.size() - 1 - i;  // newest first
    const Json& it = j["items"][i];
    EXPECT_EQ(it["item_id"], ds.item_ids[row[pos]]);
    EXPECT_EQ(it["title"], ds.catalog.items[row[pos]].title);
    EXPECT_EQ(it["year"], expected_year(ds, it["item_id"]));
    EXPECT_EQ(it["genres"], expected_genres(ds, it["item_id"]));
    EXPECT_EQ(it["timestamp"], times[pos]);
    EXPECT_EQ(it["source"], "train");
    EXPECT_EQ(it["known_item"], true);
  }
  // Live events come after the training row, so they are the newest; an unknown item is
  // listed (the feature store holds it) but flagged and untitled.
  const std::string known = ds.item_ids[0];
  ASSERT_EQ(
      handle_events(
          ctx(),
          R"([{"user_id": "4", "item_id": ")" + known +
              R"(", "timestamp": 10}, {"user_id": "4", "item_id": "99999", "timestamp": 11}])")
          .status,
      200);
  j = body(handle_user_history(ctx(), "4", {{"n", "3"}}));
  EXPECT_EQ(j["live_events"], 2);
  EXPECT_EQ(j["items"][0]["item_id"], "99999");
  EXPECT_EQ(j["items"][0]["known_item"], false);
  EXPECT_TRUE(j["items"][0]["title"].is_null());
  EXPECT_EQ(j["items"][0]["source"], "live");
  EXPECT_EQ(j["items"][1]["item_id"], known);
  EXPECT_EQ(j["items"][1]["title"], ds.catalog.items[0].title);
  EXPECT_EQ(j["items"][1]["timestamp"], 10);
  EXPECT_EQ(j["items"][2]["item_id"], ds.item_ids[row.back()]);
  // A user the bundle never saw: only live events (here none).
  j = body(handle_user_history(ctx(), "987654", {}));
  EXPECT_EQ(j["known_user"], false);
  EXPECT_EQ(j["items"].size(), 0u);
  EXPECT_EQ(error_param(handle_user_history(ctx(), "4", {{"n", "0"}}), 400), "n");
  EXPECT_EQ(error_param(handle_user_history(ctx(), "abc", {}), 400), "user_id");
}

TEST_F(HandlerTest, OfflineGivesTheManifestBlockAndTheReportsPresent) {
  const auto& m = state_->bundle->manifest();
  Json j = body(handle_offline(ctx()));
  EXPECT_EQ(j["bundle_version"], version_);
  EXPECT_EQ(j["offline"], m.contains("offline") ? Json(m["offline"]) : Json(nullptr));
  for (const char* name : {"funnel", "quality", "rerank"})
    EXPECT_TRUE(j["reports"][name].is_null());
  // A bundle built with a report answers it; the reports are read (and verified against the
  // manifest) once, when the bundle loads, so files changed afterwards change nothing.
  const auto report = dir_->path() / "funnel-report.json";
  { std::ofstream(report) << R"({"retention": [1, 0.5]})"; }
  BundleBuildOptions bo;
  bo.threads = 1;
  bo.lambdas = {};
  bo.reports = {{"funnel", report}};
  build_bundle(testing::tiny_config(7, 0.0, "lr"), testing::tiny_dataset(), dir_->path() / "r1",
               bo);
  RouteContext with_reports = ctx();
  with_reports.state = ServingState::load(dir_->path() / "r1");
  std::filesystem::remove_all(dir_->path() / "r1" / "reports");
  j = body(handle_offline(with_reports));
  EXPECT_EQ(j["reports"]["funnel"], (Json{{"retention", {1, 0.5}}}));
  EXPECT_TRUE(j["reports"]["quality"].is_null());
  EXPECT_TRUE(j["report_errors"].empty());
  EXPECT_EQ(error_param(handle_offline(ctx(false)), 503), "");
}

TEST_F(HandlerTest, StatsAddsServerStateToTheMetricSummary) {
  const std::string text =
      "cascade_requests_total{route=\"recommend\",status=\"200\"} 4\n"
      "cascade_requests_total{route=\"recommend\",status=\"500\"} 1\n";
  Json j = body(handle_stats(ctx(), text, true));
  EXPECT_EQ(j["bundle_version"], version_);
  EXPECT_EQ(j["admin_reload"], true);
  EXPECT_EQ(j["redis"]["configured"], false);
  EXPECT_EQ(j["requests"]["total"], 5);
  EXPECT_EQ(j["requests"]["server_errors"], 1);
  EXPECT_GE(j["uptime_s"].get<double>(), 100.0);
  j = body(handle_stats(ctx(false), "", false));
  EXPECT_EQ(j["admin_reload"], false);
  EXPECT_EQ(j["bundle_version"], "");
  EXPECT_EQ(j["requests"]["total"], 0);
}

TEST_F(HandlerTest, AssetsHaveTheirTypeAnEtagAndAnswer304WhenUnchanged) {
  RouteResponse r = handle_asset("index.html", "");
  ASSERT_EQ(r.status, 200);
  EXPECT_STREQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_NE(r.body.find("<title>Cascade dashboard</title>"), std::string::npos);
  std::string etag;
  for (const auto& [k, v] : r.headers)
    if (k == "ETag") etag = v;
  ASSERT_GT(etag.size(), 2u);
  EXPECT_EQ(etag.front(), '"');
  r = handle_asset("index.html", etag);
  EXPECT_EQ(r.status, 304);
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(handle_asset("index.html", "\"stale\"").status, 200);
  r = handle_asset("app.js", "");
  EXPECT_STREQ(r.content_type, "text/javascript; charset=utf-8");
  EXPECT_STREQ(handle_asset("style.css", "").content_type, "text/css; charset=utf-8");
  r = handle_asset("chart.min.js", "");  // Debian's Chart.js, embedded whole
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("Chart.js v"), std::string::npos);
  EXPECT_GT(r.body.size(), 100000u);
  EXPECT_EQ(error_param(handle_asset("../CMakeLists.txt", ""), 404), "asset");
  EXPECT_EQ(error_param(handle_asset("", ""), 404), "asset");
}

}  // namespace
}  // namespace cascade
