#include "data/loaders/text_io.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "cascade/core/error.h"

namespace cascade::loaders {

Encoding parse_encoding(const std::string& text, Encoding fallback) {
  if (text.empty()) return fallback;
  const std::string n = normalize_name(text);
  if (n == "utf8") return Encoding::kUtf8;
  if (n == "latin1" || n == "iso88591" || n == "l1") return Encoding::kLatin1;
  if (n == "auto") return Encoding::kAuto;
  throw Error("unknown encoding '" + text + "' (valid: utf-8, latin-1, auto)");
}

// ---------------------------------------------------------------------------------------
// RecordReader

RecordReader::RecordReader(const std::string& path, bool quoted, char quote_sep)
    : path_(path), quoted_(quoted), quote_sep_(quote_sep) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) throw DataError(path, 0, "", "file not found");
  if (fs::is_directory(st)) throw DataError(path, 0, "", "is a folder, expected a file");
  file_ = std::fopen(path.c_str(), "rb");
  if (file_ == nullptr) {
    throw DataError(path, 0, "", std::string("cannot open file: ") + std::strerror(errno));
  }
  const auto size = fs::file_size(path, ec);
  file_size_ = ec ? 0 : static_cast<uint64_t>(size);
  // Small files get a buffer of their own size (+1 so that the first fill sees EOF).
  buf_.resize(std::max<size_t>(4096, std::min<uint64_t>(kChunk, file_size_ + 1)));
}

RecordReader::~RecordReader() {
  if (file_ != nullptr) std::fclose(file_);
}

bool RecordReader::fill() {
  if (eof_) return false;
  if (pos_ > 0) {
    std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
    end_ -= pos_;
    pos_ = 0;
  }
  if (end_ == buf_.size()) buf_.resize(buf_.size() * 2);  // one record longer than a chunk
  const size_t n = std::fread(buf_.data() + end_, 1, buf_.size() - end_, file_);
  end_ += n;
  if (n == 0) {
    if (std::ferror(file_)) throw DataError(path_, next_line_, "", "read error");
    eof_ = true;
    return false;
  }
  return true;
}

bool RecordReader::ends_in_quotes(const char* from, const char* to, bool in_quotes) const {
  // A line without any quote cannot change the state.
  if (std::memchr(from, '"', static_cast<size_t>(to - from)) == nullptr) return in_quotes;
  bool at_field_start = !in_quotes;
  for (const char* p = from; p < to; ++p) {
    const char c = *p;
    if (in_quotes) {
      if (c == '"') {
        if (p + 1 < to && p[1] == '"') {
          ++p;
        } else {
          in_quotes = false;
        }
      }
    } else if (c == '"' && at_field_start) {
      in_quotes = true;
    } else {
      at_field_start = (c == quote_sep_);
      continue;
    }
    at_field_start = false;
  }
  return in_quotes;
}

bool RecordReader::next(std::string_view& record) {
  constexpr size_t npos = std::string_view::npos;
  size_t scan = 0;        // offset from pos_ where the next '\n' search starts
  size_t first_nl = npos; // offset of the record's first newline (quoted continuation)
  size_t newlines = 0;    // newlines inside the record
  bool in_quotes = false;
  size_t len = 0;         // record length (offset from pos_)
  size_t consumed = 0;    // bytes to drop, including the terminator
  for (;;) {
    const char* base = buf_.data() + pos_;
    const size_t avail = end_ - pos_;
    const void* hit = avail > scan ? std::memchr(base + scan, '\n', avail - scan) : nullptr;
    if (hit == nullptr) {
      if (fill()) continue;
      if (avail == 0) return false;
      if (in_quotes && first_nl != npos) {
        len = first_nl;  // unterminated quote at end of file: cut at the first line
        consumed = first_nl + 1;
        newlines = 0;
      } else {
        len = avail;  // the last record has no terminator
        consumed = avail;
      }
      break;
    }
    const size_t off = static_cast<size_t>(static_cast<const char*>(hit) - base);
    if (quoted_) {
      in_quotes = ends_in_quotes(base + scan, base + off, in_quotes);
      if (in_quotes) {
        if (first_nl == npos) first_nl = off;
        if (++newlines < kMaxRecordLines) {
          scan = off + 1;
          continue;
        }
        len = first_nl;  // too long to be a real field: cut and let the splitter complain
        consumed = first_nl + 1;
        newlines = 0;
        break;
      }
    }
    len = off;
    consumed = off + 1;
    break;
  }
  const char* base = buf_.data() + pos_;
  if (len > 0 && base[len - 1] == '\r') --len;
  record = std::string_view(base, len);
  // A UTF-8 byte order mark (spreadsheet exports) would hide the header line.
  if (next_line_ == 1 && record.substr(0, 3) == "\xEF\xBB\xBF") record.remove_prefix(3);
  pos_ += consumed;
  record_line_ = next_line_;
  next_line_ += 1 + newlines;
  return true;
}

// ---------------------------------------------------------------------------------------
// FieldSplitter

FieldSplitter::FieldSplitter(std::string sep, bool quoted)
    : sep_(std::move(sep)), quoted_(quoted && sep_.size() == 1) {}

bool FieldSplitter::split(std::string_view record) {
  fields_.clear();
  if (quoted_ && std::memchr(record.data(), '"', record.size()) != nullptr) {
    return split_quoted(record);
  }
  const char* p = record.data();
  const char* const e = p + record.size();
  if (sep_.size() == 1) {
    const char c = sep_[0];
    for (;;) {
      const void* q = std::memchr(p, c, static_cast<size_t>(e - p));
      if (q == nullptr) {
        fields_.emplace_back(p, static_cast<size_t>(e - p));
        return true;
      }
      const char* qc = static_cast<const char*>(q);
      fields_.emplace_back(p, static_cast<size_t>(qc - p));
      p = qc + 1;
    }
  }
  size_t i = 0;
  for (;;) {
    const size_t k = record.find(sep_, i);
    if (k == std::string_view::npos) {
      fields_.push_back(record.substr(i));
      return true;
    }
    fields_.push_back(record.substr(i, k - i));
    i = k + sep_.size();
  }
}

bool FieldSplitter::split_quoted(std::string_view record) {
  const char sep = sep_[0];
  const size_t n = record.size();
  arena_.clear();
  arena_.reserve(n);  // unescaped text is never longer: views into arena_ stay valid
  size_t i = 0;
  for (;;) {
    if (i < n && record[i] == '"') {
      const size_t start = i + 1;
      size_t j = start;
      size_t close = std::string_view::npos;
      bool escaped = false;
      while (j < n) {
        const size_t k = record.find('"', j);
        if (k == std::string_view::npos) break;
        if (k + 1 < n && record[k + 1] == '"') {
          escaped = true;
          j = k + 2;
          continue;
        }
        close = k;
        break;
      }
      if (close == std::string_view::npos) {
        error_field_ = fields_.size();
        error_ = "unterminated quoted field";
        return false;
      }
      if (!escaped) {
        fields_.push_back(record.substr(start, close - start));
      } else {
        const size_t a0 = arena_.size();
        for (size_t k = start; k < close; ++k) {
          arena_.push_back(record[k]);
          if (record[k] == '"') ++k;  // "" -> "
        }
        fields_.emplace_back(arena_.data() + a0, arena_.size() - a0);
      }
      i = close + 1;
      if (i == n) return true;
      if (record[i] != sep) {
        error_field_ = fields_.size() - 1;
        error_ = "unexpected character after a closing quote";
        return false;
      }
      ++i;
      continue;
    }
    const size_t k = record.find(sep, i);
    if (k == std::string_view::npos) {
      fields_.push_back(record.substr(std::min(i, n)));
      return true;
    }
    fields_.push_back(record.substr(i, k - i));
    i = k + 1;
  }
}

// ---------------------------------------------------------------------------------------
// Fields

namespace {
bool is_digit(char c) { return c >= '0' && c <= '9'; }
}  // namespace

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string utf8_lower(std::string_view s) {
  std::string out(s);
  for (size_t i = 0; i < out.size(); ++i) {
    const auto c = static_cast<unsigned char>(out[i]);
    if (c >= 'A' && c <= 'Z') {
      out[i] = static_cast<char>(c - 'A' + 'a');
    } else if (c == 0xC3 && i + 1 < out.size()) {
      // U+00C0..U+00DE (except U+00D7, the multiplication sign) lower-case by +0x20.
      const auto d = static_cast<unsigned char>(out[i + 1]);
      if (d >= 0x80 && d <= 0x9E && d != 0x97) out[i + 1] = static_cast<char>(d + 0x20);
      ++i;
    }
  }
  return out;
}

std::string normalize_name(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : trim(s)) {
    if (c == ' ' || c == '_' || c == '-' || c == '.') continue;
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    out.push_back(c);
  }
  return out;
}

bool is_blank(std::string_view s) {
  for (char c : s) {
    if (!is_space(c)) return false;
  }
  return true;
}

bool parse_u64(std::string_view s, uint64_t& out) {
  s = trim(s);
  if (s.empty() || !is_digit(s[0])) return false;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

bool parse_i64(std::string_view s, int64_t& out) {
  s = trim(s);
  if (s.empty()) return false;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

bool parse_i32(std::string_view s, int32_t& out) {
  s = trim(s);
  if (s.empty()) return false;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

bool parse_rating(std::string_view s, float& out) {
  s = trim(s);
  if (s.empty()) return false;
  double d = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), d);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return false;
  if (!std::isfinite(d)) return false;
  const auto f = static_cast<float>(d);
  if (!std::isfinite(f)) return false;
  out = f;
  return true;
}

const char* rating_error(std::string_view s) {
  s = trim(s);
  if (s.empty()) return "empty, expected a number";
  double d = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), d);
  if (r.ec == std::errc::result_out_of_range) return "out of range (not a finite number)";
  if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return "not a number";
  return "not a finite number";
}

std::string printable(std::string_view s, size_t max) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (size_t i = 0; i < s.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c >= 0x7F) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > max) out += "...";
  return out;
}

std::string u64_to_string(uint64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

// ---------------------------------------------------------------------------------------
// Encodings

bool is_ascii(std::string_view s) {
  const char* p = s.data();
  size_t n = s.size();
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    if ((w & 0x8080808080808080ULL) != 0) return false;
    p += 8;
    n -= 8;
  }
  for (size_t i = 0; i < n; ++i) {
    if (static_cast<unsigned char>(p[i]) >= 0x80) return false;
  }
  return true;
}

size_t utf8_invalid_at(std::string_view s) {
  if (is_ascii(s)) return std::string_view::npos;
  const auto* u = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = u[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return i;  // continuation byte, overlong lead C0/C1, or F5..FF
    }
    if (i + len > n) return i;
    for (size_t k = 1; k < len; ++k) {
      if ((u[i + k] & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (u[i + k] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return i;
    }
    i += len;
  }
  return std::string_view::npos;
}

void latin1_to_utf8(std::string_view s, std::string& out) {
  out.reserve(out.size() + s.size() + s.size() / 8);
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x80) {
      out.push_back(ch);
    } else {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
}

std::string decode_text(std::string_view s, Encoding enc) {
  if (enc == Encoding::kUtf8 || is_ascii(s) || (enc == Encoding::kAuto && is_utf8(s))) {
    return std::string(s);
  }
  std::string out;
  latin1_to_utf8(s, out);
  return out;
}

namespace {
int32_t four_digits(std::string_view s) {
  if (s.size() < 4) return -1;
  int32_t y = 0;
  for (size_t i = 0; i < 4; ++i) {
    if (!is_digit(s[i])) return -1;
    y = y * 10 + (s[i] - '0');
  }
  return (y >= 1800 && y <= 2200) ? y : -1;
}
}  // namespace

int32_t year_from_title(std::string_view title) {
  const std::string_view t = trim(title);
  if (t.size() < 6 || t.back() != ')') return -1;
  const size_t open = t.rfind('(');
  if (open == std::string_view::npos) return -1;
  const std::string_view inner = t.substr(open + 1, t.size() - open - 2);
  const int32_t y = four_digits(inner);
  if (y < 0) return -1;
  std::string_view rest = inner.substr(4);
  if (rest.empty()) return y;
  // A range: "1995-1997", "1995-", "1995–1997" (en dash, E2 80 93).
  if (rest[0] == '-') {
    rest.remove_prefix(1);
  } else if (rest.substr(0, 3) == "\xE2\x80\x93") {
    rest.remove_prefix(3);
  } else {
    return -1;
  }
  rest = trim(rest);
  if (rest.empty() || (rest.size() == 4 && four_digits(rest) >= 0)) return y;
  return -1;
}

int32_t year_from_date(std::string_view date) {
  const std::string_view d = trim(date);
  const size_t dash = d.rfind('-');
  const std::string_view tail = dash == std::string_view::npos ? d : d.substr(dash + 1);
  if (tail.size() != 4) return -1;
  return four_digits(tail);
}

}  // namespace cascade::loaders
