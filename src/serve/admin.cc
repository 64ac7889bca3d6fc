// Admin access control; see admin.h.
#include "serve/admin.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>

#include "cascade/core/error.h"
#include "cascade/io/artifact.h"

namespace fs = std::filesystem;

namespace cascade {

bool constant_time_equal(std::string_view a, std::string_view b) {
  // Every byte of `a` is compared (with b's bytes cycled when b is shorter), so the time depends
  // on a's length only; different lengths still compare unequal through `diff`.
  unsigned diff = a.size() == b.size() ? 0u : 1u;
  for (size_t i = 0; i < a.size(); ++i) {
    const unsigned char y = b.empty() ? 0 : static_cast<unsigned char>(b[i % b.size()]);
    diff |= static_cast<unsigned char>(a[i]) ^ y;
  }
  return diff == 0 && !(a.empty() && !b.empty());
}

std::string read_admin_token(const fs::path& file) {
  const std::string where = "--admin-token-file " + file.string();
  std::string text;
  try {
    text = read_file(file);
  } catch (const std::exception& e) {
    throw Error(where + ": cannot read the admin token: " + e.what());
  }
  const auto not_space = [](unsigned char c) { return !std::isspace(c); };
  const auto b = std::find_if(text.begin(), text.end(), not_space);
  const auto e = std::find_if(text.rbegin(), text.rend(), not_space).base();
  const std::string token = b < e ? std::string(b, e) : std::string();
  if (token.empty()) throw Error(where + ": the file is empty (write a random token into it)");
  for (unsigned char c : token)
    if (c <= 0x20 || c >= 0x7f)
      throw Error(where + ": the token must be one word of printable ASCII (no spaces)");
  if (token.size() < 16)
    spdlog::warn("{}: the admin token has {} characters; use at least 16 random ones", where, token.size());
  struct stat st {};
  if (::stat(file.c_str(), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
    spdlog::warn("{}: the token file is readable by others than its owner (chmod 600 it)", where);
  return token;
}

std::optional<std::string> bearer_token_problem(std::string_view authorization, std::string_view token) {
  constexpr std::string_view kScheme = "Bearer ";
  if (authorization.empty()) return "admin routes need an Authorization: Bearer <token> header";
  if (authorization.size() <= kScheme.size() || authorization.substr(0, kScheme.size()) != kScheme)
    return "the Authorization header must be \"Bearer <token>\"";
  if (!constant_time_equal(authorization.substr(kScheme.size()), token)) return "wrong admin token";
  return std::nullopt;
}

fs::path bundle_under_root(const fs::path& requested, const fs::path& root) {
  for (const auto& part : requested)
    if (part == "..")
      throw Error(fmt::format("bundle path {} contains \"..\"; name a directory under the bundle root {}",
                              requested.string(), root.string()));
  std::error_code ec;
  const fs::path real_root = fs::canonical(root, ec);
  if (ec) throw Error(fmt::format("the bundle root {} cannot be resolved: {}", root.string(), ec.message()));
  const fs::path wanted = requested.is_absolute() ? requested : root / requested;
  // weakly_canonical: a path that does not exist yet is still checked (and the load then fails
  // with "not a directory"); symlinks along the existing part are resolved.
  const fs::path real = fs::weakly_canonical(wanted, ec);
  if (ec) throw Error(fmt::format("bundle path {} cannot be resolved: {}", requested.string(), ec.message()));
  auto r = real_root.begin();
  auto p = real.begin();
  for (; r != real_root.end(); ++r, ++p)
    if (p == real.end() || *p != *r)
      throw Error(fmt::format("bundle path {} (resolved to {}) is outside the bundle root {}", requested.string(),
                              real.string(), real_root.string()));
  return real;
}

}  // namespace cascade
