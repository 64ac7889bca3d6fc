#include "cascade/io/artifact.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>
#include <xxhash.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "cascade/core/error.h"

namespace fs = std::filesystem;

namespace cascade {

std::string hash_hex(std::string_view bytes) {
  XXH128_hash_t h = XXH3_128bits(bytes.data(), bytes.size());
  return fmt::format("{:016x}{:016x}", h.high64, h.low64);
}

std::string hash_file(const fs::path& path) { return hash_hex(read_file(path)); }

void write_file_atomic(const fs::path& path, std::string_view bytes) {
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  fs::path tmp = path;
  tmp += fmt::format(".tmp.{}", ::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw Error(fmt::format("cannot write {}: {}", tmp.string(), std::strerror(errno)));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw Error(fmt::format("cannot write {}: {}", tmp.string(), std::strerror(e)));
    }
    done += static_cast<size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    throw Error(fmt::format("cannot rename {} to {}: {}", tmp.string(), path.string(), std::strerror(e)));
  }
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("cannot open {}: {}", path.string(), std::strerror(errno)));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

ArtifactWriter::ArtifactWriter(fs::path dir, std::string kind, int format_version)
    : dir_(std::move(dir)) {
  fs::create_directories(dir_);
  // A stale manifest must not vouch for files we are about to replace.
  std::error_code ec;
  fs::remove(dir_ / "manifest.json", ec);
  meta_["kind"] = std::move(kind);
  meta_["format_version"] = format_version;
}

void ArtifactWriter::add_blob(const std::string& name, std::string_view bytes) {
  write_file_atomic(dir_ / name, bytes);
  files_[name] = {{"bytes", bytes.size()}, {"xxh3_128", hash_hex(bytes)}};
}

void ArtifactWriter::finish() {
  nlohmann::json m = meta_;
  m["files"] = files_;
  write_file_atomic(dir_ / "manifest.json", m.dump(2) + "\n");
}

namespace {
nlohmann::json read_manifest(const fs::path& dir) {
  fs::path p = dir / "manifest.json";
  if (!fs::exists(p)) throw Error(fmt::format("{}: no manifest.json (not a saved model, or an interrupted save)", dir.string()));
  try {
    return nlohmann::json::parse(read_file(p));
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: corrupt manifest: {}", p.string(), e.what()));
  }
}
}  // namespace

std::string manifest_kind(const fs::path& dir) {
  auto m = read_manifest(dir);
  if (!m.contains("kind") || !m["kind"].is_string()) {
    throw Error(fmt::format("{}/manifest.json: missing 'kind'", dir.string()));
  }
  return m["kind"].get<std::string>();
}

bool is_file_entry(const nlohmann::json& entry, const char* hash_key) {
  return entry.is_object() && entry.contains("bytes") && entry["bytes"].is_number_unsigned() &&
         entry.contains(hash_key) && entry[hash_key].is_string();
}

ArtifactReader::ArtifactReader(fs::path dir, const std::string& expected_kind, int format_version)
    : dir_(std::move(dir)), meta_(read_manifest(dir_)) {
  // Typed checks before any get<>(): on another JSON type nlohmann throws its own exceptions,
  // and a float version out of int range would be undefined behaviour.
  if (!meta_.is_object()) throw Error(fmt::format("{}/manifest.json: not a JSON object", dir_.string()));
  const std::string kind = meta_.contains("kind") && meta_["kind"].is_string() ? meta_["kind"].get<std::string>() : "";
  if (kind != expected_kind) {
    throw Error(fmt::format("{}: manifest kind is '{}', expected '{}'", dir_.string(), kind, expected_kind));
  }
  const nlohmann::json version = meta_.contains("format_version") ? meta_["format_version"] : nlohmann::json();
  if (!version.is_number() || version.get<double>() != format_version) {
    throw Error(fmt::format("{}: format version {} is not supported (this build reads {})", dir_.string(),
                            version.is_number() ? version.dump() : "(none)", format_version));
  }
}

ArtifactWriter model_writer(const fs::path& dir, const std::string& kind, int format_version,
                            const std::map<std::string, std::string>& params, const std::string& dataset_hash) {
  ArtifactWriter w(dir, kind, format_version);
  w.meta()["params"] = params;
  w.meta()["dataset_hash"] = dataset_hash;
  return w;
}

ModelReader::ModelReader(fs::path dir, const std::string& kind, int format_version)
    : ArtifactReader(std::move(dir), kind, format_version), kind_(kind) {
  params_ = field<std::map<std::string, std::string>>("params");
  dataset_hash_ = field_or<std::string>("dataset_hash", "");
}

void ModelReader::bad(const std::string& what) const {
  throw Error(fmt::format("{}: bad {} manifest: {}", dir().string(), kind_, what));
}

std::string ArtifactReader::blob(const std::string& name) const {
  if (!meta_.contains("files") || !meta_["files"].contains(name)) {
    throw Error(fmt::format("{}: manifest lists no file '{}'", dir_.string(), name));
  }
  const auto& f = meta_["files"][name];
  // The entry's types are checked before get<>() (see the constructor).
  if (!is_file_entry(f, "xxh3_128")) {
    throw Error(fmt::format("{}/manifest.json: the entry of file '{}' is not {{\"bytes\": N, \"xxh3_128\": \"...\"}}",
                            dir_.string(), name));
  }
  const uint64_t expected = f["bytes"].get<uint64_t>();
  std::string bytes = read_file(dir_ / name);
  if (bytes.size() != expected) {
    throw Error(fmt::format("{}/{}: {} bytes, manifest says {}", dir_.string(), name, bytes.size(), expected));
  }
  if (hash_hex(bytes) != f["xxh3_128"].get<std::string>()) {
    throw Error(fmt::format("{}/{}: content hash does not match the manifest (file corrupt or replaced)",
                            dir_.string(), name));
  }
  return bytes;
}

void ArtifactReader::check_multiple(const std::string& name, size_t bytes, size_t elem) const {
  if (bytes % elem != 0) {
    throw Error(fmt::format("{}/{}: {} bytes is not a whole number of {}-byte elements",
                            dir_.string(), name, bytes, elem));
  }
}

}  // namespace cascade
