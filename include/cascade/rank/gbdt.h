// Gradient-boosted trees through XGBoost's C API (Chen & Guestrin 2016): the GBDT baseline
// of the ranking stage. A thin owner of one booster: fit on a dense row-major feature matrix
// (NaN = missing) with labels and, for learning-to-rank objectives, query groups; predict;
// serialise to bytes (XGBoost's UBJSON model format) for the artefact store.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cascade/core/params.h"

namespace cascade {

class GbdtForest;

struct GbdtOptions {
  std::string objective = "binary:logistic";  ///< or rank:ndcg, rank:pairwise, rank:map
  int rounds = 200;                           ///< boosting rounds
  int max_depth = 6;
  double eta = 0.1;                           ///< learning rate
  double subsample = 1.0;
  double colsample = 1.0;                     ///< colsample_bytree
  double min_child_weight = 1.0;
  double lambda = 1.0;                        ///< L2 on leaf weights
  int threads = 0;                            ///< 0 = hardware
  int64_t seed = 42;                          ///< -1 = the caller's seed (42 when fitted directly)

  /// Reads objective, rounds, max_depth, eta, subsample, colsample, min_child_weight, lambda,
  /// threads, seed (ranges checked; unknown objective -> cascade::Error).
  static GbdtOptions from_params(Params& p);
  bool ranking() const { return objective.rfind("rank:", 0) == 0; }
};

class Gbdt {
 public:
  Gbdt() = default;
  ~Gbdt();
  Gbdt(Gbdt&& other) noexcept;
  Gbdt& operator=(Gbdt&& other) noexcept;
  Gbdt(const Gbdt&) = delete;
  Gbdt& operator=(const Gbdt&) = delete;

  /// x: rows x cols, row-major. labels: one per row. groups: sizes of consecutive query
  /// groups (sum = rows), required for rank:* objectives and ignored otherwise. Throws
  /// cascade::Error naming the mismatch on bad sizes, and XGBoost's message on its errors.
  void fit(std::span<const float> x, size_t rows, size_t cols, std::span<const float> labels,
           std::span<const uint32_t> groups, const GbdtOptions& opt);

  /// One prediction per row (probability for binary:logistic, a ranking score for rank:*).
  /// Walks the trees in-process (rank/gbdt_forest.h, bit-identical to XGBoost) when the model
  /// allows it, else through XGBoost.
  std::vector<float> predict(std::span<const float> x, size_t rows) const;
  /// predict() through XGBoost's own predictor, always (the reference the in-process walk is
  /// tested against).
  std::vector<float> predict_xgboost(std::span<const float> x, size_t rows) const;
  /// Whether predict() walks the trees in-process.
  bool native() const { return forest_ != nullptr; }

  /// Threads one predict() call uses (default: those of the fit; 1 after from_bytes). Serving
  /// scores one request per call on many request threads, so rankers set 1. Not thread-safe
  /// against concurrent predict().
  void set_predict_threads(int threads);

  std::string to_bytes() const;
  /// Restores a model written by to_bytes() with `cols` features.
  static Gbdt from_bytes(std::string_view bytes, size_t cols);

  bool fitted() const { return booster_ != nullptr; }
  size_t n_features() const { return cols_; }

 private:
  void compile_forest(std::string_view ubj);

  void* booster_ = nullptr;  // BoosterHandle
  size_t cols_ = 0;
  int predict_threads_ = 1;
  std::shared_ptr<const GbdtForest> forest_;  // null: the model is outside what it reproduces
};

}  // namespace cascade
