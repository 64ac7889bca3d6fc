// Fuzz target: composing YAML configs (src/core/config.cc). The input is split at the first
// NUL: the head is the primary config (main.yaml in a private config dir that also holds a tiny
// `recall` group, so `defaults:` items and group=option overrides resolve), the tail is a list
// of `key=value` overrides, one a line. compose() must return a map or throw cascade::Error
// naming the file or the override; yaml_dump() and flatten_config() of what it returns must
// work. A YAML::Exception or std:: exception getting out, a crash, a sanitizer report or a hang
// (e.g. alias expansion) is a bug.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "cascade/core/config.h"
#include "cascade/core/error.h"

namespace {

namespace fs = std::filesystem;

void write(const fs::path& p, std::string_view text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary | std::ios::trunc).write(text.data(), static_cast<std::streamsize>(text.size()));
}

// The fixed part of the config dir: two options of group `recall`, one with its own nested
// defaults (recall/ials) and an anchor, so every composition rule has something to act on.
fs::path make_config_dir() {
  const fs::path dir = fs::temp_directory_path() / ("cascade_fuzz_config_" + std::to_string(::getpid()));
  write(dir / "recall" / "a.yaml", "channels: [ials, pop]\nials: {factors: 64, reg: 0.01}\n");
  write(dir / "recall" / "b.yaml", "defaults:\n  - ials: small\nweight: &w 0.5\nother: *w\nname: 'b'\n");
  write(dir / "recall" / "ials" / "small.yaml", "factors: 8\nreg: ~\n");
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const fs::path dir = make_config_dir();
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t nul = in.find('\0');
  write(dir / "main.yaml", in.substr(0, nul));
  std::vector<std::string> overrides;
  if (nul != std::string_view::npos) {
    std::string_view rest = in.substr(nul + 1);
    while (!rest.empty()) {
      const size_t nl = rest.find('\n');
      overrides.emplace_back(rest.substr(0, nl));
      if (nl == std::string_view::npos) break;
      rest.remove_prefix(nl + 1);
    }
  }
  try {
    const YAML::Node cfg = cascade::ConfigLoader{dir}.compose("main", overrides);
    cascade::yaml_dump(cfg);
    cascade::flatten_config(cfg);
  } catch (const cascade::Error&) {
  }
  return 0;
}
