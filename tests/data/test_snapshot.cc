// Dataset snapshots: round trips of every field for each protocol, side files, and clear
// errors for corrupt, truncated, foreign or missing files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "cascade/core/error.h"
#include "cascade/data/dataset.h"
#include "cascade/data/snapshot.h"
#include "cascade/io/artifact.h"
#include "support/test_util.h"

namespace fs = std::filesystem;

namespace cascade {
namespace {

/// A log with side information: 12 users x up to 15 items, ratings 1-5, some ties.
RawLog sample_log() {
  RawLog log;
  log.source = "/data/sample.csv";
  for (int u = 0; u < 12; ++u) log.user_keys.push_back("user" + std::to_string(u));
  for (int i = 0; i < 15; ++i) log.item_keys.push_back(std::to_string(100 + i));
  uint32_t k = 0;
  for (uint32_t u = 0; u < 12; ++u) {
    for (uint32_t j = 0; j < 6 + u % 7; ++j, ++k) {
      log.user.push_back(u);
      log.item.push_back((u * 7 + j * 3) % 15);
      log.rating.push_back(static_cast<float>(1 + (k * 7919) % 5) + (k % 3 == 0 ? 0.5f : 0.0f));
      log.timestamp.push_back(1000 + static_cast<int64_t>(j / 2) * 10 + u);
    }
  }
  log.genre_names = {"Action", "Comedy", "Drama"};
  log.tag_names = {"dark", "funny", ""};
  for (int i = 0; i < 15; i += 2) {
    ItemInfo info;
    info.title = "Title \t" + std::to_string(i) + (i == 4 ? std::string("\0x", 2) : std::string());
    info.year = 1990 + i;
    if (i % 3 == 0) info.genres = {0, 2};
    if (i % 4 == 0) info.tags = {1, 1, 0};
    log.item_meta[log.item_keys[i]] = info;
  }
  for (int u = 0; u < 12; u += 3) {
    UserInfo info;
    info.gender = u % 2 ? 'F' : 'M';
    info.age = 20 + u;
    info.age_bucket = age_bucket(info.age);
    info.occupation = u == 6 ? "" : "job" + std::to_string(u);
    log.user_meta[log.user_keys[u]] = info;
  }
  return log;
}

Dataset sample_dataset(Protocol p) {
  PrepareOptions o;
  o.protocol = p;
  o.min_rating = 2.5f;
  o.min_positives = p == Protocol::kTime ? 1 : 3;
  o.oof_fraction = 0.3;
  o.time_train = 0.7;
  o.time_valid = 0.15;
  return prepare_dataset(sample_log(), "sample", o);
}

void expect_same_matrix(const Interactions& a, const Interactions& b) {
  EXPECT_EQ(a.n_rows, b.n_rows);
  EXPECT_EQ(a.n_cols, b.n_cols);
  EXPECT_EQ(a.indptr, b.indptr);
  EXPECT_EQ(a.indices, b.indices);
  EXPECT_EQ(a.values, b.values);
  EXPECT_EQ(a.times, b.times);
}

void expect_same_dataset(const Dataset& a, const Dataset& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.source, b.source);
  EXPECT_EQ(a.options.protocol, b.options.protocol);
  EXPECT_EQ(a.options.min_rating, b.options.min_rating);
  EXPECT_EQ(a.options.min_positives, b.options.min_positives);
  EXPECT_EQ(a.options.oof_fraction, b.options.oof_fraction);
  EXPECT_EQ(a.options.time_train, b.options.time_train);
  EXPECT_EQ(a.options.time_valid, b.options.time_valid);
  EXPECT_EQ(a.n_users, b.n_users);
  EXPECT_EQ(a.n_items, b.n_items);
  EXPECT_EQ(a.user_ids, b.user_ids);
  EXPECT_EQ(a.item_ids, b.item_ids);
  expect_same_matrix(a.train, b.train);
  expect_same_matrix(a.valid, b.valid);
  expect_same_matrix(a.test, b.test);
  EXPECT_EQ(a.recall_rows, b.recall_rows);
  EXPECT_EQ(a.options.keep_seen, b.options.keep_seen);
  expect_same_matrix(a.seen, b.seen);
  EXPECT_EQ(a.seen_after, b.seen_after);
  EXPECT_EQ(a.catalog.genre_names, b.catalog.genre_names);
  EXPECT_EQ(a.catalog.tag_names, b.catalog.tag_names);
  ASSERT_EQ(a.catalog.items.size(), b.catalog.items.size());
  for (size_t i = 0; i < a.catalog.items.size(); ++i) {
    EXPECT_EQ(a.catalog.items[i].title, b.catalog.items[i].title);
    EXPECT_EQ(a.catalog.items[i].year, b.catalog.items[i].year);
    EXPECT_EQ(a.catalog.items[i].genres, b.catalog.items[i].genres);
    EXPECT_EQ(a.catalog.items[i].tags, b.catalog.items[i].tags);
  }
  ASSERT_EQ(a.catalog.users.size(), b.catalog.users.size());
  for (size_t u = 0; u < a.catalog.users.size(); ++u) {
    EXPECT_EQ(a.catalog.users[u].gender, b.catalog.users[u].gender);
    EXPECT_EQ(a.catalog.users[u].age, b.catalog.users[u].age);
    EXPECT_EQ(a.catalog.users[u].age_bucket, b.catalog.users[u].age_bucket);
    EXPECT_EQ(a.catalog.users[u].occupation, b.catalog.users[u].occupation);
  }
  EXPECT_EQ(a.content_hash, b.content_hash);
}

class SnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("cascade_snapshot_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string snap() const { return (dir_ / "dataset.snap").string(); }
  std::string read_bytes() const { return read_file(snap()); }
  void write_bytes(const std::string& b) const {
    std::ofstream out(snap(), std::ios::binary | std::ios::trunc);
    out.write(b.data(), static_cast<std::streamsize>(b.size()));
  }
  std::string load_error() const {
    return test::error_of([&] { load_snapshot(dir_.string()); });
  }

  fs::path dir_;
};

TEST_F(SnapshotTest, RoundTripEveryProtocol) {
  for (Protocol p : {Protocol::kSeedLoo, Protocol::kSeedOof, Protocol::kTime}) {
    SCOPED_TRACE(protocol_name(p));
    Dataset ds = sample_dataset(p);
    const std::string prepared_hash = ds.content_hash;
    ASSERT_GT(ds.train.nnz(), 0u);
    ASSERT_GT(ds.n_users, 3u);
    if (p == Protocol::kSeedOof) {
      ASSERT_EQ(ds.recall_rows.size(), ds.n_users);
    }
    ds.content_hash.clear();
    save_snapshot(ds, dir_.string());
    EXPECT_EQ(ds.content_hash, prepared_hash);  // save fills the same hash prepare computed
    Dataset back = load_snapshot(dir_.string());
    expect_same_dataset(ds, back);
    Dataset by_file = load_snapshot(snap());
    expect_same_dataset(ds, by_file);
    EXPECT_EQ(dataset_content_hash(back), back.content_hash);
    EXPECT_EQ(back.find_user(ds.user_ids[2]), 2);
    EXPECT_NO_THROW(back.recall_slice());
  }
}

TEST_F(SnapshotTest, SeenEventsRoundTripAndOnlyTheyChangeTheHash) {
  for (Protocol p : {Protocol::kSeedLoo, Protocol::kSeedOof}) {
    SCOPED_TRACE(protocol_name(p));
    PrepareOptions o;
    o.protocol = p;
    o.min_rating = 2.5f;
    o.min_positives = 3;
    o.oof_fraction = 0.3;
    o.keep_seen = true;
    Dataset ds = prepare_dataset(sample_log(), "sample", o);
    ASSERT_GT(ds.seen.nnz(), 0u);
    const Dataset plain = sample_dataset(p);
    // The same split; the seen section alone tells the two apart.
    expect_same_matrix(ds.train, plain.train);
    EXPECT_NE(ds.content_hash, plain.content_hash);
    save_snapshot(ds, dir_.string());
    const Dataset back = load_snapshot(dir_.string());
    EXPECT_TRUE(back.options.keep_seen);
    expect_same_dataset(ds, back);
    EXPECT_EQ(dataset_content_hash(back), back.content_hash);
    fs::remove_all(dir_);
  }
}

TEST_F(SnapshotTest, HashCoversThePayloadNotTheSource) {
  Dataset ds = sample_dataset(Protocol::kSeedLoo);
  save_snapshot(ds, dir_.string());
  const std::string bytes = read_bytes();
  ASSERT_EQ(bytes.substr(0, 8), "CASCSNAP");
  uint64_t payload = 0;
  std::memcpy(&payload, bytes.data() + 16, 8);
  EXPECT_EQ(hash_hex(std::string_view(bytes).substr(96, payload)), ds.content_hash);
  EXPECT_EQ(bytes.substr(32, 32), ds.content_hash);

  Dataset moved = ds;
  moved.source = "/somewhere/else.csv";
  EXPECT_EQ(dataset_content_hash(moved), ds.content_hash);
  fs::path other = dir_ / "other";
  save_snapshot(moved, other.string());
  EXPECT_EQ(moved.content_hash, ds.content_hash);
  EXPECT_EQ(load_snapshot(other.string()).source, "/somewhere/else.csv");
  moved.train.values[0] += 1.0f;
  EXPECT_NE(dataset_content_hash(moved), ds.content_hash);
}

TEST_F(SnapshotTest, SideFiles) {
  Dataset ds = sample_dataset(Protocol::kSeedOof);
  save_snapshot(ds, dir_.string());
  std::string users = read_file(dir_ / "user_ids.tsv");
  std::string expect = "dense\traw\n";
  for (uint32_t u = 0; u < ds.n_users; ++u) expect += std::to_string(u) + "\t" + ds.user_ids[u] + "\n";
  EXPECT_EQ(users, expect);
  expect = "dense\traw\n";
  for (uint32_t i = 0; i < ds.n_items; ++i) expect += std::to_string(i) + "\t" + ds.item_ids[i] + "\n";
  EXPECT_EQ(read_file(dir_ / "item_ids.tsv"), expect);

  auto s = nlohmann::json::parse(read_file(dir_ / "summary.json"));
  EXPECT_EQ(s["name"], "sample");
  EXPECT_EQ(s["protocol"], "seed-oof");
  EXPECT_EQ(s["users"], ds.n_users);
  EXPECT_EQ(s["items"], ds.n_items);
  EXPECT_EQ(s["train_rows"], ds.train.nnz());
  EXPECT_EQ(s["valid_rows"], ds.valid.nnz());
  EXPECT_EQ(s["test_rows"], ds.test.nnz());
  EXPECT_EQ(s["content_hash"], ds.content_hash);
  EXPECT_EQ(s["options"]["min_rating"], 2.5);
  EXPECT_EQ(s["options"]["min_positives"], 3);
  EXPECT_EQ(s["options"]["oof_fraction"], 0.3);
  EXPECT_EQ(s["recall_slice_rows"].get<uint64_t>() + s["ranker_slice_rows"].get<uint64_t>(), ds.train.nnz());
  // No temporary files left behind.
  for (const auto& e : fs::directory_iterator(dir_)) {
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
  }
}

TEST_F(SnapshotTest, FlippedByteIsAHashError) {
  Dataset ds = sample_dataset(Protocol::kSeedOof);
  save_snapshot(ds, dir_.string());
  const std::string good = read_bytes();
  // Every payload byte is covered: flip a few spread over the file.
  for (size_t at : {size_t{100}, good.size() / 2, good.size() - 60}) {
    std::string bad = good;
    bad[at] ^= 0x20;
    write_bytes(bad);
    std::string msg = load_error();
    EXPECT_NE(msg.find("hash mismatch"), std::string::npos) << at << ": " << msg;
    EXPECT_NE(msg.find(snap()), std::string::npos) << msg;
  }
  // The last 42 bytes are the provenance block (the "source" section).
  std::string bad = good;
  bad[good.size() - 1] ^= 0x01;
  write_bytes(bad);
  EXPECT_NE(load_error().find("provenance"), std::string::npos);
  // A flipped hash character in the header.
  bad = good;
  bad[40] = bad[40] == 'a' ? 'b' : 'a';
  write_bytes(bad);
  EXPECT_NE(load_error().find("hash mismatch"), std::string::npos);
  write_bytes(good);
  EXPECT_NO_THROW(load_snapshot(dir_.string()));
}

TEST_F(SnapshotTest, TruncatedFilesAreClearErrors) {
  Dataset ds = sample_dataset(Protocol::kSeedLoo);
  save_snapshot(ds, dir_.string());
  const std::string good = read_bytes();
  for (size_t len : {size_t{0}, size_t{7}, size_t{95}, size_t{96}, good.size() / 2, good.size() - 1}) {
    write_bytes(good.substr(0, len));
    std::string msg = load_error();
    EXPECT_NE(msg.find("truncated"), std::string::npos) << len << ": " << msg;
    EXPECT_NE(msg.find(snap()), std::string::npos) << msg;
  }
  write_bytes(good + "extra");
  EXPECT_NE(load_error().find("corrupt"), std::string::npos);
}

TEST_F(SnapshotTest, WrongMagicVersionAndMissingFile) {
  Dataset ds = sample_dataset(Protocol::kTime);
  save_snapshot(ds, dir_.string());
  const std::string good = read_bytes();
  std::string bad = good;
  bad[0] = 'X';
  write_bytes(bad);
  EXPECT_NE(load_error().find("bad magic"), std::string::npos);
  bad = good;
  const uint32_t v = kSnapshotFormatVersion + 1;
  std::memcpy(bad.data() + 8, &v, 4);
  write_bytes(bad);
  std::string msg = load_error();
  EXPECT_NE(msg.find("version 2"), std::string::npos) << msg;
  fs::remove(snap());
  msg = load_error();
  EXPECT_NE(msg.find(snap()), std::string::npos) << msg;
  EXPECT_THROW(load_snapshot((dir_ / "nope.snap").string()), Error);
}

TEST_F(SnapshotTest, StructurallyBadButCorrectlyHashedPayloadIsRejected) {
  // A writer bug (or a hand-made file) with a valid hash must still not crash the reader.
  Dataset ds = sample_dataset(Protocol::kSeedLoo);
  ds.train.indices[0] = ds.n_items + 5;  // column out of range
  save_snapshot(ds, dir_.string());
  std::string msg = load_error();
  EXPECT_NE(msg.find("section 'train'"), std::string::npos) << msg;
  Dataset ds2 = sample_dataset(Protocol::kSeedLoo);
  ds2.user_ids.pop_back();  // id map shorter than n_users
  save_snapshot(ds2, dir_.string());
  msg = load_error();
  EXPECT_NE(msg.find("user_ids"), std::string::npos) << msg;
}

TEST_F(SnapshotTest, RehashedRandomCorruptionNeverCrashes) {
  // Corrupt payload bytes and re-seal the header hash, so that only the structural checks
  // stand between the bytes and the arrays (run under ASan to catch out-of-bounds reads).
  Dataset ds = sample_dataset(Protocol::kSeedOof);
  save_snapshot(ds, dir_.string());
  const std::string good = read_bytes();
  uint64_t payload = 0;
  std::memcpy(&payload, good.data() + 16, 8);
  std::mt19937_64 rng(5);
  int rejected = 0, loaded = 0;
  for (int trial = 0; trial < 300; ++trial) {
    std::string bad = good;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      const size_t at = 96 + rng() % payload;
      // Mostly single-bit flips; sometimes a 0xff byte (huge lengths and counts).
      bad[at] = static_cast<char>(rng() % 3 == 0 ? 0xff : bad[at] ^ (1 << (rng() % 8)));
    }
    const std::string h = hash_hex(std::string_view(bad).substr(96, payload));
    std::memcpy(bad.data() + 32, h.data(), 32);
    write_bytes(bad);
    try {
      Dataset back = load_snapshot(dir_.string());
      ++loaded;  // e.g. a changed rating value: structurally fine
      EXPECT_EQ(back.content_hash, h);
      EXPECT_NO_THROW(back.train.validate());
    } catch (const Error& e) {
      ++rejected;
      EXPECT_NE(std::string(e.what()).find(snap()), std::string::npos) << e.what();
    }
  }
  EXPECT_GT(rejected, 0);
  EXPECT_GT(loaded, 0);
}

}  // namespace
}  // namespace cascade
