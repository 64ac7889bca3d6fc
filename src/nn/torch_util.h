// Shared plumbing for the libtorch models (Two-Tower, SASRec, later DeepFM/DIN):
// thread/seed setup, parameters <-> artefact files, tensor <-> std::vector copies.
//
// This header includes <torch/torch.h> (~15 s per translation unit): include it only from
// the .cc files of neural models, never from public headers.
#pragma once

#include <torch/torch.h>

#include <Eigen/Core>

#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "cascade/io/artifact.h"
#include "nn/blas_threads.h"

namespace cascade::nn {

/// For the duration of a fit: sets libtorch's intra-op thread count (0 = hardware) and
/// OpenBLAS's (nn::BlasThreads) to the same number, and seeds libtorch's global generator;
/// restores the previous thread counts on destruction. libtorch's generator and thread pools
/// are process-wide, so two fits must not run concurrently: a session holds a process-wide
/// (recursive) lock for its lifetime, so fits started on several threads (the Python module
/// releases the GIL) run one after the other, each with its own seed, instead of interleaving
/// draws from the one generator.
class TorchSession {
 public:
  TorchSession(int threads, uint64_t seed);
  ~TorchSession();
  TorchSession(const TorchSession&) = delete;
  TorchSession& operator=(const TorchSession&) = delete;
  int threads() const { return threads_; }

 private:
  std::unique_lock<std::recursive_mutex> exclusive_;  // first: taken before any global is read
  int previous_threads_;
  int threads_;
  BlasThreads blas_;
};

/// For its lifetime, the calling thread treats subnormal floats as zero (x86 MXCSR FTZ and
/// DAZ; a no-op elsewhere); restores the previous mode on destruction. A softmax over many
/// strongly negative logits (masked columns, a low temperature) makes exp() return subnormals,
/// and every operation on a subnormal costs ~100 cycles: on the Two-Tower's 512 x 768 logits,
/// log_softmax's backward pass took 10x its forward pass. Values below 1.2e-38 become 0, which
/// does not change a probability that matters; the result stays deterministic.
class FlushDenormals {
 public:
  FlushDenormals();
  ~FlushDenormals();
  FlushDenormals(const FlushDenormals&) = delete;
  FlushDenormals& operator=(const FlushDenormals&) = delete;

 private:
  unsigned previous_ = 0;
};

/// Float storage a loss op keeps its [rows, cols] logits and gradient in across batches
/// (two_tower_loss.h, sasrec_loss.h): grown to the largest batch seen, never shrunk, so a
/// training loop allocates and first-touches it once instead of every batch. A matrix handed
/// out must not be handed out again before the backward pass of the loss that holds it has run.
class LossWorkspace {
 public:
  torch::Tensor matrix(int64_t rows, int64_t cols, const torch::TensorOptions& options = torch::kFloat32) {
    if (!buffer_.defined() || buffer_.numel() < rows * cols) buffer_ = torch::empty({rows * cols}, options);
    return buffer_.narrow(0, 0, rows * cols).view({rows, cols});
  }

 private:
  torch::Tensor buffer_;
};

/// Writes every parameter and buffer of `module` as "<prefix><name>.f32" (float32, row-major)
/// and records the shapes in meta()["tensors"][<prefix><name>].
void save_module(ArtifactWriter& w, const torch::nn::Module& module, const std::string& prefix = "");

/// Reads back what save_module wrote into an already-constructed module of the same
/// architecture; throws cascade::Error naming the directory and tensor on a missing tensor
/// or a shape mismatch.
void load_module(const ArtifactReader& r, torch::nn::Module& module, const std::string& prefix = "");

/// A contiguous float copy of a (CPU, float) tensor.
std::vector<float> to_vector(const torch::Tensor& t);

/// A torch Linear weight [out, in] (row-major) as a column-major out x in Eigen matrix.
Eigen::MatrixXf linear_weight(const torch::Tensor& w);
/// A 1-D tensor as an Eigen vector.
Eigen::VectorXf vec_of(const torch::Tensor& t);

/// A tensor that owns a copy of `v` with the given shape (product must match).
torch::Tensor from_vector(std::span<const float> v, at::IntArrayRef shape);
torch::Tensor from_ids(std::span<const int64_t> v, at::IntArrayRef shape);

/// Early stopping on a validation metric (higher is better): keeps a copy of the module's
/// parameters at the best evaluation and says when `patience` evaluations in a row brought
/// no gain (patience 0 = never stop early).
class BestEpoch {
 public:
  explicit BestEpoch(int patience) : patience_(patience) {}
  /// Records the validation value of `epoch`; snapshots `module` when it is the best so far.
  /// Returns true when training should stop.
  bool update(int epoch, double value, const torch::nn::Module& module);
  /// Copies the best snapshot back into `module`; false when there was no evaluation.
  bool restore(torch::nn::Module& module) const;
  bool any() const { return !best_.empty(); }
  int epoch() const { return epoch_; }
  double value() const { return value_; }

 private:
  int patience_;
  int epoch_ = 0;
  double value_ = -1.0;
  int without_gain_ = 0;
  std::vector<torch::Tensor> best_;
};

/// Throws cascade::Error("<who>: training diverged ...") when `loss` is not finite.
void check_finite(const torch::Tensor& loss, const std::string& who, int epoch);
void check_finite(double loss, const std::string& who, int epoch);

}  // namespace cascade::nn
