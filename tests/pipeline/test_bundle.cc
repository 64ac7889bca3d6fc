// Model bundles: build -> verify -> load round trip, refusal of damaged bundles with the file
// named, and the online funnel (Recommender) over a loaded bundle.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <set>

#include "cascade/io/artifact.h"
#include "cascade/pipeline/recommender.h"
#include "recall/popularity.h"
#include "support/test_util.h"
#include "support/tiny_bundle.h"

namespace cascade {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

class BundleTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    version_ = testing::build_tiny_bundle(dir_->path() / "b");
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static fs::path bundle_dir() { return dir_->path() / "b"; }
  // A copy of the bundle to damage.
  static fs::path copy_bundle(const TempDir& to) {
    const fs::path dst = to.path() / "copy";
    fs::copy(bundle_dir(), dst, fs::copy_options::recursive);
    return dst;
  }
  static TempDir* dir_;
  static std::string version_;
};
TempDir* BundleTest::dir_ = nullptr;
std::string BundleTest::version_;

std::vector<ItemId> items_of(const RecommendResponse& r) {
  std::vector<ItemId> v;
  for (const auto& it : r.items) v.push_back(it.item);
  return v;
}

TEST_F(BundleTest, ManifestListsEveryFileAndLoads) {
  const auto m = verify_bundle(bundle_dir());
  EXPECT_EQ(m["version"], version_);
  EXPECT_EQ(m["format"], "cascade-bundle");
  EXPECT_TRUE(m["files"].contains("config.yaml"));
  EXPECT_TRUE(m["files"].contains("data/dataset.snap"));
  EXPECT_TRUE(m["files"].contains("channels/ials/manifest.json"));
  EXPECT_TRUE(m["files"].contains("rankers/lr/manifest.json"));
  auto b = Bundle::load(bundle_dir());
  EXPECT_EQ(b->version(), version_);
  EXPECT_EQ(b->channel_names(), (std::vector<std::string>{"popularity", "ials"}));
  EXPECT_EQ(b->pool_depth(), 60u);
  EXPECT_EQ(b->pre_keep(), 40u);
  EXPECT_EQ(b->fine_keep(), 20u);
  EXPECT_EQ(b->data().content_hash, m["dataset"]["hash"]);
  EXPECT_EQ(b->fit_matrix().nnz(), b->data().recall_slice().nnz());
}

// rank.channel_folds: the served channels are fitted on every training row, and the loaded
// bundle's feature statistics come from the same rows. A manifest without the key (written
// before folds) means the recall slice; an unknown value is refused.
TEST_F(BundleTest, ChannelFoldsServeChannelsFittedOnEveryTrainingRow) {
  TempDir t;
  YAML::Node cfg = testing::tiny_config();
  cfg["rank"]["channel_folds"] = 2;
  BundleBuildOptions bo;
  bo.threads = 1;
  const Dataset ds = testing::tiny_dataset();
  build_bundle(cfg, ds, t.path() / "folds", bo);
  const auto m = verify_bundle(t.path() / "folds");
  EXPECT_EQ(m["channels_fit"], "train");
  EXPECT_EQ(verify_bundle(bundle_dir())["channels_fit"], "recall_slice");
  auto b = Bundle::load(t.path() / "folds");
  EXPECT_EQ(b->fit_matrix().nnz(), ds.train.nnz());
  const auto* pop = dynamic_cast<const PopularityRecaller*>(b->channels()[0]);
  ASSERT_NE(pop, nullptr);
  std::vector<float> count(ds.n_items, 0.0f);
  for (ItemId i : ds.train.indices) count[i] += 1.0f;
  EXPECT_TRUE(std::ranges::equal(pop->scores(), count));
  EXPECT_GT(m["offline"]["test"]["recall@10"].get<double>(), 0.0);

  const fs::path d = copy_bundle(t);
  nlohmann::json old = nlohmann::json::parse(read_file(d / "manifest.json"));
  old.erase("channels_fit");
  write_file_atomic(d / "manifest.json", old.dump());
  EXPECT_EQ(Bundle::load(d)->fit_matrix().nnz(), ds.recall_slice().nnz());
  old["channels_fit"] = "everything";
  write_file_atomic(d / "manifest.json", old.dump());
  const std::string e = test::error_of([&] { Bundle::load(d); });
  EXPECT_NE(e.find("channels_fit is 'everything'"), std::string::npos) << e;
}

TEST_F(BundleTest, RefusesDamagedBundlesNamingTheFile) {
  TempDir t;
  {
    const fs::path d = copy_bundle(t);
    // Flip one byte of a ranker file: its checksum no longer matches.
    const fs::path f = d / "rankers" / "lr" / "manifest.json";
    std::string bytes = read_file(f);
    bytes[bytes.size() / 2] ^= 0x01;
    std::ofstream(f, std::ios::binary | std::ios::trunc) << bytes;
    const std::string e = test::error_of([&] { Bundle::load(d); });
    EXPECT_NE(e.find("rankers/lr/manifest.json"), std::string::npos) << e;
    EXPECT_NE(e.find("checksum"), std::string::npos) << e;
    fs::remove_all(d);
  }
  {
    const fs::path d = copy_bundle(t);
    std::ofstream(d / "extra.bin") << "x";
    const std::string e = test::error_of([&] { verify_bundle(d); });
    EXPECT_NE(e.find("extra.bin is not listed"), std::string::npos) << e;
    fs::remove_all(d);
  }
  {
    const fs::path d = copy_bundle(t);
    fs::remove(d / "data" / "dataset.snap");
    const std::string e = test::error_of([&] { verify_bundle(d); });
    EXPECT_NE(e.find("data/dataset.snap listed in the manifest is missing"), std::string::npos)
        << e;
    fs::remove_all(d);
  }
  {
    const fs::path d = copy_bundle(t);
    fs::remove(d / "manifest.json");
    const std::string e = test::error_of([&] { Bundle::load(d); });
    EXPECT_NE(e.find("no manifest.json"), std::string::npos) << e;
  }
  EXPECT_NE(test::error_of([&] { Bundle::load(t.path() / "nope"); }).find("not a directory"),
            std::string::npos);
}

TEST_F(BundleTest, RebuildingGivesTheSameModelsAndReplacesAtomically) {
  TempDir t;
  const std::string v1 = testing::build_tiny_bundle(t.path() / "b");
  // Same config + data + seed: same files, so the same content hash part of the version.
  EXPECT_EQ(v1.substr(v1.find('-')), version_.substr(version_.find('-')));
  const std::string v2 = testing::build_tiny_bundle(t.path() / "b", /*seed=*/8);
  EXPECT_NE(v1.substr(v1.find('-')), v2.substr(v2.find('-')));
  EXPECT_EQ(Bundle::load(t.path() / "b")->version(), v2);
  // No temporary or old directories are left beside it.
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(t.path())) ++entries;
  EXPECT_EQ(entries, 1u);
}

TEST_F(BundleTest, RecommendsKDistinctUnseenItemsAndLoadsToIdenticalScores) {
  const Recommender a(Bundle::load(bundle_dir()));
  const Recommender b(Bundle::load(bundle_dir()));
  const Dataset& ds = a.bundle().data();
  for (uint32_t u = 0; u < 30; ++u) {
    RecommendRequest r;
    r.user = ds.user_ids[u];
    r.k = 10;
    const auto ra = a.recommend(r);
    const auto rb = b.recommend(r);
    ASSERT_TRUE(ra.known_user);
    ASSERT_EQ(ra.items.size(), 10u);
    EXPECT_EQ(items_of(ra), items_of(rb));
    for (size_t i = 0; i < ra.items.size(); ++i) {
      EXPECT_EQ(ra.items[i].score, rb.items[i].score);
      EXPECT_EQ(ra.items[i].fine_rank, rb.items[i].fine_rank);
      EXPECT_FALSE(ra.items[i].channels.empty());
    }
    const auto hist = ds.train.row(u);
    const std::set<ItemId> seen(hist.begin(), hist.end());
    const std::vector<ItemId> list = items_of(ra);
    const std::set<ItemId> listed(list.begin(), list.end());
    EXPECT_EQ(listed.size(), 10u) << "duplicates in the list";
    for (ItemId i : list) EXPECT_FALSE(seen.count(i)) << "recommended a watched item " << i;
    EXPECT_EQ(ra.history, hist.size());
    // diversity 0 and no caps: the final order is the fine-ranker's order.
    for (size_t i = 1; i < ra.items.size(); ++i)
      EXPECT_GE(ra.items[i - 1].fine_rank, ra.items[i].fine_rank);
  }
}

TEST_F(BundleTest, LiveEventsChangeTheNextRecommendation) {
  const Recommender rec(Bundle::load(bundle_dir()));
  const Dataset& ds = rec.bundle().data();
  RecommendRequest r;
  r.user = ds.user_ids[3];
  r.k = 10;
  const auto before = rec.recommend(r);
  ASSERT_EQ(before.items.size(), 10u);
  // The user now watches the current top item: it is history now, so it must leave the list,
  // and the history-based recall (iALS folds the new history in) changes the rest.
  const ItemId top = before.items[0].item;
  const std::vector<LiveEvent> events = {{ds.item_ids[top], 2'000'000'000}};
  r.events = events;
  const auto after = rec.recommend(r);
  EXPECT_EQ(after.live_events, 1u);
  EXPECT_EQ(after.history, before.history + 1);
  const auto list = items_of(after);
  EXPECT_EQ(std::find(list.begin(), list.end(), top), list.end());
  EXPECT_NE(list, items_of(before));

  // An unknown user starts from the cold-start pool; events give them a personal list.
  RecommendRequest cold;
  cold.user = "no-such-user";
  cold.k = 10;
  const auto c0 = rec.recommend(cold);
  EXPECT_FALSE(c0.known_user);
  EXPECT_EQ(c0.history, 0u);
  ASSERT_EQ(c0.items.size(), 10u);
  std::vector<LiveEvent> liked;
  for (ItemId i : ds.train.row(7)) liked.push_back({ds.item_ids[i], 0});
  cold.events = liked;
  const auto c1 = rec.recommend(cold);
  EXPECT_EQ(c1.live_events, liked.size());
  EXPECT_NE(items_of(c1), items_of(c0));
  for (ItemId i : items_of(c1))
    EXPECT_EQ(std::count(ds.train.row(7).begin(), ds.train.row(7).end(), i), 0);
  // Unknown item ids in events are ignored, not an error.
  const std::vector<LiveEvent> junk = {{"no-such-item", 0}};
  cold.events = junk;
  EXPECT_EQ(rec.recommend(cold).live_events, 0u);
}

TEST_F(BundleTest, DiversityLowersIntraListSimilarityAndBadArgumentsThrow) {
  const Recommender rec(Bundle::load(bundle_dir()));
  const Dataset& ds = rec.bundle().data();
  auto ils = [&](const RecommendResponse& r) {
    double s = 0;
    int n = 0;
    for (size_t i = 0; i < r.items.size(); ++i)
      for (size_t j = i + 1; j < r.items.size(); ++j, ++n) {
        const float* x = rec.unit_vectors().data() + r.items[i].item * rec.vector_dim();
        const float* y = rec.unit_vectors().data() + r.items[j].item * rec.vector_dim();
        for (uint32_t d = 0; d < rec.vector_dim(); ++d) s += x[d] * y[d];
      }
    return s / n;
  };
  double low = 0, high = 0;
  for (uint32_t u = 0; u < 40; ++u) {
    RecommendRequest r;
    r.user = ds.user_ids[u];
    r.diversity = 0;
    low += ils(rec.recommend(r));
    r.diversity = 1;
    high += ils(rec.recommend(r));
  }
  EXPECT_LT(high, low);
  RecommendRequest bad;
  bad.user = ds.user_ids[0];
  bad.k = 0;
  EXPECT_NE(test::error_of([&] { rec.recommend(bad); }).find("k must be"), std::string::npos);
  bad.k = 5;
  bad.diversity = 1.5;
  EXPECT_NE(test::error_of([&] { rec.recommend(bad); }).find("diversity"), std::string::npos);
}

TEST_F(BundleTest, SimilarItemsAreTheNearestByCosine) {
  const Recommender rec(Bundle::load(bundle_dir()));
  const auto sims = rec.similar(5, 8);
  ASSERT_EQ(sims.size(), 8u);
  for (const auto& s : sims) EXPECT_NE(s.item, 5u);
  for (size_t i = 1; i < sims.size(); ++i) EXPECT_GE(sims[i - 1].score, sims[i].score);
  // Brute force: no item outside the list is closer than the last one listed.
  const uint32_t d = rec.vector_dim();
  const float* v = rec.unit_vectors().data();
  for (uint32_t j = 0; j < rec.bundle().data().n_items; ++j) {
    if (j == 5) continue;
    float c = 0;
    for (uint32_t k = 0; k < d; ++k) c += v[5 * d + k] * v[j * d + k];
    if (std::none_of(sims.begin(), sims.end(), [&](const ScoredItem& s) { return s.item == j; })) {
      EXPECT_LE(c, sims.back().score + 1e-6f);
    }
  }
}

// Found by fuzz/fuzz_manifest.cc (regression inputs in fuzz/corpus/manifest/regress_bundle_*):
// a manifest of the wrong JSON shape used to escape verify_bundle as a nlohmann or filesystem
// exception. No bundle needs building: verify_bundle reads only the manifest and listed files.
TEST(BundleManifest, MalformedManifestsAreCascadeErrors) {
  TempDir t;
  write_file_atomic(t.path() / "a.bin", "abcd");
  // `files` goes into an otherwise complete manifest; `whole` replaces the manifest.
  auto write_manifest = [&](const std::string& files, const std::string& whole = "") {
    write_file_atomic(t.path() / "manifest.json",
                      !whole.empty() ? whole
                                     : R"({"format": "cascade-bundle", "format_version": 1, "version": "v",
                                          "channels": [], "fusion": {}, "rank": {}, "dataset": {}, "files": )" +
                                           files + "}");
  };
  auto error_for = [&](const std::string& files, const std::string& whole = "") {
    write_manifest(files, whole);
    return test::error_of([&] { verify_bundle(t.path()); });
  };
  const std::string good = R"({"bytes": 4, "xxh3": ")" + hash_hex("abcd") + R"("})";
  write_manifest(R"({"a.bin": )" + good + "}");
  EXPECT_NO_THROW(verify_bundle(t.path()));
  EXPECT_NE(error_for("", "[1]").find("not a cascade-bundle manifest"), std::string::npos);
  EXPECT_NE(error_for("", R"({"format": "cascade-bundle", "format_version": 1e300})").find("format_version"),
            std::string::npos);
  EXPECT_NE(error_for(R"(["a.bin"])").find("\"files\" is not a map"), std::string::npos);
  for (const char* entry : {R"("x")", R"({"byt8s": 4, "xxh3": "0"})", R"({"bytes": -4, "xxh3": "0"})",
                            R"({"bytes": 4, "xxh3": 0})"}) {
    const std::string e = error_for(std::string(R"({"a.bin": )") + entry + "}");
    EXPECT_NE(e.find("manifest entry of a.bin"), std::string::npos) << entry << ": " << e;
  }
  // Listed paths that are directories or lie outside the bundle are refused, never opened.
  EXPECT_NE(error_for(R"({".": )" + good + R"(, "a.bin": )" + good + "}").find("not a regular file"),
            std::string::npos);
  for (const char* rel : {"", "/etc/hostname", "../a.bin", "x/../../a.bin"}) {
    const std::string e = error_for(std::string(R"({")") + rel + R"(": )" + good + R"(, "a.bin": )" + good + "}");
    EXPECT_NE(e.find("not a path inside the bundle"), std::string::npos) << rel << ": " << e;
  }
}

}  // namespace
}  // namespace cascade

namespace cascade {
namespace {

// The served pool's depth and quota are serving-time cuts: training pools come from the
// examples' own depth and quota, so funnels that differ only in them train identical rankers
// (what `bench funnel` evaluated at other cuts is what `bundle` builds).
TEST(BundleTraining, PoolDepthAndQuotaDoNotChangeTheRankers) {
  testing::TempDir dir;
  const Dataset ds = testing::tiny_dataset();
  BundleBuildOptions bo;
  bo.threads = 1;
  nlohmann::json manifests[2];
  const char* specs[2] = {"popularity+ials > norm(pool=60,quota=100,tune=false) > lr@40 > lr@20 > mmr(diversity=0)",
                          "popularity+ials > norm(pool=30,quota=50,tune=false) > lr@25 > lr@20 > mmr(diversity=0)"};
  for (int i = 0; i < 2; ++i) {
    YAML::Node cfg = testing::tiny_config();
    cfg["funnel"] = specs[i];
    const auto out = dir.path() / ("b" + std::to_string(i));
    build_bundle(cfg, ds, out, bo);
    manifests[i] = verify_bundle(out);
  }
  EXPECT_EQ(manifests[0]["funnel"], specs[0]);
  EXPECT_EQ(manifests[1]["rank"]["pool_depth"], 30);
  size_t rankers = 0;
  for (const auto& [path, info] : manifests[0]["files"].items()) {
    if (path.rfind("rankers/", 0) != 0) continue;
    EXPECT_EQ(info["xxh3"], manifests[1]["files"][path]["xxh3"]) << path;
    ++rankers;
  }
  EXPECT_GT(rankers, 1u);
}

// The bundle keeps the experiment JSONs it was given (hashed like every file) and its own λ
// sweep on validation: the offline page of the dashboard reads both.
TEST(BundleReports, KeepsReportsAndSweepsDiversityOnValidation) {
  testing::TempDir dir;
  const Dataset ds = testing::tiny_dataset();
  const fs::path q = dir.path() / "quality.json";
  std::ofstream(q) << R"({"channels": {"ials": {"recall@10": 0.25}}})";
  BundleBuildOptions bo;
  bo.threads = 1;
  bo.lambdas = {0.0, 1.0};
  bo.reports["quality"] = q;
  build_bundle(testing::tiny_config(), ds, dir.path() / "b", bo);
  const auto b = Bundle::load(dir.path() / "b");
  EXPECT_EQ(b->report("quality")["channels"]["ials"]["recall@10"], 0.25);
  EXPECT_TRUE(b->report("funnel").is_null());
  EXPECT_TRUE(b->manifest()["files"].contains("reports/quality.json"));
  const auto& sweep = b->manifest()["offline"]["rerank_sweep"];
  EXPECT_EQ(sweep["split"], "valid");
  ASSERT_EQ(sweep["sweep"].size(), 2u);
  EXPECT_EQ(sweep["sweep"][0]["lambda"], 0.0);
  // λ = 0 is the bundle's own list when its diversity is 0: the offline valid figure.
  EXPECT_EQ(sweep["sweep"][0]["recall@10"], b->manifest()["offline"]["valid"]["recall@10"]);
  // Full diversity weight lowers the intra-list similarity.
  EXPECT_LT(sweep["sweep"][1]["ils@10"].get<double>(), sweep["sweep"][0]["ils@10"].get<double>());

  // A report that is not JSON, or a bad name, is refused naming it.
  std::ofstream(dir.path() / "bad.json") << "{not json";
  BundleBuildOptions bad = bo;
  bad.reports = {{"bad", dir.path() / "bad.json"}};
  EXPECT_NE(test::error_of([&] { build_bundle(testing::tiny_config(), ds, dir.path() / "c", bad); }).find("bad.json"),
            std::string::npos);
  bad.reports = {{"../x", q}};
  EXPECT_NE(test::error_of([&] { build_bundle(testing::tiny_config(), ds, dir.path() / "c", bad); }).find("../x"),
            std::string::npos);
}

}  // namespace
}  // namespace cascade
