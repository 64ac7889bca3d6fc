// Composable YAML configs (Hydra-like, small):
//   configs/<name>.yaml may hold `defaults: [{group: option}, ...]` (or a map group: option);
//   each default loads configs/<group>/<option>.yaml and places it under key <group>;
//   the file's own keys are merged over its defaults; then command-line overrides apply:
//     group=option        (when configs/<group>/<option>.yaml exists) swaps a group;
//     a.b.c=value         sets a nested scalar (YAML-parsed: numbers, bools, lists [..]).
// Unknown groups/options and malformed overrides throw cascade::Error naming them.
#pragma once

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <string>
#include <vector>

namespace cascade {

struct ConfigLoader {
  std::filesystem::path config_dir;  ///< e.g. <repo>/configs

  /// Composes configs/<name>.yaml with its defaults and the overrides.
  YAML::Node compose(const std::string& name, const std::vector<std::string>& overrides) const;
};

/// A YAML node as text (for saving the resolved config).
std::string yaml_dump(const YAML::Node& node);

/// Flattens a node into dotted keys -> scalar text ("recall.ials.factors" -> "64"),
/// lists as YAML flow text. Used to log params to the run store.
std::vector<std::pair<std::string, std::string>> flatten_config(const YAML::Node& node);

/// The default config dir: $CASCADE_CONFIG_DIR, else ./configs, else <source dir>/configs.
std::filesystem::path default_config_dir();

}  // namespace cascade
