// Access control of the admin routes (POST /admin/reload): a bearer token read from a file,
// compared in constant time, and a bundle root no reload may leave.
//
// Off by default: without --admin-token-file the admin routes are not installed (404) and only
// SIGHUP reloads (the operator's own signal, the bundle path the server was started with).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace cascade {

/// a == b, in time that depends on the lengths only (not on where the first difference is), so
/// a token cannot be guessed byte by byte from response times.
bool constant_time_equal(std::string_view a, std::string_view b);

/// The token in `file`, surrounding whitespace (a trailing newline) trimmed. Throws
/// cascade::Error naming the file when it cannot be read, is empty, or holds whitespace inside
/// or non-printable bytes; logs a warning when others than the owner may read it.
std::string read_admin_token(const std::filesystem::path& file);

/// Null when `authorization` (the request's Authorization header) is "Bearer <token>";
/// otherwise the reason a 401 names.
std::optional<std::string> bearer_token_problem(std::string_view authorization, std::string_view token);

/// The directory a reload asks for, resolved against `root` (a relative path is taken under
/// it): symlinks and `..` resolved, then it must lie inside `root` (itself resolved). Throws
/// cascade::Error with the reason otherwise ("..", an absolute path elsewhere, a symlink out).
std::filesystem::path bundle_under_root(const std::filesystem::path& requested,
                                        const std::filesystem::path& root);

}  // namespace cascade
