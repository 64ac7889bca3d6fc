// The funnel spec grammar: parsing and printing the one-line and YAML forms (SpecPart,
// FunnelSpec). Kept apart from applying a spec to a configuration (funnel_spec.cc, which needs
// the registries and most of the pipeline) so that the grammar builds on its own, e.g. for the
// fuzz target fuzz/fuzz_funnel_spec.cc.
#include "cascade/pipeline/funnel_spec.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <tuple>

#include "cascade/core/error.h"
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

// A part of the map form must be a string. A list, map or null is refused by name, rather than
// dumped back to YAML text that then fails to parse as a spec with a confusing message.
std::string part_text(const YAML::Node& n, const std::string& what) {
  if (!n.IsScalar())
    throw Error(fmt::format("funnel.{}: expected a string such as \"deepfm@100\" or \"norm(pool=200)\", got a {}",
                            what, n.IsSequence() ? "list" : n.IsMap() ? "map" : "null"));
  return n.Scalar();
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
    // A key may be a list, a map or null in YAML; as<std::string>() would throw YAML's own error.
    const std::string k = kv.first.IsScalar() ? kv.first.Scalar() : "";
    if (std::find(known.begin(), known.end(), k) == known.end())
      throw Error(fmt::format("funnel.{}: unknown key (known: {})", kv.first.IsScalar() ? k : "<not a string>",
                              fmt::join(known, ", ")));
  }
  for (const auto& k : known)
    if (!node[k]) throw Error(fmt::format("funnel.{}: missing (the map form names all five parts)", k));
  std::vector<std::string> channels;
  if (node["channels"].IsSequence()) {
    for (const auto& c : node["channels"]) channels.push_back(part_text(c, "channels"));
  } else {
    channels.push_back(part_text(node["channels"], "channels"));
  }
  return parse(fmt::format("{} > {} > {} > {} > {}", fmt::join(channels, " + "), part_text(node["fusion"], "fusion"),
                           part_text(node["pre_rank"], "pre_rank"), part_text(node["fine_rank"], "fine_rank"),
                           part_text(node["rerank"], "rerank")));
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

}  // namespace cascade
