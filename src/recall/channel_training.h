// The training-run parameters the neural channels (SASRec, Two-Tower) share, and how a fit
// resolves them against FitInput: epochs, batch, AdamW's lr and weight decay (defaults and
// bounds per model: Defaults), validation cadence and patience, seed, threads.
//   epochs        maximum training epochs                                [12]  1..10000
//   eval_every    epochs between validation evaluations (0 = never)     [2]   0..10000
//   patience      evaluations without gain before stopping (0 = off)    [per model]
//   seed          -1 = FitInput::seed                                   [-1]
//   threads       0 = FitInput::threads                                 [0]   0..1024
//   torch_threads libtorch intra-op threads while training (0 = threads) [1]  0..1024
// Includes <torch/torch.h> (through nn/train_loop.h): for the channels' .cc files only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>

#include "cascade/core/params.h"
#include "cascade/util/parallel.h"
#include "nn/train_loop.h"

namespace cascade {

struct ChannelTraining {
  /// The validation metric is recall at this cut-off (heldout_recall).
  static constexpr size_t kValidK = 10;

  /// Per-model defaults and bounds.
  struct Defaults {
    int patience = 0;
    int batch = 128;
    int64_t max_batch = 65536;
    double lr = 1e-3, min_lr = 1e-6, max_lr = 1.0;
    double weight_decay = 0.0, max_weight_decay = 1.0;
    int torch_threads = 1;
  };

  int epochs = 12;
  int batch = 128;
  double lr = 1e-3;
  double weight_decay = 0.0;
  int eval_every = 2;
  int patience = 0;
  int64_t seed = -1;
  int threads = 0;
  int torch_threads = 1;

  static ChannelTraining read(Params& p, const Defaults& d) {
    ChannelTraining t;
    t.epochs = static_cast<int>(p.get_int("epochs", 12, 1, 10000));
    t.batch = static_cast<int>(p.get_int("batch", d.batch, 1, d.max_batch));
    t.lr = p.get_double("lr", d.lr, d.min_lr, d.max_lr);
    t.weight_decay = p.get_double("weight_decay", d.weight_decay, 0.0, d.max_weight_decay);
    t.eval_every = static_cast<int>(p.get_int("eval_every", 2, 0, 10000));
    t.patience = static_cast<int>(p.get_int("patience", d.patience, 0, 10000));
    t.seed = p.get_int("seed", -1, -1, std::numeric_limits<int64_t>::max());
    t.threads = static_cast<int>(p.get_int("threads", 0, 0, 1024));
    t.torch_threads = static_cast<int>(p.get_int("torch_threads", d.torch_threads, 0, 1024));
    return t;
  }

  int fit_threads(int requested) const { return resolve_threads(threads > 0 ? threads : requested); }
  uint64_t fit_seed(uint64_t run_seed) const { return seed >= 0 ? static_cast<uint64_t>(seed) : run_seed; }
  int fit_torch_threads(int fit_threads) const { return torch_threads > 0 ? torch_threads : fit_threads; }
  nn::EpochPlan plan(std::string who) const {
    return {.who = std::move(who), .epochs = epochs, .patience = patience, .eval_every = eval_every,
            .metric = "valid recall@10"};
  }
};

}  // namespace cascade
