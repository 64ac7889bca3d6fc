// The served funnel evaluated offline: every user with a held-out item becomes one request to the
// Recommender (the code /recommend runs), at serving's request time, and the list it returns is
// scored against the held-out item (src/eval metrics). What `cascade bundle` records as the
// bundle's offline figures and `cascade bench rerank` sweeps over λ.
//
// Popularity-debiased recall (missing-not-at-random evaluation, Yang et al., "Unbiased offline
// recommender evaluation for missing-not-at-random implicit feedback", RecSys 2018): a held-out
// item was observed with a propensity that grows with its popularity, modelled as a power law
//     p_i = max((n_i / max_j n_j)^γ, floor)      (n = training interaction counts, the re-ranker's
//                                                 own count / max_count, Reranker::propensities)
// and each user's hit is weighted by w = 1 / p of the user's held-out item:
//     IPS   = (1/n) Σ_u w_u recall_u   (scale: relative to the most popular item, p = 1; compare
//                                      settings with it, do not read it as a recall)
//     SNIPS = Σ_u w_u recall_u / Σ_u w_u   (on the recall scale: the recall a catalogue whose
//                                          held-out items were not popularity-skewed would give)
// The floor clips the weights at 1 / floor. Intervals: eval/counterfactual.h's bootstrap over
// users. γ = 0 gives w = 1: both equal the plain recall.
#pragma once

#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "cascade/data/interactions.h"
#include "cascade/pipeline/recommender.h"

namespace cascade {

struct ServedEvalOptions {
  size_t k = 10;
  double diversity = -1;  ///< < 0 = the bundle's
  size_t pre_keep = 0;    ///< 0 = the bundle's cuts
  size_t fine_keep = 0;
  size_t pool_depth = 0;           ///< 0 = the bundle's (RecommendRequest::pool_depth)
  double propensity_gamma = 0.5;   ///< γ >= 0 of the popularity propensity (see above)
  double propensity_floor = 0.01;  ///< in (0, 1]: weights are clipped at 1 / floor
  /// Events each request carries as live events (the user's row of this matrix, e.g. the
  /// validation item for test requests): a request made after them, as serving would see it.
  /// nullptr = none (the history is the bundle's training rows).
  const Interactions* prior_events = nullptr;
  /// Per user, seen items the request passes as RecommendRequest::seen (the ones between the
  /// bundle's training row and the held-out item: Dataset::seen_known minus the bundle's own).
  const Interactions* prior_seen = nullptr;
  /// Requests served at once (0 = the hardware's threads). The figures do not depend on it; the
  /// latencies are measured with this many requests in flight.
  int threads = 1;
};

struct ServedEval {
  size_t users = 0;
  std::vector<double> recall, ndcg;            ///< per user, at k, of the served list
  std::vector<double> pool_recall, pool_ndcg;  ///< per user, at k, of the fused pool's own order
  double coverage = 0;                         ///< distinct items over all lists / n_items
  double ils = 0;  ///< mean intra-list similarity (cosine of the re-rank vectors; 0 = none)
  std::vector<double> total_ms, rerank_ms;  ///< per request, `concurrent_requests` at a time
  int concurrent_requests = 1;
  std::vector<double> target_propensity;  ///< per user, p of the held-out item (empty = no counts)

  /// {"users","recall@K","ndcg@K","pool":{...},"vs_pool":{paired bootstrap},"coverage@K","ils@K",
  ///  "latency_ms":{p50,p99,rerank_p50,concurrent_requests},
  ///  "ips":{"recall@K":{value,ci_low,ci_high}},"snips":{"recall@K":{...}}} (the last two only
  ///  with propensities)
  nlohmann::ordered_json to_json(size_t k) const;
};

/// One request per user with an item in `heldout` (user order), its first held-out item the target.
ServedEval evaluate_served(const Recommender& rec, const Interactions& heldout,
                           const ServedEvalOptions& opt);

/// The diversity sweep of the served funnel on `heldout`: evaluate_served at each λ of `lambdas`
/// (all checked to lie in [0, 1] first, else cascade::Error "<who>: lambda ... is outside [0, 1]"),
/// `base` giving every other option. {"ils_space": ..., "sweep": [{"lambda": λ, ...to_json(k)}]};
/// what `bench rerank` writes and the bundle keeps as offline.rerank_sweep.
nlohmann::ordered_json rerank_sweep(const Recommender& rec, const Interactions& heldout,
                                    std::span<const double> lambdas, const ServedEvalOptions& base,
                                    const std::string& who);

/// The cost curve of the funnel's cut-offs: evaluate_served at every (pool_depth, pre_keep,
/// fine_keep) of the three lists with pool_depth >= pre_keep >= fine_keep >= k (pool depths
/// beyond the fusion's pool size are an error), `base` giving every other option.
/// [{"pool_depth","pre_keep","fine_keep","recall@K","ndcg@K","ms_mean","ms_p50","ms_p99",
///   "frontier"}], in the order tried; "frontier": no other point has at least its Recall@K at
/// a lower mean latency (the curve to choose a cut from for a latency budget). Latencies are
/// medians over `rounds` passes over all cuts (>= 1).
nlohmann::ordered_json cuts_sweep(const Recommender& rec, const Interactions& heldout,
                                  std::span<const size_t> pool_depths,
                                  std::span<const size_t> pre_keeps,
                                  std::span<const size_t> fine_keeps, const ServedEvalOptions& base,
                                  int rounds = 3);

}  // namespace cascade
