// The head every configured channel (iALS, EASE, SASRec, Two-Tower) shares: its kind, its
// parameters read once into a Config (Config::read(Params&) reads and bounds them) with
// unknown keys refused, and params() reporting the values in force.
#pragma once

#include <string>
#include <utility>

#include "cascade/core/params.h"
#include "cascade/recall/recaller.h"

namespace cascade {

template <class Config>
class ConfiguredRecaller : public Recaller {
 public:
  std::string kind() const override { return kind_; }
  Params params() const override { return params_.in_force(); }

 protected:
  ConfiguredRecaller(const char* kind, Params params) : kind_(kind), params_(std::move(params)) {
    cfg_ = Config::read(params_);
    params_.check_unused(kind_);
  }

  const char* kind_;
  Params params_;
  Config cfg_;
};

}  // namespace cascade
