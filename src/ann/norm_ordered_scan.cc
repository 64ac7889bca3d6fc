#include "ann/norm_ordered_scan.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <queue>

#include "cascade/util/target_clones.h"

namespace cascade::ann {

namespace {

// Rows scored between two checks of the bound: small enough that little is scored past the
// stopping point, large enough that the check costs nothing next to the dot products.
constexpr uint32_t kBlock = 64;

typedef float v16u __attribute__((vector_size(64), aligned(4), may_alias));

// out[r] = <q, rows[r]> for `n` rows of `dim` floats. 16-float chunks, then a scalar tail.
CASCADE_TARGET_CLONES
void dot_rows(const float* q, const float* rows, uint32_t n, uint32_t dim, float* out) {
  const uint32_t chunks = dim / 16;
  for (uint32_t r = 0; r < n; ++r) {
    const float* x = rows + static_cast<size_t>(r) * dim;
    v16u acc = {};
    for (uint32_t c = 0; c < chunks; ++c) {
      acc +=
          *reinterpret_cast<const v16u*>(q + 16 * c) * *reinterpret_cast<const v16u*>(x + 16 * c);
    }
    float s = 0;
    for (int l = 0; l < 16; ++l) s += acc[l];
    for (uint32_t j = 16 * chunks; j < dim; ++j) s += q[j] * x[j];
    out[r] = s;
  }
}

// The engine's order: higher score first, then lower id.
bool better(const ScoredItem& a, const ScoredItem& b) {
  return a.score > b.score || (a.score == b.score && a.item < b.item);
}

}  // namespace

std::vector<double> squared_lengths(const float* vectors, uint32_t rows, uint32_t dim) {
  std::vector<double> out(rows);
  for (uint32_t i = 0; i < rows; ++i) {
    double s = 0;
    for (uint32_t j = 0; j < dim; ++j)
      s += double(vectors[size_t(i) * dim + j]) * vectors[size_t(i) * dim + j];
    out[i] = s;
  }
  return out;
}

NormOrderedScan::NormOrderedScan(const float* vectors, uint32_t rows, uint32_t dim)
    : rows_(rows), dim_(dim) {
  std::vector<double> norm = squared_lengths(vectors, rows, dim);
  // A non-finite row sorts first, with an infinite bound: it never stops the scan (and its
  // scores, skipped like top_k's, never enter the answer).
  for (double& n : norm) n = std::isfinite(n) ? std::sqrt(n) : INFINITY;
  ids_.resize(rows);
  std::iota(ids_.begin(), ids_.end(), ItemId{0});
  std::stable_sort(ids_.begin(), ids_.end(), [&](ItemId a, ItemId b) { return norm[a] > norm[b]; });
  vectors_.resize(static_cast<size_t>(rows) * dim);
  norms_.resize(rows);
  for (uint32_t r = 0; r < rows; ++r) {
    std::copy_n(vectors + size_t(ids_[r]) * dim, dim, vectors_.begin() + size_t(r) * dim);
    // Rounded up, so |q| * norms_[r] stays an upper bound of the float dot products.
    norms_[r] = std::nextafter(static_cast<float>(norm[ids_[r]]), INFINITY);
  }
}

std::vector<ScoredItem> NormOrderedScan::search(std::span<const float> query, size_t k,
                                                std::span<const ItemId> skip,
                                                size_t* rows_scored) const {
  std::vector<ItemId> skipped(skip.begin(), skip.end());
  std::sort(skipped.begin(), skipped.end());
  double qn = 0;
  for (float x : query) qn += double(x) * x;
  // The bound's slack covers float rounding in the dot products (relative error of order
  // dim * 2^-24 of |q| |x|).
  const double bound_scale = std::sqrt(qn) * (1.0 + 1e-5 * (1.0 + dim_ / 64.0));
  // A min-heap under better(): its top is the current k-th best.
  auto worse_first = [](const ScoredItem& a, const ScoredItem& b) { return better(a, b); };
  std::priority_queue<ScoredItem, std::vector<ScoredItem>, decltype(worse_first)> heap(worse_first);
  float scores[kBlock];
  uint32_t r = 0;
  for (; r < rows_ && k > 0; r += kBlock) {
    if (heap.size() == k && bound_scale * norms_[r] < heap.top().score) break;
    const uint32_t n = std::min(kBlock, rows_ - r);
    dot_rows(query.data(), vectors_.data() + size_t(r) * dim_, n, dim_, scores);
    for (uint32_t i = 0; i < n; ++i) {
      const ScoredItem c{ids_[r + i], scores[i]};
      if (!std::isfinite(c.score)) continue;
      if (heap.size() == k && !better(c, heap.top())) continue;
      if (std::binary_search(skipped.begin(), skipped.end(), c.item)) continue;
      if (heap.size() == k) heap.pop();
      heap.push(c);
    }
  }
  if (rows_scored) *rows_scored = std::min(r, rows_);
  std::vector<ScoredItem> out(heap.size());
  for (size_t i = out.size(); i-- > 0;) {
    out[i] = heap.top();
    heap.pop();
  }
  return out;
}

size_t NormOrderedScan::bytes() const {
  return vectors_.size() * sizeof(float) + ids_.size() * sizeof(ItemId) +
         norms_.size() * sizeof(float);
}

}  // namespace cascade::ann
