// The whole funnel as one line: which recall channels, how they are fused and how deep the pool
// is, which ranker pre-ranks and how many it keeps, which ranker fine-ranks and how many it
// keeps, and how the final list is re-ranked.
//
//   popularity+content+ials+ease+two_tower+sasrec > norm(pool=200,quota=500) > deepfm@100
//     > din@20 > mmr(diversity=0.2)
//
// Grammar (white space around the separators is ignored):
//   funnel  := channels '>' fusion '>' ranker '@' keep '>' ranker '@' keep '>' rerank
//   channels:= part ('+' part)*
//   part    := name | name '(' key '=' value (',' key '=' value)* ')'
// Names refer to what the configuration defines (recall.channels.<name>, rank.rankers.<name>) or,
// when the configuration has no entry of that name, to a registered kind with its defaults.
// Parameters in parentheses override the configured ones for this funnel (a dotted key reaches
// into a nested map: `ials(ann.kind=hnsw)`). Fusion takes `quota` (candidates per channel),
// `pool` (the fused pool handed to the pre-ranker), `tune` (fusion weights tuned on validation)
// and its method's own parameters (rrf: `rrf_k`); the re-ranker its options (mmr: diversity,
// ips_exponent, ips_clip, max_per_genre, max_per_year_bucket, drop_watched, vectors).
//
// The YAML form is a map with the same parts as strings:
//   funnel: {channels: [ials, "sasrec(max_len=50)"], fusion: "norm(pool=200)",
//            pre_rank: "deepfm@100", fine_rank: "din@20", rerank: "mmr(diversity=0.2)"}
//
// The canonical form (str()) lists the channels in the given order, every part's parameters
// sorted by key, and always the structural values (quota, pool, keeps, diversity), so two
// configurations that build the same funnel print the same line. Parameters of channels and
// rankers that the spec does not name come from the configuration groups; the resolved
// configuration is saved next to the spec (run store, bundle), so together they are complete.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace cascade {

/// One part of a spec: a name and parameter overrides ("ials(factors=128)").
struct SpecPart {
  std::string name;
  std::map<std::string, std::string> params;  ///< sorted: the canonical order

  std::string str() const;  ///< "name" or "name(k=v,...)"
  /// Parses one part; `what` names it in errors ("fusion", "channel 2").
  static SpecPart parse(std::string_view text, const std::string& what);
  bool operator==(const SpecPart&) const = default;
};

struct FunnelSpec {
  std::vector<SpecPart> channels;
  SpecPart fusion;
  SpecPart pre_rank;
  size_t pre_keep = 100;
  SpecPart fine_rank;
  size_t fine_keep = 20;
  SpecPart rerank;

  /// Parses the one-line form. Throws cascade::Error naming the bad part and what was expected.
  static FunnelSpec parse(std::string_view text);
  /// Parses the YAML form (a map of the five parts) or a string node (the one-line form).
  static FunnelSpec from_yaml(const YAML::Node& node);

  std::string str() const;  ///< the canonical one-line form
  YAML::Node to_yaml() const;
  bool operator==(const FunnelSpec&) const = default;
};

/// The funnel a composed configuration describes: its top-level `funnel` key (string or map)
/// when set, else the one the groups (recall, rank, rerank) define, in canonical form.
/// Throws cascade::Error when the groups are invalid.
FunnelSpec funnel_spec_of(const YAML::Node& cfg);

/// Writes `spec` into the configuration's groups: recall.channels becomes the spec's channels
/// in its order (with overrides), recall.fusion / rank.pool_depth / rank.funnel / rank.rankers /
/// rerank take its values, and `funnel` is set to the canonical string. Validates every name
/// against the configuration and the registries (an unknown name lists the known ones) and every
/// parameter by reading the groups back. Throws cascade::Error naming the part.
void apply_funnel_spec(const FunnelSpec& spec, YAML::Node& cfg);

/// funnel_spec_of + apply_funnel_spec: after this the groups and cfg["funnel"] agree. What every
/// command that builds or evaluates a funnel calls once on its configuration.
FunnelSpec resolve_funnel(YAML::Node& cfg);

}  // namespace cascade
