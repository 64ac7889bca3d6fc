#include "cascade/recall/recaller.h"

#include <fmt/format.h>

#include <algorithm>

#include "cascade/ann/ann_index.h"
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

void Recaller::attach_index(std::shared_ptr<const AnnIndex> index) {
  if (index) {
    const ItemVectorsView v = item_vectors();
    CASCADE_CHECK(index->size() == v.rows && index->dim() == v.dim,
                  fmt::format("{}: the ANN index holds {} x {} vectors but the channel has {} x {}",
                              kind(), index->size(), index->dim(), v.rows, v.dim));
    std::vector<float> probe(v.dim);
    CASCADE_CHECK(user_vector(UserQuery{}, probe),
                  fmt::format("{}: channel has no user vectors, an ANN index cannot serve it", kind()));
  }
  index_ = std::move(index);
}

std::vector<ScoredItem> Recaller::top_n(const UserQuery& q, size_t k,
                                        std::span<const ItemId> exclude) const {
  if (index_) {
    std::vector<float> u(index_->dim());
    if (user_vector(q, u)) {
      std::vector<ItemId> skip(q.history.begin(), q.history.end());
      skip.insert(skip.end(), exclude.begin(), exclude.end());
      return index_->search(u, k, skip);
    }
  }
  const uint32_t n = n_items();
  // Per-thread buffers: at 100K items a fresh score vector and mask per call are 500 KB of
  // mmap'd, page-faulted memory on every request.
  thread_local std::vector<float> scores;
  thread_local std::vector<uint8_t> skip;
  if (skip.size() < n) skip.resize(n, 0);
  for (ItemId i : q.history) if (i < n) skip[i] = 1;
  for (ItemId i : exclude) if (i < n) skip[i] = 1;
  struct Unmask {  // the mask is all zeros again on every exit path
    std::span<const ItemId> a, b;
    uint32_t n;
    ~Unmask() {
      for (ItemId i : a) if (i < n) skip[i] = 0;
      for (ItemId i : b) if (i < n) skip[i] = 0;
    }
  } unmask{q.history, exclude, n};
  if (const auto ranked = static_ranking(); !ranked.empty()) {
    // Query-independent scores: the first k unmasked items of the precomputed order, the same
    // list top_k() over score() gives (same order, same tie-break), in O(k + masked). The mask
    // is the byte array (a binary search per item over the sorted history mispredicted its
    // branches: 14 us of a request for popularity's top 500).
    std::vector<ScoredItem> out;
    out.reserve(std::min(k, ranked.size()));
    for (const ScoredItem& s : ranked) {
      if (out.size() == k) break;
      if (s.item >= n || !skip[s.item]) out.push_back(s);
    }
    return out;
  }
  scores.resize(n);
  score(q, std::span<float>(scores.data(), n));
  return top_k(std::span<const float>(scores.data(), n), k, std::span<const uint8_t>(skip.data(), n));
}

std::unique_ptr<Recaller> make_recaller(const std::string& spec) {
  Spec s = Spec::parse(spec);
  return Registry<Recaller>::instance().create(s.name, s.params);
}

void save_recaller(const Recaller& model, const std::filesystem::path& dir) {
  model.save(dir);
  const auto ann_dir = dir / "ann";
  if (model.index() != nullptr) {
    model.index()->save(ann_dir);
  } else {
    std::filesystem::remove_all(ann_dir);
  }
}

std::unique_ptr<Recaller> load_recaller(const std::filesystem::path& dir) {
  std::string kind = manifest_kind(dir);
  auto model = Registry<Recaller>::instance().create(kind, Params());
  model->load(dir);
  const auto ann_dir = dir / "ann";
  if (std::filesystem::exists(ann_dir / "manifest.json")) {
    const ItemVectorsView v = model->item_vectors();
    model->attach_index(AnnIndex::load(ann_dir, v.data, v.rows, v.dim));
  }
  return model;
}

}  // namespace cascade
