// Applying a funnel spec to a configuration (funnel_spec_of, apply_funnel_spec, resolve_funnel).
// The grammar itself (SpecPart / FunnelSpec parse, str, YAML forms) is in funnel_spec_grammar.cc.
#include "cascade/pipeline/funnel_spec.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "cascade/core/error.h"
#include "cascade/core/registry.h"
#include "cascade/pipeline/fused_pool.h"
#include "cascade/pipeline/rank_job.h"
#include "cascade/pipeline/recall_job.h"
#include "cascade/pipeline/rerank_stage.h"
#include "cascade/recall/fusion.h"
#include "cascade/rerank/rerank.h"
#include "cascade/util/strings.h"

namespace cascade {
namespace {

// YAML-typed scalar from spec text ("64" -> int, "true" -> bool, "rank:ndcg" -> string).
YAML::Node scalar(const std::string& value) {
  try {
    YAML::Node n = YAML::Load(value);
    if (n.IsScalar()) return n;
  } catch (const YAML::Exception&) {
  }
  return YAML::Node(value);
}

// Sets a dotted key ("ann.kind") under `node`, creating maps on the way.
void set_dotted(YAML::Node node, const std::string& key, const std::string& value) {
  size_t start = 0;
  while (true) {
    const size_t dot = key.find('.', start);
    const std::string k = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (dot == std::string::npos) {
      node[k] = scalar(value);
      return;
    }
    if (!node[k] || !node[k].IsMap()) node[k] = YAML::Node(YAML::NodeType::Map);
    node.reset(node[k]);
    start = dot + 1;
  }
}

std::string text_of(const YAML::Node& n) { return n.IsScalar() ? n.Scalar() : YAML::Dump(n); }

std::vector<std::string> map_keys(const YAML::Node& m) {
  std::vector<std::string> out;
  if (m && m.IsMap())
    for (const auto& kv : m) out.push_back(kv.first.as<std::string>());
  return out;
}

YAML::Node group(const YAML::Node& cfg, const char* name) {
  return cfg[name] && cfg[name].IsMap() ? YAML::Clone(cfg[name]) : YAML::Node(YAML::NodeType::Map);
}

// The rerank group's options (without the keys the Recommender reads itself). A copy: YAML
// nodes are references, and removing keys from the caller's node would lose them.
RerankOptions rerank_options_of(const YAML::Node& group) {
  YAML::Node g = YAML::Clone(group);
  g.remove("vectors");
  g.remove("method");
  return RerankOptions::from_yaml(g);
}

// The structural values the spec prints, filled from the groups where the spec is silent.
void canonicalize(FunnelSpec& s, const YAML::Node& cfg) {
  const YAML::Node recall = group(cfg, "recall");
  const auto names = map_keys(recall["channels"]);
  const FusionConfig fc = fusion_config_from_yaml(recall["fusion"], names);
  const RankConfig rc = rank_config_from_yaml(cfg["rank"], 0);
  auto& fp = s.fusion.params;
  if (!fp.count("quota")) fp["quota"] = std::to_string(fc.quota);
  if (!fp.count("pool")) fp["pool"] = std::to_string(rc.pool_depth);
  if (!fp.count("tune") && !fc.tune) fp["tune"] = "false";
  if (Registry<FusionMethod>::instance().has(s.fusion.name)) {
    for (const std::string& k : make_fusion_method(s.fusion.name)->option_keys()) {
      if (fp.count(k)) continue;
      if (recall["fusion"] && recall["fusion"][k]) {
        fp[k] = text_of(recall["fusion"][k]);
      } else if (k == "rrf_k") {
        fp[k] = fmt::format("{}", fc.base.rrf_k);
      }
    }
  }
  // Re-rank: the group with the spec's values over it; non-default values are printed.
  YAML::Node rr = group(cfg, "rerank");
  for (const auto& [k, v] : s.rerank.params) set_dotted(rr, k, v);
  RerankOptions o;
  try {
    o = rerank_options_of(rr);
  } catch (const Error& e) {
    throw Error(fmt::format("funnel spec: re-ranker {}: {}", s.rerank.name, e.what()));
  }
  const RerankOptions d;
  auto& rp = s.rerank.params;
  auto put = [&](const char* k, bool differs, const std::string& v) {
    if (differs || rp.count(k)) rp[k] = v;
  };
  if (s.rerank.name == "mmr") {
    rp["diversity"] = fmt::format("{}", o.diversity);
    put("ips_exponent", o.ips_exponent != d.ips_exponent, fmt::format("{}", o.ips_exponent));
    put("ips_clip", o.ips_clip != d.ips_clip, fmt::format("{}", o.ips_clip));
    put("max_per_genre", o.max_per_genre != d.max_per_genre, fmt::format("{}", o.max_per_genre));
    put("max_per_year_bucket", o.max_per_year_bucket != d.max_per_year_bucket,
        fmt::format("{}", o.max_per_year_bucket));
    const std::string vectors = rr["vectors"] ? text_of(rr["vectors"]) : "ials";
    put("vectors", vectors != "ials", vectors);
  }
  put("drop_watched", o.drop_watched != d.drop_watched, o.drop_watched ? "true" : "false");
}

}  // namespace

FunnelSpec funnel_spec_of(const YAML::Node& cfg) {
  FunnelSpec s;
  const YAML::Node f = cfg["funnel"];
  if (f && !f.IsNull() && !(f.IsScalar() && trim(f.Scalar()).empty())) {
    s = FunnelSpec::from_yaml(f);
  } else {
    const YAML::Node recall = group(cfg, "recall");
    for (const auto& name : map_keys(recall["channels"])) s.channels.push_back(SpecPart{name, {}});
    s.fusion.name = recall["fusion"] && recall["fusion"]["method"] ? text_of(recall["fusion"]["method"]) : "norm";
    const RankConfig rc = rank_config_from_yaml(cfg["rank"], 0);
    s.pre_rank.name = rc.pre_rank;
    s.pre_keep = rc.pre_keep;
    s.fine_rank.name = rc.fine_rank;
    s.fine_keep = rc.fine_keep;
    const YAML::Node rr = group(cfg, "rerank");
    s.rerank.name = rr["method"] ? text_of(rr["method"]) : "mmr";
  }
  canonicalize(s, cfg);
  return s;
}

void apply_funnel_spec(const FunnelSpec& spec, YAML::Node& cfg) {
  CASCADE_CHECK(!spec.channels.empty(), "funnel spec: no recall channel");
  // Recall channels: the spec's, in its order, with its overrides.
  YAML::Node recall = cfg["recall"];
  const YAML::Node configured = recall["channels"];
  const auto configured_names = map_keys(configured);
  YAML::Node channels(YAML::NodeType::Map);
  for (const SpecPart& c : spec.channels) {
    YAML::Node body;
    if (configured && configured[c.name]) {
      body = YAML::Clone(configured[c.name]);
      if (!body.IsMap()) body = YAML::Node(YAML::NodeType::Map);
    } else if (Registry<Recaller>::instance().has(c.name)) {
      body = YAML::Node(YAML::NodeType::Map);
    } else {
      throw Error(fmt::format(
          "funnel spec: channel '{}' is neither configured under recall.channels ({}) nor a "
          "registered channel kind ({})",
          c.name, fmt::join(configured_names, ", "), fmt::join(Registry<Recaller>::instance().names(), ", ")));
    }
    for (const auto& [k, v] : c.params) set_dotted(body, k, v);
    channels[c.name] = body;
  }
  recall["channels"] = channels;
  std::vector<std::string> names;
  for (const auto& c : spec.channels) names.push_back(c.name);
  for (const auto& cs : channel_specs_from_yaml(channels)) {
    try {
      Registry<Recaller>::instance().create(cs.kind, cs.params);
    } catch (const Error& e) {
      throw Error(fmt::format("funnel spec: channel '{}': {}", cs.name, e.what()));
    }
  }

  // Fusion: method, its own options, quota, tune; weights of channels left out are dropped.
  Registry<FusionMethod>::instance().check(spec.fusion.name);
  YAML::Node fusion = recall["fusion"] && recall["fusion"].IsMap() ? recall["fusion"] : YAML::Node(YAML::NodeType::Map);
  fusion["method"] = spec.fusion.name;
  const auto method_keys = make_fusion_method(spec.fusion.name)->option_keys();
  for (const auto& [k, v] : spec.fusion.params) {
    if (k == "pool") {
      cfg["rank"]["pool_depth"] = scalar(v);
    } else if (k == "quota" || k == "tune" ||
               std::find(method_keys.begin(), method_keys.end(), k) != method_keys.end()) {
      fusion[k] = scalar(v);
    } else {
      std::vector<std::string> known = {"quota", "pool", "tune"};
      known.insert(known.end(), method_keys.begin(), method_keys.end());
      throw Error(fmt::format("funnel spec: fusion {}: unknown parameter '{}' (known: {})", spec.fusion.name, k,
                              fmt::join(known, ", ")));
    }
  }
  if (fusion["weights"] && fusion["weights"].IsMap()) {
    YAML::Node kept(YAML::NodeType::Map);
    for (const auto& kv : fusion["weights"]) {
      const std::string n = kv.first.as<std::string>();
      if (std::find(names.begin(), names.end(), n) != names.end()) kept[n] = kv.second;
    }
    fusion["weights"] = kept;
  }
  recall["fusion"] = fusion;
  cfg["recall"] = recall;

  // Rankers: configured entries or registered kinds, with the spec's overrides.
  YAML::Node rank = cfg["rank"];
  YAML::Node rankers = rank["rankers"] && rank["rankers"].IsMap() ? rank["rankers"] : YAML::Node(YAML::NodeType::Map);
  const auto configured_rankers = map_keys(rankers);
  for (const SpecPart* r : {&spec.pre_rank, &spec.fine_rank}) {
    if (!rankers[r->name]) {
      if (!Registry<Ranker>::instance().has(r->name))
        throw Error(fmt::format(
            "funnel spec: ranker '{}' is neither configured under rank.rankers ({}) nor a registered "
            "ranker kind ({})",
            r->name, fmt::join(configured_rankers, ", "), fmt::join(Registry<Ranker>::instance().names(), ", ")));
      rankers[r->name] = YAML::Node(YAML::NodeType::Map);
    }
    if (!rankers[r->name].IsMap()) rankers[r->name] = YAML::Node(YAML::NodeType::Map);
    for (const auto& [k, v] : r->params) set_dotted(rankers[r->name], k, v);
  }
  rank["rankers"] = rankers;
  rank["funnel"]["pre_rank"] = spec.pre_rank.name;
  rank["funnel"]["pre_keep"] = spec.pre_keep;
  rank["funnel"]["fine_rank"] = spec.fine_rank.name;
  rank["funnel"]["fine_keep"] = spec.fine_keep;
  cfg["rank"] = rank;
  const RankConfig rc = rank_config_from_yaml(cfg["rank"], 0);
  for (const SpecPart* r : {&spec.pre_rank, &spec.fine_rank}) {
    const RankerSpec& rs = rc.ranker(r->name);
    try {
      Registry<Ranker>::instance().create(rs.kind, rs.params);
    } catch (const Error& e) {
      throw Error(fmt::format("funnel spec: ranker '{}': {}", r->name, e.what()));
    }
  }

  // Re-rank: the method and its options.
  Registry<RerankMethod>::instance().check(spec.rerank.name);
  YAML::Node rr = cfg["rerank"] && cfg["rerank"].IsMap() ? cfg["rerank"] : YAML::Node(YAML::NodeType::Map);
  rr["method"] = spec.rerank.name;
  for (const auto& [k, v] : spec.rerank.params) set_dotted(rr, k, v);
  cfg["rerank"] = rr;
  const RerankConfig rerank = RerankConfig::from_yaml(rr);
  try {
    rerank.make_method();
  } catch (const Error& e) {
    throw Error(fmt::format("funnel spec: re-ranker {}: {}", spec.rerank.name, e.what()));
  }
  if (rerank.vectors != "none" && std::find(names.begin(), names.end(), rerank.vectors) == names.end())
    throw Error(fmt::format(
        "funnel spec: re-ranker {}: its item vectors come from channel '{}' (rerank.vectors), which is not "
        "in the funnel ({}); name one of them, e.g. {}(vectors={}), or vectors=none",
        spec.rerank.name, rerank.vectors, fmt::join(names, ", "), spec.rerank.name, names.back()));
  fusion_config_from_yaml(cfg["recall"]["fusion"], names);
  cfg["funnel"] = spec.str();
}

FunnelSpec resolve_funnel(YAML::Node& cfg) {
  FunnelSpec spec = funnel_spec_of(cfg);
  apply_funnel_spec(spec, cfg);
  return spec;
}

}  // namespace cascade
