// Scoring of the vector channels (iALS, SASRec, Two-Tower): score = item_vectors · user_vector,
// one mat-vec over the catalogue.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <span>
#include <vector>

#include "cascade/recall/recaller.h"

namespace cascade {

/// out[i] = <row i of item_vectors (n_items x dim, row-major), the channel's user vector>.
/// `model` must report a user vector for every query.
inline void score_by_vectors(const Recaller& model, const UserQuery& q, const float* item_vectors, uint32_t n_items,
                             int dim, std::span<float> out) {
  std::vector<float> u(static_cast<size_t>(dim));
  model.user_vector(q, u);
  using MatF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Eigen::Map<const MatF> V(item_vectors, n_items, dim);
  Eigen::Map<Eigen::VectorXf>(out.data(), n_items).noalias() = V * Eigen::Map<const Eigen::VectorXf>(u.data(), dim);
}

}  // namespace cascade
