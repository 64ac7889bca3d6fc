// Host-side Two-Tower batches; see two_tower_batch.h.
#include "recall/two_tower_batch.h"

#include <algorithm>
#include <cmath>

#include "cascade/core/error.h"

namespace cascade::two_tower {

BatchMaker::BatchMaker(const Interactions& train, const BatchSpec& spec, uint64_t seed)
    : train_(train), spec_(spec), rng_(seed) {
  CASCADE_CHECK(spec.batch > 0, "two_tower: batch must be positive");
  CASCADE_CHECK(spec.n_items >= static_cast<int64_t>(train.n_cols) && spec.n_items > 0,
                "two_tower: batch maker needs n_items >= the training columns");
  const uint64_t nnz = train.nnz();
  row_of_.resize(nnz);
  for (uint32_t u = 0; u < train.n_rows; ++u)
    for (uint64_t k = train.indptr[u]; k < train.indptr[u + 1]; ++k) row_of_[k] = u;
  freq_.assign(static_cast<size_t>(spec.n_items), 0.0);
  for (uint32_t i : train.indices) freq_[i] += 1.0 / static_cast<double>(nnz);
  perm_.resize(nnz);
  for (uint64_t k = 0; k < nnz; ++k) perm_[k] = k;
  col_head_.assign(static_cast<size_t>(spec.n_items), -1);
  kept_count_.assign(train.n_cols, 0);
}

void BatchMaker::shuffle() {
  for (uint64_t k = perm_.size(); k > 1; --k) std::swap(perm_[k - 1], perm_[rng_.below(k)]);
}

void BatchMaker::make(uint64_t index, HostBatch& out) {
  const uint64_t nnz = rows();
  const uint64_t start = index * static_cast<uint64_t>(spec_.batch);
  CASCADE_CHECK(start < nnz, "two_tower: batch index past the epoch");
  const int64_t B =
      static_cast<int64_t>(std::min<uint64_t>(static_cast<uint64_t>(spec_.batch), nnz - start));
  const auto n_users = static_cast<int64_t>(train_.n_rows);
  out.size = B;
  out.users.resize(B);
  out.targets.resize(B);
  out.user_ids.resize(B);
  out.user_slots.resize(B);
  for (int64_t b = 0; b < B; ++b) {
    const uint64_t k = perm_[start + b];
    out.users[b] = row_of_[k];
    out.targets[b] = train_.indices[k];
    out.user_ids[b] = out.users[b];
    const bool drop = spec_.user_id_dropout > 0.0 && rng_.uniform() < spec_.user_id_dropout;
    out.user_slots[b] = drop ? n_users : out.users[b];
  }
  if (spec_.use_history) {
    build_history_batch(train_, out.users, out.targets, spec_.history_dropout, rng_.next(),
                        kept_count_, out.history, spec_.history_cap);
  }
  out.columns.assign(out.targets.begin(), out.targets.end());
  const auto n_items = static_cast<uint64_t>(spec_.n_items);
  if (spec_.bpr) {
    for (int64_t b = 0; b < B; ++b)
      out.columns.push_back(static_cast<int64_t>(rng_.below(n_items)));
    out.logit_bias.clear();
    return;
  }
  const int64_t N = spec_.negatives;
  const int64_t M = B + N;
  for (int64_t n = 0; n < N; ++n) out.columns.push_back(static_cast<int64_t>(rng_.below(n_items)));
  const std::vector<int64_t>& cols = out.columns;
  // Row 0 of the bias: the logQ term of each column; every row starts as a copy of it.
  out.logit_bias.resize(static_cast<size_t>(B * M));
  float* bias = out.logit_bias.data();
  for (int64_t c = 0; c < M; ++c) {
    bias[c] =
        spec_.logq
            ? -static_cast<float>(std::log(static_cast<double>(B) * freq_[cols[c]] +
                                           static_cast<double>(N) / static_cast<double>(n_items)))
            : 0.f;
  }
  for (int64_t b = 1; b < B; ++b) std::copy_n(bias, M, bias + b * M);
  // Mask, in row b, every other column holding one of the row user's items (or only
  // duplicates of its own positive when mask_history=false): per item, the list of its columns.
  col_next_.assign(static_cast<size_t>(M), -1);
  for (int64_t c = M; c-- > 0;) {
    col_next_[c] = col_head_[cols[c]];
    col_head_[cols[c]] = static_cast<int32_t>(c);
  }
  for (int64_t b = 0; b < B; ++b) {
    float* row = bias + b * M;
    auto mark = [&](uint32_t item) {
      for (int32_t c = col_head_[item]; c != -1; c = col_next_[c])
        if (c != b) row[c] = kMasked;
    };
    if (spec_.mask_history) {
      for (uint32_t h : train_.row(out.users[b])) mark(h);
    } else {
      mark(out.targets[b]);
    }
  }
  for (int64_t c = 0; c < M; ++c) col_head_[cols[c]] = -1;
}

}  // namespace cascade::two_tower
