// Dataset: a prepared, split, densely re-indexed interaction log — what `cascade
// prepare` writes as a snapshot and every later command loads.
#pragma once

#include <cstdint>
#include <string>
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
};

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
  Interactions valid;  ///< seed protocols: at most one item per user
  Interactions test;   ///< seed protocols: at most one item per user

  /// seed-oof only (empty otherwise): the first recall_rows[u] entries of train row u are
  /// the recall slice, the rest the ranker slice.
  std::vector<uint32_t> recall_rows;

  Catalog catalog;

  /// Hex digest of the snapshot's content; every artefact trained on it records it.
  std::string content_hash;

  /// The recall slice (seed-oof) as its own matrix; the whole train matrix otherwise.
  Interactions recall_slice() const;
  /// The ranker slice (seed-oof); throws cascade::Error for other protocols.
  Interactions ranker_slice() const;

  /// Dense id of a raw id, or kUnknownUser / -1 when absent (linear maps built lazily).
  int64_t find_user(const std::string& raw) const;
  int64_t find_item(const std::string& raw) const;
};

/// Filters, remaps and splits a raw log (SYSTEM.md protocols):
///  1. keep rows with rating >= min_rating; drop users with < min_positives positives;
///     no item filter; dense ids in ascending raw-id order (numeric when every id is an
///     integer, else lexicographic); the catalogue is every item in a kept positive;
///  2. per user, order by timestamp, ties in file order;
///  3. seed-*: last -> test, second-to-last -> valid, rest -> train;
///     time: one global cut of the (timestamp, file order) sequence at time_train and
///     time_train + time_valid.
Dataset prepare_dataset(const RawLog& log, const std::string& name, const PrepareOptions& opt);

}  // namespace cascade
