#include "cascade/pipeline/ann_catalogue.h"

#include <fmt/format.h>

#include <algorithm>
#include <span>

#include "cascade/core/error.h"

namespace cascade {

VectorSet channel_vector_set(const Dataset& ds, ChannelSpec spec, uint32_t q, int threads, uint64_t seed) {
  spec.ann.reset();
  const FittedChannel fc = fit_channel(spec, ds, ds.train, threads, seed);
  const ItemVectorsView v = fc.model->item_vectors();
  VectorSet s;
  s.name = ds.name + "-" + spec.name;
  s.n = v.rows;
  s.dim = v.dim;
  s.items.assign(v.data, v.data + static_cast<size_t>(v.rows) * v.dim);
  s.q = std::min<uint32_t>(q, ds.n_users);
  s.queries.resize(static_cast<size_t>(s.q) * s.dim);
  for (uint32_t u = 0; u < s.q; ++u) {
    const UserQuery uq{u, ds.train.row(u), ds.train.row_values(u)};
    CASCADE_CHECK(fc.model->user_vector(uq, std::span<float>(s.queries.data() + static_cast<size_t>(u) * s.dim, s.dim)),
                  fmt::format("bench ann: channel '{}' has no user vectors", spec.name));
  }
  return s;
}

}  // namespace cascade
