// Composable YAML configs: a small subset of Hydra's defaults lists and overrides
// (see include/cascade/core/config.h for the rules).
//
// yaml-cpp nodes have reference semantics: `a = b` on an existing node rebinds the data that
// every other handle to it sees, and YAML::Clone keeps YAML aliases (&x / *x) shared. So every
// node that enters the composed tree is copied with deep_copy() below, which builds fresh
// nodes and expands aliases; lookups go through const references (a non-const operator[]
// on a missing key creates an entry), and walking down a path uses Node::reset().
#include "cascade/core/config.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <numeric>
#include <optional>
#include <set>

#include "cascade/core/error.h"

namespace fs = std::filesystem;

namespace cascade {

namespace {

// Whether `p` is a regular file / a directory, false when it cannot be examined (a name too
// long for the file system, a component that is not a directory, no permission): a path that
// comes from a config or an override must give a clear "not found", not an exception from
// std::filesystem (the config fuzzer found that with a 300-byte group name).
bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}
bool is_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

constexpr int kMaxDefaultsDepth = 16;  // nested defaults deeper than this are a cycle
using KeyPath = std::vector<std::string>;

std::string join(const KeyPath& path, const std::string& sep, size_t n = std::string::npos) {
  std::string out;
  n = std::min(n, path.size());
  for (size_t i = 0; i < n; ++i) {
    if (i) out += sep;
    out += path[i];
  }
  return out;
}

std::string join_list(const std::vector<std::string>& items) {
  if (items.empty()) return "(none)";
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ", ";
    out += items[i];
  }
  return out;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

// Splits on any of `seps`; empty parts are kept (so callers can reject "a..b").
KeyPath split(const std::string& s, const std::string& seps) {
  KeyPath out;
  size_t start = 0;
  while (true) {
    size_t pos = s.find_first_of(seps, start);
    if (pos == std::string::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

// deep_copy expands YAML aliases, so a file a few lines long can describe an unbounded tree: an
// alias inside the node it names (`a: &a [*a]`) is infinitely deep, and nested aliases
// ("billion laughs") multiply. Copies stop with an Error at these bounds, far beyond any config.
constexpr int kMaxNodeDepth = 256;
constexpr size_t kMaxNodes = 100'000;

struct CopyBudget {
  size_t nodes = 0;
};

YAML::Node deep_copy(const YAML::Node& n, CopyBudget& budget, int depth) {
  if (depth > kMaxNodeDepth) {
    throw Error(fmt::format(
        "YAML nested deeper than {} levels (an alias inside the node it names?)", kMaxNodeDepth));
  }
  if (++budget.nodes > kMaxNodes) {
    throw Error(fmt::format("YAML expands to more than {} nodes (aliases of aliases?)", kMaxNodes));
  }
  switch (n.Type()) {
    case YAML::NodeType::Undefined:
      return YAML::Node();
    case YAML::NodeType::Null: {
      YAML::Node out(YAML::NodeType::Null);
      return out;
    }
    case YAML::NodeType::Scalar: {
      YAML::Node out(n.Scalar());
      out.SetTag(n.Tag());
      return out;
    }
    case YAML::NodeType::Sequence: {
      YAML::Node out(YAML::NodeType::Sequence);
      for (const auto& item : n) out.push_back(deep_copy(item, budget, depth + 1));
      out.SetTag(n.Tag());
      return out;
    }
    case YAML::NodeType::Map: {
      YAML::Node out(YAML::NodeType::Map);
      for (const auto& kv : n) {
        out.force_insert(deep_copy(kv.first, budget, depth + 1),
                         deep_copy(kv.second, budget, depth + 1));
      }
      out.SetTag(n.Tag());
      return out;
    }
  }
  return YAML::Node();
}

// A fresh copy of `n` sharing no node with it (aliases expanded), keeping tags so that
// quoted scalars stay strings. Throws Error past the bounds above.
YAML::Node deep_copy(const YAML::Node& n) {
  CopyBudget budget;
  return deep_copy(n, budget, 0);
}

// Child of a map by key text (a handle to the node in the tree), or nullopt; never
// inserts (a non-const operator[] would).
std::optional<YAML::Node> child(const YAML::Node& map, const std::string& key) {
  if (!map.IsMap()) return std::nullopt;
  for (const auto& kv : map) {
    if (kv.first.IsScalar() && kv.first.Scalar() == key) return kv.second;
  }
  return std::nullopt;
}

bool has_key(const YAML::Node& map, const std::string& key) {
  if (!map.IsMap()) return false;
  for (const auto& kv : map) {
    if (kv.first.IsScalar() && kv.first.Scalar() == key) return true;
  }
  return false;
}

std::vector<std::string> keys_of(const YAML::Node& map) {
  std::vector<std::string> out;
  if (!map.IsMap()) return out;
  for (const auto& kv : map)
    out.push_back(kv.first.IsScalar() ? kv.first.Scalar() : YAML::Dump(kv.first));
  return out;
}

// map[key] = value (value already a private copy). An existing entry is replaced in place,
// so the key keeps its position in file order.
void put(YAML::Node map, const std::string& key, const YAML::Node& value) {
  if (has_key(map, key)) {
    YAML::Node slot = map[key];  // handle to the existing value node
    slot = value;                // rebinds that node's data to `value`
  } else {
    map.force_insert(key, value);
  }
}

// Maps merge key by key (src over dst); anything else in src replaces dst's entry.
void deep_merge(YAML::Node dst, const YAML::Node& src) {
  if (!src.IsMap()) return;
  for (const auto& kv : src) {
    const std::string key = kv.first.Scalar();
    std::optional<YAML::Node> existing = child(dst, key);
    if (existing && existing->IsMap() && kv.second.IsMap()) {
      deep_merge(*existing, kv.second);
    } else {
      put(dst, key, deep_copy(kv.second));
    }
  }
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  std::iota(prev.begin(), prev.end(), 0);
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// "did you mean 'a.b.x'? (keys under 'a.b': ...)" for an unknown `missing` under `parent`.
std::string suggest(const YAML::Node& parent, const KeyPath& parent_path,
                    const std::string& missing) {
  std::vector<std::string> keys = keys_of(parent);
  const std::string prefix = parent_path.empty() ? "" : join(parent_path, ".") + ".";
  std::vector<std::pair<size_t, std::string>> close;
  const size_t limit = std::max<size_t>(2, missing.size() / 3);
  for (const auto& k : keys) {
    size_t d = edit_distance(missing, k);
    bool contains = !missing.empty() &&
                    (k.find(missing) != std::string::npos || missing.find(k) != std::string::npos);
    if (d <= limit || contains) close.emplace_back(d, k);
  }
  std::stable_sort(close.begin(), close.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  std::string out;
  if (!close.empty()) {
    out += "; did you mean ";
    for (size_t i = 0; i < close.size() && i < 3; ++i) {
      if (i) out += " or ";
      out += "'" + prefix + close[i].second + "'";
    }
    out += "?";
  }
  std::vector<std::string> shown(keys.begin(), keys.begin() + std::min<size_t>(keys.size(), 30));
  std::string where =
      parent_path.empty() ? "top-level keys" : "keys under '" + join(parent_path, ".") + "'";
  out += fmt::format(" ({}: {}{})", where, join_list(shown),
                     keys.size() > shown.size() ? ", ..." : "");
  return out;
}

// The file's tree, copied (so aliases are expanded and bounded before anything walks it).
YAML::Node load_yaml_file(const fs::path& file) {
  try {
    return deep_copy(YAML::LoadFile(file.string()));
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", file.string(), e.what()));
  } catch (const YAML::BadFile&) {
    throw Error(fmt::format("cannot read config file {}", file.string()));
  } catch (const YAML::ParserException& e) {
    throw Error(fmt::format("{}:{}:{}: YAML syntax error: {}", file.string(), e.mark.line + 1,
                            e.mark.column + 1, e.msg));
  } catch (const YAML::Exception& e) {
    throw Error(fmt::format("{}: cannot load YAML: {}", file.string(), e.what()));
  }
}

std::vector<std::string> yaml_stems(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_regular_file(ec) && entry.path().extension() == ".yaml") {
      out.push_back(entry.path().stem().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> subdirs(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_directory(ec)) out.push_back(entry.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// A group path ("recall/ials") split into checked components.
KeyPath group_components(const std::string& group, const std::string& context) {
  KeyPath parts = split(group, "/");
  for (const auto& p : parts) {
    if (p.empty() || p == "." || p == "..") {
      throw Error(fmt::format("{}: bad config group name '{}'", context, group));
    }
  }
  return parts;
}

class Composer {
 public:
  explicit Composer(const fs::path& dir) : dir_(dir) {}

  // Loads `file` (an option of group `group`, empty for the primary config), resolving
  // its defaults list; returns a fresh tree.
  YAML::Node load(const fs::path& file, const KeyPath& group, int depth) const {
    if (depth > kMaxDefaultsDepth) {
      throw Error(fmt::format("config defaults nested deeper than {} at {} (a cycle?)",
                              kMaxDefaultsDepth, file.string()));
    }
    YAML::Node raw = load_yaml_file(file);
    if (raw.IsNull() || !raw.IsDefined()) return YAML::Node(YAML::NodeType::Map);
    if (!raw.IsMap())
      return raw;  // a group option may be a list or a scalar (raw is a private copy)

    YAML::Node result(YAML::NodeType::Map);
    std::optional<YAML::Node> defaults = child(raw, "defaults");
    if (defaults && !defaults->IsNull()) {
      for (const auto& [g, option] : parse_defaults(*defaults, file)) {
        apply_default(result, file, group, g, option, depth);
      }
    }
    YAML::Node own(YAML::NodeType::Map);
    for (const auto& kv : raw) {
      if (kv.first.IsScalar() && kv.first.Scalar() == "defaults") continue;
      own.force_insert(deep_copy(kv.first), deep_copy(kv.second));
    }
    deep_merge(result, own);
    return result;
  }

  // The option file of group path `group` (components), or an error listing the options.
  fs::path option_file(const KeyPath& group, const std::string& option,
                       const std::string& context) const {
    const fs::path gdir = dir_ / join(group, "/");
    if (!is_dir(gdir)) {
      fs::path parent = group.size() > 1 ? dir_ / join(group, "/", group.size() - 1) : dir_;
      throw Error(fmt::format("{}: config group '{}' not found (no folder {}); groups there: {}",
                              context, join(group, "/"), gdir.string(),
                              join_list(subdirs(parent))));
    }
    if (option.empty() || option.find('/') != std::string::npos || option == "." ||
        option == "..") {
      throw Error(fmt::format("{}: bad option name '{}' for group '{}'", context, option,
                              join(group, "/")));
    }
    fs::path f = gdir / (option + ".yaml");
    if (!is_file(f)) {
      throw Error(
          fmt::format("{}: group '{}' has no option '{}' (no file {}); available options: {}",
                      context, join(group, "/"), option, f.string(), join_list(yaml_stems(gdir))));
    }
    return f;
  }

  bool is_group(const KeyPath& group) const {
    for (const auto& p : group) {
      if (p.empty() || p == "." || p == "..") return false;
    }
    std::error_code ec;
    return fs::is_directory(dir_ / join(group, "/"), ec);
  }

 private:
  std::vector<std::pair<std::string, std::string>> parse_defaults(const YAML::Node& defaults,
                                                                  const fs::path& file) const {
    std::vector<std::pair<std::string, std::string>> items;
    auto add = [&](const YAML::Node& key, const YAML::Node& value) {
      if (!key.IsScalar())
        throw Error(fmt::format("{}: defaults: a group name must be a string", file.string()));
      if (value.IsNull()) return;  // `- group: null` disables the group
      if (!value.IsScalar()) {
        throw Error(fmt::format(
            "{}: defaults: option of group '{}' must be a single name (lists of options "
            "are not supported)",
            file.string(), key.Scalar()));
      }
      items.emplace_back(key.Scalar(), value.Scalar());
    };
    if (defaults.IsMap()) {
      for (const auto& kv : defaults) add(kv.first, kv.second);
    } else if (defaults.IsSequence()) {
      for (const auto& item : defaults) {
        if (item.IsScalar() && item.Scalar() == "_self_") continue;
        if (!item.IsMap() || item.size() != 1) {
          throw Error(fmt::format("{}: defaults item '{}' must be `- group: option` or `- _self_`",
                                  file.string(), YAML::Dump(item)));
        }
        for (const auto& kv : item) add(kv.first, kv.second);
      }
    } else {
      throw Error(
          fmt::format("{}: `defaults` must be a list of `- group: option` items", file.string()));
    }
    return items;
  }

  void apply_default(YAML::Node result, const fs::path& file, const KeyPath& parent_group,
                     std::string g, const std::string& option, int depth) const {
    bool optional = false;
    if (g.rfind("optional ", 0) == 0) {
      optional = true;
      g = trim(g.substr(9));
    }
    const std::string context = fmt::format("{}: defaults", file.string());
    KeyPath rel = group_components(g, context);
    KeyPath full = parent_group;
    full.insert(full.end(), rel.begin(), rel.end());
    if (optional && !is_file(dir_ / join(full, "/") / (option + ".yaml"))) return;
    YAML::Node sub = load(option_file(full, option, context), full, depth + 1);
    // Place under the relative path (the file's own tree is placed under parent_group by
    // whoever loads it), merging with what earlier defaults put there.
    YAML::Node wrapped = sub;
    for (auto it = rel.rbegin(); it != rel.rend(); ++it) {
      YAML::Node m(YAML::NodeType::Map);
      m.force_insert(*it, wrapped);
      wrapped.reset(m);  // rebind the handle; `wrapped = m` would overwrite sub's data
    }
    deep_merge(result, wrapped);
  }

  fs::path dir_;
};

struct Override {
  std::string text;
  int plus = 0;         // 0: key must exist; 1 (+): must not exist; 2 (++): either
  bool remove = false;  // ~key
  std::string key;
  std::string value;
  bool has_value = false;
};

Override parse_override(const std::string& text) {
  Override o;
  o.text = text;
  std::string s = text;
  size_t eq = s.find('=');
  std::string lhs = trim(eq == std::string::npos ? s : s.substr(0, eq));
  if (eq != std::string::npos) {
    o.has_value = true;
    o.value = trim(s.substr(eq + 1));
  }
  if (lhs.rfind("++", 0) == 0) {
    o.plus = 2;
    lhs = lhs.substr(2);
  } else if (lhs.rfind("+", 0) == 0) {
    o.plus = 1;
    lhs = lhs.substr(1);
  } else if (lhs.rfind("~", 0) == 0) {
    o.remove = true;
    lhs = lhs.substr(1);
  }
  o.key = trim(lhs);
  if (!o.has_value && !o.remove) {
    throw Error(
        fmt::format("malformed override '{}': expected key=value (e.g. recall.ials.factors=64), "
                    "group=option, +new.key=value or ~key",
                    text));
  }
  if (o.key.empty())
    throw Error(fmt::format("malformed override '{}': empty key before '='", text));
  for (const auto& part : split(o.key, ".")) {
    if (part.empty())
      throw Error(fmt::format("malformed override '{}': empty part in key '{}'", text, o.key));
  }
  return o;
}

YAML::Node parse_value(const Override& o) {
  if (o.value.empty()) {
    YAML::Node n(std::string(""));
    n.SetTag("!");  // an explicit empty string, as Hydra reads `key=`
    return n;
  }
  try {
    YAML::Node n = YAML::Load(o.value);
    return deep_copy(n);
  } catch (const YAML::Exception& e) {
    throw Error(
        fmt::format("override '{}': cannot parse value '{}' as YAML: {}", o.text, o.value, e.msg));
  } catch (const Error& e) {
    throw Error(fmt::format("override '{}': {}", o.text, e.what()));
  }
}

// Walks to the parent map of `path` (all but the last part). Missing maps are created when
// `create` is set; otherwise an unknown key is an error with suggestions.
YAML::Node walk_to_parent(YAML::Node root, const KeyPath& path, bool create,
                          const std::string& text) {
  YAML::Node cur = root;
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    KeyPath here(path.begin(), path.begin() + i);
    if (!cur.IsMap()) {
      throw Error(
          fmt::format("override '{}': '{}' is not a section (it holds {}), so it has no key '{}'",
                      text, join(here, "."), cur.IsSequence() ? "a list" : "a value", path[i]));
    }
    std::optional<YAML::Node> next = child(cur, path[i]);
    if (!next || (create && next->IsNull())) {
      if (!create) {
        throw Error(fmt::format("override '{}': unknown config key '{}'{}", text, join(path, "."),
                                suggest(cur, here, path[i])));
      }
      put(cur, path[i], YAML::Node(YAML::NodeType::Map));
      next.reset();  // (assigning into an engaged optional<Node> would rebind the old node)
      next = child(cur, path[i]);
    }
    cur.reset(*next);
  }
  if (!cur.IsMap()) {
    KeyPath here(path.begin(), path.end() - 1);
    throw Error(
        fmt::format("override '{}': '{}' is not a section (it holds {}), so it has no key '{}'",
                    text, join(here, "."), cur.IsSequence() ? "a list" : "a value", path.back()));
  }
  return cur;
}

void apply_override(YAML::Node root, const Override& o, const Composer& composer) {
  // Group swap: the key names a group folder (recall, recall/ials or recall.ials).
  KeyPath gpath = split(o.key, "/.");
  if (!o.remove && o.has_value && composer.is_group(gpath)) {
    const std::string context = fmt::format("override '{}'", o.text);
    YAML::Node sub = composer.load(composer.option_file(gpath, o.value, context), gpath, 1);
    YAML::Node parent = walk_to_parent(root, gpath, o.plus != 0, o.text);
    const bool exists = has_key(parent, gpath.back());
    if (o.plus == 1 && exists) {
      throw Error(
          fmt::format("override '{}': group '{}' is already in the config; swap it with {}={}",
                      o.text, join(gpath, "/"), join(gpath, "/"), o.value));
    }
    if (o.plus == 0 && !exists) {
      throw Error(fmt::format("override '{}': group '{}' is not in the config; add it with +{}={}",
                              o.text, join(gpath, "/"), join(gpath, "/"), o.value));
    }
    put(parent, gpath.back(), sub);
    return;
  }

  KeyPath path = split(o.key, ".");
  if (o.remove) {
    YAML::Node parent = walk_to_parent(root, path, false, o.text);
    if (!has_key(parent, path.back())) {
      throw Error(fmt::format("override '{}': unknown config key '{}'{}", o.text, o.key,
                              suggest(parent, KeyPath(path.begin(), path.end() - 1), path.back())));
    }
    parent.remove(path.back());
    return;
  }
  YAML::Node value = parse_value(o);
  YAML::Node parent = walk_to_parent(root, path, o.plus != 0, o.text);
  const bool exists = has_key(parent, path.back());
  if (o.plus == 0 && !exists) {
    throw Error(
        fmt::format("unknown config key '{}'{} (override '{}'; use +{}={} to add a new key)", o.key,
                    suggest(parent, KeyPath(path.begin(), path.end() - 1), path.back()), o.text,
                    o.key, o.value));
  }
  if (o.plus == 1 && exists) {
    throw Error(
        fmt::format("override '{}': key '{}' already exists; set it with {}={} (or ++{}={})",
                    o.text, o.key, o.key, o.value, o.key, o.value));
  }
  if (exists && o.plus == 0) {
    YAML::Node old = *child(parent, path.back());
    if (old.IsMap() && !value.IsMap() && !value.IsNull()) {
      std::vector<std::string> keys = keys_of(old);
      throw Error(fmt::format(
          "override '{}': '{}' is a section (keys: {}); set one of its keys, e.g. {}.{}=...",
          o.text, o.key, join_list(keys), o.key, keys.empty() ? "key" : keys.front()));
    }
  }
  put(parent, path.back(), value);
}

// ---- dump / flatten ----

bool quoted_string(const YAML::Node& n) {
  return n.Tag() == "!" || n.Tag() == "tag:yaml.org,2002:str";
}

void emit(YAML::Emitter& e, const YAML::Node& n, bool flow) {
  switch (n.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      e << YAML::Null;
      break;
    case YAML::NodeType::Scalar:
      if (quoted_string(n)) {
        e << YAML::SingleQuoted << n.Scalar();
      } else {
        e << n.Scalar();
      }
      break;
    case YAML::NodeType::Sequence: {
      bool all_scalar = true;
      for (const auto& item : n) all_scalar = all_scalar && (item.IsScalar() || item.IsNull());
      if (flow || all_scalar) e << YAML::Flow;
      e << YAML::BeginSeq;
      for (const auto& item : n) emit(e, item, flow);
      e << YAML::EndSeq;
      break;
    }
    case YAML::NodeType::Map:
      if (flow || n.size() == 0) e << YAML::Flow;  // an empty map as `{}` on its key's line
      e << YAML::BeginMap;
      for (const auto& kv : n) {
        e << YAML::Key;
        emit(e, kv.first, true);
        e << YAML::Value;
        emit(e, kv.second, flow);
      }
      e << YAML::EndMap;
      break;
  }
}

std::string emit_text(const YAML::Node& n, bool flow) {
  YAML::Emitter e;
  e.SetNullFormat(YAML::LowerNull);
  emit(e, n, flow);
  if (!e.good()) throw Error(fmt::format("cannot write YAML: {}", e.GetLastError()));
  return e.c_str();
}

void flatten_into(const YAML::Node& n, const std::string& prefix,
                  std::vector<std::pair<std::string, std::string>>& out) {
  for (const auto& kv : n) {
    std::string key =
        prefix + (kv.first.IsScalar() ? kv.first.Scalar() : emit_text(kv.first, true));
    const YAML::Node& v = kv.second;
    if (v.IsMap() && v.size() > 0) {
      flatten_into(v, key + ".", out);
    } else if (v.IsMap()) {
      out.emplace_back(key, "{}");
    } else if (v.IsScalar()) {
      out.emplace_back(key, v.Scalar());
    } else if (v.IsSequence()) {
      out.emplace_back(key, emit_text(v, true));
    } else {
      out.emplace_back(key, "null");
    }
  }
}

}  // namespace

YAML::Node ConfigLoader::compose(const std::string& name,
                                 const std::vector<std::string>& overrides) const {
  if (!is_dir(config_dir)) {
    throw Error(fmt::format(
        "config folder {} does not exist (set CASCADE_CONFIG_DIR or run from the repository)",
        config_dir.string()));
  }
  if (name.empty()) throw Error("config name is empty");
  fs::path primary;
  const fs::path as_path(name);
  if ((as_path.extension() == ".yaml" || as_path.extension() == ".yml") && is_file(as_path)) {
    primary = as_path;  // an explicit file; its defaults still resolve under config_dir
  } else {
    if (name.find("..") != std::string::npos || as_path.is_absolute()) {
      throw Error(fmt::format("bad config name '{}'", name));
    }
    primary = config_dir / (name + ".yaml");
    if (!is_file(primary)) {
      throw Error(fmt::format("config '{}' not found (no file {}); available configs: {}", name,
                              primary.string(), join_list(configs())));
    }
  }
  Composer composer(config_dir);
  YAML::Node root = composer.load(primary, {}, 0);
  if (!root.IsMap())
    throw Error(fmt::format("{}: a config must be a map of keys", primary.string()));
  for (const auto& text : overrides) apply_override(root, parse_override(text), composer);
  return root;
}

std::vector<std::string> ConfigLoader::configs() const {
  return yaml_stems(config_dir);
}

std::vector<std::string> ConfigLoader::options(const std::string& group) const {
  KeyPath g = group_components(group, "options");
  fs::path dir = config_dir / join(g, "/");
  if (!is_dir(dir)) {
    throw Error(fmt::format("config group '{}' not found (no folder {}); groups: {}", group,
                            dir.string(), join_list(subdirs(config_dir))));
  }
  return yaml_stems(dir);
}

std::string yaml_dump(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "{}\n";
  return emit_text(node, false) + "\n";
}

std::vector<std::pair<std::string, std::string>> flatten_config(const YAML::Node& node) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!node.IsDefined() || node.IsNull()) return out;
  if (!node.IsMap()) throw Error("flatten_config: the config root must be a map");
  flatten_into(node, "", out);
  return out;
}

fs::path default_config_dir() {
  if (const char* env = std::getenv("CASCADE_CONFIG_DIR"); env != nullptr && *env != '\0')
    return fs::path(env);
  std::error_code ec;
  if (fs::is_directory("configs", ec)) return fs::absolute("configs");
#ifdef CASCADE_SOURCE_DIR
  return fs::path(CASCADE_SOURCE_DIR) / "configs";
#else
  return fs::absolute("configs");
#endif
}

}  // namespace cascade
