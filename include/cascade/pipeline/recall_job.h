// The glue the CLI (and later the server and Python bindings) share: turn a YAML config
// into a prepared dataset and a set of fitted recall channels.
#pragma once

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cascade/ann/ann_index.h"
#include "cascade/core/params.h"
#include "cascade/data/dataset.h"
#include "cascade/data/loaders.h"
#include "cascade/recall/recaller.h"

namespace cascade {

/// Where the data comes from and how it is split (the `data` config group).
struct DataSource {
  std::string tag;      ///< short name used for folders ("ml-100k")
  std::string dataset;  ///< loader name
  std::string path;
  LoadOptions load;
  PrepareOptions prepare;

  /// A stable text of every field, to decide whether a cached snapshot is still valid.
  std::string fingerprint() const;
};

DataSource data_source_from_yaml(const YAML::Node& data);

/// Loads `snapshot_dir` when it holds a snapshot made from the same source (same
/// fingerprint), otherwise loads the raw data, prepares it and saves the snapshot there.
/// Progress goes to stderr.
Dataset prepare_or_load(const DataSource& src, const std::filesystem::path& snapshot_dir);

/// One configured channel: its name in the config, the registered kind and parameters.
struct ChannelSpec {
  std::string name;
  std::string kind;
  Params params;
  /// From the channel's `ann:` map (kind exact|hnsw|none, m, ef_construction, ef_search,
  /// threads); unset when absent or kind none. When set, fit_channel() builds the index.
  std::optional<AnnOptions> ann;
  std::string spec() const;  ///< "kind:k=v,..."
};

/// Reads `channels: {name: {kind: ..., param: value, ..., ann: {...}}, ...}` in file order.
std::vector<ChannelSpec> channel_specs_from_yaml(const YAML::Node& channels);

/// The channels named in `only`, in that order (all of them when `only` is empty). A name
/// that is not configured throws cascade::Error listing the configured ones.
std::vector<ChannelSpec> select_channels(const std::vector<ChannelSpec>& all,
                                         const std::vector<std::string>& only);

struct FittedChannel {
  ChannelSpec spec;
  std::unique_ptr<Recaller> model;
  double fit_seconds = 0;
  double index_seconds = 0;
};

/// Creates and fits one channel on `train` (ds.train or the seed-oof recall slice), giving it
/// the validation split for tuning, and builds + attaches its ANN index when configured
/// (fit_seconds excludes the index build, index_seconds holds it). Threads: 0 = hardware.
FittedChannel fit_channel(const ChannelSpec& spec, const Dataset& ds, const Interactions& train,
                          int threads, uint64_t seed);

/// fit_channel() through a cache: when `cache_dir` is not empty the fitted channel is saved under
/// <cache_dir>/<tag>-<name>-<key> (key = hash of the spec, the dataset hash, the seed, `tag`,
/// whether an index is built and the code's build ID: a rebuilt binary fits again, since a
/// changed fit under the same spec once made a stale cache look like a gain) and loaded from
/// there next time (fit_seconds = -1 then).
/// `tag` names the matrix the channel is fitted on ("oof" = recall slice, "train" = every
/// training row, "fold<f>of<k>" = a channel fold's matrix).
FittedChannel fit_or_load_channel(const ChannelSpec& spec, const Dataset& ds,
                                  const Interactions& train, const std::string& tag,
                                  const std::filesystem::path& cache_dir, int threads,
                                  uint64_t seed);

}  // namespace cascade
