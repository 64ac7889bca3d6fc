// Content / cold-start recall channel ("content"): TF-IDF item vectors built from
// catalogue metadata only, scored by cosine against a profile of the user's history.
//
// Features (columns of the item matrix, in this order):
//   [0, n_genres)                     genre g            tf = 1 when the item has it
//   [n_genres, n_genres + 5)          year bucket b      tf = 1 (cascade::year_bucket)
//   [n_genres + 5, n_features)        kept tag t         tf = 1 + ln(times applied)
// Tags are kept when applied to >= min_tag_items distinct items; of those, the max_tags
// with the highest document frequency (ties: lower tag id), laid out in ascending tag id.
// idf(f) = ln((1 + n_items) / (1 + df(f))) + 1 (smoothed; never zero, so a feature on
// every item still counts). Each value is multiplied by its group weight (genre_weight,
// year_weight, tag_weight), then each row is L2-normalised; an item with no features is an
// all-zero row and scores 0 for everyone.
//
// Because the vectors come from metadata only, items without training interactions are
// recommendable, and vector_for() embeds an item that is not in the catalogue at all.
//
// User profile: sum over the history of w_p * x_item(p), w_p = recency_decay^(age_p)
// (age_p = 0 for the newest item) times the rating q.values[p] when use_ratings is on and
// values are given, then L2-normalised; so score(i) = cosine(profile, x_i) (the mean's
// 1/sum(w) factor cancels in the cosine). The user id is ignored: fresh events change
// the output without retraining.
// Scoring: the dense matrix is what item_vectors() and save() expose; score() and
// score_items() walk a CSR copy of its non-zeros (derived at fit/load, not saved): rows
// have a handful of non-zeros (~7 of ~530 columns on ML-latest-small), so this is a
// sparse mat-vec over n_items rows, some 50x less work than the dense one.
// Cold users: an empty history gives an all-zero profile and all-zero scores (no
// popularity fallback here, deliberately: the fusion combines channels for cold users).
//
// Reference: Salton & Buckley 1988, "Term-weighting approaches in automatic text
// retrieval" (TF-IDF, cosine); the reference system's content channel (genres + year buckets).
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "cascade/core/params.h"
#include "cascade/data/catalog.h"
#include "cascade/recall/recaller.h"

namespace cascade {

class ContentRecaller final : public Recaller {
 public:
  static constexpr const char* kKind = "content";
  static constexpr int kFormatVersion = 1;
  static constexpr uint32_t kYearBuckets = 5;

  /// Parameters (defaults): genre_weight (1), year_weight (1), tag_weight (1), all in
  /// [0, 1000]; min_tag_items (2) in [1, 1e9]; max_tags (1000) in [0, 1e7];
  /// recency_decay (1.0 = plain mean) in (0, 1]; use_ratings (false).
  explicit ContentRecaller(Params params);

  std::string kind() const override { return kKind; }
  /// Builds the item matrix from in.catalog (sizes must match in.train.n_cols);
  /// the interactions themselves are not used.
  void fit(const FitInput& in) override;
  void score(const UserQuery& q, std::span<float> out) const override;
  void score_items(const UserQuery& q, std::span<const ItemId> items,
                   std::span<float> out) const override;
  /// The dense n_items x n_features TF-IDF matrix, row-major, rows L2-normalised (or zero).
  ItemVectorsView item_vectors() const override;
  Params params() const override { return params_.in_force(); }
  void save(const std::filesystem::path& dir) const override;
  void load(const std::filesystem::path& dir) override;
  uint32_t n_items() const override { return n_items_; }

  /// The TF-IDF row (size n_features) of an item described by `info`, using the fitted
  /// vocabulary and idf; for a catalogue item it equals that item's row. Genres must be
  /// < n_genres (throws otherwise); tags outside the kept vocabulary are ignored.
  std::vector<float> vector_for(const ItemInfo& info) const;
  /// The L2-normalised profile of `q` (size n_features); all zero for an empty history.
  /// score(i) == dot(user_profile(q), row i).
  std::vector<float> user_profile(const UserQuery& q) const;

  uint32_t n_features() const { return n_features_; }
  uint32_t n_genres() const { return n_genres_; }
  /// Kept tag ids (ascending); feature of kept_tags()[j] is n_genres + 5 + j.
  const std::vector<uint32_t>& kept_tags() const { return kept_tags_; }
  /// Per-feature idf, size n_features.
  const std::vector<float>& idf() const { return idf_; }
  const std::string& dataset_hash() const { return dataset_hash_; }

 private:
  void read_params(Params p);
  // Rebuilds tag_feature_ from kept_tags_.
  void index_tags();
  // Rebuilds the CSR non-zeros (nz_*) from item_vecs_.
  void index_rows();
  // dot(row i, v) over row i's non-zeros, ascending feature order.
  float row_dot(ItemId i, const float* v) const;
  // Writes the normalised row of `info` into row[0, n_features) (zeroed by the caller).
  void build_row(const ItemInfo& info, float* row) const;

  Params params_;
  double genre_weight_ = 1.0, year_weight_ = 1.0, tag_weight_ = 1.0;
  int64_t min_tag_items_ = 2, max_tags_ = 1000;
  double recency_decay_ = 1.0;
  bool use_ratings_ = false;

  uint32_t n_items_ = 0;
  uint32_t n_genres_ = 0;
  uint32_t n_features_ = 0;
  std::vector<uint32_t> kept_tags_;     // ascending tag ids
  std::vector<int32_t> tag_feature_;    // tag id -> feature index, -1 when not kept
  std::vector<float> idf_;              // size n_features
  std::vector<float> item_vecs_;        // n_items x n_features, row-major
  std::vector<uint64_t> nz_ptr_{0};     // size n_items + 1: CSR of item_vecs_' non-zeros
  std::vector<uint32_t> nz_idx_;        // feature ids, ascending within a row
  std::vector<float> nz_val_;           // values
  // Items with the same non-zeros (same features, same values: on genre + year metadata most
  // of a large catalogue shares a few thousand rows) score the same: score() dots each
  // distinct row once (row_dot's order) and copies. Filled by index_rows() when it saves work.
  std::vector<uint32_t> row_group_;  // size n_items: distinct row of each item (empty = off)
  std::vector<ItemId> group_item_;   // one item of each distinct row
  std::string dataset_hash_;
};

}  // namespace cascade
