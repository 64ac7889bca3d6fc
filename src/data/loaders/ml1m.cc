// MovieLens 1M and 10M (GroupLens, 2003 / 2009; Harper & Konstan, ACM TiiS 2015): a
// folder of '::'-separated files, Latin-1 in ML-1M:
//   ratings.dat  UserID::MovieID::Rating::Timestamp             (required)
//   movies.dat   MovieID::Title::Genres ('|' between genres)   (optional)
//   users.dat    UserID::Gender::Age::Occupation::Zip-code     (optional; ML-1M only)
//   tags.dat     UserID::MovieID::Tag::Timestamp               (optional; ML-10M only)
// Age is the ML-1M code (1, 18, 25, 35, 45, 50, 56); Occupation a code 0..20 named as in
// the ML-1M README. Genre and tag names are sorted byte-wise.
#include <array>
#include <string>
#include <vector>

#include "cascade/data/loaders.h"
#include "data/loaders/rows.h"

namespace cascade {

namespace {

using loaders::Encoding;
using loaders::RowError;
using loaders::TableFormat;

// Occupation codes of ML-1M users.dat, from the dataset's README.
constexpr std::array<const char*, 21> kOccupations = {
    "other",          "academic/educator",   "artist",
    "clerical/admin", "college/grad student", "customer service",
    "doctor/health care", "executive/managerial", "farmer",
    "homemaker",      "K-12 student",        "lawyer",
    "programmer",     "retired",             "sales/marketing",
    "scientist",      "self-employed",       "technician/engineer",
    "tradesman/craftsman", "unemployed",     "writer"};

TableFormat dat_table(std::vector<std::string> names, Encoding enc) {
  TableFormat t;
  t.sep = "::";
  t.encoding = enc;
  for (const auto& n : names) t.header_names.push_back({loaders::normalize_name(n)});
  t.names = std::move(names);
  return t;
}

/// Fields [from, to) joined with "::" (a title or tag that itself contained "::").
std::string_view joined(const std::vector<std::string_view>& f, size_t from, size_t to) {
  // The fields are views into one record, in order: the span from the first to the last.
  const char* b = f[from].data();
  const char* e = f[to - 1].data() + f[to - 1].size();
  return std::string_view(b, static_cast<size_t>(e - b));
}

void read_movies(const std::string& path, const LoadOptions& opt, Encoding enc,
                 loaders::NameTable& genres, RawLog& log) {
  TableFormat t = dat_table({"MovieID", "Title", "Genres"}, enc);
  t.max_fields = std::numeric_limits<size_t>::max();
  std::string key;
  loaders::FirstLines first_line;
  loaders::for_each_row(
      path, t, opt.skip_bad_rows, log.skipped_rows,
      [&](const std::vector<std::string_view>& f, size_t line, RowError& err) {
        if (!loaders::parse_id_key(f[0], "MovieID", key, err)) return false;
        if (!first_line.check_new(key, "MovieID", "movie id", err)) return false;
        ItemInfo info;
        info.title = loaders::decode_text(loaders::trim(joined(f, 1, f.size() - 1)), enc);
        info.year = loaders::year_from_title(info.title);
        std::string_view g = f.back();
        while (!g.empty()) {
          const size_t bar = g.find('|');
          const std::string_view name = loaders::trim(g.substr(0, bar));
          if (!name.empty() && name != "(no genres listed)") {
            info.genres.push_back(static_cast<uint16_t>(genres.intern(loaders::decode_text(name, enc))));
          }
          if (bar == std::string_view::npos) break;
          g.remove_prefix(bar + 1);
        }
        if (genres.size() > 65535) return err.fail("Genres", "more than 65535 distinct genres");
        first_line.record(key, line);
        log.item_meta[key] = std::move(info);
        return true;
      });
}

void read_users(const std::string& path, const LoadOptions& opt, Encoding enc, RawLog& log) {
  TableFormat t = dat_table({"UserID", "Gender", "Age", "Occupation", "Zip-code"}, enc);
  std::string key;
  loaders::FirstLines first_line;
  loaders::for_each_row(
      path, t, opt.skip_bad_rows, log.skipped_rows,
      [&](const std::vector<std::string_view>& f, size_t line, RowError& err) {
        if (!loaders::parse_id_key(f[0], "UserID", key, err)) return false;
        UserInfo info;
        const std::string_view g = loaders::trim(f[1]);
        if (g == "M" || g == "F") {
          info.gender = g[0];
        } else if (!g.empty()) {
          return err.fail("Gender", "expected M or F, got '" + loaders::printable(g) + "'");
        }
        if (!loaders::parse_i32(f[2], info.age) || info.age < 0 || info.age > 150) {
          return err.fail("Age", "not an age code: '" + loaders::printable(f[2]) + "'");
        }
        info.age_bucket = age_bucket(info.age);
        int32_t occ = 0;
        if (!loaders::parse_i32(f[3], occ) || occ < 0 || occ >= static_cast<int32_t>(kOccupations.size())) {
          return err.fail("Occupation", "not an occupation code 0..20: '" + loaders::printable(f[3]) + "'");
        }
        info.occupation = kOccupations[static_cast<size_t>(occ)];
        if (!first_line.check_new(key, "UserID", "user id", err)) return false;
        first_line.record(key, line);
        log.user_meta[key] = std::move(info);
        return true;
      });
}

void read_tags(const std::string& path, const LoadOptions& opt, Encoding enc,
               loaders::NameTable& tags, RawLog& log) {
  TableFormat t = dat_table({"UserID", "MovieID", "Tag", "Timestamp"}, enc);
  t.max_fields = std::numeric_limits<size_t>::max();
  std::string key;
  loaders::for_each_row(
      path, t, opt.skip_bad_rows, log.skipped_rows,
      [&](const std::vector<std::string_view>& f, size_t, RowError& err) {
        uint64_t user = 0;
        int64_t ts = 0;
        if (!loaders::parse_u64(f[0], user)) {
          return err.fail("UserID", "not a numeric id: '" + loaders::printable(f[0]) + "'");
        }
        if (!loaders::parse_id_key(f[1], "MovieID", key, err)) return false;
        if (!loaders::parse_i64(f.back(), ts)) {
          return err.fail("Timestamp", "not an integer timestamp: '" + loaders::printable(f.back()) + "'");
        }
        const std::string tag =
            loaders::utf8_lower(loaders::trim(loaders::decode_text(joined(f, 2, f.size() - 1), enc)));
        if (!tag.empty()) log.item_meta[key].tags.push_back(tags.intern(tag));
        return true;
      });
}

}  // namespace

RawLog load_ml1m(const std::string& dir, const LoadOptions& opt) {
  loaders::require_dir(dir);
  const Encoding enc = loaders::parse_encoding(opt.encoding, Encoding::kAuto);
  RawLog log;
  log.source = dir;

  loaders::InteractionSpec spec;
  spec.table = dat_table({"UserID", "MovieID", "Rating", "Timestamp"}, enc);
  spec.table.header_names.clear();
  for (const char* role : {"user", "item", "rating", "timestamp"}) {
    spec.table.header_names.push_back(loaders::role_aliases(role));
  }
  loaders::read_interactions(loaders::join_path(dir, "ratings.dat"), spec, opt, log);

  loaders::NameTable genres;
  loaders::NameTable tags;
  const std::string movies = loaders::join_path(dir, "movies.dat");
  if (loaders::file_exists(movies)) read_movies(movies, opt, enc, genres, log);
  const std::string users = loaders::join_path(dir, "users.dat");
  if (loaders::file_exists(users)) read_users(users, opt, enc, log);
  const std::string tag_file = loaders::join_path(dir, "tags.dat");
  if (loaders::file_exists(tag_file)) read_tags(tag_file, opt, enc, tags, log);
  loaders::finalize_meta(log, &genres, &tags);
  return log;
}

}  // namespace cascade
