#include "cascade/core/error.h"

#include <fmt/format.h>

namespace cascade {

namespace {
std::string format_data_error(const std::string& file, size_t line, const std::string& field,
                              const std::string& what) {
  std::string where = file;
  if (line > 0) where += fmt::format(":{}", line);
  if (!field.empty()) where += fmt::format(" (field '{}')", field);
  return fmt::format("{}: {}", where, what);
}
}  // namespace

DataError::DataError(const std::string& file, size_t line, const std::string& field,
                     const std::string& what)
    : Error(format_data_error(file, line, field, what)), file_(file), line_(line), field_(field) {}

namespace detail {
void throw_check_failure(const char* file, int line, const char* cond, const std::string& msg) {
  // Strip the build directory so messages stay short and stable.
  std::string path = file;
  if (auto pos = path.find("/src/"); pos != std::string::npos) path = path.substr(pos + 1);
  throw Error(fmt::format("{} ({}:{}: check '{}' failed)", msg, path, line, cond));
}
}  // namespace detail

}  // namespace cascade
