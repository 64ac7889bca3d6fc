// Loaders: MovieLens 100K / 1M / 10M / latest and generic CSV, on hand-made fixtures
// (tests/fixtures/loaders for the redistributable ml-latest and generic CSV layouts;
// invented files written at run time for the 100K/1M/10M layouts) and on files written by
// the tests; real datasets under
// ../shared/data are checked when present and skipped otherwise.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "cascade/core/error.h"
#include "cascade/data/loaders.h"
#include "data/loaders/rows.h"
#include "data/loaders/text_io.h"
#include "support/temp_dir.h"

namespace cascade {
namespace {

namespace fs = std::filesystem;

const std::string kFixtures = std::string(CASCADE_TEST_FIXTURES) + "/loaders";

using test::TempDir;

// Invented files in the MovieLens 100K, 1M and 10M layouts. Those datasets may not be
// redistributed, so no line of theirs is used: ids, titles, timestamps, zips and tags are
// made up, and the files are written at run time into a folder removed at exit. Exact bytes
// matter: the Latin-1 0xE9 in item 20's / 5004's title, the timestamp tie on u.data lines
// 4 and 5, and the 0xE9 on line 4 of the 1M movies.dat.
void write_ml_fixtures(const fs::path& root) {
  auto put = [&](const std::string& rel, const std::string& bytes) {
    fs::create_directories((root / rel).parent_path());
    std::ofstream out(root / rel, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  };
  put("ml100k/u.data",
      "1\t10\t4\t800000100\n2\t10\t3\t800000200\n1\t20\t5\t800000050\n"
      "3\t30\t1\t800000150\n2\t20\t2\t800000150\n1\t40\t3\t800000151\n");
  put("ml100k/u.genre",
      "unknown|0\nAction|1\nAdventure|2\nAnimation|3\nChildren's|4\nComedy|5\nCrime|6\n"
      "Documentary|7\nDrama|8\nFantasy|9\nFilm-Noir|10\nHorror|11\nMusical|12\nMystery|13\n"
      "Romance|14\nSci-Fi|15\nThriller|16\nWar|17\nWestern|18\n\n");
  put("ml100k/u.item",
      "10|Paper Lanterns (1995)|01-Jan-1995||http://example.org/film/10|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
      "20|Caf\xE9 Noir (1995)|01-Jan-1995||http://example.org/film/20|0|0|0|0|0|0|0|0|1|0|0|0|1|0|0|0|0|0|0\n"
      "30|unknown||||1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
      "40|Some Film|27-Jun-1997||http://example.org/film|0|1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|1|0\n");
  put("ml100k/u.user", "1|22|M|engineer|10001\n2|53|F|other|10002\n3|15|M|student|10003\n");

  put("ml1m/ratings.dat",
      "1::5001::5::900000010\n1::5002::3::900000020\n2::5001::4::900000030\n3::5003::4::900000040\n");
  put("ml1m/movies.dat",
      "5001::Harbor Lights (1975)::Drama\n5002::Giant Kites (1996)::Animation|Children's|Musical\n"
      "5003::River Court (2000)::Drama\n5004::Caf\xE9 Noir (1995)::Drama|Musical\n");
  put("ml1m/users.dat", "1::F::18::10::10001\n2::M::56::13::10002\n3::M::35::15::10003\n");

  put("ml10m/ratings.dat", "1::6001::5::1100000010\n1::6002::4.5::1100000020\n2::6001::0.5::1100000030\n");
  put("ml10m/movies.dat",
      "6001::Night Signals (1992)::Comedy|Romance\n6002::Steel Harbor (1995)::Action|Crime|Thriller\n"
      "6999::Untitled::(no genres listed)\n");
  put("ml10m/tags.dat",
      "15::6500::excellent!::1200000010\n20::6001::Slow Burn::1200000020\n21::6001::slow burn ::1200000030\n");
}

/// The folder holding the invented MovieLens-layout fixtures (written once per process).
const std::string& ml_fixtures() {
  static const TempDir dir;
  static const bool written = (write_ml_fixtures(dir.str()), true);
  (void)written;
  static const std::string path = dir.str();
  return path;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// Runs `fn` and checks that it throws DataError naming `file_suffix`, `line` and `field`,
/// with `what` in the message.
template <class F>
void expect_data_error(F&& fn, const std::string& file_suffix, size_t line,
                       const std::string& field, const std::string& what) {
  try {
    fn();
    ADD_FAILURE() << "expected a DataError";
  } catch (const DataError& e) {
    const std::string msg = e.what();
    EXPECT_TRUE(ends_with(e.file(), file_suffix)) << msg;
    EXPECT_EQ(e.line(), line) << msg;
    EXPECT_EQ(e.field(), field) << msg;
    EXPECT_NE(msg.find(e.file()), std::string::npos) << msg;
    if (line > 0) {
      EXPECT_NE(msg.find(":" + std::to_string(line)), std::string::npos) << msg;
    }
    if (!field.empty()) {
      EXPECT_NE(msg.find("'" + field + "'"), std::string::npos) << msg;
    }
    EXPECT_NE(msg.find(what), std::string::npos) << msg;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected a DataError, got: " << e.what();
  }
}

#define EXPECT_DATA_ERROR(expr, file, line, field, what)                  \
  do {                                                                     \
    SCOPED_TRACE(#expr);                                                   \
    expect_data_error([&] { (void)(expr); }, file, line, field, what);     \
  } while (0)

std::vector<std::string> genre_names_of(const RawLog& log, const std::string& item) {
  std::vector<std::string> out;
  for (auto g : log.item_meta.at(item).genres) out.push_back(log.genre_names.at(g));
  return out;
}

std::vector<std::string> tag_names_of(const RawLog& log, const std::string& item) {
  std::vector<std::string> out;
  for (auto t : log.item_meta.at(item).tags) out.push_back(log.tag_names.at(t));
  return out;
}

std::vector<std::string> row_users(const RawLog& log) {
  std::vector<std::string> out;
  for (auto u : log.user) out.push_back(log.user_keys.at(u));
  return out;
}

std::vector<std::string> row_items(const RawLog& log) {
  std::vector<std::string> out;
  for (auto i : log.item) out.push_back(log.item_keys.at(i));
  return out;
}

std::string ml_latest_dir(const std::string& ratings, const TempDir& dir) {
  dir.write("ratings.csv", ratings);
  return dir.str();
}

LoadOptions skipping() {
  LoadOptions o;
  o.skip_bad_rows = true;
  return o;
}

// ---------------------------------------------------------------------------------------
// Fixtures, one per format.

TEST(Loaders, Ml100kFixture) {
  const RawLog log = load_ml100k(ml_fixtures() + "/ml100k");
  EXPECT_EQ(log.source, ml_fixtures() + "/ml100k");
  ASSERT_EQ(log.size(), 6u);
  EXPECT_EQ(log.user_keys, (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_EQ(log.item_keys, (std::vector<std::string>{"10", "20", "30", "40"}));
  // File order is kept, including the timestamp tie of lines 4 and 5.
  EXPECT_EQ(log.user, (std::vector<uint32_t>{0, 1, 0, 2, 1, 0}));
  EXPECT_EQ(log.item, (std::vector<uint32_t>{0, 0, 1, 2, 1, 3}));
  EXPECT_EQ(log.rating, (std::vector<float>{4, 3, 5, 1, 2, 3}));
  EXPECT_EQ(log.timestamp, (std::vector<int64_t>{800000100, 800000200, 800000050, 800000150,
                                                 800000150, 800000151}));
  EXPECT_TRUE(log.has_rating);
  EXPECT_TRUE(log.has_timestamp);
  EXPECT_EQ(log.skipped_rows, 0u);

  // 19 flags in u.genre, "unknown" is not a genre.
  ASSERT_EQ(log.genre_names.size(), 18u);
  EXPECT_EQ(log.genre_names.front(), "Action");
  EXPECT_EQ(log.genre_names.back(), "Western");
  ASSERT_EQ(log.item_meta.size(), 4u);
  const ItemInfo& toy = log.item_meta.at("10");
  EXPECT_EQ(toy.title, "Paper Lanterns (1995)");
  EXPECT_EQ(toy.year, 1995);
  EXPECT_EQ(toy.genres, (std::vector<uint16_t>{2, 3, 4}));
  EXPECT_EQ(genre_names_of(log, "10"), (std::vector<std::string>{"Animation", "Children's", "Comedy"}));
  // Latin-1 0xE9 -> UTF-8 C3 A9.
  EXPECT_EQ(log.item_meta.at("20").title, "Caf\xC3\xA9 Noir (1995)");
  EXPECT_EQ(genre_names_of(log, "20"), (std::vector<std::string>{"Drama", "Musical"}));
  EXPECT_EQ(log.item_meta.at("30").title, "unknown");
  EXPECT_EQ(log.item_meta.at("30").year, -1);
  EXPECT_TRUE(log.item_meta.at("30").genres.empty());
  // No year in the title: from the release date.
  EXPECT_EQ(log.item_meta.at("40").year, 1997);
  EXPECT_EQ(genre_names_of(log, "40"), (std::vector<std::string>{"Action", "War"}));

  ASSERT_EQ(log.user_meta.size(), 3u);
  const UserInfo& u1 = log.user_meta.at("1");
  EXPECT_EQ(u1.gender, 'M');
  EXPECT_EQ(u1.age, 22);
  EXPECT_EQ(u1.age_bucket, 1);
  EXPECT_EQ(u1.occupation, "engineer");
  EXPECT_EQ(log.user_meta.at("2").gender, 'F');
  EXPECT_EQ(log.user_meta.at("2").age_bucket, 5);  // 53
  EXPECT_EQ(log.user_meta.at("3").age_bucket, 0);  // 15
}

TEST(Loaders, Ml100kWithoutMetadataFiles) {
  TempDir dir;
  dir.write("u.data", "7\t8\t2\t5\n");
  const RawLog log = load_ml100k(dir.str());
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log.user_keys[0], "7");
  EXPECT_EQ(log.genre_names.size(), 18u);  // the built-in list
  EXPECT_TRUE(log.item_meta.empty());
  EXPECT_TRUE(log.user_meta.empty());
}

TEST(Loaders, Ml1mFixture) {
  const RawLog log = load_ml1m(ml_fixtures() + "/ml1m");
  ASSERT_EQ(log.size(), 4u);
  EXPECT_EQ(row_users(log), (std::vector<std::string>{"1", "1", "2", "3"}));
  EXPECT_EQ(row_items(log), (std::vector<std::string>{"5001", "5002", "5001", "5003"}));
  EXPECT_EQ(log.rating, (std::vector<float>{5, 3, 4, 4}));
  EXPECT_EQ(log.timestamp[3], 900000040);
  EXPECT_EQ(log.genre_names, (std::vector<std::string>{"Animation", "Children's", "Drama", "Musical"}));
  EXPECT_EQ(log.item_meta.at("5002").genres, (std::vector<uint16_t>{0, 1, 3}));
  EXPECT_EQ(log.item_meta.at("5002").title, "Giant Kites (1996)");
  EXPECT_EQ(log.item_meta.at("5002").year, 1996);
  EXPECT_EQ(log.item_meta.at("5004").title, "Caf\xC3\xA9 Noir (1995)");
  EXPECT_EQ(log.item_meta.at("5004").genres, (std::vector<uint16_t>{2, 3}));
  EXPECT_EQ(log.item_meta.at("5001").year, 1975);
  const UserInfo& u1 = log.user_meta.at("1");
  EXPECT_EQ(u1.gender, 'F');
  EXPECT_EQ(u1.age, 18);
  EXPECT_EQ(u1.age_bucket, 1);
  EXPECT_EQ(u1.occupation, "K-12 student");
  EXPECT_EQ(log.user_meta.at("2").age_bucket, 6);
  EXPECT_EQ(log.user_meta.at("2").occupation, "retired");
  EXPECT_EQ(log.user_meta.at("3").age_bucket, 3);
  EXPECT_EQ(log.user_meta.at("3").occupation, "scientist");
  EXPECT_TRUE(log.tag_names.empty());
}

TEST(Loaders, Ml10mFixtureWithTagsAndHalfStars) {
  const RawLog log = load_dataset("ml-10m", ml_fixtures() + "/ml10m", {});
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log.rating, (std::vector<float>{5.0f, 4.5f, 0.5f}));
  EXPECT_EQ(log.genre_names,
            (std::vector<std::string>{"Action", "Comedy", "Crime", "Romance", "Thriller"}));
  EXPECT_EQ(genre_names_of(log, "6001"), (std::vector<std::string>{"Comedy", "Romance"}));
  EXPECT_EQ(genre_names_of(log, "6002"), (std::vector<std::string>{"Action", "Crime", "Thriller"}));
  EXPECT_TRUE(log.item_meta.at("6999").genres.empty());  // (no genres listed)
  EXPECT_EQ(log.item_meta.at("6999").year, -1);
  // Tags lower-cased and trimmed; applied twice -> repeated.
  EXPECT_EQ(log.tag_names, (std::vector<std::string>{"excellent!", "slow burn"}));
  EXPECT_EQ(tag_names_of(log, "6001"), (std::vector<std::string>{"slow burn", "slow burn"}));
  EXPECT_EQ(tag_names_of(log, "6500"), (std::vector<std::string>{"excellent!"}));
  EXPECT_TRUE(log.user_meta.empty());
}

TEST(Loaders, MlLatestFixtureQuotesCrlfYearsGenresTags) {
  const RawLog log = load_ml_latest(kFixtures + "/latest");
  // ratings.csv has CRLF endings and no newline after its last row.
  ASSERT_EQ(log.size(), 5u);
  EXPECT_EQ(row_users(log), (std::vector<std::string>{"1", "1", "2", "2", "3"}));
  EXPECT_EQ(row_items(log), (std::vector<std::string>{"1", "11", "1", "7789", "11"}));
  EXPECT_EQ(log.rating, (std::vector<float>{4.0f, 3.5f, 5.0f, 2.5f, 4.0f}));
  EXPECT_EQ(log.timestamp.back(), 964982931);

  EXPECT_EQ(log.item_meta.at("11").title, "American President, The (1995)");
  EXPECT_EQ(log.item_meta.at("7789").title, "11'09\"01 - September 11 (2002)");
  EXPECT_EQ(log.item_meta.at("1").year, 1995);
  EXPECT_EQ(log.item_meta.at("11").year, 1995);
  EXPECT_EQ(log.item_meta.at("7789").year, 2002);
  EXPECT_EQ(log.item_meta.at("114335").year, 1957);
  EXPECT_EQ(log.item_meta.at("149334").year, -1);
  EXPECT_EQ(log.item_meta.at("171749").year, 2006);  // "(2006–2007)"
  EXPECT_EQ(log.item_meta.at("171749").title, "Death Note: Desu n\xC3\xB4to (2006\xE2\x80\x93" "2007)");

  EXPECT_EQ(log.genre_names, (std::vector<std::string>{"Adventure", "Animation", "Children", "Comedy",
                                                       "Drama", "Fantasy", "Romance", "Thriller"}));
  EXPECT_EQ(log.item_meta.at("1").genres, (std::vector<uint16_t>{0, 1, 2, 3, 5}));
  EXPECT_EQ(log.item_meta.at("11").genres, (std::vector<uint16_t>{3, 4, 6}));
  EXPECT_TRUE(log.item_meta.at("114335").genres.empty());
  EXPECT_EQ(genre_names_of(log, "149334"), (std::vector<std::string>{"Drama", "Thriller"}));

  EXPECT_EQ(log.tag_names, (std::vector<std::string>{"\"artsy\"", "fun", "pixar", "politics, romance"}));
  EXPECT_EQ(tag_names_of(log, "1"), (std::vector<std::string>{"fun", "pixar", "pixar"}));
  EXPECT_EQ(tag_names_of(log, "11"), (std::vector<std::string>{"politics, romance"}));
  EXPECT_EQ(tag_names_of(log, "7789"), (std::vector<std::string>{"\"artsy\""}));
  EXPECT_EQ(log.skipped_rows, 0u);
}

TEST(Loaders, GenericCsvStringIdsHeaderAndQuotes) {
  LoadOptions opt;
  opt.columns = parse_columns("user,item,timestamp");
  const RawLog log = load_csv(kFixtures + "/csv/events.csv", opt);
  // "user_id,item_id,ts" is recognised as a header without header=true.
  ASSERT_EQ(log.size(), 4u);
  EXPECT_EQ(log.user_keys, (std::vector<std::string>{"alice", "bob", "\xC3\xA9mile"}));
  EXPECT_EQ(log.item_keys, (std::vector<std::string>{"book-1", "book,2", "book-3"}));
  EXPECT_EQ(log.user, (std::vector<uint32_t>{0, 1, 0, 2}));
  EXPECT_EQ(log.item, (std::vector<uint32_t>{0, 1, 2, 0}));
  EXPECT_FALSE(log.has_rating);
  EXPECT_EQ(log.rating, (std::vector<float>{1, 1, 1, 1}));
  EXPECT_TRUE(log.has_timestamp);
  EXPECT_EQ(log.timestamp, (std::vector<int64_t>{100, 90, 100, 80}));
  EXPECT_TRUE(log.item_meta.empty());
}

TEST(Loaders, GenericCsvWithoutTimestampUsesRowIndex) {
  LoadOptions opt;
  opt.columns = parse_columns("user,item,-");
  const RawLog log = load_csv(kFixtures + "/csv/events.csv", opt);
  ASSERT_EQ(log.size(), 4u);
  EXPECT_FALSE(log.has_timestamp);
  EXPECT_EQ(log.timestamp, (std::vector<int64_t>{0, 1, 2, 3}));
}

TEST(Loaders, GenericCsvSeparatorsAndExplicitHeader) {
  TempDir dir;
  LoadOptions opt;
  opt.sep = "::";
  opt.header = true;
  opt.columns = parse_columns("item,user,rating");
  // The header does not look like one: only header=true skips it.
  const RawLog a = load_csv(dir.write("a.dat", "first::second::third\nx::u1::2.5\ny::u2::3\n"), opt);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a.user_keys, (std::vector<std::string>{"u1", "u2"}));
  EXPECT_EQ(a.item_keys, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(a.rating, (std::vector<float>{2.5f, 3.0f}));
  EXPECT_FALSE(a.has_timestamp);

  LoadOptions tab;
  tab.sep = "\\t";  // as typed on a command line
  const RawLog b = load_csv(dir.write("b.tsv", "1\t2\t3\t4\n5\t6\t7\t8\n"), tab);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b.timestamp, (std::vector<int64_t>{4, 8}));

  // Without header=true a non-header first line is data.
  LoadOptions plain;
  plain.columns = parse_columns("user,item");
  const RawLog c = load_csv(dir.write("c.csv", "first,second\n"), plain);
  EXPECT_EQ(c.user_keys, (std::vector<std::string>{"first"}));
}

TEST(Loaders, ByteOrderMarkBeforeHeader) {
  TempDir dir;
  ml_latest_dir("\xEF\xBB\xBFuserId,movieId,rating,timestamp\r\n1,2,3.5,4\r\n", dir);
  const RawLog log = load_ml_latest(dir.str());
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log.rating[0], 3.5f);
}

TEST(Loaders, GenericCsvFolderWithOneRatingsFile) {
  TempDir dir;
  dir.write("ratings.txt", "u,i,5,1\n");
  dir.write("notes.md", "not data\n");
  LoadOptions opt;
  const RawLog log = load_csv(dir.str(), opt);
  EXPECT_EQ(log.size(), 1u);
  EXPECT_TRUE(ends_with(log.source, "ratings.txt"));
  dir.write("ratings.csv", "u,i,5,1\n");
  EXPECT_DATA_ERROR(load_csv(dir.str(), opt), "", 0, "", "several ratings.* files");
  TempDir empty;
  EXPECT_DATA_ERROR(load_csv(empty.str(), opt), "", 0, "", "no ratings.* file");
}

TEST(Loaders, GenericCsvEncodings) {
  TempDir dir;
  const std::string path = dir.write("l1.csv", "Jos\xE9,book,4,1\nAnn,book,3,2\n");
  LoadOptions opt;
  EXPECT_DATA_ERROR(load_csv(path, opt), "l1.csv", 1, "user", "unknown encoding");
  opt.encoding = "latin-1";
  const RawLog log = load_csv(path, opt);
  EXPECT_EQ(log.user_keys[0], "Jos\xC3\xA9");
  opt.encoding = "auto";
  EXPECT_EQ(load_csv(path, opt).user_keys[0], "Jos\xC3\xA9");
  opt.encoding = "ebcdic";
  EXPECT_THROW(load_csv(path, opt), Error);
}

TEST(Loaders, ParseColumns) {
  EXPECT_EQ(parse_columns("user,item,rating,timestamp"),
            (std::vector<std::string>{"user", "item", "rating", "timestamp"}));
  EXPECT_EQ(parse_columns(" User , ITEM ,-,timestamp"),
            (std::vector<std::string>{"user", "item", "-", "timestamp"}));
  EXPECT_EQ(parse_columns("user,item"), (std::vector<std::string>{"user", "item"}));
  EXPECT_THROW(parse_columns("item,rating"), Error);       // no user
  EXPECT_THROW(parse_columns("user,rating"), Error);       // no item
  EXPECT_THROW(parse_columns("user,user,item"), Error);    // twice
  EXPECT_THROW(parse_columns("user,,item"), Error);        // empty name
  EXPECT_THROW(parse_columns(""), Error);
  try {
    parse_columns("userId,movieId");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'user'"), std::string::npos) << e.what();
  }
}

TEST(Loaders, LoadDatasetDispatch) {
  EXPECT_EQ(load_dataset("ml-100k", ml_fixtures() + "/ml100k", {}).size(), 6u);
  EXPECT_EQ(load_dataset("ml-1m", ml_fixtures() + "/ml1m", {}).size(), 4u);
  EXPECT_EQ(load_dataset("ml-latest", kFixtures + "/latest", {}).size(), 5u);
  EXPECT_EQ(load_dataset("ml-latest-small", kFixtures + "/latest", {}).size(), 5u);
  EXPECT_EQ(load_dataset("ml-25m", kFixtures + "/latest", {}).size(), 5u);
  EXPECT_EQ(load_dataset("ml-20m", kFixtures + "/latest", {}).size(), 5u);
  LoadOptions csv;
  csv.columns = parse_columns("user,item,timestamp");
  EXPECT_EQ(load_dataset("csv", kFixtures + "/csv/events.csv", csv).size(), 4u);
  try {
    load_dataset("netflix", kFixtures, {});
    FAIL() << "expected an error";
  } catch (const DataError& e) {
    FAIL() << "a name error is not a data error: " << e.what();
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const char* name : {"netflix", "ml-100k", "ml-1m", "ml-10m", "ml-latest", "ml-20m", "ml-25m", "csv"}) {
      EXPECT_NE(msg.find(name), std::string::npos) << msg;
    }
  }
}

// ---------------------------------------------------------------------------------------
// Errors: file, 1-based line and field in every message.

TEST(LoadersErrors, MissingFolderAndFiles) {
  EXPECT_DATA_ERROR(load_ml100k("/nonexistent/cascade/ml-100k"), "/nonexistent/cascade/ml-100k", 0,
                    "", "folder not found");
  EXPECT_DATA_ERROR(load_ml_latest(kFixtures + "/csv/events.csv"), "events.csv", 0, "", "not a folder");
  TempDir dir;
  EXPECT_DATA_ERROR(load_ml100k(dir.str()), "/u.data", 0, "", "file not found");
  EXPECT_DATA_ERROR(load_ml1m(dir.str()), "/ratings.dat", 0, "", "file not found");
  EXPECT_DATA_ERROR(load_ml_latest(dir.str()), "/ratings.csv", 0, "", "file not found");
  EXPECT_DATA_ERROR(load_csv(dir.file("nope.csv"), LoadOptions{}), "nope.csv", 0, "", "file not found");
  fs::create_directory(dir.file("ratings.csv"));
  EXPECT_DATA_ERROR(load_ml_latest(dir.str()), "/ratings.csv", 0, "", "is a folder");
}

TEST(LoadersErrors, EmptyFiles) {
  TempDir dir;
  dir.write("u.data", "");
  EXPECT_DATA_ERROR(load_ml100k(dir.str()), "/u.data", 1, "", "empty file");
  dir.write("u.data", "\n  \r\n\n");
  EXPECT_DATA_ERROR(load_ml100k(dir.str()), "/u.data", 1, "", "empty file");
  // Metadata files too.
  dir.write("u.data", "1\t2\t3\t4\n");
  dir.write("u.item", "");
  EXPECT_DATA_ERROR(load_ml100k(dir.str()), "/u.item", 1, "", "empty file");
  // A header and nothing else.
  TempDir latest;
  ml_latest_dir("userId,movieId,rating,timestamp\r\n", latest);
  EXPECT_DATA_ERROR(load_ml_latest(latest.str()), "/ratings.csv", 0, "", "no interaction rows");
}

TEST(LoadersErrors, WrongColumnCount) {
  TempDir dir;
  dir.write("u.data", "1\t2\t3\t4\n1\t3\t3\t4\n1\t2\t3\n");
  EXPECT_DATA_ERROR(load_ml100k(dir.str()), "/u.data", 3, "timestamp", "wrong column count");
  dir.write("u.data", "1\t2\t3\t4\t5\n");
  EXPECT_DATA_ERROR(load_ml100k(dir.str()), "/u.data", 1, "field 5", "found 5");
  dir.write("u.data", "1\n");
  EXPECT_DATA_ERROR(load_ml100k(dir.str()), "/u.data", 1, "item id", "expected 4 fields");
  TempDir latest;
  ml_latest_dir("userId,movieId,rating,timestamp\r\n1,2,3,4\r\n1,2\r\n", latest);
  EXPECT_DATA_ERROR(load_ml_latest(latest.str()), "/ratings.csv", 3, "rating", "wrong column count");
  TempDir m1;
  m1.write("ratings.dat", "1::2::3::4\n");
  m1.write("movies.dat", "1::Title (1999)::Drama\n2::Title only\n");
  EXPECT_DATA_ERROR(load_ml1m(m1.str()), "/movies.dat", 2, "Genres", "wrong column count");
  m1.write("movies.dat", "1::Title (1999)::Drama\n");
  m1.write("users.dat", "1::F::1::10::48067\n2::M::56::16\n");
  EXPECT_DATA_ERROR(load_ml1m(m1.str()), "/users.dat", 2, "Zip-code", "wrong column count");
}

TEST(LoadersErrors, NonNumericIds) {
  TempDir dir;
  ml_latest_dir("userId,movieId,rating,timestamp\n1,2,3,4\n1,3,3,4\nx1,3,3,4\n", dir);
  EXPECT_DATA_ERROR(load_ml_latest(dir.str()), "/ratings.csv", 4, "userId", "not a numeric id");
  ml_latest_dir("userId,movieId,rating,timestamp\n1,2.5,3,4\n", dir);
  EXPECT_DATA_ERROR(load_ml_latest(dir.str()), "/ratings.csv", 2, "movieId", "not a numeric id");
  ml_latest_dir("userId,movieId,rating,timestamp\n1,,3,4\n", dir);
  EXPECT_DATA_ERROR(load_ml_latest(dir.str()), "/ratings.csv", 2, "movieId", "not a numeric id");
  TempDir m1;
  m1.write("ratings.dat", "1::-5::3::4\n");
  EXPECT_DATA_ERROR(load_ml1m(m1.str()), "/ratings.dat", 1, "MovieID", "not a numeric id");
  TempDir k;
  k.write("u.data", "1\t2\t3\t4\n99999999999999999999999\t2\t3\t4\n");  // overflows uint64
  EXPECT_DATA_ERROR(load_ml100k(k.str()), "/u.data", 2, "user id", "not a numeric id");
  k.write("u.data", "1\t2\t3\t4\n");
  k.write("u.item", "abc|T (1990)|||x|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n");
  EXPECT_DATA_ERROR(load_ml100k(k.str()), "/u.item", 1, "movie id", "not a numeric id");
}

TEST(LoadersErrors, BadRatings) {
  TempDir dir;
  const std::string head = "userId,movieId,rating,timestamp\n1,2,3,4\n";
  ml_latest_dir(head + "1,2,abc,4\n", dir);
  EXPECT_DATA_ERROR(load_ml_latest(dir.str()), "/ratings.csv", 3, "rating", "not a number");
  for (const char* bad : {"nan", "inf", "-inf", "NaN"}) {
    ml_latest_dir(head + "1,2," + bad + ",4\n", dir);
    EXPECT_DATA_ERROR(load_ml_latest(dir.str()), "/ratings.csv", 3, "rating", "finite");
  }
  ml_latest_dir(head + "1,2,1e999,4\n", dir);
  EXPECT_DATA_ERROR(load_ml_latest(dir.str()), "/ratings.csv", 3, "rating", "finite");
  ml_latest_dir(head + "1,2,1e300,4\n", dir);  // finite as a double, not as a float
  EXPECT_DATA_ERROR(load_ml_latest(dir.str()), "/ratings.csv", 3, "rating", "finite");
  ml_latest_dir(head + "1,2,,4\n", dir);
  EXPECT_DATA_ERROR(load_ml_latest(dir.str()), "/ratings.csv", 3, "rating", "empty");
  ml_latest_dir(head + "1,2,4.5x,4\n", dir);
  EXPECT_DATA_ERROR(load_ml_latest(dir.str()), "/ratings.csv", 3, "rating", "not a number");
}

TEST(LoadersErrors, BadTimestamps) {
  TempDir dir;
  const std::string head = "userId,movieId,rating,timestamp\n1,2,3,4\n";
  for (const char* bad : {"1.5", "abc", "", "12x", "1e9"}) {
    ml_latest_dir(head + "1,2,3," + bad + "\n", dir);
    EXPECT_DATA_ERROR(load_ml_latest(dir.str()), "/ratings.csv", 3, "timestamp", "not an integer timestamp");
  }
  // Negative timestamps (before 1970) are integers.
  ml_latest_dir(head + "1,2,3,-86400\n", dir);
  EXPECT_EQ(load_ml_latest(dir.str()).timestamp.back(), -86400);
}

TEST(LoadersErrors, InvalidUtf8) {
  TempDir dir;
  dir.write("ratings.csv", "userId,movieId,rating,timestamp\n1,2,3,4\n");
  dir.write("movies.csv", "movieId,title,genres\n2,Ok (1990),Drama\n3,Mis\xE9rables (1995),Drama\n");
  EXPECT_DATA_ERROR(load_ml_latest(dir.str()), "/movies.csv", 3, "title", "unknown encoding");
  // Truncated sequence, overlong encoding, surrogate, byte above F4.
  for (const char* bad : {"caf\xC3", "\xC0\xAF", "\xED\xA0\x80", "\xF5\x80\x80\x80"}) {
    dir.write("movies.csv", std::string("movieId,title,genres\n2,Ok,Drama|") + bad + "\n");
    EXPECT_DATA_ERROR(load_ml_latest(dir.str()), "/movies.csv", 2, "genres", "invalid UTF-8");
  }
  dir.write("movies.csv", "movieId,title,genres\n2,Ok (1990),Drama\n");
  dir.write("tags.csv", "userId,movieId,tag,timestamp\n1,2,fun,5\n1,2,\"na\xEFve\",6\n");
  EXPECT_DATA_ERROR(load_ml_latest(dir.str()), "/tags.csv", 3, "tag", "unknown encoding");
  // The same bytes are fine when the caller says Latin-1.
  LoadOptions l1;
  l1.encoding = "latin-1";
  EXPECT_EQ(tag_names_of(load_ml_latest(dir.str(), l1), "2"),
            (std::vector<std::string>{"fun", "na\xC3\xAFve"}));
}

TEST(LoadersErrors, DuplicateHeader) {
  TempDir dir;
  ml_latest_dir("userId,movieId,rating,timestamp\n1,2,3,4\n1,3,3,4\nuserId,movieId,rating,timestamp\n", dir);
  EXPECT_DATA_ERROR(load_ml_latest(dir.str()), "/ratings.csv", 4, "header", "duplicate header");
  TempDir k;
  k.write("u.data", "1\t2\t3\t4\nuser_id\titem_id\trating\ttimestamp\n");
  EXPECT_DATA_ERROR(load_ml100k(k.str()), "/u.data", 2, "header", "duplicate header");
  // An explicit header that matches no alias still counts when repeated.
  LoadOptions opt;
  opt.header = true;
  opt.columns = parse_columns("user,item");
  const std::string p = dir.write("h.csv", "who,what\na,b\nWho , What\n");
  EXPECT_DATA_ERROR(load_csv(p, opt), "h.csv", 3, "header", "duplicate header");
  dir.write("movies.csv", "movieId,title,genres\n1,A (1999),Drama\nmovieId,title,genres\n");
  ml_latest_dir("userId,movieId,rating,timestamp\n1,2,3,4\n", dir);
  EXPECT_DATA_ERROR(load_ml_latest(dir.str()), "/movies.csv", 3, "header", "duplicate header");
}

TEST(LoadersErrors, MalformedQuotes) {
  TempDir dir;
  ml_latest_dir("userId,movieId,rating,timestamp\n1,2,3,4\n", dir);
  dir.write("movies.csv", "movieId,title,genres\n1,\"Unterminated (1999),Drama\n2,B (2000),Drama\n");
  // The open quote swallows the following lines up to end of file, then is cut back.
  EXPECT_DATA_ERROR(load_ml_latest(dir.str()), "/movies.csv", 2, "title", "unterminated quoted field");
  dir.write("movies.csv", "movieId,title,genres\n1,\"A\"x (1999),Drama\n");
  EXPECT_DATA_ERROR(load_ml_latest(dir.str()), "/movies.csv", 2, "title", "after a closing quote");
  // Skipped, the unterminated line is one bad row and the next line is read again.
  dir.write("movies.csv", "movieId,title,genres\n1,\"Unterminated (1999),Drama\n2,B (2000),Drama\n");
  const RawLog log = load_ml_latest(dir.str(), skipping());
  EXPECT_EQ(log.skipped_rows, 1u);
  EXPECT_EQ(log.item_meta.count("1"), 0u);
  EXPECT_EQ(log.item_meta.at("2").title, "B (2000)");
}

TEST(LoadersErrors, MultiLineQuotedFieldKeepsLineNumbers) {
  TempDir dir;
  ml_latest_dir("userId,movieId,rating,timestamp\n1,2,3,4\n", dir);
  dir.write("tags.csv", "userId,movieId,tag,timestamp\n1,2,\"two\r\nLines\",5\n1,2,ok,6\n1,2,bad,x\n");
  EXPECT_DATA_ERROR(load_ml_latest(dir.str()), "/tags.csv", 5, "timestamp", "not an integer");
  dir.write("tags.csv", "userId,movieId,tag,timestamp\n1,2,\"two\nLines\",5\n1,2,ok,6\n");
  const RawLog log = load_ml_latest(dir.str());
  EXPECT_EQ(tag_names_of(log, "2"), (std::vector<std::string>{"ok", "two\nlines"}));
}

TEST(LoadersErrors, BadMetadataRows) {
  TempDir k;
  k.write("u.data", "1\t2\t3\t4\n");
  k.write("u.item", "2|T (1990)|||x|0|2|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n");
  EXPECT_DATA_ERROR(load_ml100k(k.str()), "/u.item", 1, "Action", "genre flag must be 0 or 1");
  k.write("u.item", "2|T (1990)|||x|0|1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n2|T (1990)|||x|0|1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n");
  EXPECT_DATA_ERROR(load_ml100k(k.str()), "/u.item", 2, "movie id", "duplicate movie id 2 (first on line 1)");
  fs::remove(k.file("u.item"));
  k.write("u.user", "1|22|M|engineer|10001\n2|old|F|other|10002\n");
  EXPECT_DATA_ERROR(load_ml100k(k.str()), "/u.user", 2, "age", "not an age");
  fs::remove(k.file("u.user"));
  k.write("u.genre", "unknown|0\nAction|2\n");
  EXPECT_DATA_ERROR(load_ml100k(k.str()), "/u.genre", 0, "index", "genre index 1 is missing");
  k.write("u.genre", "unknown|0\nAction|x\n");
  EXPECT_DATA_ERROR(load_ml100k(k.str()), "/u.genre", 2, "index", "not a genre index");

  TempDir m1;
  m1.write("ratings.dat", "1::2::3::4\n");
  m1.write("users.dat", "1::F::1::10::48067\n2::M::56::21::70072\n");
  EXPECT_DATA_ERROR(load_ml1m(m1.str()), "/users.dat", 2, "Occupation", "0..20");
  m1.write("users.dat", "1::X::1::10::48067\n");
  EXPECT_DATA_ERROR(load_ml1m(m1.str()), "/users.dat", 1, "Gender", "expected M or F");
  m1.write("users.dat", "1::F::young::10::48067\n");
  EXPECT_DATA_ERROR(load_ml1m(m1.str()), "/users.dat", 1, "Age", "not an age code");
}

TEST(LoadersErrors, SkipBadRowsCountsEveryFile) {
  TempDir dir;
  // Bad rows: user id, rating, timestamp, column count, duplicate header, embedded NUL.
  std::string ratings =
      "userId,movieId,rating,timestamp\n1,10,4,100\nx,10,4,101\n2,10,nan,102\n2,11,4,1.5\n"
      "2,12,4\nuserId,movieId,rating,timestamp\n2,12,3,103\n3,\"1";
  ratings.push_back('\0');
  ratings += "\",3,104\n\n3,10,5,105\r\n";
  dir.write("ratings.csv", ratings);
  dir.write("movies.csv", "movieId,title,genres\n10,A (1990),Drama\nnope,B (1991),Drama\n12,C (1992),Drama\n");
  dir.write("tags.csv", "userId,movieId,tag,timestamp\n1,10,ok,5\n1,10,late,yesterday\n");
  EXPECT_DATA_ERROR(load_ml_latest(dir.str()), "/ratings.csv", 3, "userId", "not a numeric id");
  const RawLog log = load_ml_latest(dir.str(), skipping());
  EXPECT_EQ(row_users(log), (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_EQ(row_items(log), (std::vector<std::string>{"10", "12", "10"}));
  EXPECT_EQ(log.timestamp, (std::vector<int64_t>{100, 103, 105}));
  // 6 ratings rows + 1 movies row + 1 tags row.
  EXPECT_EQ(log.skipped_rows, 8u);
  EXPECT_EQ(log.item_meta.size(), 2u);
  EXPECT_EQ(tag_names_of(log, "10"), (std::vector<std::string>{"ok"}));

  // Nothing left: an error even when skipping.
  TempDir bad;
  ml_latest_dir("userId,movieId,rating,timestamp\nx,1,2,3\ny,1,2,3\n", bad);
  EXPECT_DATA_ERROR(load_ml_latest(bad.str(), skipping()), "/ratings.csv", 0, "",
                    "no valid interaction rows (2 bad rows skipped)");
}

TEST(LoadersErrors, GarbageNeverCrashes) {
  // Random bytes, separators, quotes, NULs and CR/LF in random lines: every outcome is a
  // load or a DataError, and skip_bad_rows never throws for a file with one good row.
  std::mt19937 rng(12345);
  const std::string alphabet = std::string("0123456789,,,,\"\"\r\n\n\t:|.-eE abcxyz\xE9\xC3\xA9\xFF") + '\0';
  TempDir dir;
  for (int trial = 0; trial < 100; ++trial) {
    std::string text = "userId,movieId,rating,timestamp\n1,1,1,1\n";
    const int n = static_cast<int>(rng() % 300);
    for (int k = 0; k < n; ++k) text.push_back(alphabet[rng() % alphabet.size()]);
    dir.write("ratings.csv", text);
    dir.write("movies.csv", "movieId,title,genres\n" + text.substr(32));
    dir.write("tags.csv", "userId,movieId,tag,timestamp\n" + text.substr(32));
    try {
      (void)load_ml_latest(dir.str());
    } catch (const DataError&) {
    }
    RawLog log;
    ASSERT_NO_THROW(log = load_ml_latest(dir.str(), skipping())) << "trial " << trial;
    EXPECT_GE(log.size(), 1u);
    EXPECT_EQ(log.user.size(), log.timestamp.size());
    LoadOptions csv = skipping();
    csv.encoding = "auto";
    ASSERT_NO_THROW((void)load_csv(dir.file("ratings.csv"), csv)) << "trial " << trial;
    csv.sep = "::";
    try {
      (void)load_csv(dir.file("ratings.csv"), csv);
    } catch (const DataError&) {
    }
  }
}

TEST(LoadersErrors, UnknownEncodingOption) {
  LoadOptions opt;
  opt.encoding = "utf-16";
  EXPECT_THROW(load_ml_latest(kFixtures + "/latest", opt), Error);
  opt.encoding = "UTF-8";
  EXPECT_EQ(load_ml_latest(kFixtures + "/latest", opt).size(), 5u);
  // A Latin-1 file read as strict UTF-8 fails on the é.
  opt.encoding = "utf-8";
  EXPECT_DATA_ERROR(load_ml1m(ml_fixtures() + "/ml1m", opt), "/movies.dat", 4, "Title", "unknown encoding");
}

// ---------------------------------------------------------------------------------------
// Large input: records that straddle the reader's 8 MiB chunks.

TEST(Loaders, RecordsAcrossChunkBoundaries) {
  TempDir dir;
  std::string text = "user,item,rating,timestamp\n";
  // The multi-line record below starts 10 bytes before the end of the first 8 MiB chunk,
  // so its second line (and its closing quote) arrive with the second read.
  const size_t start = loaders::RecordReader::kChunk - 10;
  size_t k = 0;
  while (text.size() + 100 < start) {
    text += "u" + std::to_string(k % 5000) + ",i" + std::to_string(k % 777) + "," +
            std::to_string(k % 5 + 1) + "," + std::to_string(k) + (k % 2 ? "\r\n" : "\n");
    ++k;
  }
  const std::string tail = ",i,1," + std::to_string(k) + "\n";
  text += "p" + std::string(start - text.size() - 1 - tail.size(), 'x') + tail;  // padding row
  ++k;
  ASSERT_EQ(text.size(), start);
  text += "\"multi\nline user\",\"item \"\"q\"\"\",3,42\n";
  const size_t good = k + 1;
  for (size_t j = 0; j < 1000; ++j) text += "v,w,1," + std::to_string(j) + "\n";
  const size_t lines = static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
  text += "v,w,1,bad\n";
  const std::string path = dir.write("big.csv", text);
  EXPECT_DATA_ERROR(load_csv(path, LoadOptions{}), "big.csv", lines + 1, "timestamp", "not an integer");
  const RawLog log = load_csv(path, skipping());
  ASSERT_EQ(log.size(), good + 1000);
  EXPECT_EQ(log.skipped_rows, 1u);
  EXPECT_EQ(log.user_keys.at(log.user[k]), "multi\nline user");
  EXPECT_EQ(log.item_keys.at(log.item[k]), "item \"q\"");
  EXPECT_EQ(log.timestamp[k], 42);
  EXPECT_EQ(log.timestamp[k - 1], static_cast<int64_t>(k - 1));
  EXPECT_EQ(log.timestamp.back(), 999);
}

// ---------------------------------------------------------------------------------------
// Building blocks.

TEST(LoadersText, YearsFromTitlesAndDates) {
  using loaders::year_from_date;
  using loaders::year_from_title;
  EXPECT_EQ(year_from_title("Toy Story (1995)"), 1995);
  EXPECT_EQ(year_from_title("Babylon 5 (1994) "), 1994);
  EXPECT_EQ(year_from_title("Contempt (Mépris, Le) (1963)"), 1963);
  EXPECT_EQ(year_from_title("Death Note (2006\xE2\x80\x93" "2007)"), 2006);
  EXPECT_EQ(year_from_title("Fawlty Towers (1975-1979)"), 1975);
  EXPECT_EQ(year_from_title("Show (2010-)"), 2010);
  EXPECT_EQ(year_from_title("Nocturnal Animals"), -1);
  EXPECT_EQ(year_from_title("Blade Runner 2049"), -1);
  EXPECT_EQ(year_from_title("Number (12345)"), -1);
  EXPECT_EQ(year_from_title("Old (0999)"), -1);
  EXPECT_EQ(year_from_title("(1995"), -1);
  EXPECT_EQ(year_from_title(""), -1);
  EXPECT_EQ(year_from_title(")"), -1);
  EXPECT_EQ(year_from_date("01-Jan-1995"), 1995);
  EXPECT_EQ(year_from_date("27-Jun-1997 "), 1997);
  EXPECT_EQ(year_from_date(""), -1);
  EXPECT_EQ(year_from_date("01-Jan-95"), -1);
}

TEST(LoadersText, EncodingsAndNumbers) {
  std::string out;
  loaders::latin1_to_utf8("Caf\xE9 \xC1", out);
  EXPECT_EQ(out, "Caf\xC3\xA9 \xC3\x81");
  EXPECT_TRUE(loaders::is_utf8(out));
  EXPECT_FALSE(loaders::is_utf8("Caf\xE9"));
  EXPECT_EQ(loaders::utf8_invalid_at("abc\xE9"), 3u);
  EXPECT_TRUE(loaders::is_utf8("\xF0\x9F\x98\x80"));  // U+1F600
  EXPECT_FALSE(loaders::is_utf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_EQ(loaders::decode_text("Jos\xC3\xA9", loaders::Encoding::kAuto), "Jos\xC3\xA9");
  EXPECT_EQ(loaders::decode_text("Jos\xE9", loaders::Encoding::kAuto), "Jos\xC3\xA9");
  EXPECT_EQ(loaders::utf8_lower("\xC3\x89T\xC3\x89 \xC3\x97"), "\xC3\xA9t\xC3\xA9 \xC3\x97");
  float r = 0;
  EXPECT_TRUE(loaders::parse_rating(" 4.5 ", r));
  EXPECT_FLOAT_EQ(r, 4.5f);
  EXPECT_FALSE(loaders::parse_rating("inf", r));
  uint64_t u = 0;
  EXPECT_TRUE(loaders::parse_u64("007", u));
  EXPECT_EQ(u, 7u);
  EXPECT_FALSE(loaders::parse_u64("-7", u));
  EXPECT_FALSE(loaders::parse_u64("+7", u));
  EXPECT_FALSE(loaders::parse_u64("", u));
  int64_t t = 0;
  EXPECT_TRUE(loaders::parse_i64("-5", t));
  EXPECT_EQ(t, -5);
}

TEST(LoadersText, CanonicalNumericIds) {
  // "007" and "7" are one id, keyed "7", in ratings and metadata alike.
  TempDir dir;
  dir.write("ratings.csv", "userId,movieId,rating,timestamp\n007,010,3,1\n7,10,4,2\n");
  dir.write("movies.csv", "movieId,title,genres\n0010,Ten (2010),Drama\n");
  const RawLog log = load_ml_latest(dir.str());
  EXPECT_EQ(log.user_keys, (std::vector<std::string>{"7"}));
  EXPECT_EQ(log.item_keys, (std::vector<std::string>{"10"}));
  EXPECT_EQ(log.item_meta.at("10").title, "Ten (2010)");
}

TEST(LoadersText, IdInternerSparseThenDense) {
  std::vector<std::string> keys;
  loaders::IdInterner ids(&keys);
  EXPECT_EQ(ids.intern_number(5000), 0u);       // sparse: hash map
  EXPECT_EQ(ids.intern_number(3000000000ULL), 1u);  // beyond the table limit
  for (uint64_t i = 1; i <= 600; ++i) EXPECT_EQ(ids.intern_number(i), i + 1);
  EXPECT_EQ(ids.intern_number(4500), 602u);     // the table grows to 4501
  EXPECT_EQ(ids.intern_number(7000), 603u);     // ... and over 5000, which moves into it
  EXPECT_EQ(ids.intern_number(5000), 0u);
  EXPECT_EQ(ids.intern_number(3000000000ULL), 1u);
  EXPECT_EQ(ids.intern_number(600), 601u);
  EXPECT_EQ(keys.size(), 604u);
  EXPECT_EQ(keys[0], "5000");
  EXPECT_EQ(keys[1], "3000000000");
  EXPECT_EQ(ids.intern_string("x"), 604u);
  EXPECT_EQ(ids.intern_string("x"), 604u);
}

// ---------------------------------------------------------------------------------------
// Real datasets (skipped when absent; never needed by CI).

std::string first_existing(std::initializer_list<std::string> dirs) {
  for (const auto& d : dirs) {
    if (fs::exists(d)) return d;
  }
  return "";
}

template <class F>
double millis(F&& fn) {
  const auto t0 = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

TEST(LoadersReal, MlLatestSmall) {
  const std::string dir = first_existing({std::string(CASCADE_SOURCE_DIR) + "/data/ml-latest-small",
                                          std::string(CASCADE_SOURCE_DIR) + "/../shared/data/ml-latest-small"});
  if (dir.empty()) GTEST_SKIP() << "ml-latest-small not found";
  RawLog log;
  const double ms = millis([&] { log = load_dataset("ml-latest-small", dir, {}); });
  std::cout << "[ timing ] ml-latest-small (" << dir << "): " << ms << " ms\n";
  EXPECT_EQ(log.size(), 100836u);
  EXPECT_EQ(log.user_keys.size(), 610u);
  EXPECT_EQ(log.item_keys.size(), 9724u);
  EXPECT_EQ(log.skipped_rows, 0u);
  EXPECT_EQ(log.item_meta.size(), 9742u);
  EXPECT_EQ(log.genre_names.size(), 19u);  // "(no genres listed)" is not a genre
  EXPECT_EQ(log.genre_names[11], "IMAX");
  EXPECT_EQ(log.item_meta.at("11").title, "American President, The (1995)");
  EXPECT_EQ(log.item_meta.at("7789").title, "11'09\"01 - September 11 (2002)");
  EXPECT_EQ(log.item_meta.at("171749").year, 2006);
  size_t no_year = 0;
  size_t no_genre = 0;
  size_t tags = 0;
  for (const auto& [key, info] : log.item_meta) {
    no_year += info.year < 0;
    no_genre += info.genres.empty();
    tags += info.tags.size();
  }
  EXPECT_EQ(no_year, 12u);
  EXPECT_EQ(no_genre, 34u);
  EXPECT_EQ(tags, 3683u);
  EXPECT_EQ(log.tag_names.size(), 1475u);
  EXPECT_EQ(log.user_keys[0], "1");
  EXPECT_EQ(log.timestamp[0], 964982703);
}

TEST(LoadersReal, Ml100k) {
  const std::string dir = std::string(CASCADE_SOURCE_DIR) + "/../shared/data/ml-100k";
  if (!fs::exists(dir + "/u.data")) GTEST_SKIP() << "ML-100K not found";
  RawLog log;
  const double ms = millis([&] { log = load_ml100k(dir); });
  std::cout << "[ timing ] ml-100k: " << ms << " ms\n";
  ASSERT_EQ(log.size(), 100000u);
  EXPECT_EQ(log.user_keys.size(), 943u);
  EXPECT_EQ(log.item_keys.size(), 1682u);
  EXPECT_EQ(log.user_keys[log.user[0]], "196");
  EXPECT_EQ(log.item_keys[log.item[0]], "242");
  EXPECT_EQ(log.timestamp[0], 881250949);
  const double mean = std::accumulate(log.rating.begin(), log.rating.end(), 0.0) / log.size();
  EXPECT_NEAR(mean, 3.52986, 1e-5);
  EXPECT_EQ(log.item_meta.size(), 1682u);
  EXPECT_EQ(log.user_meta.size(), 943u);
  EXPECT_EQ(log.genre_names.size(), 18u);
  EXPECT_EQ(log.item_meta.at("1").title, "Toy Story (1995)");
  EXPECT_EQ(log.item_meta.at("1").year, 1995);
  EXPECT_EQ(genre_names_of(log, "1"), (std::vector<std::string>{"Animation", "Children's", "Comedy"}));
  EXPECT_EQ(log.item_meta.at("543").title, "Mis\xC3\xA9rables, Les (1995)");
  EXPECT_EQ(log.item_meta.at("1252").title, "Contempt (M\xC3\xA9pris, Le) (1963)");
  EXPECT_EQ(log.item_meta.at("1252").year, 1963);  // the title wins over the 1997 release date
  EXPECT_EQ(log.item_meta.at("267").title, "unknown");
  EXPECT_EQ(log.item_meta.at("267").year, -1);
  EXPECT_TRUE(log.item_meta.at("267").genres.empty());
  size_t no_year = 0;
  for (const auto& [key, info] : log.item_meta) no_year += info.year < 0;
  EXPECT_EQ(no_year, 1u);
  const UserInfo& u1 = log.user_meta.at("1");
  EXPECT_EQ(u1.age, 24);
  EXPECT_EQ(u1.gender, 'M');
  EXPECT_EQ(u1.occupation, "technician");
}

TEST(LoadersReal, Ml1mMoviesAndUsers) {
  const std::string real = std::string(CASCADE_SOURCE_DIR) + "/../shared/data/ml-1m";
  if (!fs::exists(real + "/movies.dat") || !fs::exists(real + "/users.dat")) {
    GTEST_SKIP() << "ML-1M movies.dat/users.dat not found";
  }
  // ratings.dat cannot be had here: the fixture's stands in.
  TempDir dir;
  fs::copy_file(ml_fixtures() + "/ml1m/ratings.dat", dir.file("ratings.dat"));
  fs::create_symlink(real + "/movies.dat", dir.file("movies.dat"));
  fs::create_symlink(real + "/users.dat", dir.file("users.dat"));
  const RawLog log = load_ml1m(dir.str());
  EXPECT_EQ(log.size(), 4u);
  EXPECT_EQ(log.skipped_rows, 0u);
  EXPECT_EQ(log.item_meta.size(), 3883u);
  EXPECT_EQ(log.user_meta.size(), 6040u);
  EXPECT_EQ(log.genre_names.size(), 18u);
  EXPECT_EQ(log.item_meta.at("1").title, "Toy Story (1995)");
  EXPECT_EQ(genre_names_of(log, "1"), (std::vector<std::string>{"Animation", "Children's", "Comedy"}));
  EXPECT_EQ(log.item_meta.at("73").title, "Mis\xC3\xA9rables, Les (1995)");
  for (const auto& [key, info] : log.item_meta) {
    EXPECT_TRUE(loaders::is_utf8(info.title)) << key;
    EXPECT_GE(info.year, 1900) << key;
  }
  const UserInfo& u1 = log.user_meta.at("1");
  EXPECT_EQ(u1.gender, 'F');
  EXPECT_EQ(u1.age, 1);
  EXPECT_EQ(u1.age_bucket, 0);
  EXPECT_EQ(u1.occupation, "K-12 student");
  EXPECT_EQ(log.user_meta.at("2").occupation, "self-employed");
  std::set<int32_t> buckets;
  for (const auto& [key, info] : log.user_meta) buckets.insert(info.age_bucket);
  EXPECT_EQ(buckets, (std::set<int32_t>{0, 1, 2, 3, 4, 5, 6}));
}

}  // namespace
}  // namespace cascade
