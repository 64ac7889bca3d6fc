// RankBatch: the candidates of one or more ranking requests as feature rows — the one
// format every ranker reads, whether the rows come from training examples or from a live
// request (rank/features.h builds both through the same code).
//
// A row is one (user, candidate item) pair:
//  - `dense`: numeric features, NaN = missing (a channel that did not retrieve the item);
//  - `cats`:  single-valued categorical fields (user id, item id, gender, ...), each value in
//             [0, cardinality), 0 reserved for "unknown".
// Rows are grouped by request (one user at one time): a group shares the user's recent
// history (item ids, oldest first) for sequence rankers (DIN, BST). A history may contain a
// row's own candidate only if the log has duplicates; rankers that read the history must
// skip positions equal to the row's item (row_history() below does).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "cascade/core/types.h"

namespace cascade {

struct CategoricalField {
  std::string name;          ///< "user", "item", "gender", ...
  uint32_t cardinality = 1;  ///< values are in [0, cardinality); 0 = unknown
  bool operator==(const CategoricalField&) const = default;
};

/// What the columns of a RankBatch mean. Saved with every ranker and checked on load.
struct FeatureSchema {
  std::vector<std::string> dense;        ///< dense column names
  std::vector<CategoricalField> fields;  ///< categorical column names and sizes
  uint32_t n_items = 0;                  ///< item ids in `items` and histories are < n_items
  uint32_t max_history = 0;              ///< longest history a group can carry

  size_t n_dense() const { return dense.size(); }
  size_t n_fields() const { return fields.size(); }
  /// Index of a categorical field by name, or -1.
  int field_index(const std::string& name) const;
  /// Index of a dense column by name, or -1.
  int dense_index(const std::string& name) const;
  /// A stable text of every name and size, to check a saved ranker against the live schema.
  std::string fingerprint() const;
  bool operator==(const FeatureSchema&) const = default;
};

struct RankBatch {
  FeatureSchema schema;
  std::vector<ItemId> items;     ///< candidate item of each row
  std::vector<float> dense;      ///< rows x n_dense, row-major; NaN = missing
  std::vector<uint32_t> cats;    ///< rows x n_fields, row-major
  std::vector<uint32_t> group_begin{0};  ///< size groups + 1: rows of group g are [begin[g], begin[g+1])
  std::vector<uint32_t> hist_begin{0};   ///< size groups + 1: history of group g in `history`
  std::vector<ItemId> history;           ///< each group's recent items, oldest first
  std::vector<UserId> group_user;        ///< user of each group (kUnknownUser when unknown)

  size_t rows() const { return items.size(); }
  size_t groups() const { return group_begin.size() - 1; }
  std::span<const float> dense_row(size_t r) const {
    return {dense.data() + r * schema.n_dense(), schema.n_dense()};
  }
  std::span<const uint32_t> cat_row(size_t r) const {
    return {cats.data() + r * schema.n_fields(), schema.n_fields()};
  }
  std::span<const ItemId> group_history(size_t g) const {
    return {history.data() + hist_begin[g], history.data() + hist_begin[g + 1]};
  }
  /// Group of row r (binary search over group_begin).
  size_t group_of(size_t r) const;

  /// Appends every row and group of `other` (same schema, checked).
  void append(const RankBatch& other);
  /// The groups [g0, g1) (with their rows and histories) as a new batch.
  RankBatch slice_groups(size_t g0, size_t g1) const;
  /// The rows `rows` (all of one group, in the given order) as a one-group batch with that
  /// group's history and user: what a fine-ranker scores after the pre-ranker's cut.
  RankBatch take_rows(std::span<const uint32_t> rows) const;
  /// The history of row r's group with every occurrence of the row's own item removed
  /// (DIN must never find the target inside its own history). Clears `out` first.
  void row_history(size_t r, std::vector<ItemId>& out) const;
  /// Throws cascade::Error naming the first inconsistency (sizes, ids out of range, a
  /// categorical value >= its cardinality, a history longer than schema.max_history).
  void validate() const;
};

}  // namespace cascade
