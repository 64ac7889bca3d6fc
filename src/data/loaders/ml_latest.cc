// MovieLens "latest" family (ml-latest, ml-latest-small, ml-20m, ml-25m; GroupLens;
// Harper & Konstan, ACM TiiS 2015): a folder of UTF-8 CSV files with a header line,
// RFC 4180 quoting, LF or CRLF:
//   ratings.csv  userId,movieId,rating,timestamp   (required)
//   movies.csv   movieId,title,genres              (optional; "(no genres listed)" = none)
//   tags.csv     userId,movieId,tag,timestamp      (optional; tags lower-cased and trimmed)
// links.csv and genome-* files are not read. Genre and tag names are sorted byte-wise.
#include <string>
#include <vector>

#include "cascade/data/loaders.h"
#include "data/loaders/rows.h"

namespace cascade {

namespace {

using loaders::Encoding;
using loaders::RowError;
using loaders::TableFormat;

TableFormat csv_table(std::vector<std::string> names, Encoding enc) {
  TableFormat t;
  t.sep = ",";
  t.quoted = true;
  t.encoding = enc;
  for (const auto& n : names) t.header_names.push_back({loaders::normalize_name(n)});
  t.names = std::move(names);
  return t;
}

void read_movies(const std::string& path, const LoadOptions& opt, Encoding enc,
                 loaders::NameTable& genres, RawLog& log) {
  TableFormat t = csv_table({"movieId", "title", "genres"}, enc);
  std::string key;
  loaders::FirstLines first_line;
  loaders::for_each_row(
      path, t, opt.skip_bad_rows, log.skipped_rows,
      [&](const std::vector<std::string_view>& f, size_t line, RowError& err) {
        if (!loaders::parse_id_key(f[0], "movieId", key, err)) return false;
        if (!first_line.check_new(key, "movieId", "movie id", err)) return false;
        ItemInfo info;
        info.title = loaders::decode_text(loaders::trim(f[1]), enc);
        info.year = loaders::year_from_title(info.title);
        std::string_view g = f[2];
        while (!g.empty()) {
          const size_t bar = g.find('|');
          const std::string_view name = loaders::trim(g.substr(0, bar));
          if (!name.empty() && name != "(no genres listed)") {
            info.genres.push_back(static_cast<uint16_t>(genres.intern(loaders::decode_text(name, enc))));
          }
          if (bar == std::string_view::npos) break;
          g.remove_prefix(bar + 1);
        }
        if (genres.size() > 65535) return err.fail("genres", "more than 65535 distinct genres");
        first_line.record(key, line);
        log.item_meta[key] = std::move(info);
        return true;
      });
}

void read_tags(const std::string& path, const LoadOptions& opt, Encoding enc,
               loaders::NameTable& tags, RawLog& log) {
  TableFormat t = csv_table({"userId", "movieId", "tag", "timestamp"}, enc);
  std::string key;
  loaders::for_each_row(
      path, t, opt.skip_bad_rows, log.skipped_rows,
      [&](const std::vector<std::string_view>& f, size_t, RowError& err) {
        uint64_t user = 0;
        int64_t ts = 0;
        if (!loaders::parse_u64(f[0], user)) {
          return err.fail("userId", "not a numeric id: '" + loaders::printable(f[0]) + "'");
        }
        if (!loaders::parse_id_key(f[1], "movieId", key, err)) return false;
        if (!loaders::parse_i64(f[3], ts)) {
          return err.fail("timestamp", "not an integer timestamp: '" + loaders::printable(f[3]) + "'");
        }
        const std::string tag = loaders::utf8_lower(loaders::trim(loaders::decode_text(f[2], enc)));
        if (!tag.empty()) log.item_meta[key].tags.push_back(tags.intern(tag));
        return true;
      });
}

}  // namespace

RawLog load_ml_latest(const std::string& dir, const LoadOptions& opt) {
  loaders::require_dir(dir);
  const Encoding enc = loaders::parse_encoding(opt.encoding, Encoding::kUtf8);
  RawLog log;
  log.source = dir;

  loaders::InteractionSpec spec;
  spec.table = csv_table({"userId", "movieId", "rating", "timestamp"}, enc);
  spec.table.header_names.clear();
  for (const char* role : {"user", "item", "rating", "timestamp"}) {
    spec.table.header_names.push_back(loaders::role_aliases(role));
  }
  loaders::read_interactions(loaders::join_path(dir, "ratings.csv"), spec, opt, log);

  loaders::NameTable genres;
  loaders::NameTable tags;
  const std::string movies = loaders::join_path(dir, "movies.csv");
  if (loaders::file_exists(movies)) read_movies(movies, opt, enc, genres, log);
  const std::string tag_file = loaders::join_path(dir, "tags.csv");
  if (loaders::file_exists(tag_file)) read_tags(tag_file, opt, enc, tags, log);
  loaders::finalize_meta(log, &genres, &tags);
  return log;
}

}  // namespace cascade
