// What the libtorch rankers (DeepFM, DIN, BST) share, so that each keeps only what differs:
// its network, its training step and its serving forward.
//
// NeuralRanker owns the parameters, the schema, the dense normaliser and the fit bookkeeping,
// and implements the Ranker interface around a few hooks:
//  - fit: checks, nn::TorchSession (threads + seed), normaliser, build_net(), AdamW, then the
//    epochs through nn::run_epochs with grouped_auc on RankFitOptions::valid (scored through
//    the serving forward) to keep the best epoch (a NaN AUC, no group with a positive and a
//    negative, is no evaluation); epoch_trainer() supplies one epoch's pass;
//  - score: fitted / schema / output size checks and RankBatch::validate(), then
//    score_group() per group with Eigen kept on the calling thread;
//  - save / load: the model manifest (params, dataset hash, schema, fit seed, best epoch),
//    the normaliser and the module's tensors. load() builds a fresh model from the saved
//    parameters and adopts it only when everything was read, so a failed load changes nothing;
//  - the libtorch reference forward (din/bst/deepfm::torch_scores) behind the same checks.
//
// Includes <torch/torch.h>: for the neural rankers' .cc files only.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "cascade/io/artifact.h"
#include "cascade/rank/ranker.h"
#include "nn/torch_util.h"
#include "rank/dense_norm.h"

namespace cascade {

/// The training parameters every neural ranker reads (each model's header lists them).
struct NeuralTrainParams {
  std::string loss = "listwise";  ///< bce | listwise
  int epochs = 10;
  int batch = 256;
  double lr = 1e-3;
  double weight_decay = 1e-4;
  double dropout = 0.1;
  int patience = 3;
  int64_t seed = -1;  ///< -1 = RankFitOptions::seed
  int torch_threads = 1;
  /// Recall channels whose item vectors start the item embeddings, tried in order and
  /// '|'-separated ("sasrec|none": SASRec's, or random without a SASRec channel); empty: random.
  /// Read only by models with an item table (Defaults::item_table).
  std::string item_init;
  /// The item embeddings stay as initialised (not trained). Read like item_init.
  bool freeze_items = false;

  /// Defaults that differ between the models.
  struct Defaults {
    int batch = 256;
    int64_t max_batch = 1000000;
    bool item_table = false;  ///< the model embeds item ids in a table (reads `item_init`)
  };
  static NeuralTrainParams read(Params& p, const Defaults& defaults);
  bool listwise() const { return loss == "listwise"; }
};

class NeuralRanker : public Ranker {
 public:
  std::string kind() const override { return kind_; }
  const FeatureSchema& schema() const override { return schema_; }
  Params params() const override { return params_.in_force(); }

  void fit(const RankTrainSet& train, const RankFitOptions& opt) final;
  void score(const RankBatch& batch, std::span<float> out) const final;
  bool score_attended(const RankBatch& batch, std::span<float> out,
                      HistoryAttention& att) const final;
  void save(const std::filesystem::path& dir) const final;
  void load(const std::filesystem::path& dir) final;

  /// The libtorch eval-mode forward of `model` (which must be a NeuralRanker of `kind`), for
  /// the reference tests of the serving forward.
  static std::vector<float> torch_scores(const Ranker& model, const std::string& kind,
                                         const RankBatch& batch);

 protected:
  /// Reads the training parameters; the subclass then reads its own and calls
  /// params_.check_unused(kind).
  NeuralRanker(std::string kind, int format_version, Params params,
               const NeuralTrainParams::Defaults& defaults);

  // ---- What each model implements.
  /// Throws cascade::Error when the model cannot use `schema` (at fit and at load); by
  /// default it needs item ids (n_items > 0), as the sequence rankers embed them.
  virtual void check_supported(const FeatureSchema& schema) const;
  /// A new (initialised) network for schema_ and norm_ (libtorch's seeded generator).
  virtual void build_net() = 0;
  /// The network (a libtorch holder shares it, so a const ranker can hand it out: const
  /// methods only read it).
  virtual torch::nn::Module& module() const = 0;
  /// One epoch's pass over `train` (shuffle, batches, loss, optimiser steps) returning the
  /// epoch's mean loss; built once per fit (state such as the shuffling generator lives in it).
  virtual std::function<double()> epoch_trainer(const RankTrainSet& train,
                                                torch::optim::Optimizer& opt, uint64_t seed) = 0;
  /// The item embedding table [n_items + 1, dim] (row 0 = padding) of a model with
  /// Defaults::item_table, which `item_init` overwrites after build_net().
  virtual torch::Tensor item_embedding() { return {}; }
  /// The serving copy of the (eval-mode) network's weights.
  virtual void copy_serving() = 0;
  /// Scores the rows of group g of a checked batch into their slots of `out`, from the
  /// serving copy.
  virtual void score_group(const RankBatch& batch, size_t g, std::span<float> out) const = 0;
  /// Whether the model attends over the history (then score_group_attended is implemented).
  virtual bool attends() const { return false; }
  /// score_group that also writes each row's attention weights over the group's history to
  /// weights + (row - first row of g) * history length (the weights the scores used).
  virtual void score_group_attended(const RankBatch& batch, size_t g, std::span<float> out,
                                    float* weights, bool& normalised) const {
    (void)weights, (void)normalised;
    score_group(batch, g, out);
  }
  /// The libtorch eval forward of a checked, non-empty batch.
  virtual std::vector<float> torch_forward(const RankBatch& batch) const = 0;
  /// The same model kind with `params` (validated), unfitted: load() reads into it.
  /// (NeuralRankerOf implements this and adopt().)
  virtual std::unique_ptr<NeuralRanker> with_params(Params params) const = 0;
  /// Takes over `other` (of the same type) after a successful load.
  virtual void adopt(NeuralRanker&& other) = 0;
  /// Extra manifest fields / their check at load (after the normaliser is read).
  virtual void save_extra(ArtifactWriter&) const {}
  virtual void check_extra(const ModelReader&) const {}

  const NeuralTrainParams& train_params() const { return train_; }

  std::string kind_;
  int format_version_;
  Params params_;
  FeatureSchema schema_;
  DenseNormalizer norm_;

 private:
  void check_scorable(const RankBatch& batch, std::span<float> out) const;
  void restore(const ModelReader& r);
  void finish_model();
  void init_item_embedding(const RankFitOptions& opt);
  void init_item_embedding_from(const std::string& channel, const ItemTable& t);

  NeuralTrainParams train_;
  std::string dataset_hash_;
  uint64_t fit_seed_ = 0;
  int best_epoch_ = 0;
  std::string item_init_from_;  // the channel item_init took ("none": random); manifest field
  bool fitted_ = false;
};

/// The base of a concrete neural ranker `Model` (constructible from Params): the two hooks
/// load() needs to build a fresh Model and take it over.
template <class Model>
class NeuralRankerOf : public NeuralRanker {
 protected:
  using NeuralRanker::NeuralRanker;

 private:
  std::unique_ptr<NeuralRanker> with_params(Params params) const override {
    return std::make_unique<Model>(std::move(params));
  }
  void adopt(NeuralRanker&& other) override {
    static_cast<Model&>(*this) = std::move(static_cast<Model&>(other));
  }
};

/// DIN's / BST's training pass: loss=bce draws `batch` rows at random (across groups);
/// loss=listwise takes whole groups in random order until a batch holds >= `batch` rows and
/// uses, per group, the softmax cross-entropy of the group's scores averaged over its
/// positives (groups without a positive are skipped). The loss of the epoch is the mean over
/// rows (bce) or groups (listwise).
class GroupBatches {
 public:
  /// logits of `rows` (training mode), one per row.
  using Forward = std::function<torch::Tensor(std::span<const uint32_t> rows)>;
  GroupBatches(const RankTrainSet& train, const NeuralTrainParams& p, uint64_t shuffle_seed);
  double epoch(torch::optim::Optimizer& opt, const Forward& forward);

 private:
  const RankTrainSet* train_;
  bool listwise_;
  size_t batch_;
  std::mt19937_64 rng_;
  std::vector<uint32_t> order_, rows_;
  std::vector<uint32_t> seg_;  // listwise: row offsets of each group in the batch (+ end)
};

/// Per-row inputs of the neural rankers for the given rows of a batch: target [B] (item id
/// + 1), cats [B, n_fields], dense [B, n_dense] (rows of `dense`, the normalised batch).
struct RowTensors {
  torch::Tensor target, cats, dense;
};
RowTensors row_tensors(const RankBatch& b, const std::vector<float>& dense, size_t n_dense,
                       std::span<const uint32_t> rows);

/// The item vectors of `table` projected on their `out_dim` leading principal directions
/// (uncentred, so inner products are kept as well as `out_dim` dimensions can; all of them when
/// out_dim >= table.dim), each direction's sign fixed so its largest entry is positive, then
/// scaled to root-mean-square `rms`. Row-major rows x min(out_dim, table.dim). `kept` (optional)
/// gets the share of the table's squared norm the directions hold.
std::vector<float> leading_item_projection(const ItemTable& table, uint32_t out_dim, double rms,
                                           double* kept = nullptr);

/// PReLU with one slope per unit of the LAST dimension (torch::nn::PReLU puts the channels
/// on dim 1, which is the history position for [B, L, a] inputs).
torch::Tensor unit_prelu(const torch::Tensor& x, const torch::Tensor& slope);

}  // namespace cascade
