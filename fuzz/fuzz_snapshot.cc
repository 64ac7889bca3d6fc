// Fuzz target: the dataset snapshot reader (load_snapshot, src/data/snapshot.cc) on arbitrary
// file contents. Every input is loaded twice: as is (header, sizes and hash checks), and with the
// two header hashes recomputed over the bytes that follow, since a mutation would otherwise never
// get past the XXH3 check to the section decoder. Loading must return a Dataset or throw
// cascade::Error naming the file; a Dataset it returns must serialize again
// (dataset_content_hash walks every array and the catalogue). A crash, a sanitizer report or
// another exception type is a bug.
//
// Seeds (corpus/snapshot/*.snap, ~2 KB): `cascade prepare --dataset ml-latest --min-positives 3
// --protocol {seed-loo,seed-oof,time}` of a 30-row ml-latest folder (5 users, 8 movies with
// titles and genres, 2 tags), so every section including the catalogue is non-empty.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "cascade/core/error.h"
#include "cascade/data/snapshot.h"
#include "cascade/io/artifact.h"

namespace {

// Header layout (include/cascade/data/snapshot.h): sizes at 16 and 24, hex hashes at 32 and 64.
constexpr size_t kHeaderBytes = 96;

// The input with both hashes made to match, or empty when the sizes it announces do not fit.
std::string with_valid_hashes(std::string_view in) {
  if (in.size() < kHeaderBytes) return {};
  uint64_t payload = 0;
  std::memcpy(&payload, in.data() + 16, 8);
  if (payload > in.size() - kHeaderBytes) return {};
  std::string out(in);
  const std::string_view body = std::string_view(out).substr(kHeaderBytes);
  const std::string h1 = cascade::hash_hex(body.substr(0, payload));
  const std::string h2 = cascade::hash_hex(body.substr(payload));
  out.replace(32, 32, h1);
  out.replace(64, 32, h2);
  return out;
}

void load(const std::string& path, std::string_view bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  try {
    const cascade::Dataset ds = cascade::load_snapshot(path);
    cascade::dataset_content_hash(ds);
  } catch (const cascade::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path =
      (std::filesystem::temp_directory_path() / ("cascade_fuzz_snapshot_" + std::to_string(::getpid()) + ".snap"))
          .string();
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  load(path, in);
  const std::string fixed = with_valid_hashes(in);
  if (!fixed.empty() && fixed != in) load(path, fixed);
  return 0;
}
