// A real catalogue for the ANN benchmark (ann/ann_bench.h): the item vectors of a vector
// channel fitted on a dataset, queried with its users' vectors.
#pragma once

#include <cstdint>

#include "cascade/ann/ann_bench.h"
#include "cascade/data/dataset.h"
#include "cascade/pipeline/recall_job.h"

namespace cascade {

/// Fits `spec` (its own index off: the benchmark builds its indexes) on ds.train and returns
/// "<dataset>-<channel>": its item vectors, and as queries the vectors of the first
/// min(q, users) users from their training rows. Throws cascade::Error when the channel has
/// no user vectors (not a vector channel).
VectorSet channel_vector_set(const Dataset& ds, ChannelSpec spec, uint32_t q, int threads,
                             uint64_t seed);

}  // namespace cascade
