#include "cascade/pipeline/funnel_spec.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>

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

constexpr const char* kExample =
    "e.g. \"ials+ease+sasrec > norm(quota=500,pool=200) > deepfm@100 > din@20 > mmr(diversity=0.2)\"";

bool is_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
}

// Splits at `sep` outside parentheses; throws on unbalanced parentheses.
std::vector<std::string> split_top(std::string_view text, char sep, const std::string& what) {
  std::vector<std::string> parts;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '(') ++depth;
    if (text[i] == ')' && --depth < 0)
      throw Error(fmt::format("funnel spec: {}: unbalanced ')' in '{}'", what, text));
    if (text[i] == sep && depth == 0) {
      parts.push_back(trim(text.substr(start, i - start)));
      start = i + 1;
    }
  }
  if (depth != 0) throw Error(fmt::format("funnel spec: {}: unbalanced '(' in '{}'", what, text));
  parts.push_back(trim(text.substr(start)));
  return parts;
}

// "name@keep" -> (part, keep).
std::pair<SpecPart, size_t> parse_ranker(std::string_view text, const std::string& what) {
  const auto parts = split_top(text, '@', what);
  if (parts.size() != 2 || parts[1].empty())
    throw Error(fmt::format("funnel spec: {}: '{}' is not RANKER@KEEP (e.g. deepfm@100)", what, text));
  size_t keep = 0;
  for (char c : parts[1]) {
    if (!std::isdigit(static_cast<unsigned char>(c)) || keep > 100000000)
      throw Error(fmt::format("funnel spec: {}: keep '{}' is not a positive integer", what, parts[1]));
    keep = keep * 10 + static_cast<size_t>(c - '0');
  }
  if (keep == 0) throw Error(fmt::format("funnel spec: {}: keep must be at least 1", what));
  return {SpecPart::parse(parts[0], what), keep};
}

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

std::string SpecPart::str() const {
  if (params.empty()) return name;
  std::vector<std::string> kv;
  for (const auto& [k, v] : params) kv.push_back(k + "=" + v);
  return fmt::format("{}({})", name, fmt::join(kv, ","));
}

SpecPart SpecPart::parse(std::string_view text_in, const std::string& what) {
  const std::string text = trim(text_in);
  SpecPart p;
  size_t i = 0;
  while (i < text.size() && is_name_char(text[i])) ++i;
  p.name = text.substr(0, i);
  if (p.name.empty())
    throw Error(fmt::format("funnel spec: {}: expected a name, got '{}' ({})", what, text, kExample));
  const std::string rest = trim(std::string_view(text).substr(i));
  if (rest.empty()) return p;
  if (rest.front() != '(' || rest.back() != ')')
    throw Error(fmt::format("funnel spec: {}: '{}' is not NAME or NAME(key=value,...)", what, text));
  const std::string inner = rest.substr(1, rest.size() - 2);
  for (const std::string& kv : split_top(inner, ',', what)) {
    const size_t eq = kv.find('=');
    const std::string key = eq == std::string::npos ? "" : trim(kv.substr(0, eq));
    const std::string value = eq == std::string::npos ? "" : trim(kv.substr(eq + 1));
    if (key.empty() || value.empty() || !std::all_of(key.begin(), key.end(), is_name_char) ||
        value.find_first_of("()") != std::string::npos)
      throw Error(fmt::format("funnel spec: {}: '{}' in '{}' is not key=value", what, kv, text));
    if (!p.params.emplace(key, value).second)
      throw Error(fmt::format("funnel spec: {}: parameter '{}' given twice", what, key));
  }
  return p;
}

FunnelSpec FunnelSpec::parse(std::string_view text) {
  const auto stages = split_top(text, '>', "funnel");
  if (stages.size() != 5)
    throw Error(fmt::format(
        "funnel spec: expected 5 stages separated by '>' (channels > fusion > pre-ranker@keep > "
        "fine-ranker@keep > re-ranker), got {} in '{}' ({})",
        stages.size(), text, kExample));
  FunnelSpec s;
  const auto channels = split_top(stages[0], '+', "channels");
  for (size_t c = 0; c < channels.size(); ++c) {
    s.channels.push_back(SpecPart::parse(channels[c], fmt::format("channel {}", c + 1)));
    for (size_t d = 0; d < c; ++d)
      if (s.channels[d].name == s.channels[c].name)
        throw Error(fmt::format("funnel spec: channel '{}' is named twice", s.channels[c].name));
  }
  s.fusion = SpecPart::parse(stages[1], "fusion");
  std::tie(s.pre_rank, s.pre_keep) = parse_ranker(stages[2], "pre-ranker");
  std::tie(s.fine_rank, s.fine_keep) = parse_ranker(stages[3], "fine-ranker");
  if (s.fine_keep > s.pre_keep)
    throw Error(fmt::format("funnel spec: the fine-ranker keeps {} but the pre-ranker hands on only {}",
                            s.fine_keep, s.pre_keep));
  s.rerank = SpecPart::parse(stages[4], "re-ranker");
  return s;
}

FunnelSpec FunnelSpec::from_yaml(const YAML::Node& node) {
  if (node.IsScalar()) return parse(node.Scalar());
  CASCADE_CHECK(node.IsMap(), "funnel: expected a spec string or a map {channels, fusion, pre_rank, "
                              "fine_rank, rerank}");
  const std::vector<std::string> known = {"channels", "fusion", "pre_rank", "fine_rank", "rerank"};
  for (const auto& kv : node) {
    const std::string k = kv.first.as<std::string>();
    if (std::find(known.begin(), known.end(), k) == known.end())
      throw Error(fmt::format("funnel.{}: unknown key (known: {})", k, fmt::join(known, ", ")));
  }
  for (const auto& k : known)
    if (!node[k]) throw Error(fmt::format("funnel.{}: missing (the map form names all five parts)", k));
  std::vector<std::string> channels;
  if (node["channels"].IsSequence()) {
    for (const auto& c : node["channels"]) channels.push_back(text_of(c));
  } else {
    channels.push_back(text_of(node["channels"]));
  }
  std::vector<std::string> joined;
  for (const auto& c : channels) joined.push_back(c);
  return parse(fmt::format("{} > {} > {} > {} > {}", fmt::join(joined, " + "), text_of(node["fusion"]),
                           text_of(node["pre_rank"]), text_of(node["fine_rank"]), text_of(node["rerank"])));
}

std::string FunnelSpec::str() const {
  std::vector<std::string> ch;
  for (const auto& c : channels) ch.push_back(c.str());
  return fmt::format("{} > {} > {}@{} > {}@{} > {}", fmt::join(ch, "+"), fusion.str(), pre_rank.str(),
                     pre_keep, fine_rank.str(), fine_keep, rerank.str());
}

YAML::Node FunnelSpec::to_yaml() const {
  YAML::Node n(YAML::NodeType::Map);
  for (const auto& c : channels) n["channels"].push_back(c.str());
  n["fusion"] = fusion.str();
  n["pre_rank"] = fmt::format("{}@{}", pre_rank.str(), pre_keep);
  n["fine_rank"] = fmt::format("{}@{}", fine_rank.str(), fine_keep);
  n["rerank"] = rerank.str();
  return n;
}

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
