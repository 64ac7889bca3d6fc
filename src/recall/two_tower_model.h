// Torch-free pieces of the Two-Tower recall channel (two_tower.cc), exposed for tests:
//  - the training-time history pooling, which must leave each sample's target out of the
//    user's pooled history (otherwise the model learns to find the target in its own input);
//  - the parser of the `mlp` parameter;
//  - the plain-C++ MLP used at inference (score() never runs libtorch, so it is thread-safe,
//    allocation-light and bit-reproducible after save/load).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "cascade/data/interactions.h"
#include "cascade/util/mix64.h"

namespace cascade::two_tower {

/// The pooled-history input of one training batch, in embedding-bag form.
///
/// Sample b (user users[b], target targets[b]) pools
///     h_b = inv_count[b] * ( sum_{k in bag(sample_bag[b])} H[bag_items[k]]
///                            - target_weight[b] * H[targets[b]] )
/// i.e. the mean of the user's (kept) history with EVERY kept occurrence of the target removed.
/// Bags are shared by all samples of one user in the batch (one bag per distinct user), so the
/// cost is O(sum of distinct users' history lengths), not O(batch x history).
struct HistoryBatch {
  std::vector<int64_t> bag_items;     ///< flat item ids of all bags
  std::vector<int64_t> bag_offsets;   ///< n_bags: start of each bag in bag_items
  std::vector<int64_t> sample_bag;    ///< B: the bag of each sample
  std::vector<float> target_weight;   ///< B: kept occurrences of the target in its bag
  std::vector<float> inv_count;       ///< B: 1 / (bag size - target_weight), 0 if that is 0
};

/// Builds the history bags of a batch of positives (users[b], targets[b]) from the training
/// rows of `train`. With dropout > 0 each history entry of each distinct user is kept with
/// probability 1 - dropout (one draw per entry and batch, from `seed`: deterministic).
/// Throws cascade::Error when a user or target is out of range.
/// With max_kept > 0, a bag that keeps more entries than that is cut to a uniform random
/// max_kept of them (drawn from the same stream after the dropout draws): the pooled mean of a
/// heavy user is then an unbiased estimate from max_kept rows instead of the exact mean of
/// hundreds. 0 = no cap (and no extra draws: the batches of earlier versions).
HistoryBatch build_history_batch(const Interactions& train, std::span<const uint32_t> users,
                                 std::span<const uint32_t> targets, double dropout, uint64_t seed,
                                 uint32_t max_kept = 0);
/// The same into `hb` (its storage reused), with `count` a scratch of train.n_cols zeros that
/// is left all zero again (the kept-occurrence counts: O(history), no sort per user).
void build_history_batch(const Interactions& train, std::span<const uint32_t> users,
                         std::span<const uint32_t> targets, double dropout, uint64_t seed,
                         std::vector<uint32_t>& count, HistoryBatch& hb, uint32_t max_kept = 0);

/// L2 normalisation of one row as torch::nn::functional::normalize, the norm summed in double:
/// y = x / max(|x|, 1e-12) (y may be x). Returns the factor it applied, 1 / max(|x|, 1e-12).
/// The inference towers and the training op (two_tower_loss.h, l2_normalize_rows) both use it.
float normalize_row(const float* x, float* y, int64_t d);

/// Reference pooling of sample b (plain loops), out.size() == dim; H is n_items x dim.
void pool_sample(const HistoryBatch& hb, size_t b, uint32_t target, const float* H, size_t dim,
                 std::span<float> out);

/// "128" -> {128}; "256-128" -> {256, 128}; "0" -> {} (no hidden layer: the tower is one linear
/// projection). Each size must be in [1, 8192]; at most 8 layers. Throws cascade::Error.
std::vector<int> parse_mlp(const std::string& text);

/// One dense layer y = W x + b, W row-major out x in (torch::nn::Linear's layout).
struct DenseLayer {
  int in = 0;
  int out = 0;
  std::vector<float> w;  ///< out x in
  std::vector<float> b;  ///< out
};

/// ReLU between layers, none after the last. forward() uses `work` (>= 2 * max width floats)
/// and writes the last layer's output to y. Plain loops in a fixed order: deterministic.
struct DenseMlp {
  std::vector<DenseLayer> layers;
  int in_dim() const { return layers.empty() ? 0 : layers.front().in; }
  int out_dim() const { return layers.empty() ? 0 : layers.back().out; }
  int max_width() const;
  void forward(const float* x, float* y, float* work) const;
};

/// A small deterministic generator on splitmix64's mixing step (util/mix64.h).

struct Rng {
  uint64_t state;
  explicit Rng(uint64_t seed) : state(mix64(seed)) {}
  uint64_t next() { return mix64(state++); }
  /// Uniform in [0, n) (n > 0), Lemire's multiply-shift (bias < n / 2^64).
  uint64_t below(uint64_t n) { return static_cast<uint64_t>((static_cast<__uint128_t>(next()) * n) >> 64); }
  /// Uniform in [0, 1).
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
};

}  // namespace cascade::two_tower
