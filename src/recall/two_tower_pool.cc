// History pooling op of the Two-Tower channel; see two_tower_pool.h.
#include "recall/two_tower_pool.h"

#include <fmt/format.h>

#include <algorithm>

#include "cascade/core/error.h"
#include "cascade/util/target_clones.h"
#include "nn/torch_util.h"

// The bag sums and their backward scatter are most of the op's time (≈ 16% of a 1M-row epoch
// before these kernels), so they are target clones (util/target_clones.h). They only add, row by
// row in the same order, so every clone gives the same bits.

namespace cascade::two_tower {

namespace {

#if defined(__GNUC__) && !defined(__clang__)
// 64-byte vectors stay inside the cloned functions below; the ABI note is moot.
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
// Unaligned 16-float vector (GCC extension): rows of a torch table are 4-byte aligned only.
typedef float v16u __attribute__((vector_size(64), aligned(4), may_alias));

// out[0..d) = sum of the rows h[items[k]], k < n. For d = 64 (the default dim) the running sum
// is four 16-float vectors held in registers across the whole bag (a plain loop over a float[64]
// was compiled into a scalar loop through memory).
CASCADE_TARGET_CLONES void sum_rows(const float* __restrict h, int64_t d, const int64_t* items,
                                    int64_t n, float* __restrict out) {
  if (d == 64) {
    v16u a0 = {}, a1 = {}, a2 = {}, a3 = {};
    for (int64_t k = 0; k < n; ++k) {
      const v16u* row = reinterpret_cast<const v16u*>(h + items[k] * 64);
      a0 += row[0];
      a1 += row[1];
      a2 += row[2];
      a3 += row[3];
    }
    v16u* o = reinterpret_cast<v16u*>(out);
    o[0] = a0;
    o[1] = a1;
    o[2] = a2;
    o[3] = a3;
    return;
  }
  for (int64_t j = 0; j < d; ++j) out[j] = 0.f;
  for (int64_t k = 0; k < n; ++k) {
    const float* __restrict row = h + items[k] * d;
    for (int64_t j = 0; j < d; ++j) out[j] += row[j];
  }
}

// table[items[k]] += g for every k < n (g is not inside table).
CASCADE_TARGET_CLONES void add_to_rows(const float* __restrict g, int64_t d, const int64_t* items,
                                       int64_t n, float* __restrict table) {
  if (d == 64) {
    const v16u* G = reinterpret_cast<const v16u*>(g);
    const v16u g0 = G[0], g1 = G[1], g2 = G[2], g3 = G[3];
    for (int64_t k = 0; k < n; ++k) {
      v16u* row = reinterpret_cast<v16u*>(table + items[k] * 64);
      row[0] += g0;
      row[1] += g1;
      row[2] += g2;
      row[3] += g3;
    }
    return;
  }
  for (int64_t k = 0; k < n; ++k) {
    float* __restrict row = table + items[k] * d;
    for (int64_t j = 0; j < d; ++j) row[j] += g[j];
  }
}

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// The bag index arrays live in the context as int64 / float tensors (copied: the op does not
// depend on the HistoryBatch outliving the forward pass).
struct PoolHistoryFn : torch::autograd::Function<PoolHistoryFn> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& H,
                               const torch::Tensor& bag_items, const torch::Tensor& bag_offsets,
                               const torch::Tensor& sample_bag, const torch::Tensor& targets,
                               const torch::Tensor& target_weight, const torch::Tensor& inv_count) {
    const torch::Tensor Hc = H.contiguous();
    const int64_t d = Hc.size(1), B = targets.size(0), n_bags = bag_offsets.size(0);
    const int64_t n_bag_items = bag_items.size(0);
    const float* h = Hc.data_ptr<float>();
    const int64_t* items = bag_items.data_ptr<int64_t>();
    const int64_t* off = bag_offsets.data_ptr<int64_t>();
    const int64_t* sb = sample_bag.data_ptr<int64_t>();
    const int64_t* tg = targets.data_ptr<int64_t>();
    const float* tw = target_weight.data_ptr<float>();
    const float* ic = inv_count.data_ptr<float>();
    std::vector<float> sums(static_cast<size_t>(n_bags * d));
    for (int64_t g = 0; g < n_bags; ++g) {
      const int64_t end = g + 1 < n_bags ? off[g + 1] : n_bag_items;
      sum_rows(h, d, items + off[g], end - off[g], sums.data() + g * d);
    }
    torch::Tensor out = torch::empty({B, d}, torch::kFloat32);
    float* o = out.data_ptr<float>();
    for (int64_t b = 0; b < B; ++b) {
      const float* s = sums.data() + sb[b] * d;
      const float* t = h + tg[b] * d;
      for (int64_t j = 0; j < d; ++j) o[b * d + j] = (s[j] - tw[b] * t[j]) * ic[b];
    }
    ctx->save_for_backward({bag_items, bag_offsets, sample_bag, targets, target_weight, inv_count});
    ctx->saved_data["n_items"] = H.size(0);
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &bag_items = saved[0], &bag_offsets = saved[1], &sample_bag = saved[2],
                        &targets = saved[3], &target_weight = saved[4], &inv_count = saved[5];
    const torch::Tensor g = grads[0].contiguous();
    const int64_t n_items = ctx->saved_data["n_items"].toInt();
    const int64_t d = g.size(1), B = g.size(0), n_bags = bag_offsets.size(0),
                  n_bag_items = bag_items.size(0);
    const float* gp = g.data_ptr<float>();
    const int64_t* items = bag_items.data_ptr<int64_t>();
    const int64_t* off = bag_offsets.data_ptr<int64_t>();
    const int64_t* sb = sample_bag.data_ptr<int64_t>();
    const int64_t* tg = targets.data_ptr<int64_t>();
    const float* tw = target_weight.data_ptr<float>();
    const float* ic = inv_count.data_ptr<float>();
    // Per bag, the sum of its samples' scaled gradients; then every bag item receives its bag's.
    std::vector<float> bag_grad(static_cast<size_t>(n_bags * d), 0.f);
    for (int64_t b = 0; b < B; ++b) {
      float* G = bag_grad.data() + sb[b] * d;
      for (int64_t j = 0; j < d; ++j) G[j] += ic[b] * gp[b * d + j];
    }
    torch::Tensor gH = torch::zeros({n_items, d}, torch::kFloat32);
    float* gh = gH.data_ptr<float>();
    for (int64_t bag = 0; bag < n_bags; ++bag) {
      const int64_t end = bag + 1 < n_bags ? off[bag + 1] : n_bag_items;
      add_to_rows(bag_grad.data() + bag * d, d, items + off[bag], end - off[bag], gh);
    }
    for (int64_t b = 0; b < B; ++b) {
      float* row = gh + tg[b] * d;
      const float w = tw[b] * ic[b];
      for (int64_t j = 0; j < d; ++j) row[j] -= w * gp[b * d + j];
    }
    return {gH,
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor()};
  }
};

void check_batch(const torch::Tensor& H, const HistoryBatch& hb, const torch::Tensor& targets) {
  CASCADE_CHECK(H.dim() == 2 && H.scalar_type() == torch::kFloat32,
                "two_tower: pool_history needs a 2-D float table");
  CASCADE_CHECK(targets.dim() == 1 && targets.scalar_type() == torch::kInt64,
                "two_tower: pool_history targets must be int64 [B]");
  const auto B = static_cast<size_t>(targets.size(0));
  CASCADE_CHECK(
      hb.sample_bag.size() == B && hb.target_weight.size() == B && hb.inv_count.size() == B,
      fmt::format("two_tower: history batch of {} samples for {} targets", hb.sample_bag.size(),
                  B));
  const int64_t n_items = H.size(0);
  const auto n_bags = static_cast<int64_t>(hb.bag_offsets.size());
  for (size_t g = 0; g < hb.bag_offsets.size(); ++g) {
    const int64_t end = g + 1 < hb.bag_offsets.size() ? hb.bag_offsets[g + 1]
                                                      : static_cast<int64_t>(hb.bag_items.size());
    CASCADE_CHECK(hb.bag_offsets[g] >= 0 && hb.bag_offsets[g] <= end,
                  "two_tower: history bag offsets not ascending");
  }
  for (int64_t i : hb.bag_items)
    CASCADE_CHECK(i >= 0 && i < n_items, fmt::format("two_tower: history item {} out of range", i));
  const int64_t* t = targets.data_ptr<int64_t>();
  for (size_t b = 0; b < B; ++b) {
    CASCADE_CHECK(hb.sample_bag[b] >= 0 && hb.sample_bag[b] < n_bags,
                  "two_tower: history sample bag out of range");
    CASCADE_CHECK(t[b] >= 0 && t[b] < n_items,
                  fmt::format("two_tower: target {} out of range", t[b]));
  }
}

}  // namespace

torch::Tensor pool_history(const torch::Tensor& H, const HistoryBatch& hb,
                           const torch::Tensor& targets) {
  const torch::Tensor tg = targets.contiguous();
  check_batch(H, hb, tg);
  const auto B = tg.size(0);
  return PoolHistoryFn::apply(
      H, nn::from_ids(hb.bag_items, {static_cast<int64_t>(hb.bag_items.size())}),
      nn::from_ids(hb.bag_offsets, {static_cast<int64_t>(hb.bag_offsets.size())}),
      nn::from_ids(hb.sample_bag, {B}), tg, nn::from_vector(hb.target_weight, {B}),
      nn::from_vector(hb.inv_count, {B}));
}

torch::Tensor pool_history_embedding_bag(const torch::Tensor& H, const HistoryBatch& hb,
                                         const torch::Tensor& targets) {
  check_batch(H, hb, targets.contiguous());
  const int64_t B = targets.size(0);
  if (hb.bag_items.empty()) return torch::zeros({B, H.size(1)});
  const auto n_bags = static_cast<int64_t>(hb.bag_offsets.size());
  const torch::Tensor sums = torch::nn::functional::embedding_bag(
      nn::from_ids(hb.bag_items, {static_cast<int64_t>(hb.bag_items.size())}), H,
      torch::nn::functional::EmbeddingBagFuncOptions()
          .offsets(nn::from_ids(hb.bag_offsets, {n_bags}))
          .mode(torch::kSum));
  return (sums.index_select(0, nn::from_ids(hb.sample_bag, {B})) -
          nn::from_vector(hb.target_weight, {B, 1}) * H.index_select(0, targets)) *
         nn::from_vector(hb.inv_count, {B, 1});
}

}  // namespace cascade::two_tower
