// Fuzz target: artefact manifests (src/io/artifact.cc) and the bundle manifest check
// (verify_bundle, src/pipeline/bundle_verify.cc). The input is the manifest.json of a private
// directory that also holds one data file, scores.f32 (four floats). On it run: manifest_kind,
// ModelReader for the kind it names (params, dataset_hash, a numeric field, then blob() and
// array<float>() of every file the manifest lists), and verify_bundle. Each must return or throw
// cascade::Error naming the directory or file; a nlohmann/std:: exception getting out, a crash or
// a sanitizer report is a bug.
//
// Seeds (corpus/manifest): real channel manifests of a bundle (ials, content), and a popularity
// model manifest and a trimmed bundle manifest whose file list is scores.f32 with its real size
// and hash, so the success paths are reached too.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "cascade/core/error.h"
#include "cascade/io/artifact.h"
#include "cascade/pipeline/bundle.h"

namespace {

namespace fs = std::filesystem;

// The names listed under "files" that are plain file names. Models only ever ask for fixed
// names of their own, so listed paths like "../x" or "/proc/..." are not read here: they would
// only make the target wander the file system.
std::vector<std::string> listed_files(const nlohmann::json& meta) {
  std::vector<std::string> out;
  if (!meta.is_object() || !meta.contains("files") || !meta["files"].is_object()) return out;
  for (const auto& [name, info] : meta["files"].items()) {
    if (!name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
        name.find('\0') == std::string::npos)
      out.push_back(name);
  }
  return out;
}

void read_model(const fs::path& dir) {
  std::string kind = "popularity";
  try {
    kind = cascade::manifest_kind(dir);
  } catch (const cascade::Error&) {
  }
  try {
    const cascade::ModelReader r(dir, kind, 1);
    (void)r.params();
    (void)r.dataset_hash();
    // The integer fields models size their arrays with (ials, sasrec, popularity, two_tower).
    (void)r.field_or<uint32_t>("n_items", 0);
    (void)r.field_or<uint64_t>("fit_seed", 0);
    (void)r.field_or<int64_t>("n_users", 0);
    (void)r.field_or<int>("best_epoch", 0);
    (void)r.field_or<float>("bias", 0.f);
    for (const std::string& name : listed_files(r.meta())) {
      try {
        (void)r.blob(name);
        (void)r.array<float>(name);
      } catch (const cascade::Error&) {
      }
    }
  } catch (const cascade::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const fs::path dir = [] {
    const fs::path d = fs::temp_directory_path() / ("cascade_fuzz_manifest_" + std::to_string(::getpid()));
    fs::create_directories(d);
    const float scores[4] = {0.5f, 0.25f, 1.0f, 2.0f};  // XXH3-128 1f46e9b9de6a049366c16366b9ac542e
    std::ofstream(d / "scores.f32", std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(scores), sizeof scores);
    return d;
  }();
  std::ofstream(dir / "manifest.json", std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  read_model(dir);
  try {
    cascade::verify_bundle(dir);
  } catch (const cascade::Error&) {
  }
  return 0;
}
