// Private building blocks shared by every loader: a chunked record reader, field
// splitters (plain separator and RFC 4180 quoting), strict number parsers, UTF-8
// validation and Latin-1 -> UTF-8 conversion.
//
// Everything here works on std::string_view into the reader's buffer, so the hot path
// (one interaction row) allocates nothing. Views stay valid until the next call to
// RecordReader::next() or FieldSplitter::split().
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace cascade::loaders {

enum class Encoding { kUtf8, kLatin1, kAuto };

/// Parses "utf-8" / "latin-1" / "auto" (a few spellings); empty -> `fallback`.
/// Throws cascade::Error for anything else.
Encoding parse_encoding(const std::string& text, Encoding fallback);

// ---------------------------------------------------------------------------------------
// Reading records.

/// Reads a text file in large chunks and hands out one record at a time, without its
/// line terminator (LF or CRLF). A record is one line, except in `quoted` mode where a
/// line ending inside a quoted field continues on the next line (up to kMaxRecordLines
/// lines; beyond that, or at end of file, the record is cut at its first line and the
/// splitter reports the unterminated quote). A UTF-8 byte order mark at the start of the
/// file is dropped.
class RecordReader {
 public:
  static constexpr size_t kChunk = size_t{8} << 20;
  static constexpr size_t kMaxRecordLines = 64;

  /// Throws DataError(path, 0, "", ...) when the file cannot be opened or is a folder.
  RecordReader(const std::string& path, bool quoted, char quote_sep);
  ~RecordReader();
  RecordReader(const RecordReader&) = delete;
  RecordReader& operator=(const RecordReader&) = delete;

  /// The next record; false at end of file.
  bool next(std::string_view& record);
  /// 1-based line number where the last record returned starts.
  size_t line() const { return record_line_; }
  /// The file size in bytes (for reserving).
  uint64_t file_size() const { return file_size_; }
  const std::string& path() const { return path_; }

 private:
  /// Reads more bytes after end_; returns false at end of file. Keeps [pos_, end_).
  bool fill();
  /// Scans [from, to) with the quote state machine; returns whether the text ends inside
  /// a quoted field, given the state `in_quotes` at `from` (the start of a line/record).
  bool ends_in_quotes(const char* from, const char* to, bool in_quotes) const;

  std::string path_;
  std::FILE* file_ = nullptr;
  uint64_t file_size_ = 0;
  bool quoted_ = false;
  char quote_sep_ = ',';
  std::string buf_;  // bytes [pos_, end_) not handed out yet
  size_t pos_ = 0;
  size_t end_ = 0;
  bool eof_ = false;
  size_t next_line_ = 1;
  size_t record_line_ = 0;
};

// ---------------------------------------------------------------------------------------
// Splitting records into fields.

/// Splits one record. Plain mode: every occurrence of `sep` (one or more chars) ends a
/// field. Quoted mode (single-char sep only): a field that starts with '"' runs to the
/// matching '"' and "" inside it is one quote; a quote elsewhere is a literal character.
class FieldSplitter {
 public:
  FieldSplitter(std::string sep, bool quoted);

  /// Splits `record` into fields(). Returns false on a malformed quoted field, with
  /// error_field() its 0-based index and error() the reason.
  bool split(std::string_view record);
  const std::vector<std::string_view>& fields() const { return fields_; }
  size_t error_field() const { return error_field_; }
  const char* error() const { return error_; }
  const std::string& sep() const { return sep_; }

 private:
  bool split_quoted(std::string_view record);

  std::string sep_;
  bool quoted_;
  std::vector<std::string_view> fields_;
  std::string arena_;  // unescaped quoted fields; reserved to the record size first
  size_t error_field_ = 0;
  const char* error_ = "";
};

// ---------------------------------------------------------------------------------------
// Fields.

inline bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}
/// Trims ASCII whitespace (space, tab, CR, LF, VT, FF) on both sides. Inline: it runs on
/// every numeric field.
inline std::string_view trim(std::string_view s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && is_space(s[b])) ++b;
  while (e > b && is_space(s[e - 1])) --e;
  return s.substr(b, e - b);
}
/// ASCII lower-case copy.
std::string ascii_lower(std::string_view s);
/// Lower-cases ASCII and the Latin-1 supplement capitals (U+00C0..U+00DE) of a UTF-8 string.
std::string utf8_lower(std::string_view s);
/// Lower-case, with ' ', '_', '-' and '.' removed: "User_Id" -> "userid" (header matching).
std::string normalize_name(std::string_view s);
bool is_blank(std::string_view s);

/// Strict parsers: the whole (trimmed) field must be the number. Return false otherwise.
bool parse_u64(std::string_view s, uint64_t& out);   ///< digits only
bool parse_i64(std::string_view s, int64_t& out);    ///< optional '-', digits
bool parse_i32(std::string_view s, int32_t& out);
bool parse_rating(std::string_view s, float& out);   ///< finite decimal, also in float

/// Why parse_rating failed: "not a number" or "not finite".
const char* rating_error(std::string_view s);

/// The field for an error message: control and non-ASCII bytes as \xNN, at most `max`
/// bytes of input then "...".
std::string printable(std::string_view s, size_t max = 40);

/// Decimal text of an unsigned number (the canonical raw id of a numeric id).
std::string u64_to_string(uint64_t v);

// ---------------------------------------------------------------------------------------
// Encodings.

/// True when every byte is < 0x80 (fast path: 8 bytes at a time).
bool is_ascii(std::string_view s);
/// Returns the byte offset of the first invalid UTF-8 sequence, or npos when valid
/// (overlongs, surrogates and code points above U+10FFFF are invalid).
size_t utf8_invalid_at(std::string_view s);
inline bool is_utf8(std::string_view s) { return utf8_invalid_at(s) == std::string_view::npos; }
/// Appends the UTF-8 form of Latin-1 text to `out`.
void latin1_to_utf8(std::string_view s, std::string& out);
/// The field as UTF-8 under `enc`: kUtf8 as is (the caller validated it), kLatin1
/// converted, kAuto kept when valid UTF-8 and converted from Latin-1 otherwise. Allocates.
std::string decode_text(std::string_view s, Encoding enc);

/// Year from a title ending in "(1995)" (or "(1995-1997)", "(1995–)"): 1800..2200, else -1.
int32_t year_from_title(std::string_view title);
/// Year from a date "01-Jan-1995" (the last 4 digits after the last '-'); -1 otherwise.
int32_t year_from_date(std::string_view date);

}  // namespace cascade::loaders
