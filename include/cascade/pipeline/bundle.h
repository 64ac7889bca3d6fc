// A model bundle: everything `cascade serve` needs to answer requests, in one versioned
// directory that is checked as a whole before a byte of it is used.
//
// Layout (written into "<dir>.tmp.<pid>" and renamed into place, so a bundle directory is
// always complete):
//   <dir>/manifest.json   format "cascade-bundle" v1: version, creation time, Cascade version,
//                         dataset hash, the funnel spec (one line) and its parts (channels,
//                         fusion weights, rankers, cut-offs), the request-time policy, the
//                         funnel's offline figures (served lists on validation and test users),
//                         and {path: {bytes, xxh3}} of EVERY other file in the directory
//   <dir>/config.yaml     the resolved configuration it was trained with
//   <dir>/data/           the prepared dataset snapshot (catalogue, id maps, histories)
//   <dir>/channels/<name> each recall channel (Recaller::save; ANN index in ann/)
//   <dir>/rankers/<name>  the pre-ranker and the fine-ranker (Ranker::save)
//
// What is trained (the seed-oof funnel that `cascade bench funnel` measures): the recall
// channels on the recall slice (or on every training row with rank.channel_folds; the
// manifest's `channels_fit` says which), fusion weights tuned on the validation item, the two
// funnel rankers on the ranker slice. Serving histories are the whole training rows plus live
// events, exactly as the held-out requests of the benchmark.
#pragma once

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cascade/data/dataset.h"
#include "cascade/rank/features.h"
#include "cascade/rank/ranker.h"
#include "cascade/recall/fusion.h"
#include "cascade/recall/recaller.h"

namespace cascade {

inline constexpr int kBundleFormatVersion = 1;

struct BundleBuildOptions {
  int threads = 0;  ///< 0 = hardware
  std::filesystem::path
      channel_cache;  ///< reuse channels fitted with the same spec/data/seed (empty = off)
  /// The diversity values of the bundle's own re-rank sweep on the validation users
  /// (manifest offline.rerank_sweep: the λ Pareto the dashboard draws); empty = none.
  std::vector<double> lambdas = {0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0};
  /// Experiment JSONs kept with the bundle as reports/<name>.json (listed and hashed like every
  /// file): e.g. "funnel" = the `bench funnel` JSON the funnel was chosen from, "quality" = a
  /// `bench quality` JSON. Each must parse as JSON; names are [a-z0-9_-]+.
  std::map<std::string, std::filesystem::path> reports;
  /// The offline test requests carry the user's validation item as a live event (a request
  /// served after it), instead of the training rows alone (seed-loo's definition).
  bool test_sees_valid = false;
};

/// Trains the funnel `cfg` describes (its `funnel` spec, else the recall, rank and rerank
/// groups; funnel_spec.h) on the seed-oof dataset `ds`, evaluates it as served on the validation
/// and test users (manifest "offline"), and writes a bundle to `out` (replacing an older bundle
/// there only once the new one is complete). Returns the new bundle's version. Progress goes to
/// the log.
std::string build_bundle(const YAML::Node& cfg, const Dataset& ds, const std::filesystem::path& out,
                         const BundleBuildOptions& opt);

/// Checks `dir/manifest.json` (format, version) and every file it lists (present, size, hash),
/// and that no unlisted file is present. Throws cascade::Error naming the bundle and the file.
/// Returns the manifest.
nlohmann::json verify_bundle(const std::filesystem::path& dir);

/// Every regular file under `dir` except manifest.json, as '/'-separated paths relative to `dir`,
/// sorted: what build_bundle lists in the manifest and verify_bundle expects to find listed.
std::vector<std::string> bundle_files(const std::filesystem::path& dir);

/// A loaded, verified, immutable bundle. Thread-safe to read from many threads.
class Bundle {
 public:
  /// verify_bundle() + load every part. Throws cascade::Error with the reason it was refused.
  static std::shared_ptr<const Bundle> load(const std::filesystem::path& dir);

  const std::string& version() const { return version_; }
  const std::filesystem::path& dir() const { return dir_; }
  const nlohmann::json& manifest() const { return manifest_; }
  /// reports/<name>.json kept with the bundle (BundleBuildOptions::reports), read and parsed
  /// on each call (verified at load like every file); null when the bundle has none by that name.
  nlohmann::json report(const std::string& name) const;
  /// The funnel spec it was built from (funnel_spec.h); empty for bundles older than specs.
  std::string funnel_spec() const { return manifest_.value("funnel", ""); }
  const YAML::Node& config() const { return config_; }
  const Dataset& data() const { return ds_; }
  /// The matrix the channels were fitted on (manifest `channels_fit`: the recall slice, or every
  /// training row): popularity statistics.
  const Interactions& fit_matrix() const { return fit_matrix_; }

  const std::vector<std::string>& channel_names() const { return names_; }
  const std::vector<const Recaller*>& channels() const { return channel_ptrs_; }
  /// Index of a channel by name, -1 when absent.
  int channel_index(const std::string& name) const;
  const FusionOptions& fusion() const { return fusion_; }
  size_t pool_depth() const { return pool_depth_; }

  const FeatureBuilder& features() const { return *features_; }
  const Ranker& pre_ranker() const { return *pre_; }
  const Ranker& fine_ranker() const { return *fine_; }
  const std::string& pre_name() const { return pre_name_; }
  const std::string& fine_name() const { return fine_name_; }
  size_t pre_keep() const { return pre_keep_; }
  size_t fine_keep() const { return fine_keep_; }
  /// Newest timestamp of the training log: the serving clock starts here (models learned the
  /// log's time, not the wall clock's).
  int64_t log_clock() const { return log_clock_; }

 private:
  Bundle() = default;
  std::filesystem::path dir_;
  std::string version_;
  nlohmann::json manifest_;
  YAML::Node config_;
  Dataset ds_;
  Interactions fit_matrix_;
  std::vector<std::string> names_;
  std::vector<std::unique_ptr<Recaller>> channels_;
  std::vector<const Recaller*> channel_ptrs_;
  FusionOptions fusion_;
  size_t pool_depth_ = 200;
  std::unique_ptr<FeatureBuilder> features_;
  std::unique_ptr<Ranker> pre_, fine_;
  std::string pre_name_, fine_name_;
  size_t pre_keep_ = 100, fine_keep_ = 20;
  int64_t log_clock_ = 0;
};

}  // namespace cascade
