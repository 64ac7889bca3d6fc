// Recaller: the one interface every recall channel implements (like faiss::Index).
//
// A channel is fitted on a user->item training matrix plus the catalogue, then scores
// the whole catalogue for a query: a known user (dense id) and/or a history of items.
// Channels that keep per-user state (iALS factors) use the id when it is known and fold
// the history in otherwise; channels that work from the history (EASE, content) always
// use the history, so fresh events change their output without retraining.
//
// Masking lives in one place: top_n() removes every item of the query's history (SYSTEM.md:
// "every channel masks all of the user's training items") plus any extra exclusions.
#pragma once

#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "cascade/core/params.h"
#include "cascade/core/types.h"
#include "cascade/data/catalog.h"
#include "cascade/data/interactions.h"

namespace cascade {

class AnnIndex;

/// What a channel is trained on.
struct FitInput {
  const Interactions& train;  ///< user -> items, rows in time order
  const Catalog& catalog;     ///< items/users side information (sizes n_items / n_users)
  int threads = 0;            ///< 0 = hardware concurrency
  uint64_t seed = 42;
  /// Optional: held-out validation interactions (one per user in seed protocols), for
  /// channels that tune a hyper-parameter (EASE's lambda). Never the test split.
  const Interactions* valid = nullptr;
  /// Content hash of the dataset; written into saved manifests.
  std::string dataset_hash{};  // {}: aggregate initialisers may leave it out without a warning
  /// Optional (keep_seen): per user, `train`'s row interleaved by time with the seen events
  /// known by its end (Dataset::seen_known); value 1 = a row of `train`, 0 = a seen event.
  /// Sequence channels (transition) read antecedents from it; only positives are targets.
  const Interactions* context = nullptr;  // last: positional initialisers stay valid
};

/// The size of a training matrix, known before any model is built.
struct DataShape {
  uint32_t n_users = 0;
  uint32_t n_items = 0;
  uint64_t nnz = 0;
};

/// One user's request.
struct UserQuery {
  UserId user = kUnknownUser;          ///< dense id the channel was fitted with, if any
  std::span<const ItemId> history;     ///< the user's items, oldest first (all masked in top_n)
  std::span<const float> values;       ///< optional ratings parallel to history (empty = all 1)
  /// The history holds events the channel was not fitted with (live events, or a held-out item
  /// a later request has seen). State trained on the user's fitted rows (iALS factors, a user-id
  /// embedding) is then stale and must not answer; what is known about the user apart from the
  /// rows (demographics) still applies. Meaningless for kUnknownUser.
  bool past_fit = false;
  /// Optional (keep_seen): the history interleaved by time with the seen events the request
  /// knows, oldest first. Sequence channels (transition) take their window of recent events from
  /// it; empty = the history. Never masks anything by itself (top_n's `exclude` does).
  std::span<const ItemId> context{};  // {}: aggregate initialisers may leave it out
};

/// Row-major item vectors owned by the channel: rows = n_items, size rows * dim.
struct ItemVectorsView {
  const float* data = nullptr;
  uint32_t rows = 0;
  uint32_t dim = 0;
};

class Recaller {
 public:
  static constexpr const char* kRegistryWhat = "recall channel";
  virtual ~Recaller() = default;

  /// Registry name ("ials", "ease", ...).
  virtual std::string kind() const = 0;

  /// Trains on `in`. May be called again to retrain from scratch.
  virtual void fit(const FitInput& in) = 0;

  /// Scores for every item, out.size() == n_items(); higher is better. Does NOT mask.
  /// Thread-safe: many threads may score concurrently after fit/load.
  virtual void score(const UserQuery& q, std::span<float> out) const = 0;

  /// Scores for given candidates (out.size() == items.size()). Default: full score + gather.
  virtual void score_items(const UserQuery& q, std::span<const ItemId> items,
                           std::span<float> out) const;

  /// Item vectors (iALS factors, content TF-IDF rows...). Throws NotSupported by default.
  virtual ItemVectorsView item_vectors() const;

  /// For vector channels whose score is exactly <user vector, item vector> over item_vectors()
  /// (iALS, Two-Tower, SASRec): writes the query's user vector (out.size() == dim) and returns
  /// true, so an ANN index over item_vectors() can replace the full scan. Default: false.
  virtual bool user_vector(const UserQuery& q, std::span<float> out) const;

  /// For channels whose scores ignore the query (popularity): every item with a finite score,
  /// best first (score descending, then lower id), so top_n() walks it instead of scanning
  /// the catalogue. Default: empty (top_n scores the catalogue).
  virtual std::span<const ScoredItem> static_ranking() const { return {}; }

  /// The parameters in force (defaults filled in), as written in the manifest.
  virtual Params params() const = 0;

  /// Writes the model into `dir` (created if needed): manifest.json + binary arrays,
  /// each file written atomically. Loading checks the manifest (kind, version, hashes).
  virtual void save(const std::filesystem::path& dir) const = 0;
  virtual void load(const std::filesystem::path& dir) = 0;

  virtual uint32_t n_items() const = 0;

  /// Why fit() would refuse data of this shape under the configured limits (a dense model
  /// that would not fit in memory or time), with the estimate of what it would need; empty
  /// when it can be fitted. Asked before any channel is fitted, so that a 20M-row run fails
  /// (or leaves the channel out) in seconds rather than after an hour of other channels.
  virtual std::string cannot_fit(const DataShape& /*shape*/) const { return {}; }

  /// Top-k items by score with every history item and every `exclude` item removed,
  /// best first (ties: lower item id first). Uses the attached ANN index when there is one
  /// and user_vector() is supported, otherwise score() over the whole catalogue.
  std::vector<ScoredItem> top_n(const UserQuery& q, size_t k,
                                std::span<const ItemId> exclude = {}) const;

  /// Lets top_n() search `index` (built over this channel's item_vectors(): same rows and
  /// dimension, checked) instead of scanning the catalogue. nullptr detaches. Not thread-safe
  /// against concurrent top_n(): attach before serving.
  void attach_index(std::shared_ptr<const AnnIndex> index);
  const AnnIndex* index() const { return index_.get(); }

 private:
  std::shared_ptr<const AnnIndex> index_;
};

/// Creates a channel from a factory spec "name:k=v,..." via the registry. Unknown names
/// throw cascade::Error listing the registered ones; unknown keys throw too.
std::unique_ptr<Recaller> make_recaller(const std::string& spec);

/// Saves a channel into `dir` (Recaller::save) and its attached ANN index, if any, into
/// `dir/ann` (a stale `dir/ann` is removed when there is none).
void save_recaller(const Recaller& model, const std::filesystem::path& dir);

/// Loads a saved channel: reads `dir/manifest.json`, creates the kind, calls load(), and
/// attaches `dir/ann` when present (checked against the loaded item vectors).
std::unique_ptr<Recaller> load_recaller(const std::filesystem::path& dir);

}  // namespace cascade
