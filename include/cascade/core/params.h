// Declared model parameters: a string map parsed from a factory spec
// ("ials:factors=64,reg=0.01") or from a YAML config, read through typed getters
// that enforce bounds, and checked for unknown keys once the model has read all it
// knows. Every getter records the value it used, so `resolved()` is the full,
// defaulted parameter set that a saved model writes into its manifest.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace cascade {

/// What a layer-width list ("64-32") may hold.
struct LayerLimits {
  int min_width = 1;
  int max_width = 4096;
  size_t max_layers = 8;
  /// When set, this exact text means "no layer at all" (an empty list), e.g. "0".
  std::string none;
};

class Params {
 public:
  Params() = default;
  explicit Params(std::map<std::string, std::string> values) : values_(std::move(values)) {}

  /// Parses "key=value,key=value" (empty string gives an empty map).
  static Params parse(const std::string& text);

  void set(const std::string& key, const std::string& value) { values_[key] = value; }
  bool has(const std::string& key) const { return values_.count(key) != 0; }

  /// Typed getters. `context` names the owner in error messages (e.g. "ials").
  int64_t get_int(const std::string& key, int64_t def, int64_t lo, int64_t hi);
  double get_double(const std::string& key, double def, double lo, double hi);
  bool get_bool(const std::string& key, bool def);
  std::string get_string(const std::string& key, const std::string& def,
                         const std::set<std::string>& allowed = {});

  /// A '-'-joined list of layer widths ("64-32" -> {64, 32}), each a plain decimal number in
  /// [limits.min_width, limits.max_width], at most limits.max_layers of them.
  std::vector<int> get_layers(const std::string& key, const std::string& def, const LayerLimits& limits);
  /// The parser behind get_layers; errors name `key`.
  static std::vector<int> parse_layers(const std::string& key, const std::string& text,
                                       const LayerLimits& limits);

  /// Throws cascade::Error listing any key no getter asked for, and the known ones.
  void check_unused(const std::string& context) const;

  /// The values as read (defaults filled in), for manifests and run logs.
  const std::map<std::string, std::string>& resolved() const { return resolved_; }
  const std::map<std::string, std::string>& raw() const { return values_; }

  /// The values in force as a Params of their own (raw() == resolved() == this->resolved(),
  /// every key counted as read): what a model's params() reports.
  Params in_force() const;

  /// "k1=v1,k2=v2" in key order.
  std::string to_string() const;

 private:
  std::map<std::string, std::string> values_;
  std::map<std::string, std::string> resolved_;
  std::set<std::string> used_;
};

/// A factory spec "name:k=v,k=v" split into its name and parameters.
struct Spec {
  std::string name;
  Params params;
  static Spec parse(const std::string& text);
};

}  // namespace cascade
