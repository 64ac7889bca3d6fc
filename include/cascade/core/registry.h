// A registry per extension point (XGBoost style): each implementation file ends with
//   CASCADE_REGISTER_RECALLER(IalsRecaller, "ials");
// The class must have a constructor taking `Params` (it reads its parameters and calls
// params.check_unused(kind)). The library is linked as an OBJECT library so that every
// registration survives linking.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cascade/core/error.h"
#include "cascade/core/params.h"

namespace cascade {

template <class Base>
class Registry {
 public:
  using Factory = std::function<std::unique_ptr<Base>(Params)>;

  static Registry& instance() {
    static Registry r;
    return r;
  }

  bool add(const std::string& name, Factory f) {
    factories_[name] = std::move(f);
    return true;
  }

  std::unique_ptr<Base> create(const std::string& name, Params params) const {
    check(name);
    return factories_.find(name)->second(std::move(params));
  }

  bool has(const std::string& name) const { return factories_.count(name) != 0; }

  /// Throws cascade::Error "unknown <what> '<name>'; known: a, b" when `name` is not registered.
  void check(const std::string& name) const {
    if (has(name)) return;
    std::string known;
    for (const auto& [n, _] : factories_) known += (known.empty() ? "" : ", ") + n;
    throw Error("unknown " + std::string(Base::kRegistryWhat) + " '" + name + "'; known: " + known);
  }

  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& [n, _] : factories_) out.push_back(n);
    return out;
  }

 private:
  std::map<std::string, Factory> factories_;
};

}  // namespace cascade

#define CASCADE_REGISTER_IMPL(Base, Class, name, tag)                                        \
  static const bool cascade_registered_##tag##_##Class =                                    \
      ::cascade::Registry<Base>::instance().add(name, [](::cascade::Params p) {              \
        return std::unique_ptr<Base>(std::make_unique<Class>(std::move(p)));                 \
      })

#define CASCADE_REGISTER_RECALLER(Class, name) \
  CASCADE_REGISTER_IMPL(::cascade::Recaller, Class, name, recaller)

#define CASCADE_REGISTER_RANKER(Class, name) \
  CASCADE_REGISTER_IMPL(::cascade::Ranker, Class, name, ranker)

#define CASCADE_REGISTER_FUSION(Class, name) \
  CASCADE_REGISTER_IMPL(::cascade::FusionMethod, Class, name, fusion)

#define CASCADE_REGISTER_RERANK(Class, name) \
  CASCADE_REGISTER_IMPL(::cascade::RerankMethod, Class, name, rerank)
