// The re-rank stage of a funnel, as configured: the `rerank` group (method, the channel whose
// item vectors MMR and explanations use, the method's options) and the per-catalogue side data
// built from the funnel's channels. Shared by the Recommender and offline evaluation, so both
// re-rank with the same method, vectors and propensities.
#pragma once

#include <yaml-cpp/yaml.h>

#include <memory>
#include <string>
#include <vector>

#include "cascade/core/params.h"
#include "cascade/data/catalog.h"
#include "cascade/data/interactions.h"
#include "cascade/recall/recaller.h"
#include "cascade/rerank/rerank.h"

namespace cascade {

struct RerankConfig {
  std::string method = "mmr";    ///< a registered RerankMethod
  std::string vectors = "ials";  ///< channel whose item vectors MMR uses; "none" = no MMR
  Params options;                ///< the method's options (the group's other keys)

  /// Reads the `rerank` group (absent = defaults); the method's options are checked when the
  /// method is made.
  static RerankConfig from_yaml(const YAML::Node& group);
  std::unique_ptr<RerankMethod> make_method() const { return make_rerank_method(method, options); }
};

/// Side data for the re-rank stage: the item vectors of channel `cfg.vectors` among `channels`
/// (named `names`), propensities = interaction counts in `fit` (the matrix the channels were
/// fitted on), genres and years from `catalog`. Throws cascade::Error naming rerank.vectors when
/// the channel is absent or has no item vectors.
std::unique_ptr<Reranker> make_rerank_side(const RerankConfig& cfg,
                                           const std::vector<const Recaller*>& channels,
                                           const std::vector<std::string>& names,
                                           const Interactions& fit, const Catalog& catalog);

}  // namespace cascade
