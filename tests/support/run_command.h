// Runs a shell command from the source tree (with CASCADE_CONFIG_DIR set to its configs) and
// captures stdout + stderr and the exit code: how the end-to-end tests drive the `cascade` binary.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace cascade::testing {

struct CommandResult {
  int code;
  std::string output;  // stdout + stderr
};

inline CommandResult run_command(const std::string& cmd) {
  const std::string full = "cd " + std::string(CASCADE_SOURCE_DIR) +
                           " && CASCADE_CONFIG_DIR=" + std::string(CASCADE_SOURCE_DIR) +
                           "/configs " + cmd + " 2>&1";
  FILE* p = popen(full.c_str(), "r");
  CommandResult r{-1, ""};
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace cascade::testing
