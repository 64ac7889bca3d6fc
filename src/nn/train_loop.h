// The epoch loop shared by the libtorch models (Two-Tower, SASRec, DeepFM, DIN, BST): train an
// epoch, check the loss, validate when due, keep the best validated epoch, stop early after
// `patience` evaluations without gain, and put the best weights back at the end.
//
// One policy for a validation metric that is NaN (nothing to evaluate: no held-out user, no
// group with a positive and a negative): the evaluation is skipped, as if not due. It neither
// becomes the best epoch nor counts towards patience.
//
// Progress: every epoch logs its training seconds (and rows/s when told the rows), validation its
// own seconds; EpochProgress writes a periodic line inside a long epoch (done/total, rate, ETA).
//
// Includes <torch/torch.h> through torch_util.h: for the neural models' .cc files only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "nn/torch_util.h"

namespace cascade::nn {

struct EpochPlan {
  std::string who;  ///< model kind, for logs and errors
  int epochs = 1;
  int patience = 0;    ///< evaluations without gain before stopping (0 = never stop early)
  int eval_every = 1;  ///< validate every n-th epoch and after the last one (0 = never)
  std::string metric;  ///< what validate() returns, for logs ("valid recall@10")
};

struct EpochsRun {
  int epochs_run = 0;      ///< epochs trained (fewer than planned after an early stop)
  bool kept_best = false;  ///< a validated epoch's weights were put back
  int best_epoch = 0;      ///< 0 without a validation
  double best_value = 0;
};

/// A periodic progress line inside one epoch: "<who>: epoch E d/N rows (P%), R rows/s, ETA S s",
/// at most every `interval_s` seconds (the first after interval_s). update() is cheap (one clock
/// read): call it after every batch.
class EpochProgress {
 public:
  EpochProgress(std::string who, int epoch, uint64_t total, double interval_s = 30.0);
  void update(uint64_t done);

 private:
  std::string who_;
  int epoch_;
  uint64_t total_;
  double interval_s_;
  std::chrono::steady_clock::time_point start_, next_;
};

/// Per epoch: module.train(), then train_epoch(epoch) returns the epoch's mean loss (a
/// non-finite loss throws cascade::Error); when validation is due, validate(epoch, loss)
/// returns the metric (higher is better). An empty `validate` never validates.
EpochsRun run_epochs(torch::nn::Module& module, const EpochPlan& plan,
                     const std::function<double(int epoch)>& train_epoch,
                     const std::function<double(int epoch, double loss)>& validate);
/// The same, with the training samples per epoch for the rows/s in the epoch log.
EpochsRun run_epochs(torch::nn::Module& module, const EpochPlan& plan, uint64_t rows_per_epoch,
                     const std::function<double(int epoch)>& train_epoch,
                     const std::function<double(int epoch, double loss)>& validate);

}  // namespace cascade::nn
