// Full-catalogue evaluator: for every user with held-out items, score the whole catalogue,
// mask the user's training items (only those: SYSTEM.md seed-loo step 4), take the top
// max(K), and compute every metric at every K. Multi-threaded over users; per-user values
// are kept so two runs can be compared with a paired bootstrap.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "cascade/data/dataset.h"
#include "cascade/recall/recaller.h"

namespace cascade {

struct EvalOptions {
  /// Cut-offs; used sorted and de-duplicated, each must be > 0 (throws otherwise).
  std::vector<size_t> ks = {10, 200};
  /// Worker threads over users (0 = hardware concurrency). Results do not depend on it.
  int threads = 0;
  /// Item vectors for ILS@K (row-major n_items x dim); when null, ILS is not reported.
  ItemVectorsView ils_vectors{};
  /// evaluate(): the `train` rows are what the model was fitted on; false (rows extended past
  /// the fit) sets UserQuery::past_fit, so no channel answers from state trained on the user's
  /// rows, as the Recommender queries a request that brings live events.
  bool fitted_rows = true;
  /// evaluate(): per user, items the request knows the user consumed besides the `train` row
  /// (Dataset::seen_known, e.g. ratings below the positive threshold): never listed. Null or a
  /// row-less matrix = none.
  const Interactions* exclude = nullptr;
};

struct EvalResult {
  std::vector<UserId> users;  ///< evaluated users (those with at least one held-out item), ascending
  /// metric name ("recall@10", "ndcg@10", "mrr@10", "hitrate@10", "novelty@10", "ils@10")
  /// -> per-user values parallel to `users`.
  std::map<std::string, std::vector<double>> per_user;
  /// means of per_user, plus "coverage@K" (catalogue-level).
  std::map<std::string, double> summary;
  double seconds = 0;  ///< wall time of the evaluation
};

/// Evaluates `model` on `heldout` (ds.test or ds.valid) with `train` masked (the matrix the
/// model was fitted on: ds.train, or the recall slice in seed-oof). Queries use the dense
/// user id and the user's `train` row as history.
EvalResult evaluate(const Recaller& model, const Interactions& train, const Interactions& heldout,
                    const EvalOptions& opt);

/// Same, from precomputed ranked lists (lists[u] best first, already masked), for fused or
/// re-ranked outputs. Users with no held-out items are skipped.
EvalResult evaluate_lists(const std::vector<std::vector<ItemId>>& lists, const Interactions& train,
                          const Interactions& heldout, uint32_t n_items, const EvalOptions& opt);

/// Writes per-user values as CSV "user,metric1,metric2,..." (dense user ids, metrics in name
/// order, values "%.17g" so they read back bit-exact; written atomically) and reads it back.
/// Loading recomputes `summary` as the per-user means (no coverage: it is not per user) and
/// throws DataError naming the file and line for a bad header, field count, number or user
/// order (users must be strictly ascending).
void save_per_user_csv(const EvalResult& r, const std::string& path);
EvalResult load_per_user_csv(const std::string& path);

}  // namespace cascade
