// Private: the row loop shared by every loader file (reading, splitting, header
// detection, column counts, encoding checks, the skip-bad-rows policy), id interning,
// genre/tag name tables and the interaction-file reader built on them.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cascade/core/error.h"
#include "cascade/data/loaders.h"
#include "cascade/data/raw_log.h"
#include "data/loaders/text_io.h"

namespace cascade::loaders {

/// Hash for unordered_map<std::string, ...> lookups by std::string_view (no temporary).
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <class V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

/// How one delimited file is laid out.
struct TableFormat {
  std::string sep;
  bool quoted = false;  ///< RFC 4180 quotes (single-char sep only)
  /// Column names, used in messages ("field 'rating'").
  std::vector<std::string> names;
  /// Per column, the normalize_name() spellings a header line may use; an empty list
  /// accepts anything (ignored columns). A line matching every column is a header.
  std::vector<std::vector<std::string>> header_names;
  size_t min_fields = 0;  ///< 0: names.size()
  size_t max_fields = 0;  ///< 0: names.size()
  bool first_line_is_header = false;  ///< else detected (see header_names)
  Encoding encoding = Encoding::kUtf8;
};

/// What a row callback reports for a bad row.
struct RowError {
  std::string field;
  std::string what;
  bool fail(std::string f, std::string w) {
    field = std::move(f);
    what = std::move(w);
    return false;
  }
};

/// Where each id of a metadata file was first seen: a repeated id is a bad row whose
/// message names the earlier line ("duplicate movie id 7 (first on line 3)").
class FirstLines {
 public:
  /// False, with `err` filled, when `key` was already recorded.
  bool check_new(const std::string& key, const std::string& field, const std::string& what,
                 RowError& err) const {
    auto it = lines_.find(key);
    if (it == lines_.end()) return true;
    return err.fail(field, "duplicate " + what + " " + key + " (first on line " +
                               std::to_string(it->second) + ")");
  }
  void record(const std::string& key, size_t line) { lines_.emplace(key, line); }

 private:
  StringMap<size_t> lines_;
};

/// Reads every row of `path` and hands the fields to `fn`, called as
/// fn(const std::vector<std::string_view>& fields, size_t line, RowError& err) -> bool
/// (a template, so that the per-row call inlines).
/// Blank lines are skipped; a header line (first line) is skipped; a header-like line
/// later is a bad row, as are rows with the wrong field count, malformed quotes, invalid
/// UTF-8 (kUtf8) and rows `fn` rejects. A bad row throws DataError(path, line, field,
/// what), or under skip_bad_rows is counted in `skipped`. An empty file always throws.
/// Returns the number of rows `fn` accepted.
template <class Fn>
size_t for_each_row(const std::string& path, const TableFormat& fmt, bool skip_bad_rows,
                    size_t& skipped, Fn&& fn);

/// Interns raw ids into dense indices in order of first appearance; keys_ receives the
/// raw id text (numeric ids: canonical decimal, so "007" and "7" are one id).
class IdInterner {
 public:
  explicit IdInterner(std::vector<std::string>* keys) : keys_(keys) {}
  uint32_t intern_number(uint64_t id);
  uint32_t intern_string(std::string_view id);

 private:
  uint32_t add(std::string key);

  /// Numeric ids below this use a direct table (4 bytes per id up to the largest seen,
  /// while that stays within 16 slots per distinct id); others a hash map. MovieLens ids
  /// are all well below it.
  static constexpr uint64_t kDirectLimit = uint64_t{1} << 22;
  std::vector<std::string>* keys_;
  std::vector<uint32_t> direct_;  // id -> dense index + 1; 0 = not seen
  std::unordered_map<uint64_t, uint32_t> big_;
  StringMap<uint32_t> strings_;
};

/// Genre or tag names, interned in order of first appearance.
class NameTable {
 public:
  uint32_t intern(std::string_view name);
  size_t size() const { return names_.size(); }
  /// Sorts the names byte-wise; returns old index -> new index.
  std::vector<uint32_t> sort();
  std::vector<std::string>& names() { return names_; }

 private:
  std::vector<std::string> names_;
  StringMap<uint32_t> index_;
};

/// Sorts names of `genres` (when non-null) and `tags` into log.genre_names /
/// log.tag_names, remaps every item's indices, and sorts each item's genres (unique) and
/// tags (repeats kept) ascending.
void finalize_meta(RawLog& log, NameTable* genres, NameTable* tags);

/// The normalize_name() spellings a header may use for user / item / rating / timestamp.
const std::vector<std::string>& role_aliases(std::string_view role);

/// An interaction file: which columns hold what.
struct InteractionSpec {
  TableFormat table;
  int user_col = 0;
  int item_col = 1;
  int rating_col = 2;     ///< -1: none (every row rating 1, has_rating false)
  int timestamp_col = 3;  ///< -1: none (timestamp = row index, has_timestamp false)
  bool numeric_ids = true;
};

/// Appends the rows of an interaction file to `log` (user, item, rating, timestamp, keys),
/// sets has_rating / has_timestamp. Throws when no row is left.
void read_interactions(const std::string& path, const InteractionSpec& spec,
                       const LoadOptions& opt, RawLog& log);

/// Throws DataError(dir, 0, ...) unless `dir` is an existing folder.
void require_dir(const std::string& dir);
/// dir + "/" + name.
std::string join_path(const std::string& dir, const std::string& name);
bool file_exists(const std::string& path);

/// A numeric MovieLens id field, as its canonical decimal key; false with err set when not.
bool parse_id_key(std::string_view field, const std::string& name, std::string& key,
                  RowError& err);

/// The standard message for invalid UTF-8.
std::string invalid_utf8_message(std::string_view field, size_t offset);

// ---------------------------------------------------------------------------------------
// Implementation of for_each_row.

namespace detail {
/// normalize_name(s) == norm, without allocating.
bool normalized_equals(std::string_view s, std::string_view norm);
bool header_like(const std::vector<std::string_view>& f, const TableFormat& fmt);
bool same_header(const std::vector<std::string_view>& f, const std::vector<std::string>& norm);
std::string field_name(const TableFormat& fmt, size_t index);
std::string count_message(const TableFormat& fmt, size_t found);
}  // namespace detail

template <class Fn>
size_t for_each_row(const std::string& path, const TableFormat& fmt, bool skip_bad_rows,
                    size_t& skipped, Fn&& fn) {
  const size_t min_fields = fmt.min_fields ? fmt.min_fields : fmt.names.size();
  const size_t max_fields = fmt.max_fields ? fmt.max_fields : fmt.names.size();
  RecordReader reader(path, fmt.quoted, fmt.sep.empty() ? ',' : fmt.sep[0]);
  FieldSplitter splitter(fmt.sep, fmt.quoted);
  std::vector<std::string> header;  // normalized fields of the file's header line, if any
  bool any = false;
  size_t accepted = 0;
  RowError err;
  auto bad = [&](size_t line, const std::string& field, const std::string& what) {
    if (!skip_bad_rows) throw DataError(path, line, field, what);
    ++skipped;
  };
  std::string_view record;
  while (reader.next(record)) {
    if (is_blank(record)) continue;
    const size_t line = reader.line();
    const bool first = !any;
    any = true;
    if (!splitter.split(record)) {
      bad(line, detail::field_name(fmt, splitter.error_field()), splitter.error());
      continue;
    }
    const std::vector<std::string_view>& f = splitter.fields();
    if (first) {
      if (fmt.first_line_is_header || detail::header_like(f, fmt)) {
        for (std::string_view s : f) header.push_back(normalize_name(s));
        continue;
      }
    } else if (detail::header_like(f, fmt) || (!header.empty() && detail::same_header(f, header))) {
      bad(line, "header", "duplicate header line inside the data");
      continue;
    }
    if (f.size() < min_fields || f.size() > max_fields) {
      bad(line, f.size() < min_fields ? detail::field_name(fmt, f.size()) : detail::field_name(fmt, max_fields),
          detail::count_message(fmt, f.size()));
      continue;
    }
    if (fmt.encoding == Encoding::kUtf8 && !is_ascii(record)) {
      size_t bad_field = f.size();
      size_t offset = 0;
      for (size_t i = 0; i < f.size(); ++i) {
        offset = utf8_invalid_at(f[i]);
        if (offset != std::string_view::npos) {
          bad_field = i;
          break;
        }
      }
      if (bad_field < f.size()) {
        bad(line, detail::field_name(fmt, bad_field), invalid_utf8_message(f[bad_field], offset));
        continue;
      }
    }
    if (!fn(f, line, err)) {
      bad(line, err.field, err.what);
      continue;
    }
    ++accepted;
  }
  if (!any) throw DataError(path, 1, "", "empty file");
  return accepted;
}

}  // namespace cascade::loaders
