// Scoring of the vector channels (iALS, SASRec, Two-Tower): score = item_vectors · user_vector,
// one mat-vec over the catalogue; and the argument checks their score() / user_vector() make.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <span>
#include <vector>

#include <fmt/format.h>

#include "cascade/core/error.h"
#include "cascade/recall/recaller.h"

namespace cascade {

/// out[i] = <row i of item_vectors (n_items x dim, row-major), the channel's user vector>,
/// after checking the model is `fitted` and out has n_items slots. `model` must report a user
/// vector for every query.
inline void score_by_vectors(const Recaller& model, bool fitted, const UserQuery& q, const float* item_vectors,
                             uint32_t n_items, int dim, std::span<float> out) {
  CASCADE_CHECK(fitted, fmt::format("{}: score() before fit() or load()", model.kind()));
  CASCADE_CHECK(out.size() == n_items,
                fmt::format("{}: score() output has {} slots for {} items", model.kind(), out.size(), n_items));
  std::vector<float> u(static_cast<size_t>(dim));
  model.user_vector(q, u);
  using MatF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Eigen::Map<const MatF> V(item_vectors, n_items, dim);
  Eigen::Map<Eigen::VectorXf>(out.data(), n_items).noalias() = V * Eigen::Map<const Eigen::VectorXf>(u.data(), dim);
}

/// The checks of a neural channel's user_vector(): fitted, out has `dim` slots, every
/// history item < n_items.
inline void check_user_query(const Recaller& model, bool fitted, const UserQuery& q, std::span<const float> out,
                             int dim, uint32_t n_items) {
  CASCADE_CHECK(fitted, fmt::format("{}: user_vector() before fit() or load()", model.kind()));
  CASCADE_CHECK(out.size() == static_cast<size_t>(dim),
                fmt::format("{}: user_vector() has {} slots for dim {}", model.kind(), out.size(), dim));
  for (ItemId i : q.history) {
    CASCADE_CHECK(i < n_items, fmt::format("{}: history item {} out of range (n_items {})", model.kind(), i, n_items));
  }
}

}  // namespace cascade
