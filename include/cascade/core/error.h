// Error policy (see docs/ARCHITECTURE.md):
//  - the library throws cascade::Error (or a subclass) with a message a user can act on;
//  - input problems throw DataError naming the file, the line and the field;
//  - optional abilities that a model lacks throw NotSupported;
//  - the CLI and (later) the HTTP layer catch at the edge and map to exit codes / statuses.
#pragma once

#include <stdexcept>
#include <string>

namespace cascade {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// An optional ability (e.g. item vectors) that this model does not have.
class NotSupported : public Error {
 public:
  using Error::Error;
};

/// Bad input data. The message names the file, the 1-based line and the field.
class DataError : public Error {
 public:
  DataError(const std::string& file, size_t line, const std::string& field, const std::string& what);
  const std::string& file() const { return file_; }
  size_t line() const { return line_; }
  const std::string& field() const { return field_; }

 private:
  std::string file_;
  size_t line_;
  std::string field_;
};

namespace detail {
[[noreturn]] void throw_check_failure(const char* file, int line, const char* cond,
                                      const std::string& msg);
}  // namespace detail

}  // namespace cascade

/// Throws cascade::Error with the source location when `cond` is false.
#define CASCADE_CHECK(cond, msg)                                                  \
  do {                                                                            \
    if (!(cond)) ::cascade::detail::throw_check_failure(__FILE__, __LINE__, #cond, (msg)); \
  } while (0)
