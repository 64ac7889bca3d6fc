// The registered re-rank methods (rerank.h has the contract): "mmr", the full re-rank stage, and
// "none", the fine-ranker's order with watched items dropped.
#include <yaml-cpp/yaml.h>

#include "cascade/core/registry.h"
#include "cascade/rerank/rerank.h"

namespace cascade {
namespace {

// The options as the `rerank` group would hold them, so that values are checked (and errors
// worded) exactly as RerankOptions::from_yaml does for the config file.
RerankOptions options_from(const Params& p) {
  YAML::Node group(YAML::NodeType::Map);
  for (const auto& [key, value] : p.raw()) group[key] = YAML::Load(value);
  return RerankOptions::from_yaml(group);
}

class MmrRerank final : public RerankMethod {
 public:
  explicit MmrRerank(Params p) : opt_(options_from(p)) {}

  std::vector<RerankedItem> rerank(const Reranker& side, std::span<const ItemId> items,
                                   std::span<const float> scores,
                                   std::span<const ItemId> watched_sorted, size_t k,
                                   double diversity) const override {
    RerankOptions o = opt_;
    if (diversity >= 0) o.diversity = diversity;
    return side.rerank(items, scores, watched_sorted, k, o);
  }
  const RerankOptions& options() const override { return opt_; }

 private:
  RerankOptions opt_;
};

class NoRerank final : public RerankMethod {
 public:
  // Reads the same keys as mmr (one `rerank` group serves both, checked alike) but uses only
  // drop_watched: the order stays the fine-ranker's.
  explicit NoRerank(const Params& p) { opt_.drop_watched = options_from(p).drop_watched; }

  std::vector<RerankedItem> rerank(const Reranker& side, std::span<const ItemId> items,
                                   std::span<const float> scores,
                                   std::span<const ItemId> watched_sorted, size_t k,
                                   double) const override {
    // λ = 0 without IPS or caps is exactly the relevance order (rerank.h, step 4).
    return side.rerank(items, scores, watched_sorted, k, opt_);
  }
  const RerankOptions& options() const override { return opt_; }

 private:
  RerankOptions opt_;
};

}  // namespace

std::unique_ptr<RerankMethod> make_rerank_method(const std::string& name, Params options) {
  return Registry<RerankMethod>::instance().create(name, std::move(options));
}

std::vector<std::string> rerank_method_names() { return Registry<RerankMethod>::instance().names(); }

CASCADE_REGISTER_RERANK(MmrRerank, "mmr");
CASCADE_REGISTER_RERANK(NoRerank, "none");

}  // namespace cascade
