// Synthetic interaction logs for scale benchmarks: Zipf-like item popularity,
// heavy-tailed (log-normal) user activity, genres with per-user taste, increasing
// timestamps. Deterministic for a seed.
#pragma once

#include <cstdint>
#include <string>

#include "cascade/data/dataset.h"

namespace cascade {

struct SynthOptions {
  uint32_t users = 10000;
  uint32_t items = 5000;
  uint64_t interactions = 1000000;
  uint32_t genres = 18;
  double zipf_exponent = 1.0;    ///< item popularity ~ 1 / rank^s
  double activity_sigma = 1.0;   ///< log-normal sigma of user activity
  double taste = 0.7;            ///< share of a user's interactions drawn from preferred genres
  uint64_t seed = 42;
};

/// Generates a raw log (ratings 1-5, timestamps, genres, user side information); usable with
/// prepare_dataset. Users and items get raw ids "1".."users" / "1".."items"; rows come user by
/// user. Each user gets at least min(5, interactions / users) rows and never the same item
/// twice. 20 bytes per row (vectors reserved exactly). Throws cascade::Error for bad options
/// (interactions < users or > users * items, negative exponent/sigma, taste outside [0, 1]).
RawLog synth_log(const SynthOptions& opt);

/// Writes the log as a CSV `user,item,rating,timestamp` with a header (streaming, so
/// 100M rows never sit in memory) plus `items.csv` (item,genres). Returns rows written.
/// `items.csv` goes beside `path` (same folder); genres are '|'-separated names. Both files
/// are written to a temporary name and renamed when complete.
uint64_t synth_write_csv(const SynthOptions& opt, const std::string& path);

/// prepare_dataset(synth_log(opt), "synth", prep).
Dataset synth_dataset(const SynthOptions& opt, const PrepareOptions& prep);

}  // namespace cascade
