// Synthetic interaction logs for scale benchmarks: Zipf-like item popularity,
// heavy-tailed (log-normal) user activity, genres with per-user taste, increasing
// timestamps. Deterministic for a seed.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

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

// ---------------------------------------------------------------------------------------------
// Logged exposure: a known logging policy shows items to users, users click with a known model,
// and the log keeps each shown item's exact logging propensity, so off-policy estimators
// (eval/counterfactual.h) can be checked against the true value of any target policy.
//
// The world (all from `seed`):
//   popularity θ_i ~ N(0, 1);  quality b_i = quality_scale (ρ θ_i + sqrt(1 - ρ²) ε_i), ε ~ N(0, 1),
//   ρ = quality_popularity_corr (popular items are clicked more, so favouring them biases a
//   naive estimate upwards);  user / item factors u_u, v_i with N(0, d^-1/2) entries (d = dim;
//   u·v has variance ~1);
//   click:   q(u, i) = P(click | u shown i) = σ(base_logit + u_u·v_i + b_i);
//   logging: p(i | u) = softmax_i((θ_i + logging_affinity · u_u·v_i) / temperature) over all
//            items: stochastic, non-uniform, every item > 0.
// Each impression picks its user uniformly at random, its item from p(· | u), and a click with
// probability q(u, i); rows come user by user (impressions of one user consecutive).

struct LoggedExposureOptions {
  uint32_t users = 2000;
  uint32_t items = 500;
  uint64_t impressions = 200000;
  uint32_t dim = 8;
  double base_logit = -2.0;
  double quality_scale = 1.0;
  double quality_popularity_corr = 0.7;  ///< ρ in [-1, 1]
  double temperature = 1.0;              ///< > 0; larger = closer to uniform
  double logging_affinity = 0.5;         ///< weight of the user's affinity in the logging score
  uint64_t seed = 42;

  /// Throws cascade::Error naming the option when out of range (zero users/items/impressions/dim,
  /// temperature <= 0, |ρ| > 1, a non-finite number).
  void validate() const;
};

struct LoggedExposureLog {
  std::vector<uint32_t> user;      ///< 0-based user index
  std::vector<uint32_t> item;      ///< 0-based item index
  std::vector<double> propensity;  ///< p(item | user) of the logging policy, exact
  std::vector<double> click;       ///< 0 or 1
  size_t size() const { return user.size(); }
};

/// The known model: click probabilities, logging propensities and true policy values.
class LoggedExposureModel {
 public:
  explicit LoggedExposureModel(const LoggedExposureOptions& opt);

  const LoggedExposureOptions& options() const { return opt_; }
  uint32_t users() const { return opt_.users; }
  uint32_t items() const { return opt_.items; }
  double popularity(uint32_t item) const { return theta_[item]; }
  /// q(u, i), exact.
  double click_probability(uint32_t user, uint32_t item) const;
  /// p(· | u) over all items (sums to 1), exact.
  std::vector<double> logging_distribution(uint32_t user) const;

  /// Draws a log of options().impressions events (deterministic for options().seed and
  /// `stream`). Different streams are independent logs of the same world: fit a learned target
  /// policy on one and evaluate it on another (a policy valued on the events it was fitted on
  /// is favoured by the log's noise, and no estimator corrects that).
  LoggedExposureLog sample_log(uint64_t stream = 0) const;

  /// The TRUE top-K value (eval/counterfactual.h) of a deterministic target that shows
  /// lists[u] to user u: (1/U) Σ_u (1/|lists[u]|) Σ_{i in lists[u]} q(u, i), the exact expectation
  /// under the log's uniform choice of user (not a sample). Throws when lists.size() != users,
  /// a list is empty or an item is out of range.
  double true_top_k_value(const std::vector<std::vector<uint32_t>>& lists) const;

 private:
  double affinity(uint32_t user, uint32_t item) const;
  LoggedExposureOptions opt_;
  std::vector<double> theta_, quality_, user_f_, item_f_;
};

/// Writes model.sample_log() as CSV `user,item,propensity,click` with a header (1-based ids like
/// synth_write_csv; propensities with 17 significant digits) and, beside it, `<path>.model.json`
/// holding the options, from which LoggedExposureModel rebuilds the exact model. Both written
/// atomically. Returns rows written.
uint64_t synth_write_logged_exposure(const LoggedExposureOptions& opt, const std::string& path);

}  // namespace cascade
