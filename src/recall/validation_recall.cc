#include "recall/validation_recall.h"

#include <algorithm>
#include <vector>

#include "cascade/util/parallel.h"

namespace cascade {

double heldout_recall(const Recaller& model, const Interactions& train, const Interactions& heldout, size_t k,
                      int threads) {
  std::vector<UserId> users;
  for (uint32_t u = 0; u < heldout.n_rows; ++u) {
    if (heldout.row_size(u) > 0) users.push_back(u);
  }
  // One slot per user, summed in order afterwards: the mean does not depend on threads.
  std::vector<double> recall(users.size(), 0.0);
  parallel_for_dynamic(users.size(), resolve_threads(threads), 16, [&](size_t idx, int) {
    const UserId u = users[idx];
    UserQuery q;
    q.user = u;
    if (u < train.n_rows) {
      q.history = train.row(u);
      q.values = train.row_values(u);
    }
    const auto held = heldout.row(u);
    std::vector<ItemId> relevant(held.begin(), held.end());
    std::sort(relevant.begin(), relevant.end());
    relevant.erase(std::unique(relevant.begin(), relevant.end()), relevant.end());
    size_t hits = 0;
    for (const ScoredItem& s : model.top_n(q, k)) {
      hits += std::binary_search(relevant.begin(), relevant.end(), s.item) ? 1 : 0;
    }
    recall[idx] = static_cast<double>(hits) / static_cast<double>(relevant.size());
  });
  double sum = 0;
  for (double r : recall) sum += r;
  return users.empty() ? 0.0 : sum / static_cast<double>(users.size());
}

}  // namespace cascade
