// Loaders for MovieLens and generic delimited logs.
//
// Every loader throws cascade::DataError naming the file, the 1-based line and the
// field for bad input (missing file, wrong column count, non-numeric field, invalid
// encoding, empty file, duplicate header), unless skip_bad_rows is set, in which case
// bad interaction rows are skipped and counted in RawLog::skipped_rows.
#pragma once

#include <string>
#include <vector>

#include "cascade/data/raw_log.h"

namespace cascade {

struct LoadOptions {
  bool skip_bad_rows = false;
  /// Generic CSV only: the separator (",", "\t", "::", ...) and the column list, a
  /// subsequence of user,item[,rating][,timestamp] naming the file's columns in order;
  /// other names ("-" or anything else) mark ignored columns. A missing rating column
  /// makes every row a positive (rating 1); a missing timestamp column makes file order the
  /// time order.
  std::string sep = ",";
  std::vector<std::string> columns = {"user", "item", "rating", "timestamp"};
  /// csv: the first line is a header. When false, a first line whose fields equal the
  /// column names (case-insensitive, e.g. "userId,movieId,...") is still taken as a header.
  bool header = false;
  /// Text encoding of titles, tags and (csv) string ids: "utf-8" (strict: invalid bytes are
  /// a DataError), "latin-1" (every byte is a character, converted to UTF-8) or "auto" (a
  /// field that is valid UTF-8 is kept, any other is read as Latin-1). Empty = the format's
  /// default: "auto" for ML-100K / ML-1M / ML-10M (Latin-1 in practice), "utf-8" otherwise.
  std::string encoding;
};

/// ML-100K folder: u.data (tab), u.item ('|', Latin-1), u.user ('|').
RawLog load_ml100k(const std::string& dir, const LoadOptions& opt = {});
/// ML-1M / ML-10M folder: ratings.dat, movies.dat, users.dat (if present); '::', Latin-1.
RawLog load_ml1m(const std::string& dir, const LoadOptions& opt = {});
/// ml-latest, ml-latest-small, ml-20m, ml-25m folder: ratings.csv, movies.csv, tags.csv.
RawLog load_ml_latest(const std::string& dir, const LoadOptions& opt = {});
/// A generic delimited file (or a folder holding exactly one such file named ratings.*).
RawLog load_csv(const std::string& path, const LoadOptions& opt);

/// Dispatches on NAME: ml-100k, ml-1m, ml-10m, ml-latest, ml-latest-small, ml-20m, ml-25m,
/// csv. An unknown name throws cascade::Error listing the valid names.
RawLog load_dataset(const std::string& name, const std::string& path, const LoadOptions& opt);

/// Parses a --columns value "user,item,rating,timestamp" into a list (validated): names
/// are trimmed and lower-cased; user and item are required, each known name may appear
/// once (in any order); any other non-empty name ("-", "tag", ...) is an ignored column.
std::vector<std::string> parse_columns(const std::string& text);

}  // namespace cascade
