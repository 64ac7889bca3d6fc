// The one metric the neural channels need while training (best-epoch selection on held-out
// items), computed here so that recall does not depend on eval (eval depends on recall).
// Same definition as cascade::evaluate's recall@k, to the bit: per user with held-out items,
// distinct held-out items in top_n(k) (the training row masked) / distinct held-out items;
// the mean over those users, summed in user order.
#pragma once

#include <cstddef>

#include "cascade/data/interactions.h"
#include "cascade/recall/recaller.h"

namespace cascade {

/// Mean recall@k of `model` on `heldout` with `train`'s rows as histories (a user without a
/// training row is queried cold). 0 when no user has held-out items.
double heldout_recall(const Recaller& model, const Interactions& train, const Interactions& heldout, size_t k,
                      int threads);

}  // namespace cascade
