// Torch-free helpers of the Two-Tower channel; see two_tower_model.h.
#include "recall/two_tower_model.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "cascade/core/error.h"
#include "cascade/core/params.h"

namespace cascade::two_tower {

HistoryBatch build_history_batch(const Interactions& train, std::span<const uint32_t> users,
                                 std::span<const uint32_t> targets, double dropout, uint64_t seed,
                                 uint32_t max_kept) {
  std::vector<uint32_t> count(train.n_cols, 0);
  HistoryBatch hb;
  build_history_batch(train, users, targets, dropout, seed, count, hb, max_kept);
  return hb;
}

void build_history_batch(const Interactions& train, std::span<const uint32_t> users,
                         std::span<const uint32_t> targets, double dropout, uint64_t seed,
                         std::vector<uint32_t>& count, HistoryBatch& hb, uint32_t max_kept) {
  CASCADE_CHECK(users.size() == targets.size(), "two_tower: users and targets differ in size");
  CASCADE_CHECK(dropout >= 0.0 && dropout < 1.0, "two_tower: history dropout must be in [0, 1)");
  CASCADE_CHECK(count.size() >= train.n_cols, "two_tower: history count scratch smaller than the catalogue");
  const size_t B = users.size();
  hb.bag_items.clear();
  hb.bag_offsets.clear();
  hb.sample_bag.resize(B);
  hb.target_weight.resize(B);
  hb.inv_count.resize(B);
  // One bag per distinct user, in ascending user order: sort the (user, sample) pairs.
  std::vector<std::pair<uint32_t, uint32_t>> order(B);
  for (size_t b = 0; b < B; ++b) {
    CASCADE_CHECK(users[b] < train.n_rows,
                  fmt::format("two_tower: batch user {} out of range ({} users)", users[b], train.n_rows));
    CASCADE_CHECK(targets[b] < train.n_cols,
                  fmt::format("two_tower: batch target {} out of range ({} items)", targets[b], train.n_cols));
    order[b] = {users[b], static_cast<uint32_t>(b)};
  }
  std::sort(order.begin(), order.end());
  Rng rng(seed);
  // Per distinct user: its kept history forms a bag; count[] holds the kept occurrences of
  // each item while the user's samples are read, and is cleared again from the bag.
  size_t s = 0;
  while (s < B) {
    const uint32_t u = order[s].first;
    const auto row = train.row(u);
    const int64_t bag = static_cast<int64_t>(hb.bag_offsets.size());
    const size_t begin = hb.bag_items.size();
    hb.bag_offsets.push_back(static_cast<int64_t>(begin));
    for (uint32_t item : row) {
      if (dropout > 0.0 && rng.uniform() < dropout) continue;
      hb.bag_items.push_back(item);
      ++count[item];
    }
    const size_t n_kept = hb.bag_items.size() - begin;
    if (max_kept > 0 && n_kept > max_kept) {
      // Partial Fisher-Yates: the first max_kept places become a uniform sample of the bag.
      int64_t* bag_items = hb.bag_items.data() + begin;
      for (size_t i = 0; i < max_kept; ++i)
        std::swap(bag_items[i], bag_items[i + rng.below(n_kept - i)]);
      for (size_t k = max_kept; k < n_kept; ++k) --count[static_cast<size_t>(bag_items[k])];
      hb.bag_items.resize(begin + max_kept);
    }
    const double kept = static_cast<double>(hb.bag_items.size() - begin);
    for (; s < B && order[s].first == u; ++s) {
      const uint32_t b = order[s].second;
      const double occ = static_cast<double>(count[targets[b]]);
      hb.sample_bag[b] = bag;
      hb.target_weight[b] = static_cast<float>(occ);
      const double n = kept - occ;
      hb.inv_count[b] = n > 0.0 ? static_cast<float>(1.0 / n) : 0.f;
    }
    for (size_t k = begin; k < hb.bag_items.size(); ++k) count[static_cast<size_t>(hb.bag_items[k])] = 0;
  }
}

float normalize_row(const float* x, float* y, int64_t d) {
  double s = 0.0;
  for (int64_t j = 0; j < d; ++j) s += static_cast<double>(x[j]) * x[j];
  const float inv = static_cast<float>(1.0 / std::max(std::sqrt(s), 1e-12));
  for (int64_t j = 0; j < d; ++j) y[j] = x[j] * inv;
  return inv;
}

void pool_sample(const HistoryBatch& hb, size_t b, uint32_t target, const float* H, size_t dim,
                 std::span<float> out) {
  CASCADE_CHECK(b < hb.sample_bag.size() && out.size() == dim, "two_tower: pool_sample arguments");
  const int64_t bag = hb.sample_bag[b];
  const int64_t begin = hb.bag_offsets[bag];
  const int64_t end = bag + 1 < static_cast<int64_t>(hb.bag_offsets.size())
                          ? hb.bag_offsets[bag + 1]
                          : static_cast<int64_t>(hb.bag_items.size());
  std::fill(out.begin(), out.end(), 0.f);
  for (int64_t k = begin; k < end; ++k) {
    const float* h = H + static_cast<size_t>(hb.bag_items[k]) * dim;
    for (size_t j = 0; j < dim; ++j) out[j] += h[j];
  }
  const float* t = H + static_cast<size_t>(target) * dim;
  for (size_t j = 0; j < dim; ++j) out[j] = (out[j] - hb.target_weight[b] * t[j]) * hb.inv_count[b];
}

std::vector<int> parse_mlp(const std::string& text) {
  return Params::parse_layers("mlp", text, {.min_width = 1, .max_width = 8192, .max_layers = 8, .none = "0"});
}

int DenseMlp::max_width() const {
  int w = 0;
  for (const auto& l : layers) w = std::max({w, l.in, l.out});
  return w;
}

void DenseMlp::forward(const float* x, float* y, float* work) const {
  const int w = max_width();
  float* buf[2] = {work, work + w};
  const float* in = x;
  for (size_t l = 0; l < layers.size(); ++l) {
    const DenseLayer& L = layers[l];
    const bool last = l + 1 == layers.size();
    float* o = last ? y : buf[l % 2];
    for (int r = 0; r < L.out; ++r) {
      const float* wr = L.w.data() + static_cast<size_t>(r) * L.in;
      float acc = 0.f;
      for (int c = 0; c < L.in; ++c) acc += wr[c] * in[c];
      acc += L.b[r];
      o[r] = last ? acc : std::max(acc, 0.f);
    }
    in = o;
  }
}

}  // namespace cascade::two_tower
