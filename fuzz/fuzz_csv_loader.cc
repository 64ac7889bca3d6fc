// Fuzz target: the generic CSV loader (src/data/loaders/csv.cc) on arbitrary file contents,
// with and without a header, strict UTF-8 and auto encoding, strict and skip-bad-rows. It must
// return a log or throw cascade::Error (DataError names the file, line and field); anything
// else is a bug.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "cascade/core/error.h"
#include "cascade/data/loaders.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path =
      (std::filesystem::temp_directory_path() / ("cascade_fuzz_log_" + std::to_string(::getpid()) + ".csv")).string();
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data),
                                                                 static_cast<std::streamsize>(size));
  for (int variant = 0; variant < 4; ++variant) {
    cascade::LoadOptions o;
    o.header = variant & 1;
    o.skip_bad_rows = variant & 2;
    o.encoding = variant == 3 ? "auto" : "utf-8";
    try {
      cascade::load_csv(path, o);
    } catch (const cascade::Error&) {
    }
  }
  return 0;
}
