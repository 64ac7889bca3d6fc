// Exact maximum-inner-product search that stops early on catalogues whose vector lengths vary
// (the length-based pruning of LEMP, Teflioudi et al. 2015). Items are stored longest first;
// a query scores them in that order and stops at the first block whose longest vector cannot
// beat the k-th best score found so far: q.x <= |q| |x| (Cauchy-Schwarz). The answer is the
// exact top k. How much is scored depends on the vectors: factor models trained with L2
// regularisation give rare items short vectors, so a query often scores a few thousand of
// a million items; when every vector has the same length (a normalised Two-Tower), it scores
// them all, as an exact scan does (docs/scale/ann.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "cascade/core/types.h"

namespace cascade::ann {

/// |x|^2 of each of `rows` row-major vectors of `dim` floats, summed in double.
std::vector<double> squared_lengths(const float* vectors, uint32_t rows, uint32_t dim);

class NormOrderedScan {
 public:
  /// Copies `rows` x `dim` vectors (row-major), sorted by length, longest first.
  NormOrderedScan(const float* vectors, uint32_t rows, uint32_t dim);

  /// The exact top k by inner product, best first (ties: lower id first), without the items in
  /// `skip` (any order). `rows_scored`, when given, receives how many rows were scored.
  std::vector<ScoredItem> search(std::span<const float> query, size_t k,
                                 std::span<const ItemId> skip, size_t* rows_scored) const;

  /// Memory held: the sorted vectors, their ids and lengths.
  size_t bytes() const;

 private:
  uint32_t rows_ = 0;
  uint32_t dim_ = 0;
  std::vector<float> vectors_;  ///< rows_ x dim_, longest first
  std::vector<ItemId> ids_;     ///< the item id of each sorted row
  std::vector<float> norms_;    ///< each sorted row's length (descending)
};

}  // namespace cascade::ann
