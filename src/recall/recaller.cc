#include "cascade/recall/recaller.h"

#include <fmt/format.h>

#include <algorithm>

#include "cascade/core/error.h"
#include "cascade/core/registry.h"
#include "cascade/io/artifact.h"
#include "cascade/util/topk.h"

namespace cascade {

void Recaller::score_items(const UserQuery& q, std::span<const ItemId> items,
                           std::span<float> out) const {
  CASCADE_CHECK(items.size() == out.size(), "score_items: items and out differ in size");
  std::vector<float> all(n_items());
  score(q, all);
  for (size_t i = 0; i < items.size(); ++i) {
    CASCADE_CHECK(items[i] < all.size(), fmt::format("score_items: item {} out of range", items[i]));
    out[i] = all[items[i]];
  }
}

ItemVectorsView Recaller::item_vectors() const {
  throw NotSupported(fmt::format("channel '{}' has no item vectors", kind()));
}

bool Recaller::user_vector(const UserQuery&, std::span<float>) const { return false; }

std::vector<ScoredItem> Recaller::top_n(const UserQuery& q, size_t k,
                                        std::span<const ItemId> exclude) const {
  const uint32_t n = n_items();
  std::vector<float> scores(n);
  score(q, scores);
  std::vector<uint8_t> skip(n, 0);
  for (ItemId i : q.history) if (i < n) skip[i] = 1;
  for (ItemId i : exclude) if (i < n) skip[i] = 1;
  return top_k(scores, k, skip);
}

std::unique_ptr<Recaller> make_recaller(const std::string& spec) {
  Spec s = Spec::parse(spec);
  return Registry<Recaller>::instance().create(s.name, s.params);
}

std::unique_ptr<Recaller> load_recaller(const std::filesystem::path& dir) {
  std::string kind = manifest_kind(dir);
  auto model = Registry<Recaller>::instance().create(kind, Params());
  model->load(dir);
  return model;
}

}  // namespace cascade
