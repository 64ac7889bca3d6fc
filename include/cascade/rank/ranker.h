// Ranker: the one interface every ranking model implements (LR, GBDT, DeepFM, DIN, BST),
// so that either funnel stage (pre-rank, fine-rank) is configuration, not code.
//
// A ranker is fitted on labelled feature rows grouped by request (positives from the
// seed-oof ranker slice, negatives from the user's own recall pool and at random) and then
// scores the candidates of a request: higher is better; only the order within a group
// matters. Scoring is const and thread-safe after fit/load.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "cascade/core/params.h"
#include "cascade/rank/rank_batch.h"

namespace cascade {

/// Labelled rows: labels[r] is 1 for a positive, 0 for a negative.
struct RankTrainSet {
  RankBatch batch;
  std::vector<float> labels;
  /// Throws cascade::Error when labels and rows differ in number or a label is not 0/1.
  void validate() const;
};

/// A recall channel's item vectors (row i = item i, `dim` floats, row-major), for the rankers
/// whose item embeddings start from them (DIN's and BST's `item_init`).
struct ItemTable {
  std::span<const float> values;
  uint32_t rows = 0;
  uint32_t dim = 0;
};

/// The item vectors of a recall channel by name (throws cascade::Error naming the channel when
/// it is unknown or has none).
using ItemTableLookup = std::function<ItemTable(const std::string& channel)>;

struct RankFitOptions {
  int threads = 0;  ///< 0 = hardware concurrency
  uint64_t seed = 42;
  /// Optional held-out groups (other users' training examples, never the validation or
  /// test item) for early stopping / best-epoch selection.
  const RankTrainSet* valid = nullptr;
  std::string dataset_hash;  ///< written into the manifest
  /// Empty when the caller fits without channels; only rankers configured with `item_init` ask.
  ItemTableLookup item_tables;
};

/// What a model that attends over the request's history (DIN) weighed each row's history
/// with: row r's weights over its group's history (RankBatch::group_history, oldest first) are
/// weights[begin[r] .. begin[r + 1]). A position equal to the row's own item has weight 0.
struct HistoryAttention {
  std::vector<uint32_t> begin;  ///< rows + 1 offsets into weights
  std::vector<float> weights;
  bool normalised = true;  ///< softmax weights (sum 1 over the unmasked history) or raw
  std::span<const float> row(size_t r) const {
    return {weights.data() + begin[r], weights.data() + begin[r + 1]};
  }
};

class Ranker {
 public:
  static constexpr const char* kRegistryWhat = "ranker";
  virtual ~Ranker() = default;

  /// Registry name ("lr", "gbdt", "deepfm", "din", "bst").
  virtual std::string kind() const = 0;

  /// Trains from scratch on `train` (its schema becomes the ranker's schema).
  virtual void fit(const RankTrainSet& train, const RankFitOptions& opt) = 0;

  /// One score per row of `batch` (out.size() == batch.rows()); batch.schema must equal the
  /// schema the ranker was fitted with (throws cascade::Error naming the difference).
  virtual void score(const RankBatch& batch, std::span<float> out) const = 0;

  /// score() that also returns the attention weights those very scores used, for models
  /// that attend over the history; the others score and return false (att untouched).
  virtual bool score_attended(const RankBatch& batch, std::span<float> out,
                              HistoryAttention& att) const {
    score(batch, out);
    (void)att;
    return false;
  }

  /// The schema it was fitted with (empty before fit/load).
  virtual const FeatureSchema& schema() const = 0;

  /// The parameters in force (defaults filled in), as written in the manifest.
  virtual Params params() const = 0;

  /// manifest.json + files, each written atomically; load checks kind, version and hashes.
  virtual void save(const std::filesystem::path& dir) const = 0;
  virtual void load(const std::filesystem::path& dir) = 0;
};

/// "name:k=v,..." through the registry; unknown names/keys throw cascade::Error.
std::unique_ptr<Ranker> make_ranker(const std::string& spec);

/// Reads dir/manifest.json's kind, creates it and loads it.
std::unique_ptr<Ranker> load_ranker(const std::filesystem::path& dir);

/// Throws cascade::Error("<who>: ...") when `batch.schema` differs from `fitted`, naming the
/// first differing column. For score() implementations.
void check_schema(const FeatureSchema& fitted, const FeatureSchema& batch, const std::string& who);

/// Mean over groups that hold at least one positive and one negative of the fraction of
/// (positive, negative) pairs ordered correctly (ties count 1/2): the in-pool AUC when the
/// negatives are the rest of the user's pool. Returns NaN when no group qualifies.
double grouped_auc(const RankBatch& batch, std::span<const float> labels,
                   std::span<const float> scores);

/// Writes/reads a FeatureSchema as JSON (for manifests).
nlohmann::json schema_to_json(const FeatureSchema& s);
FeatureSchema schema_from_json(const nlohmann::json& j);

}  // namespace cascade
