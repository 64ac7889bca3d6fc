// BlendRanker ("blend"): a stacked final scorer over other rankers. Its score is the weighted
// sum of its members' scores, each divided by that member's spread within a request (the pooled
// within-group standard deviation of its scores on the held-out training groups, or on the
// training groups when none are held out), so that rankers of different scales (GBDT margins, a
// network's logits) weigh as configured. The scales are fixed at fit time: a row's score does
// not depend on the other rows of its batch, so the pre-ranker's cut, a request scored alone
// and `bench funnel`'s whole-pool scores order candidates alike.
//
// Configured as a ranker whose members are other configured rankers:
//   rank.rankers.blend: {kind: blend, members: [lr, gbdt, deepfm, din], weights: 1/1/1/1}
// The members train on the blend's own training examples; fitting the blend fits them.
// Parameters: members (names joined by '+', 2..8; required to fit), weights (positive numbers
// joined by '/', one per member, [equal]).
// Saved as a model directory whose members/<k>-<name>/ are the members' own model directories;
// the blend's manifest records each member's manifest hash and scale, and load checks them.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cascade/rank/ranker.h"

namespace cascade {

class BlendRanker final : public Ranker {
 public:
  explicit BlendRanker(Params p);

  std::string kind() const override { return "blend"; }
  /// The member names the parameters list, in order.
  const std::vector<std::string>& member_names() const { return names_; }
  /// Hands over the (unfitted) member models, one per member name, before fit().
  void set_members(std::vector<std::unique_ptr<Ranker>> members);
  /// Takes members already fitted on `train` (with opt.valid for early stopping), as fit()
  /// would fit them, and fixes the scales as fit() does: what `bench funnel` does with the
  /// candidates it has fitted anyway. They must share one feature schema.
  void adopt_fitted(std::vector<std::shared_ptr<Ranker>> members, const RankTrainSet& train,
                    const RankFitOptions& opt);
  const Ranker& member(size_t k) const { return *members_.at(k); }
  size_t n_members() const { return members_.size(); }
  /// 1 / (member k's within-request standard deviation), 0 for a member constant in every group.
  const std::vector<double>& scales() const { return scales_; }

  void fit(const RankTrainSet& train, const RankFitOptions& opt) override;
  void score(const RankBatch& batch, std::span<float> out) const override;
  /// Forwards to the members; returns the attention of the first member that attends.
  bool score_attended(const RankBatch& batch, std::span<float> out,
                      HistoryAttention& att) const override;
  const FeatureSchema& schema() const override { return schema_; }
  Params params() const override { return params_.in_force(); }
  void save(const std::filesystem::path& dir) const override;
  void load(const std::filesystem::path& dir) override;

 private:
  void fit_scales(const RankTrainSet& train, const RankFitOptions& opt);
  void check_batch(const RankBatch& batch, std::span<float> out) const;  // score()'s checks
  void combine(const std::vector<std::vector<float>>& member_scores, std::span<float> out) const;

  Params params_;
  std::vector<std::string> names_;
  std::vector<double> weights_;
  std::vector<double> scales_;
  std::vector<std::shared_ptr<Ranker>> members_;  // shared: bench funnel's fitted candidates
  FeatureSchema schema_;
  std::string dataset_hash_;
  bool fitted_ = false;
};

/// Splits a blend's `members` text ("gbdt+din") into names; throws cascade::Error naming the
/// parameter when a name is empty, repeated or the count is outside 2..8.
std::vector<std::string> blend_member_names(const std::string& text);

/// The pooled within-group standard deviation of `scores` over `batch`'s groups:
/// sqrt(sum over rows of (score - its group's mean)^2 / rows).
double within_group_sd(const RankBatch& batch, std::span<const float> scores);

}  // namespace cascade
