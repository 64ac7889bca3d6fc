// Artefact I/O shared by snapshots, models and run logs:
//  - every file is written atomically (write to "<path>.tmp.<pid>", fsync, rename);
//  - a model directory holds manifest.json naming its kind, format version, parameters,
//    the dataset hash it was trained on, and the XXH3-128 hash and size of every file;
//    load_manifest() + ArtifactReader check all of it before a byte is used.
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace cascade {

/// XXH3-128 of the bytes, as 32 lowercase hex digits.
std::string hash_hex(std::string_view bytes);
std::string hash_file(const std::filesystem::path& path);

/// Writes `bytes` to `path` atomically (parent directories created).
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);
/// Reads a whole file; throws cascade::Error naming the path when it cannot.
std::string read_file(const std::filesystem::path& path);

/// Builds a model directory: add arrays/blobs, then finish() writes manifest.json last,
/// so a directory with a manifest is always complete.
class ArtifactWriter {
 public:
  ArtifactWriter(std::filesystem::path dir, std::string kind, int format_version);

  void add_blob(const std::string& name, std::string_view bytes);
  template <class T>
  void add_array(const std::string& name, std::span<const T> data) {
    add_blob(name, std::string_view(reinterpret_cast<const char*>(data.data()), data.size_bytes()));
  }
  template <class T>
  void add_array(const std::string& name, const std::vector<T>& data) {
    add_array<T>(name, std::span<const T>(data));
  }
  /// Free-form fields (params, dataset_hash, shapes...) stored in the manifest.
  nlohmann::json& meta() { return meta_; }
  void finish();

 private:
  std::filesystem::path dir_;
  nlohmann::json meta_;
  nlohmann::json files_ = nlohmann::json::object();
};

/// Opens a model directory, checks manifest kind and version, and verifies each file's
/// size and hash on read. Errors name the directory and the file.
class ArtifactReader {
 public:
  ArtifactReader(std::filesystem::path dir, const std::string& expected_kind, int format_version);

  const nlohmann::json& meta() const { return meta_; }
  const std::filesystem::path& dir() const { return dir_; }
  std::string blob(const std::string& name) const;
  template <class T>
  std::vector<T> array(const std::string& name) const {
    std::string b = blob(name);
    check_multiple(name, b.size(), sizeof(T));
    std::vector<T> out(b.size() / sizeof(T));
    if (!b.empty()) std::memcpy(out.data(), b.data(), b.size());
    return out;
  }

 private:
  void check_multiple(const std::string& name, size_t bytes, size_t elem) const;
  std::filesystem::path dir_;
  nlohmann::json meta_;
};

/// The manifest every model writes: kind and format version (ArtifactWriter), the parameters
/// in force (Params::resolved()) and the content hash of the dataset it was fitted on. Add the
/// model's files and fields, then finish().
ArtifactWriter model_writer(const std::filesystem::path& dir, const std::string& kind, int format_version,
                            const std::map<std::string, std::string>& params, const std::string& dataset_hash);

/// A model directory written through model_writer, opened for loading: kind, version and file
/// hashes checked as by ArtifactReader; the parameters and dataset hash read up front. Every
/// error names the directory ("<dir>: bad <kind> manifest: ...").
class ModelReader : public ArtifactReader {
 public:
  ModelReader(std::filesystem::path dir, const std::string& kind, int format_version);

  const std::map<std::string, std::string>& params() const { return params_; }
  /// Empty when the manifest records none.
  const std::string& dataset_hash() const { return dataset_hash_; }

  /// A required manifest field as T. An integer T takes only a JSON integer in its range: a
  /// float (1e30) or a negative count would otherwise convert to garbage (or, for a float out
  /// of range, undefined behaviour) and size the model's arrays.
  template <class T>
  T field(const std::string& key) const {
    try {
      const nlohmann::json& v = meta().at(key);
      if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
        const bool fits = v.is_number_unsigned()  ? std::in_range<T>(v.get<uint64_t>())
                          : v.is_number_integer() ? std::in_range<T>(v.get<int64_t>())
                                                  : false;
        if (!fits) bad("field '" + key + "' is " + v.dump() + ", not an integer in the range of its type");
      }
      return v.get<T>();
    } catch (const nlohmann::json::exception& e) {
      bad(e.what());
    }
  }
  /// An optional field (absent from older manifests): `def` when absent.
  template <class T>
  T field_or(const std::string& key, T def) const {
    return meta().contains(key) ? field<T>(key) : def;
  }
  /// Throws cascade::Error("<dir>: bad <kind> manifest: <what>").
  [[noreturn]] void bad(const std::string& what) const;

 private:
  std::string kind_;
  std::map<std::string, std::string> params_;
  std::string dataset_hash_;
};

/// Whether `entry` is a manifest's file entry: an object with an unsigned "bytes" and a string
/// under `hash_key` (model manifests say "xxh3_128", bundle manifests "xxh3"). Checked before
/// get<>(), which would throw nlohmann's own exceptions on other types.
bool is_file_entry(const nlohmann::json& entry, const char* hash_key);

/// The "kind" field of dir/manifest.json (throws when absent or unreadable).
std::string manifest_kind(const std::filesystem::path& dir);

}  // namespace cascade
