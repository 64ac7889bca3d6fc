// Popularity recall channel ("popularity"): every user gets the same scores, the
// (optionally time-decayed) number of training interactions per item.
//
// This is the reference system's baseline ("Popularity: raw training counts", SYSTEM.md);
// with half_life_days > 0 each interaction is weighted 0.5^((t_max - t) / half_life),
// t_max the latest training timestamp, a common "trending" variant (exponential decay as
// in Koren 2009, "Collaborative filtering with temporal dynamics").
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "cascade/core/params.h"
#include "cascade/recall/recaller.h"

namespace cascade {

class PopularityRecaller final : public Recaller {
 public:
  static constexpr const char* kKind = "popularity";
  static constexpr int kFormatVersion = 1;

  /// Parameters: half_life_days (double, [0, 1e6], default 0 = no decay).
  explicit PopularityRecaller(Params params);

  std::string kind() const override { return kKind; }
  void fit(const FitInput& in) override;
  /// Ignores the query: the same n_items scores for everyone (masking is top_n's job).
  void score(const UserQuery& q, std::span<float> out) const override;
  void score_items(const UserQuery& q, std::span<const ItemId> items,
                   std::span<float> out) const override;
  Params params() const override { return params_.in_force(); }
  void save(const std::filesystem::path& dir) const override;
  void load(const std::filesystem::path& dir) override;
  uint32_t n_items() const override { return static_cast<uint32_t>(scores_.size()); }
  /// Every item by score (the same for every query), so top_n() costs O(k), not O(n_items).
  std::span<const ScoredItem> static_ranking() const override { return ranking_; }

  /// The fitted per-item scores, size n_items.
  std::span<const float> scores() const { return scores_; }
  /// FitInput::dataset_hash of the fit (or of the loaded model).
  const std::string& dataset_hash() const { return dataset_hash_; }
  double half_life_days() const { return half_life_days_; }

 private:
  // Reads every parameter from `p` (bounds checked) and rejects unknown keys.
  void read_params(Params p);

  Params params_;
  double half_life_days_ = 0.0;
  std::vector<float> scores_;  // size n_items
  std::vector<ScoredItem> ranking_;  // items with finite scores, best first (from scores_)
  void build_ranking();
  std::string dataset_hash_;
};

}  // namespace cascade
