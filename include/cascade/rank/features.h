// The ranking stage's one feature pipeline, shared by training and serving: a request (a
// user, the items they had before the request time, the request time) plus its fused recall
// pool become the rows of a RankBatch. Training examples and live requests both go through
// FeatureBuilder::add_group(), so a (user, item, time) gets the same vector on both paths.
//
// Columns (FeatureBuilder::schema() has the exact names):
//  categorical  user, item, gender, age, occupation, year (bucket), pop (bucket); 0 = unknown
//  user         hist_len (log1p), days_since_last (request time - last history event)
//  item         pop (log1p count in the fit matrix), age_days (request time - first event in
//               the fit matrix; negative = the item had no event yet), year, genre_<name> 0/1
//  user x item  fused_score, fused_rank (log1p), and per channel score_<c>, rank_<c> (log1p;
//               both NaN when channel c did not retrieve the item), genre_affinity (cosine of
//               the history's genre histogram and the item's genres), genre_share (mean over
//               the item's genres of the share of history items carrying it)
//  recency      per similarity source s: sim_<s>_last (to the newest history item), _max and
//               _mean over the newest `recent_items` history items. Sources are channels:
//               "cosine" = cosine of the channel's item vectors, "score" = the channel's score
//               of the candidate for a one-item history (EASE: B[h, c]).
//  sequence     (optional, `sequence`) per vector channel c and history length L:
//               seq_<c>_<L> = <c's item vector of the candidate, c's user vector of the newest L
//               history items> (L = 0: the whole history), for every candidate, retrieved or
//               not; NaN without history.
//  history      the newest `max_history` items, oldest first (for DIN/BST); a row's own item
//               is removed from it by RankBatch::row_history().
// "Fit matrix" = the interactions the channels were fitted on (seed-oof: the recall slice, or
// every training row for the served channels under rank.channel_folds),
// which also gives the popularity and first-event statistics.
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <span>
#include <string>
#include <vector>

#include "cascade/data/catalog.h"
#include "cascade/data/interactions.h"
#include "cascade/rank/rank_batch.h"
#include "cascade/rank/ranker.h"
#include "cascade/recall/fusion.h"
#include "cascade/recall/recaller.h"

namespace cascade {

struct FeatureConfig {
  uint32_t recent_items = 5;   ///< newest history items the recency similarities look at
  uint32_t max_history = 50;   ///< history length carried for sequence rankers
  /// Similarity sources by channel name: "cosine" or "score". Channels not configured or
  /// absent are skipped.
  std::map<std::string, std::string> similarity = {
      {"ials", "cosine"}, {"ease", "score"}, {"content", "cosine"}, {"two_tower", "cosine"}, {"sasrec", "cosine"}};
  bool user_id = true;  ///< the user id as a categorical field (off = a model that generalises to new users only)
  bool item_id = true;
  /// The request-time features (days since the user's last event, item age). Off = both are
  /// missing (NaN) in training and serving alike: the ablation that shows how much a funnel
  /// depends on when a request is made.
  bool time = true;
  /// The user x item genre features (genre_affinity, genre_share). Off = missing (NaN): an
  /// ablation; the item's own genre columns stay.
  bool genres = true;
  /// User priors: user_pop_mean (mean log popularity of the history), pop_vs_user (the
  /// candidate's log popularity minus it), year_vs_user (its year minus the history's mean
  /// year). Off (the default of a config without the key, so bundles built before it load as
  /// they were) = no such columns.
  bool priors = false;
  /// Session features: session_len (log1p of the newest history events chained by gaps of at
  /// most 30 minutes) and last_gap_hours (log1p of the hours between the two newest events).
  /// Off (the default without the key) = no such columns; on but time off = missing (NaN).
  bool session = false;
  /// Sequence scores: channel name -> history lengths (0 = the whole history). Each (channel,
  /// length) is a column seq_<channel>_<length>: the channel's score of the candidate for a
  /// user whose history is only the newest `length` items. Empty (the default without the key)
  /// = no such columns. The channel needs item vectors and a user vector (SASRec, Two-Tower).
  std::map<std::string, std::vector<uint32_t>> sequence;

  /// Reads `rank.features` (absent = defaults); unknown keys / bad values throw naming the key.
  static FeatureConfig from_yaml(const YAML::Node& node);
};

/// One ranking request.
struct RankRequest {
  UserId user = kUnknownUser;
  std::span<const ItemId> history;  ///< items before the request, oldest first
  std::span<const int64_t> times;   ///< their timestamps (parallel to history; may be empty)
  int64_t now = 0;                  ///< request time (seconds, same clock as the log)
};

class FeatureBuilder {
 public:
  /// `channels[c]` is named `names[c]`: the channel order of the fused pools' `channels`
  /// indices. The catalogue and channels must outlive the builder.
  FeatureBuilder(const Catalog& catalog, const Interactions& fit_matrix,
                 std::vector<const Recaller*> channels, std::vector<std::string> names,
                 const FeatureConfig& config);

  const FeatureSchema& schema() const { return schema_; }
  const FeatureConfig& config() const { return config_; }

  /// Appends one group with a row per pool entry, in pool order (position = fused rank).
  void add_pool(const RankRequest& req, std::span<const FusedCandidate> pool, RankBatch& out) const;

  /// Appends one group with a row per item of `items`: an item in `pool` takes its pool
  /// entry and fused rank, an item outside it NaN pool and channel features (a random
  /// negative). Same values as add_pool() for the same (request, item).
  void add_items(const RankRequest& req, std::span<const FusedCandidate> pool,
                 std::span<const ItemId> items, RankBatch& out) const;

  /// An empty batch carrying this schema.
  RankBatch empty_batch() const;

  /// The item vectors of this pipeline's channel `name`, for a ranker's `item_init`; throws
  /// cascade::Error naming the channels that have them when it is unknown or has none.
  ItemTable item_table(const std::string& name) const;

 private:
  struct Source {
    std::string name;
    const Recaller* channel = nullptr;
    bool cosine = true;
    std::vector<float> unit;  // cosine: row-normalised item vectors, n_items x dim
    uint32_t dim = 0;
  };
  struct SequenceScore {
    std::string name;
    const Recaller* channel = nullptr;
    uint32_t length = 0;  // 0 = the whole history
    ItemVectorsView vectors;
  };
  // Cosines of the `recent` history items (oldest first) with every candidate, newest first:
  // dst[j * items.size() + r] for the j-th newest (features.cc says how it stays exact).
  static void recent_cosines(const Source& src, std::span<const ItemId> recent,
                             std::span<const ItemId> items, float* dst);
  // entries[i]: the pool entry of items[i] or nullptr; ranks[i]: its fused rank (from 1).
  void fill_rows(const RankRequest& req, std::span<const FusedCandidate* const> entries,
                 std::span<const uint32_t> ranks, std::span<const ItemId> items, RankBatch& out) const;

  const Catalog& catalog_;
  FeatureConfig config_;
  std::vector<const Recaller*> channels_;
  std::vector<std::string> names_;
  std::vector<Source> sources_;
  std::vector<SequenceScore> sequence_;
  FeatureSchema schema_;
  uint32_t n_items_ = 0, n_users_ = 0;
  std::vector<float> item_log_count_;
  std::vector<int64_t> item_first_time_;  // INT64_MAX when the item has no event
  std::vector<uint32_t> pop_bucket_;      // categorical value (>= 1)
  std::vector<uint32_t> occupation_code_; // per user, categorical value
  uint32_t n_genres_ = 0;
  // column offsets
  size_t c_hist_len_ = 0, c_days_since_ = 0, c_pop_ = 0, c_age_ = 0, c_year_ = 0, c_genre0_ = 0,
         c_fused_score_ = 0, c_fused_rank_ = 0, c_channel0_ = 0, c_affinity_ = 0, c_share_ = 0,
         c_sim0_ = 0, c_priors0_ = 0, c_session0_ = 0, c_sequence0_ = 0;
};

}  // namespace cascade
