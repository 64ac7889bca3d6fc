// Composable YAML configs (Hydra-like, small):
//   configs/<name>.yaml may hold `defaults: [{group: option}, ...]` (or a map group: option);
//   each default loads configs/<group>/<option>.yaml and places it under key <group>;
//   the file's own keys are merged over its defaults; then command-line overrides apply:
//     group=option        (when configs/<group>/<option>.yaml exists) swaps a group;
//     a.b.c=value         sets a nested scalar (YAML-parsed: numbers, bools, lists [..]).
//     +a.b=value          adds a key that does not exist yet (+group=option adds a group);
//     ++a.b=value         sets it whether or not it exists;  ~a.b  removes it.
// Unknown groups/options and malformed overrides throw cascade::Error naming them.
//
// Details:
//  - defaults items: `- group: option`, `- group/sub: option` (placed under group.sub),
//    `- _self_` (accepted, ignored: the file's own keys always win over its defaults),
//    `- group: null` (skipped), `- optional group: option` (skipped when the file is absent).
//    A group option file may have its own defaults; their groups are relative to its folder
//    (configs/recall/default.yaml: `- ials: parity` loads configs/recall/ials/parity.yaml).
//  - merging: maps merge key by key, anything else (scalars, lists) is replaced.
//  - overrides apply in order. `group=option` (group = a folder under config_dir; '.' or '/'
//    separated) replaces that whole subtree with the option file, including keys the primary
//    file had set there (unlike Hydra, which re-applies them). Setting a key that does not
//    exist without '+' throws with the closest existing keys under the same parent.
//  - every returned node is a deep copy without YAML aliases shared between subtrees. Aliases
//    are expanded within bounds (256 levels, 100,000 nodes per file or override value): an alias
//    inside the node it names, or aliases multiplying past that, throw cascade::Error naming the
//    file or the override.
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

  /// Names of the primary configs (config_dir/*.yaml, without extension), sorted.
  std::vector<std::string> configs() const;
  /// Options of a group (config_dir/<group>/*.yaml, without extension), sorted; throws when
  /// the group folder does not exist.
  std::vector<std::string> options(const std::string& group) const;
};

/// A YAML node as text (for saving the resolved config). Block style, lists of scalars in
/// flow style; scalars that were quoted in the input stay quoted so they reload as strings.
std::string yaml_dump(const YAML::Node& node);

/// Flattens a node into dotted keys -> scalar text ("recall.ials.factors" -> "64"),
/// lists as YAML flow text. Used to log params to the run store. Document order (depth
/// first, keys in file order); null -> "null", empty map -> "{}". The root must be a map
/// (or null, giving nothing).
std::vector<std::pair<std::string, std::string>> flatten_config(const YAML::Node& node);

/// The default config dir: $CASCADE_CONFIG_DIR, else ./configs, else <source dir>/configs.
std::filesystem::path default_config_dir();

}  // namespace cascade
