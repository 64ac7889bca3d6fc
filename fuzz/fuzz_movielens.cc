// Fuzz target: the MovieLens folder loaders (ML-100K, ML-1M / ML-10M, ml-latest; the generic CSV
// loader has its own target). The first byte picks the format; the rest is split at NUL bytes
// into the format's files, in the order below (a missing part = the file is absent, which is
// fine for the optional ones). Every input is loaded strict and with skip_bad_rows. Loading must
// return a log or throw cascade::Error (DataError names the file, line and field); a crash, a
// sanitizer report or another exception type is a bug.
//
// Seeds (corpus/movielens/): made-up rows in each format (the real ML-100K / ML-1M files never
// enter the repository), with titles, genres, users and tags so every optional file is parsed.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "cascade/core/error.h"
#include "cascade/data/loaders.h"

namespace {

struct Format {
  std::vector<const char*> files;  // the first is the required interaction file
  cascade::RawLog (*load)(const std::string&, const cascade::LoadOptions&);
};

const std::array<Format, 3> kFormats = {{
    {{"u.data", "u.item", "u.user", "u.genre"}, cascade::load_ml100k},
    {{"ratings.dat", "movies.dat", "users.dat"}, cascade::load_ml1m},
    {{"ratings.csv", "movies.csv", "tags.csv"}, cascade::load_ml_latest},
}};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  namespace fs = std::filesystem;
  static const fs::path dir = fs::temp_directory_path() / ("cascade_fuzz_ml_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const Format& format = kFormats[data[0] % kFormats.size()];
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  for (const char* name : format.files) {
    if (rest.data() == nullptr) break;  // fewer parts than files: the rest are absent
    const size_t cut = rest.find('\0');
    const std::string_view part = rest.substr(0, cut);
    std::ofstream(dir / name, std::ios::binary).write(part.data(), static_cast<std::streamsize>(part.size()));
    rest = cut == std::string_view::npos ? std::string_view() : rest.substr(cut + 1);
  }
  for (const bool skip : {false, true}) {
    cascade::LoadOptions o;
    o.skip_bad_rows = skip;
    try {
      format.load(dir.string(), o);
    } catch (const cascade::Error&) {
    }
  }
  return 0;
}
