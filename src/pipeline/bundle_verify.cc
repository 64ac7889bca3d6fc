// Checking a bundle directory against its top-level manifest (verify_bundle) and the file
// listing the manifest is built from (bundle_files). Apart from bundle.cc, which builds and loads
// bundles with every model kind, so that the check builds on its own (fuzz/fuzz_manifest.cc).
#include <fmt/format.h>

#include <algorithm>

#include "cascade/pipeline/bundle.h"
#include "cascade/core/error.h"
#include "cascade/io/artifact.h"

namespace fs = std::filesystem;

namespace cascade {
namespace {
using Json = nlohmann::json;
}  // namespace

std::vector<std::string> bundle_files(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    const std::string rel = fs::relative(e.path(), dir).generic_string();
    if (rel != "manifest.json") out.push_back(rel);
  }
  std::sort(out.begin(), out.end());
  return out;
}

nlohmann::json verify_bundle(const fs::path& dir) {
  const std::string where = "bundle " + dir.string();
  if (!fs::is_directory(dir)) throw Error(where + ": not a directory");
  if (!fs::exists(dir / "manifest.json"))
    throw Error(
        where +
        ": no manifest.json (not a bundle, or an unfinished one); build one with `cascade bundle`");
  Json m;
  try {
    m = Json::parse(read_file(dir / "manifest.json"));
  } catch (const Json::exception& e) {
    throw Error(where + ": manifest.json is not valid JSON: " + e.what());
  }
  // Types are checked before any get<>() or value(): on another JSON type nlohmann throws its own
  // exceptions (and a float out of range converts with undefined behaviour), while every refusal
  // here must be a cascade::Error naming the bundle.
  if (!m.is_object() || !m.contains("format") || m["format"] != "cascade-bundle")
    throw Error(where + ": manifest.json is not a cascade-bundle manifest");
  const Json version = m.contains("format_version") ? m["format_version"] : Json();
  if (!version.is_number_integer() || version != kBundleFormatVersion)
    throw Error(fmt::format("{}: format_version {} (this build reads {})", where,
                            version.is_number() ? version.dump() : "(none)", kBundleFormatVersion));
  for (const char* key : {"version", "files", "channels", "fusion", "rank", "dataset"})
    if (!m.contains(key)) throw Error(fmt::format("{}: manifest.json lacks \"{}\"", where, key));
  const Json& files = m["files"];
  if (!files.is_object()) throw Error(where + ": manifest.json: \"files\" is not a map of paths");
  for (const auto& [rel, info] : files.items()) {
    // Only paths inside the bundle: a listed "/dev/..." or "../x" must not be opened.
    const fs::path relp(rel);
    if (rel.empty() || relp.is_absolute() || std::find(relp.begin(), relp.end(), "..") != relp.end())
      throw Error(fmt::format("{}: the manifest lists '{}', which is not a path inside the bundle", where, rel));
    if (!is_file_entry(info, "xxh3"))
      throw Error(fmt::format("{}: the manifest entry of {} is not {{\"bytes\": N, \"xxh3\": \"...\"}}", where, rel));
    const fs::path p = dir / relp;
    std::error_code ec;
    if (!fs::is_regular_file(p, ec))
      throw Error(fmt::format("{}: file {} listed in the manifest is missing (or not a regular file)", where, rel));
    const uint64_t bytes = fs::file_size(p, ec);
    if (ec || bytes != info["bytes"].get<uint64_t>())
      throw Error(fmt::format("{}: file {} has {} bytes, the manifest says {}", where, rel,
                              ec ? std::string("unreadable") : std::to_string(bytes),
                              info["bytes"].get<uint64_t>()));
    if (hash_file(p) != info["xxh3"].get<std::string>())
      throw Error(fmt::format(
          "{}: file {} does not match its checksum in the manifest (corrupted or modified)", where,
          rel));
  }
  for (const auto& rel : bundle_files(dir))
    if (!files.contains(rel))
      throw Error(fmt::format("{}: file {} is not listed in the manifest", where, rel));
  return m;
}

}  // namespace cascade
