#include "cascade/pipeline/rerank_stage.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "cascade/core/error.h"

namespace cascade {

RerankConfig RerankConfig::from_yaml(const YAML::Node& node) {
  RerankConfig c;
  if (!node || node.IsNull()) return c;
  CASCADE_CHECK(node.IsMap(), "rerank: expected a map of options");
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>();
    if (key == "vectors") {
      c.vectors = kv.second.as<std::string>();
    } else if (key == "method") {
      c.method = kv.second.as<std::string>();
    } else {
      c.options.set(key, YAML::Dump(kv.second));
    }
  }
  return c;
}

std::unique_ptr<Reranker> make_rerank_side(const RerankConfig& cfg, const std::vector<const Recaller*>& channels,
                                           const std::vector<std::string>& names, const Interactions& fit,
                                           const Catalog& catalog) {
  const uint32_t n_items = static_cast<uint32_t>(catalog.items.size());
  RerankItems side;
  side.n_items = n_items;
  side.catalog = &catalog;
  const auto at = std::find(names.begin(), names.end(), cfg.vectors);
  if (at != names.end()) {
    ItemVectorsView v;
    try {
      v = channels[static_cast<size_t>(at - names.begin())]->item_vectors();
    } catch (const NotSupported&) {
      throw Error(fmt::format(
          "rerank.vectors: channel {} has no item vectors; name a vector channel (ials, two_tower, sasrec, "
          "content)",
          cfg.vectors));
    }
    CASCADE_CHECK(v.rows == n_items, "rerank.vectors: the channel's item vectors do not cover the catalogue");
    side.vectors = v.data;  // the Reranker keeps a unit-normalised copy
    side.dim = v.dim;
  } else if (cfg.vectors != "none") {
    throw Error(fmt::format("rerank.vectors: channel {} is not in the funnel (channels: {})", cfg.vectors,
                            fmt::join(names, ", ")));
  }
  std::vector<float> counts(n_items, 0.0f);
  for (uint32_t item : fit.indices) counts[item] += 1.0f;
  side.counts = counts;
  return std::make_unique<Reranker>(side);
}

}  // namespace cascade
