// The served funnel evaluated offline: every user with a held-out item becomes one request to the
// Recommender (the code /recommend runs), at serving's request time, and the list it returns is
// scored against the held-out item (src/eval metrics). What `cascade bundle` records as the
// bundle's offline figures and `cascade bench rerank` sweeps over λ.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "cascade/data/interactions.h"
#include "cascade/pipeline/recommender.h"

namespace cascade {

struct ServedEvalOptions {
  size_t k = 10;
  double diversity = -1;  ///< < 0 = the bundle's
  size_t pre_keep = 0;    ///< 0 = the bundle's cuts
  size_t fine_keep = 0;
};

struct ServedEval {
  size_t users = 0;
  std::vector<double> recall, ndcg;            ///< per user, at k, of the served list
  std::vector<double> pool_recall, pool_ndcg;  ///< per user, at k, of the fused pool's own order
  double coverage = 0;  ///< distinct items over all lists / n_items
  double ils = 0;       ///< mean intra-list similarity (cosine of the re-rank vectors; 0 = none)
  std::vector<double> total_ms, rerank_ms;  ///< per request, one request at a time

  /// {"users","recall@K","ndcg@K","pool":{...},"vs_pool":{paired bootstrap},"coverage@K","ils@K",
  ///  "latency_ms":{p50,p99,rerank_p50}}
  nlohmann::ordered_json to_json(size_t k) const;
};

/// One request per user with an item in `heldout` (user order), its first held-out item the target.
ServedEval evaluate_served(const Recommender& rec, const Interactions& heldout, const ServedEvalOptions& opt);

}  // namespace cascade
