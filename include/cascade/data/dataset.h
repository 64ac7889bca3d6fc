// Dataset: a prepared, split, densely re-indexed interaction log — what `cascade
// prepare` writes as a snapshot and every later command loads.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "cascade/data/catalog.h"
#include "cascade/data/interactions.h"
#include "cascade/data/raw_log.h"

namespace cascade {

/// The evaluation protocols of docs/PROTOCOLS.md (SYSTEM.md "Protocols").
enum class Protocol { kSeedLoo, kSeedOof, kTime };

Protocol parse_protocol(const std::string& name);  ///< "seed-loo" | "seed-oof" | "time"
std::string protocol_name(Protocol p);

struct PrepareOptions {
  Protocol protocol = Protocol::kSeedLoo;
  /// Ratings >= min_rating are positives; the rest are dropped. Ignored when the log
  /// has no rating column (every row is a positive).
  float min_rating = 4.0f;
  /// Users with fewer positives are dropped (seed protocols; for `time`, applied before the cut).
  uint32_t min_positives = 5;
  /// seed-oof: the last max(1, round(oof_fraction * n)) training rows form the ranker slice.
  double oof_fraction = 0.1;
  /// time: train / validation / test shares of the global timestamp order.
  double time_train = 0.8;
  double time_valid = 0.1;
  /// Seed protocols: keep the rows below min_rating (of kept users and catalogue items) as
  /// *seen* events (Dataset::seen) instead of dropping them. They are never positives and never
  /// trained on; a request knows the ones before it, and no list recommends them again.
  bool keep_seen = false;
};

namespace detail {
/// Lazily built raw id -> dense id hash map for Dataset::find_user/find_item. Copies and
/// moves start empty (the map is rebuilt on first use), so Dataset stays a plain value type.
/// Thread-safe: lookups take a mutex. The map is rebuilt when the id vector's size changes
/// or a hit no longer matches (ids edited after the first lookup).
class IdLookup {
 public:
  IdLookup() = default;
  IdLookup(const IdLookup&) {}
  IdLookup& operator=(const IdLookup&) {
    std::lock_guard<std::mutex> lock(mu_);
    map_.reset();
    return *this;
  }
  /// Dense id of `raw` in `ids`, or -1.
  int64_t find(const std::vector<std::string>& ids, const std::string& raw) const;

 private:
  mutable std::mutex mu_;
  mutable std::unique_ptr<std::unordered_map<std::string, uint32_t>> map_;
  mutable size_t built_size_ = 0;
};
}  // namespace detail

struct Dataset {
  std::string name;    ///< e.g. "ml-100k"
  std::string source;  ///< path it was prepared from
  PrepareOptions options;

  uint32_t n_users = 0;
  uint32_t n_items = 0;
  std::vector<std::string> user_ids;  ///< dense -> raw id
  std::vector<std::string> item_ids;  ///< dense -> raw id

  /// user -> items, each row in time order (oldest first, ties in file order).
  Interactions train;
  Interactions valid;  ///< seed protocols: exactly one item per user; time: any number
  Interactions test;   ///< seed protocols: exactly one item per user; time: any number

  /// seed-oof only (empty otherwise): the first recall_rows[u] entries of train row u are
  /// the recall slice, the rest the ranker slice.
  std::vector<uint32_t> recall_rows;

  /// PrepareOptions::keep_seen: per user, the catalogue items of the rows that are not
  /// positives, in time order (ties in file order), values = rating, times = timestamp. Without
  /// keep_seen it has no rows.
  Interactions seen;
  /// Parallel to seen's entries: how many of the user's positives (train, then valid, then test:
  /// its whole time-ordered positive sequence) come before the entry. Non-decreasing in a row.
  std::vector<uint32_t> seen_after;

  Catalog catalog;

  /// The seen items known before the user's positive number `positives` (0-based over train,
  /// valid, test): the prefix of seen.row(u) with seen_after <= positives. So a validation
  /// request (seed protocols) knows seen_before(u, train.row_size(u)), a test request
  /// seen_before(u, train.row_size(u) + 1). Empty without keep_seen.
  std::span<const ItemId> seen_before(uint32_t u, uint32_t positives) const;
  /// Every user's seen_before(u, positives[u]) as a matrix shaped like train (rows empty
  /// without keep_seen): the exclusions of one set of requests.
  Interactions seen_known(std::span<const uint32_t> positives) const;
  /// What validation requests know: positives = the user's train rows (seed protocols).
  Interactions seen_at_valid() const;
  /// What test requests know: train + validation positives, whether or not the request's
  /// history holds the validation item (it happened before the test item either way).
  Interactions seen_at_test() const;
  /// What a seed-oof ranker-slice request knows: positives = recall_rows.
  Interactions seen_at_ranker_slice() const;
  /// `rows` (row u: a prefix of user u's positives, e.g. the recall slice or train) interleaved
  /// by time with the seen events known by the row's end (merge_by_time, the row's event first
  /// on equal times); values 1 for a row's event, 0 for a seen one: FitInput::context.
  Interactions with_seen(const Interactions& rows) const;
  /// seen_at_test() without what a request at the end of the training row already knows: the
  /// seen items a test request brings as news (the served path's RecommendRequest::seen).
  Interactions seen_since_train() const;

  /// Hex digest of the snapshot's content; every artefact trained on it records it.
  std::string content_hash;

  /// The recall slice (seed-oof) as its own matrix; the whole train matrix otherwise.
  Interactions recall_slice() const;
  /// The ranker slice (seed-oof); throws cascade::Error for other protocols.
  Interactions ranker_slice() const;

  /// Dense id of a raw id, or -1 when absent (hash maps built lazily on first call).
  int64_t find_user(const std::string& raw) const { return user_lookup_.find(user_ids, raw); }
  int64_t find_item(const std::string& raw) const { return item_lookup_.find(item_ids, raw); }

 private:
  detail::IdLookup user_lookup_;
  detail::IdLookup item_lookup_;
};

/// Filters, remaps and splits a raw log (SYSTEM.md protocols):
///  1. keep rows with rating >= min_rating; drop users with < min_positives positives;
///     no item filter; dense ids in ascending raw-id order (numeric when every id is an
///     integer, else lexicographic); the catalogue is every item in a kept positive;
///  2. per user, order by timestamp, ties in file order;
///  3. seed-*: last -> test, second-to-last -> valid, rest -> train;
///     time: one global cut of the (timestamp, file order) sequence at time_train and
///     time_train + time_valid (cut positions floor(share * N)); users and items are remapped
///     over all kept rows, so a user may have no train rows (cold start) and several valid /
///     test rows; valid/test rows keep items the user also has in train (the evaluator masks
///     train items only);
///     duplicate (user, item) rows are kept as separate rows under every protocol, so with
///     duplicates in the log a seed valid/test item can also occur in train;
///  4. seed-oof: recall_rows[u] = n_u - max(1, lround(oof_fraction * n_u)), n_u = train rows;
///  5. keep_seen (seed protocols only): the kept users' rows below min_rating whose item is in
///     the catalogue become `seen` (with seen_after counted in the (timestamp, file order)
///     sequence of all the user's rows).
/// Fills content_hash (dataset_content_hash in snapshot.h). Throws cascade::Error for bad
/// options, and when nothing is left after filtering (saying what each filter dropped).
Dataset prepare_dataset(const RawLog& log, const std::string& name, const PrepareOptions& opt);

/// Throws cascade::Error when an option relevant to opt.protocol is out of range.
void validate_prepare_options(const PrepareOptions& opt);

}  // namespace cascade
