// Generic delimited interaction logs (load_csv), the --columns parser and the dataset
// dispatcher (load_dataset).
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "cascade/data/loaders.h"
#include "data/loaders/rows.h"

namespace cascade {

namespace {

namespace fs = std::filesystem;

constexpr const char* kRoles[] = {"user", "item", "rating", "timestamp"};

/// Lower-cased, trimmed column names; throws cascade::Error when the list is unusable.
std::vector<std::string> normalize_columns(const std::vector<std::string>& columns,
                                           const std::string& text) {
  std::vector<std::string> out;
  for (const auto& c : columns) {
    std::string name = loaders::ascii_lower(loaders::trim(c));
    if (name.empty()) {
      throw Error("columns '" + text + "': empty column name (use '-' for an ignored column)");
    }
    out.push_back(std::move(name));
  }
  for (const char* role : kRoles) {
    const auto n = std::count(out.begin(), out.end(), role);
    if (n > 1) throw Error("columns '" + text + "': '" + role + "' appears more than once");
  }
  for (const char* role : {"user", "item"}) {
    if (std::find(out.begin(), out.end(), role) == out.end()) {
      throw Error("columns '" + text + "': no '" + role +
                  "' column (name the file's columns in order from user, item, rating, "
                  "timestamp; any other name, e.g. '-', is ignored)");
    }
  }
  return out;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
  return s;
}

std::string separator(const std::string& sep) {
  if (sep == "\\t" || sep == "tab" || sep == "TAB") return "\t";
  if (sep.empty()) throw Error("empty separator");
  return sep;
}

/// A folder holding exactly one ratings.* file -> that file; a file -> itself.
std::string resolve_file(const std::string& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return path;
  std::vector<std::string> found;
  for (const auto& e : fs::directory_iterator(path, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("ratings.", 0) == 0 && e.is_regular_file(ec)) found.push_back(e.path().string());
  }
  std::sort(found.begin(), found.end());
  if (found.empty()) throw DataError(path, 0, "", "no ratings.* file in the folder; pass the file itself");
  if (found.size() > 1) {
    throw DataError(path, 0, "", "several ratings.* files in the folder (" + join(found) +
                                     "); pass one of them");
  }
  return found[0];
}

}  // namespace

std::vector<std::string> parse_columns(const std::string& text) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    const size_t comma = text.find(',', start);
    parts.push_back(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return normalize_columns(parts, text);
}

RawLog load_csv(const std::string& path, const LoadOptions& opt) {
  const std::vector<std::string> columns = normalize_columns(opt.columns, join(opt.columns));
  const std::string file = resolve_file(path);
  RawLog log;
  log.source = file;

  loaders::InteractionSpec spec;
  spec.numeric_ids = false;
  spec.rating_col = -1;
  spec.timestamp_col = -1;
  spec.table.sep = separator(opt.sep);
  spec.table.quoted = spec.table.sep.size() == 1;
  spec.table.names = columns;
  spec.table.first_line_is_header = opt.header;
  spec.table.encoding = loaders::parse_encoding(opt.encoding, loaders::Encoding::kUtf8);
  for (size_t i = 0; i < columns.size(); ++i) {
    spec.table.header_names.push_back(loaders::role_aliases(columns[i]));
    const int col = static_cast<int>(i);
    if (columns[i] == "user") spec.user_col = col;
    if (columns[i] == "item") spec.item_col = col;
    if (columns[i] == "rating") spec.rating_col = col;
    if (columns[i] == "timestamp") spec.timestamp_col = col;
  }
  loaders::read_interactions(file, spec, opt, log);
  return log;
}

RawLog load_dataset(const std::string& name, const std::string& path, const LoadOptions& opt) {
  const std::string n = loaders::ascii_lower(loaders::trim(name));
  if (n == "ml-100k") return load_ml100k(path, opt);
  if (n == "ml-1m" || n == "ml-10m") return load_ml1m(path, opt);
  if (n == "ml-latest" || n == "ml-latest-small" || n == "ml-20m" || n == "ml-25m") {
    return load_ml_latest(path, opt);
  }
  if (n == "csv") return load_csv(path, opt);
  throw Error("unknown dataset '" + name +
              "' (valid: ml-100k, ml-1m, ml-10m, ml-latest, ml-latest-small, ml-20m, ml-25m, csv)");
}

}  // namespace cascade
