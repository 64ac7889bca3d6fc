// Item-transition recall channel ("transition"): what users went on to next.
//
// Fitting counts, over every user's time-ordered training row, how often item b follows item
// a within `max_lag` positions, each pair weighted lag_decay^(lag - 1). A query is scored from
// its `window` newest history items h_0 (newest), h_1, ...:
//     score(b) = sum_j recency_decay^j * W(h_j -> b),
//     W(a -> b) = count(a -> b) / out(a)^alpha / in(b)^beta
//                + prior * pop(b)
// where out(a) and in(b) are the total weights leaving a and entering b (alpha = 1 makes a
// row the empirical P(next = b | a); beta > 0 discounts items that follow everything), and
// pop(b) the item's training count over the largest one: a small `prior` orders the items no
// recent item leads to by popularity instead of by id, which is what the channel's deeper
// ranks (a pool of 200-500 per channel) are made of. Only
// the `max_neighbours` heaviest successors of each item are kept, so the model is a sparse
// CSR of at most n_items x max_neighbours entries and a query costs O(window x max_neighbours)
// after clearing the output.
//
// With seen events (keep_seen: FitInput::context, UserQuery::context) the sequences and the
// query window interleave them with the positives by time: a seen event is an antecedent `a`,
// never a successor `b`, and does not count towards pop(b).
//
// This is a first-order Markov chain with skips (the "sequential rules" / SR baseline of
// Ludewig & Jannach 2018, "Evaluation of session-based recommendation algorithms", User
// Modeling and User-Adapted Interaction), used here as a recall channel over whole user
// histories. Items that never follow anything the user did score 0 (ties broken by id in
// top_n like every channel).
//
// Fitting is O(nnz x max_lag) plus one dense accumulator per thread; items are processed in
// parallel with identical results for any thread count.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "cascade/core/params.h"
#include "cascade/recall/recaller.h"

namespace cascade {

class TransitionRecaller final : public Recaller {
 public:
  static constexpr const char* kKind = "transition";
  static constexpr int kFormatVersion = 1;

  /// Parameters (defaults chosen on the ML-100K validation item, configs/recall/default.yaml):
  ///   window [10] 1..1000, recency_decay [0.8] (0, 1], max_lag [3] 1..100,
  ///   lag_decay [1] (0, 1], alpha [0.5] [0, 2], beta [0] [0, 2],
  ///   max_neighbours [500] 1..1e6, prior [0] [0, 1e6], threads [0 = the fit's].
  explicit TransitionRecaller(Params params);

  std::string kind() const override { return kKind; }
  void fit(const FitInput& in) override;
  void score(const UserQuery& q, std::span<float> out) const override;
  Params params() const override { return params_.in_force(); }
  void save(const std::filesystem::path& dir) const override;
  void load(const std::filesystem::path& dir) override;
  uint32_t n_items() const override { return n_items_; }

  /// Item a's kept successors (ids and weights W(a -> b), heaviest first).
  std::span<const uint32_t> successors(ItemId a) const;
  std::span<const float> successor_weights(ItemId a) const;

 private:
  void read_params(Params p);
  void check_model() const;

  Params params_;
  uint32_t window_ = 10;
  double recency_decay_ = 0.8;
  uint32_t max_lag_ = 3;
  double lag_decay_ = 1.0;
  double alpha_ = 0.5;
  double beta_ = 0.0;
  uint32_t max_neighbours_ = 500;
  double prior_ = 0.0;
  int threads_ = 0;

  uint32_t n_items_ = 0;
  std::vector<uint64_t> indptr_{0};  // n_items + 1
  std::vector<uint32_t> next_;       // successor ids, per item heaviest first
  std::vector<float> weight_;        // W(a -> b), parallel to next_
  std::vector<float> popularity_;    // n_items: training count / the largest count
  std::string dataset_hash_;
};

}  // namespace cascade
