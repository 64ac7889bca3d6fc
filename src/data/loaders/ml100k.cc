// MovieLens 100K (GroupLens, 1998; Harper & Konstan, ACM TiiS 2015): a folder with
//   u.data   user_id \t item_id \t rating \t timestamp          (required)
//   u.genre  name|index                                         (optional; built-in list)
//   u.item   id|title|release date|video date|url|19 genre flags (optional; Latin-1)
//   u.user   id|age|gender|occupation|zip                       (optional)
// The genre "unknown" (flag 0) is not a genre: an item flagged only "unknown" has no
// genres, like "(no genres listed)" in ml-latest, so genre_names holds the 18 real ones.
#include <string>
#include <vector>

#include "cascade/data/loaders.h"
#include "data/loaders/rows.h"

namespace cascade {

namespace {

using loaders::Encoding;
using loaders::RowError;
using loaders::TableFormat;

const std::vector<std::string> kDefaultGenres = {
    "unknown", "Action",   "Adventure", "Animation", "Children's", "Comedy",  "Crime",
    "Documentary", "Drama", "Fantasy",  "Film-Noir", "Horror",     "Musical", "Mystery",
    "Romance", "Sci-Fi",   "Thriller",  "War",       "Western"};

TableFormat pipe_table(std::vector<std::string> names, Encoding enc) {
  TableFormat t;
  t.sep = "|";
  t.encoding = enc;
  for (const auto& n : names) t.header_names.push_back({loaders::normalize_name(n)});
  t.names = std::move(names);
  return t;
}

/// u.genre -> names by flag column (gaps and duplicates are errors).
std::vector<std::string> read_genres(const std::string& path, const LoadOptions& opt,
                                     Encoding enc, RawLog& log) {
  TableFormat t = pipe_table({"genre", "index"}, enc);
  t.header_names = {{"genre", "name"}, {"index", "id"}};
  std::vector<std::string> by_index;
  std::vector<size_t> line_of;
  loaders::for_each_row(path, t, opt.skip_bad_rows, log.skipped_rows,
                        [&](const std::vector<std::string_view>& f, size_t line, RowError& err) {
                          int32_t idx = 0;
                          if (!loaders::parse_i32(f[1], idx) || idx < 0 || idx >= 256) {
                            return err.fail("index", "not a genre index 0..255: '" +
                                                         loaders::printable(f[1]) + "'");
                          }
                          const std::string name = loaders::decode_text(loaders::trim(f[0]), enc);
                          if (name.empty()) return err.fail("genre", "empty genre name");
                          const auto k = static_cast<size_t>(idx);
                          if (k >= by_index.size()) {
                            by_index.resize(k + 1);
                            line_of.resize(k + 1, 0);
                          }
                          if (line_of[k] != 0) {
                            return err.fail("index", "duplicate genre index " + std::to_string(k) +
                                                         " (first on line " +
                                                         std::to_string(line_of[k]) + ")");
                          }
                          by_index[k] = name;
                          line_of[k] = line;
                          return true;
                        });
  for (size_t k = 0; k < by_index.size(); ++k) {
    if (line_of[k] == 0) {
      throw DataError(path, 0, "index", "genre index " + std::to_string(k) + " is missing");
    }
  }
  if (by_index.empty()) throw DataError(path, 0, "", "no genres");
  return by_index;
}

void read_items(const std::string& path, const std::vector<std::string>& flag_names,
                const LoadOptions& opt, Encoding enc, RawLog& log) {
  // Flag column k -> index into log.genre_names, or -1 for "unknown".
  std::vector<int> flag_to_genre(flag_names.size(), -1);
  log.genre_names.clear();
  for (size_t k = 0; k < flag_names.size(); ++k) {
    if (loaders::ascii_lower(flag_names[k]) == "unknown") continue;
    flag_to_genre[k] = static_cast<int>(log.genre_names.size());
    log.genre_names.push_back(flag_names[k]);
  }
  std::vector<std::string> names = {"movie id", "movie title", "release date",
                                    "video release date", "IMDb URL"};
  for (const auto& g : flag_names) names.push_back(g);
  TableFormat t = pipe_table(std::move(names), enc);
  std::string key;
  loaders::FirstLines first_line;
  loaders::for_each_row(
      path, t, opt.skip_bad_rows, log.skipped_rows,
      [&](const std::vector<std::string_view>& f, size_t line, RowError& err) {
        if (!loaders::parse_id_key(f[0], t.names[0], key, err)) return false;
        ItemInfo info;
        for (size_t k = 0; k < flag_names.size(); ++k) {
          const std::string_view v = loaders::trim(f[5 + k]);
          if (v != "0" && v != "1") {
            return err.fail(t.names[5 + k], "genre flag must be 0 or 1, got '" +
                                                loaders::printable(v) + "'");
          }
          if (v == "1" && flag_to_genre[k] >= 0) info.genres.push_back(static_cast<uint16_t>(flag_to_genre[k]));
        }
        if (!first_line.check_new(key, t.names[0], "movie id", err)) return false;
        info.title = loaders::decode_text(loaders::trim(f[1]), enc);
        info.year = loaders::year_from_title(info.title);
        if (info.year < 0) info.year = loaders::year_from_date(f[2]);
        first_line.record(key, line);
        log.item_meta[key] = std::move(info);
        return true;
      });
}

void read_users(const std::string& path, const LoadOptions& opt, Encoding enc, RawLog& log) {
  TableFormat t = pipe_table({"user id", "age", "gender", "occupation", "zip code"}, enc);
  std::string key;
  loaders::FirstLines first_line;
  loaders::for_each_row(
      path, t, opt.skip_bad_rows, log.skipped_rows,
      [&](const std::vector<std::string_view>& f, size_t line, RowError& err) {
        if (!loaders::parse_id_key(f[0], t.names[0], key, err)) return false;
        UserInfo info;
        if (!loaders::parse_i32(f[1], info.age) || info.age < 0 || info.age > 150) {
          return err.fail("age", "not an age 0..150: '" + loaders::printable(f[1]) + "'");
        }
        info.age_bucket = age_bucket(info.age);
        const std::string_view g = loaders::trim(f[2]);
        info.gender = (g == "M" || g == "m") ? 'M' : (g == "F" || g == "f") ? 'F' : '?';
        info.occupation = loaders::decode_text(loaders::trim(f[3]), enc);
        if (!first_line.check_new(key, t.names[0], "user id", err)) return false;
        first_line.record(key, line);
        log.user_meta[key] = std::move(info);
        return true;
      });
}

}  // namespace

RawLog load_ml100k(const std::string& dir, const LoadOptions& opt) {
  loaders::require_dir(dir);
  const Encoding enc = loaders::parse_encoding(opt.encoding, Encoding::kAuto);
  RawLog log;
  log.source = dir;

  loaders::InteractionSpec spec;
  spec.table.sep = "\t";
  spec.table.names = {"user id", "item id", "rating", "timestamp"};
  for (const char* role : {"user", "item", "rating", "timestamp"}) {
    spec.table.header_names.push_back(loaders::role_aliases(role));
  }
  spec.table.encoding = enc;
  loaders::read_interactions(loaders::join_path(dir, "u.data"), spec, opt, log);

  std::vector<std::string> flag_names = kDefaultGenres;
  const std::string genre_path = loaders::join_path(dir, "u.genre");
  if (loaders::file_exists(genre_path)) flag_names = read_genres(genre_path, opt, enc, log);
  const std::string item_path = loaders::join_path(dir, "u.item");
  if (loaders::file_exists(item_path)) {
    read_items(item_path, flag_names, opt, enc, log);
  } else {
    for (const auto& g : flag_names) {
      if (loaders::ascii_lower(g) != "unknown") log.genre_names.push_back(g);
    }
  }
  const std::string user_path = loaders::join_path(dir, "u.user");
  if (loaders::file_exists(user_path)) read_users(user_path, opt, enc, log);
  loaders::finalize_meta(log, nullptr, nullptr);
  return log;
}

}  // namespace cascade
