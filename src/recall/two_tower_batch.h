// The host side of one Two-Tower training batch (torch-free, so a second thread can build batch
// k+1 while libtorch trains on batch k; two_tower.cc).
//
// BatchMaker owns the epoch's shuffle and the channel's random stream, and draws from it in the
// order the original single-threaded loop did (per epoch: the shuffle; per batch: the user-id
// dropout draws, then the history-dropout seed, then the negatives), so the batches are a pure
// function of the seed whether or not they are prepared ahead.
//
// For the softmax loss it also builds the logit bias (B x M, row-major, M = B + negatives):
//     bias[b][c] = -log(B * p_c + N / n_items)  (logQ; 0 without it)
//     bias[b][c] = -1e9                         when column c != b holds one of the row user's
//                                               training items (mask_history), or only a
//                                               duplicate of the row's own positive (otherwise)
// so that the logits are one addmm: bias + (u . v^T) / temperature (one pass over B x M instead
// of a divide, a subtract, a mask build and a masked_fill, each with its backward pass).
#pragma once

#include <cstdint>
#include <vector>

#include "cascade/data/interactions.h"
#include "recall/two_tower_model.h"

namespace cascade::two_tower {

struct BatchSpec {
  int64_t batch = 512;
  int64_t n_items = 0;           ///< columns of the item tower (>= train.n_cols)
  double user_id_dropout = 0.0;  ///< user slot replaced by n_users (the unknown slot)
  bool use_history = true;
  double history_dropout = 0.0;
  uint32_t history_cap = 0;  ///< kept history entries per bag at most (0 = all)
  bool bpr = false;
  int64_t negatives = 0;  ///< softmax: shared uniform negatives per batch
  bool logq = true;
  bool mask_history = true;
};

struct HostBatch {
  int64_t size = 0;                 ///< B
  std::vector<uint32_t> users;      ///< B
  std::vector<uint32_t> targets;    ///< B
  std::vector<int64_t> user_ids;    ///< B: users as int64 (feature lookups)
  std::vector<int64_t> user_slots;  ///< B: user id slot after user-id dropout
  std::vector<int64_t>
      columns;           ///< softmax: B targets then the negatives; bpr: B targets then B negatives
  HistoryBatch history;  ///< when use_history
  std::vector<float> logit_bias;  ///< softmax: B x columns.size()
};

class BatchMaker {
 public:
  /// Masked logits get this bias (as masked_fill(-1e9) did).
  static constexpr float kMasked = -1e9f;

  BatchMaker(const Interactions& train, const BatchSpec& spec, uint64_t seed);

  uint64_t rows() const { return row_of_.size(); }
  uint64_t batches() const {
    return (rows() + static_cast<uint64_t>(spec_.batch) - 1) / static_cast<uint64_t>(spec_.batch);
  }
  /// Starts an epoch: reshuffles the training entries.
  void shuffle();
  /// Builds batch `index` (0-based) of the current epoch into `out` (reusing its storage).
  /// Batches must be made in order, once each, after shuffle().
  void make(uint64_t index, HostBatch& out);

 private:
  const Interactions& train_;
  BatchSpec spec_;
  Rng rng_;
  std::vector<uint32_t> row_of_;  // nnz: the user of each entry
  std::vector<double> freq_;      // n_items: training frequency / nnz
  std::vector<uint64_t> perm_;
  std::vector<int32_t> col_head_, col_next_;  // item -> columns holding it (linked lists)
  std::vector<uint32_t> kept_count_;          // n_items scratch of build_history_batch
};

}  // namespace cascade::two_tower
