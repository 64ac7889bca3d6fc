// The online funnel over a loaded bundle: one request in, the final list out, with every
// stage's scores and time. This is what `cascade serve` runs per /recommend request and what
// `cascade bench rerank` evaluates offline, so the served and the measured funnel are one code.
//
//   history  = the user's training row (bundle) + live events since (raw ids, oldest first)
//   seen     = items the user consumed without making them positives (the bundle's seen events
//              before the training row's end + the request's `seen`): no list holds them
//   recall   = every channel's top `quota` for that history, fused; the top `pool_depth` kept
//   rank     = the ranking stage (rank_stage.h): features -> pre-ranker over the pool -> its top
//              max(pre_keep, k) -> fine-ranker -> its top max(fine_keep, k)
//   re-rank  = the bundle's re-rank method (rerank.method; mmr: drop watched, inverse-propensity
//              debias, MMR (diversity), genre/year caps) -> k
//   time     = request_time.h's serving policy: the later of the bundle's log clock and the
//              newest event of the history
//
// A known user without live events queries the channels with their trained id (iALS's
// fitted factors); a user with live events, or one unknown at training time, is queried by
// history only (iALS folds the history in), so fresh events change every history-based
// channel at once. A user with no history at all gets the cold-start pool (popularity plus
// whatever the other channels give an empty history).
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "cascade/pipeline/bundle.h"
#include "cascade/rerank/rerank.h"

namespace cascade {

/// An event posted to the live service (raw ids).
struct LiveEvent {
  std::string item;
  int64_t timestamp = 0;
};

struct RecommendRequest {
  std::string user;                   ///< raw user id
  std::span<const LiveEvent> events;  ///< live events since the bundle, oldest first
  /// Items the user consumed since the bundle without making them positives (raw ids; e.g. a
  /// rating below the threshold): excluded from every list, never a history item. Together with
  /// the bundle's seen events before the user's training row ends (Dataset::seen).
  std::span<const std::string> seen;
  size_t k = 10;
  double diversity = -1;  ///< MMR lambda in [0, 1]; < 0 = the bundle's rerank.diversity
  bool explain = false;   ///< fill RecommendedItem::because
  /// Request time; 0 = the serving policy (request_time.h), as the server always uses. Only
  /// the event-time ablation of offline evaluation sets it.
  int64_t now = 0;
  size_t pre_keep = 0;  ///< 0 = the bundle's; offline experiments may change the cut-offs
  size_t fine_keep = 0;
  size_t pool_depth = 0;  ///< 0 = the bundle's; at most the fusion's pool size (offline only)
  /// Also return the fused pool's own top `pool_top` (RecommendResponse::pool_top): offline
  /// evaluation's baseline from the same recall pass as the served list. 0 = none.
  size_t pool_top = 0;
};

struct StageLatency {
  double recall_ms = 0, features_ms = 0, pre_rank_ms = 0, fine_rank_ms = 0, rerank_ms = 0,
         total_ms = 0;
};

struct RecommendedItem {
  ItemId item = 0;
  float score = 0;                 ///< final (re-rank) score
  float fused = 0;                 ///< fused recall score
  float pre_rank = 0;              ///< pre-ranker score
  float fine_rank = 0;             ///< fine-ranker score
  std::vector<uint16_t> channels;  ///< indices into Bundle::channel_names() that retrieved it
  bool relaxed = false;            ///< placed only because a diversity cap left too few items
  int64_t because = -1;  ///< explain: the history item most similar to it (dense id), -1 = none
  /// explain, with an attention ranker: its weights over RecommendResponse::attention_history
  /// (the ones its score of this item used); empty otherwise.
  std::vector<float> attention;
};

struct RecommendResponse {
  bool known_user = false;
  size_t history = 0;      ///< history length used (training row + live events)
  size_t live_events = 0;  ///< live events that named a known item
  std::vector<RecommendedItem> items;
  /// RecommendRequest::pool_top > 0: the pool's first pool_top items in fused order (the order
  /// the rankers start from), before any later stage.
  std::vector<ItemId> pool_top;
  StageLatency latency;
  /// explain: which stage's attention ranker the items' weights come from ("" = none; the
  /// fine-ranker's when both attend), the history it attended over (dense ids, oldest first)
  /// and whether its weights are softmax-normalised.
  std::string attention_stage;
  std::string attention_ranker;
  std::vector<ItemId> attention_history;
  bool attention_normalised = true;
};

/// A request as the funnel sees it: the user's training row (when the user is known), then the
/// live events that name a known item (value 1), oldest first as given.
struct ResolvedRequest {
  bool known_user = false;
  UserId dense_user = kUnknownUser;
  size_t live_events = 0;
  std::vector<ItemId> history;
  std::vector<int64_t> times;
  std::vector<float> values;
  /// Items no list may hold besides the history: the bundle's seen events of a known user
  /// (Dataset::seen_before the end of the training row), then the request's `seen` items.
  std::vector<ItemId> seen;
  /// With seen items: the history and the seen items interleaved by time (the bundle's seen
  /// events by their times, the request's after everything): UserQuery::context.
  std::vector<ItemId> context;
  /// The channels' query: the trained user id only when the history is exactly what the
  /// channels were fitted on (no live events). Views into this object.
  UserQuery query() const;
};

class Recommender {
 public:
  /// Reads the bundle's `rerank` config group (rerank options + `vectors`: the channel whose
  /// item vectors MMR, explanations and /similar use). Throws cascade::Error when invalid.
  explicit Recommender(std::shared_ptr<const Bundle> bundle);

  /// Thread-safe. Throws cascade::Error for k == 0 or a diversity outside [0, 1].
  RecommendResponse recommend(const RecommendRequest& req) const;

  /// The request's user and events resolved against the bundle (what recommend() starts from).
  ResolvedRequest resolve(const RecommendRequest& req) const;
  /// The fused pool recommend() hands to the rankers for this request (its top `depth`; 0 =
  /// the bundle's pool_depth), best first: the baseline the later stages are measured against
  /// (served_eval.h). Throws cascade::Error when depth exceeds the fusion's pool size.
  std::vector<FusedCandidate> pool(const ResolvedRequest& r, size_t depth = 0) const;

  /// The k items most similar to `item` (cosine of the `vectors` channel's item vectors; over
  /// its ANN index, inner product, when the channel has one attached). Thread-safe.
  std::vector<ScoredItem> similar(ItemId item, size_t k) const;

  const Bundle& bundle() const { return *bundle_; }
  const std::string& vectors_channel() const { return vectors_name_; }
  const RerankOptions& rerank_options() const { return rerank_; }
  /// Unit-normalised item vectors of the `vectors` channel (n_items x vector_dim(); empty = none),
  /// the re-ranker's copy.
  std::span<const float> unit_vectors() const { return reranker_->unit_vectors(); }
  uint32_t vector_dim() const { return reranker_->dim(); }
  /// The re-ranker's per-item popularity propensity count / max_count (Reranker::propensities).
  std::span<const double> item_propensities() const { return reranker_->propensities(); }

 private:
  float cosine(ItemId a, ItemId b) const;

  std::shared_ptr<const Bundle> bundle_;
  RerankOptions rerank_;
  std::string vectors_name_;
  int vectors_channel_ = -1;
  std::unique_ptr<Reranker> reranker_;    // per-catalogue side data (vectors, propensities)
  std::unique_ptr<RerankMethod> method_;  // rerank.method over it
};

}  // namespace cascade
