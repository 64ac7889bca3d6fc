#include "data/loaders/rows.h"

#include <algorithm>
#include <filesystem>
#include <numeric>

#include "cascade/util/progress.h"

namespace cascade::loaders {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------
// IdInterner

uint32_t IdInterner::add(std::string key) {
  CASCADE_CHECK(keys_->size() < std::numeric_limits<uint32_t>::max() - 1,
                "more than 4 billion distinct ids");
  keys_->push_back(std::move(key));
  return static_cast<uint32_t>(keys_->size() - 1);
}

uint32_t IdInterner::intern_number(uint64_t id) {
  // The table grows only while it stays dense enough (a tiny file with id 4,000,000 must
  // not allocate 16 MB); sparse ids go to big_, and move to the table when it grows over them.
  if (id >= direct_.size() && id < kDirectLimit && id < 16 * keys_->size() + 4096) {
    direct_.resize(std::min<uint64_t>(kDirectLimit, std::max<uint64_t>(id + 1, direct_.size() * 2)), 0);
    for (auto it = big_.begin(); it != big_.end();) {
      if (it->first < direct_.size()) {
        direct_[it->first] = it->second + 1;
        it = big_.erase(it);
      } else {
        ++it;
      }
    }
  }
  if (id < direct_.size()) {
    uint32_t& slot = direct_[id];
    if (slot == 0) slot = add(u64_to_string(id)) + 1;
    return slot - 1;
  }
  auto it = big_.find(id);
  if (it != big_.end()) return it->second;
  const uint32_t dense = add(u64_to_string(id));
  big_.emplace(id, dense);
  return dense;
}

uint32_t IdInterner::intern_string(std::string_view id) {
  auto it = strings_.find(id);
  if (it != strings_.end()) return it->second;
  const uint32_t dense = add(std::string(id));
  strings_.emplace(std::string(id), dense);
  return dense;
}

// ---------------------------------------------------------------------------------------
// NameTable

uint32_t NameTable::intern(std::string_view name) {
  auto it = index_.find(name);
  if (it != index_.end()) return it->second;
  const auto idx = static_cast<uint32_t>(names_.size());
  names_.emplace_back(name);
  index_.emplace(std::string(name), idx);
  return idx;
}

std::vector<uint32_t> NameTable::sort() {
  std::vector<uint32_t> order(names_.size());
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return names_[a] < names_[b]; });
  std::vector<uint32_t> remap(names_.size());
  std::vector<std::string> sorted(names_.size());
  for (size_t k = 0; k < order.size(); ++k) {
    remap[order[k]] = static_cast<uint32_t>(k);
    sorted[k] = std::move(names_[order[k]]);
  }
  names_ = std::move(sorted);
  index_.clear();
  for (size_t k = 0; k < names_.size(); ++k) index_.emplace(names_[k], static_cast<uint32_t>(k));
  return remap;
}

void finalize_meta(RawLog& log, NameTable* genres, NameTable* tags) {
  std::vector<uint32_t> genre_map;
  std::vector<uint32_t> tag_map;
  if (genres != nullptr) {
    CASCADE_CHECK(genres->size() <= 65535, "more than 65535 genres");
    genre_map = genres->sort();
    log.genre_names = genres->names();
  }
  if (tags != nullptr) {
    tag_map = tags->sort();
    log.tag_names = tags->names();
  }
  for (auto& [key, info] : log.item_meta) {
    if (genres != nullptr) {
      for (auto& g : info.genres) g = static_cast<uint16_t>(genre_map[g]);
    }
    std::sort(info.genres.begin(), info.genres.end());
    info.genres.erase(std::unique(info.genres.begin(), info.genres.end()), info.genres.end());
    if (tags != nullptr) {
      for (auto& t : info.tags) t = tag_map[t];
    }
    std::sort(info.tags.begin(), info.tags.end());
  }
}

// ---------------------------------------------------------------------------------------
// Helpers

const std::vector<std::string>& role_aliases(std::string_view role) {
  static const std::vector<std::string> kUser = {"user", "userid", "uid", "users"};
  static const std::vector<std::string> kItem = {"item",  "itemid", "iid",     "items",
                                                 "movie", "movieid", "product", "productid"};
  static const std::vector<std::string> kRating = {"rating", "ratings", "score", "value", "stars"};
  static const std::vector<std::string> kTimestamp = {"timestamp", "time",     "ts",
                                                      "date",      "datetime", "unixtime"};
  static const std::vector<std::string> kNone;
  if (role == "user") return kUser;
  if (role == "item") return kItem;
  if (role == "rating") return kRating;
  if (role == "timestamp") return kTimestamp;
  return kNone;
}

void require_dir(const std::string& dir) {
  std::error_code ec;
  const fs::file_status st = fs::status(dir, ec);
  if (ec || !fs::exists(st)) throw DataError(dir, 0, "", "folder not found");
  if (!fs::is_directory(st)) throw DataError(dir, 0, "", "not a folder");
}

std::string join_path(const std::string& dir, const std::string& name) {
  if (dir.empty() || dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

bool file_exists(const std::string& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

std::string invalid_utf8_message(std::string_view field, size_t offset) {
  const auto byte = offset < field.size() ? static_cast<unsigned char>(field[offset]) : 0u;
  static const char* kHex = "0123456789ABCDEF";
  std::string hex = "0x";
  hex += kHex[byte >> 4];
  hex += kHex[byte & 15];
  return "invalid UTF-8 (byte " + hex + " at offset " + std::to_string(offset) +
         " of the field): unknown encoding; the file must be UTF-8 (or load it with "
         "encoding latin-1)";
}

bool parse_id_key(std::string_view field, const std::string& name, std::string& key,
                  RowError& err) {
  uint64_t v = 0;
  if (!parse_u64(field, v)) {
    return err.fail(name, "not a numeric id: '" + printable(field) + "'");
  }
  key = u64_to_string(v);
  return true;
}

namespace detail {

bool normalized_equals(std::string_view s, std::string_view norm) {
  s = trim(s);
  size_t j = 0;
  for (char c : s) {
    if (c == ' ' || c == '_' || c == '-' || c == '.') continue;
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (j >= norm.size() || norm[j] != c) return false;
    ++j;
  }
  return j == norm.size();
}

bool header_like(const std::vector<std::string_view>& f, const TableFormat& fmt) {
  if (f.size() != fmt.header_names.size()) return false;
  bool checked = false;
  for (size_t i = 0; i < f.size(); ++i) {
    const auto& accept = fmt.header_names[i];
    if (accept.empty()) continue;
    // Fast exit for data rows: no header name starts with a digit.
    const std::string_view v = trim(f[i]);
    if (v.empty() || (v[0] >= '0' && v[0] <= '9')) return false;
    bool ok = false;
    for (const auto& a : accept) {
      if (normalized_equals(f[i], a)) {
        ok = true;
        break;
      }
    }
    if (!ok) return false;
    checked = true;
  }
  return checked;
}

bool same_header(const std::vector<std::string_view>& f, const std::vector<std::string>& norm) {
  if (f.size() != norm.size()) return false;
  for (size_t i = 0; i < f.size(); ++i) {
    if (!normalized_equals(f[i], norm[i])) return false;
  }
  return true;
}

std::string field_name(const TableFormat& fmt, size_t index) {
  if (index < fmt.names.size()) return fmt.names[index];
  return "field " + std::to_string(index + 1);
}

std::string count_message(const TableFormat& fmt, size_t found) {
  const size_t lo = fmt.min_fields ? fmt.min_fields : fmt.names.size();
  const size_t hi = fmt.max_fields ? fmt.max_fields : fmt.names.size();
  std::string sep = fmt.sep == "\t" ? "\\t" : fmt.sep;
  std::string expected = lo == hi ? std::to_string(lo)
                         : hi == std::numeric_limits<size_t>::max() ? "at least " + std::to_string(lo)
                                                                    : std::to_string(lo) + " to " + std::to_string(hi);
  return "wrong column count: expected " + expected + " fields separated by '" + sep +
         "', found " + std::to_string(found);
}

}  // namespace detail

// ---------------------------------------------------------------------------------------
// Interactions

void read_interactions(const std::string& path, const InteractionSpec& spec,
                       const LoadOptions& opt, RawLog& log) {
  IdInterner users(&log.user_keys);
  IdInterner items(&log.item_keys);
  const bool has_rating = spec.rating_col >= 0;
  const bool has_timestamp = spec.timestamp_col >= 0;
  log.has_rating = has_rating;
  log.has_timestamp = has_timestamp;
  const auto uc = static_cast<size_t>(spec.user_col);
  const auto ic = static_cast<size_t>(spec.item_col);
  const auto rc = static_cast<size_t>(std::max(spec.rating_col, 0));
  const auto tc = static_cast<size_t>(std::max(spec.timestamp_col, 0));
  const std::vector<std::string>& names = spec.table.names;
  const Encoding enc = spec.table.encoding;

  // Rows are ~20-30 bytes in every MovieLens file; over-reserving a little is cheaper than
  // re-growing four arrays for a 25M-row file.
  std::error_code ec;
  const auto bytes = fs::file_size(path, ec);
  if (!ec) {
    const size_t guess = static_cast<size_t>(bytes / 24) + 16;
    log.user.reserve(log.user.size() + guess);
    log.item.reserve(log.item.size() + guess);
    log.rating.reserve(log.rating.size() + guess);
    log.timestamp.reserve(log.timestamp.size() + guess);
  }

  auto intern_text = [&](IdInterner& interner, std::string_view id) {
    if (enc != Encoding::kUtf8 && !is_ascii(id)) return interner.intern_string(decode_text(id, enc));
    return interner.intern_string(id);
  };

  // The row count is not known before the end (the size guess above is only for reserving).
  Progress progress("reading " + fs::path(path).filename().string(), 0, "rows");
  size_t since_report = 0;  // rows since the last Progress::add (one clock read per 64K rows)
  auto row = [&](const std::vector<std::string_view>& f, size_t, RowError& err) -> bool {
    if (++since_report == 65536) {
      progress.add(since_report);
      since_report = 0;
    }
    uint64_t un = 0;
    uint64_t in = 0;
    std::string_view us;
    std::string_view is;
    if (spec.numeric_ids) {
      if (!parse_u64(f[uc], un)) return err.fail(names[uc], "not a numeric id: '" + printable(f[uc]) + "'");
      if (!parse_u64(f[ic], in)) return err.fail(names[ic], "not a numeric id: '" + printable(f[ic]) + "'");
    } else {
      us = trim(f[uc]);
      is = trim(f[ic]);
      if (us.empty()) return err.fail(names[uc], "empty id");
      if (is.empty()) return err.fail(names[ic], "empty id");
    }
    float r = 1.0f;
    if (has_rating && !parse_rating(f[rc], r)) {
      return err.fail(names[rc], std::string(rating_error(f[rc])) + ": '" + printable(f[rc]) + "'");
    }
    int64_t t = static_cast<int64_t>(log.user.size());
    if (has_timestamp && !parse_i64(f[tc], t)) {
      return err.fail(names[tc], "not an integer timestamp: '" + printable(f[tc]) + "'");
    }
    if (spec.numeric_ids) {
      log.user.push_back(users.intern_number(un));
      log.item.push_back(items.intern_number(in));
    } else {
      log.user.push_back(intern_text(users, us));
      log.item.push_back(intern_text(items, is));
    }
    log.rating.push_back(r);
    log.timestamp.push_back(t);
    return true;
  };

  const size_t skipped_before = log.skipped_rows;
  const size_t n = for_each_row(path, spec.table, opt.skip_bad_rows, log.skipped_rows, row);
  if (n == 0) {
    const size_t skipped = log.skipped_rows - skipped_before;
    throw DataError(path, 0, "",
                    skipped > 0 ? "no valid interaction rows (" + std::to_string(skipped) +
                                      " bad rows skipped)"
                                : "no interaction rows");
  }
}

}  // namespace cascade::loaders
