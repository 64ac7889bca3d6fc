// Counterfactual (off-policy) evaluation: the value of a target policy estimated from events
// logged under another policy whose propensities are known.
//
// An event i is a context x_i (a user), the item a_i the logging policy showed, its logging
// propensity p_i = p_log(a_i | x_i) in (0, 1], and the observed reward r_i (a click). The
// target policy enters as its probability t_i = π(a_i | x_i) of showing the same item.
//
// Top-K value. A deterministic target that shows a list L(x) of K items is turned into a
// one-slot policy: π(a | x) = 1/K if a is in L(x), else 0. Its value is then the expected
// reward of one slot drawn uniformly from the target's list, E_x[(1/K) Σ_{a in L(x)} q(x, a)]
// with q the click probability: the mean click rate of the list (precision-like; not the
// expected number of clicks, which is K times it). top_k_probability() gives t_i.
//
// Estimators (Horvitz & Thompson 1952; Dudík, Langford & Li 2011; Swaminathan & Joachims 2015),
// with weights w_i = t_i / p_i:
//   naive        mean r_i over the events with t_i > 0 (the logged items the target would show),
//                i.e. the logging distribution's mix of those items, not the target's: biased
//                whenever the logging policy favours items whose reward differs (0 when no
//                event qualifies);
//   ips          (1/n) Σ w_i r_i: unbiased when every item the target shows has p > 0;
//   clipped_ips  (1/n) Σ min(w_i, M) r_i: bounded variance, biased downwards (Ionides 2008;
//                Bottou et al. 2013);
//   snips        Σ w_i r_i / Σ w_i (self-normalised; 0 when Σ w_i = 0): consistent, scale-free,
//                a small bias for a large variance cut.
// Effective sample size (Kong 1992): ESS = (Σ w_i)^2 / Σ w_i^2 of the unclipped weights (0 when
// every weight is 0): how many on-policy events the weighted sample is worth.
//
// Intervals: percentile bootstrap over events (compare.h's conventions: std::mt19937_64(seed),
// the same exact bounded draw, type-7 percentiles); every estimator uses the same resamples.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>

#include "cascade/core/types.h"

namespace cascade {

struct OpeOptions {
  double clip = 10;      ///< weight cap M of clipped IPS, > 0
  int resamples = 1000;  ///< bootstrap resamples, >= 1
  uint64_t seed = 42;
  double confidence = 0.95;  ///< of the percentile interval, in (0, 1)

  /// Throws cascade::Error naming the field when out of range.
  void validate() const;
};

struct OpeEstimate {
  double value = 0;
  double ci_low = 0, ci_high = 0;
  bool covers(double x) const { return ci_low <= x && x <= ci_high; }
  nlohmann::ordered_json to_json() const;  ///< {"value","ci_low","ci_high"}
};

struct OpeResult {
  size_t events = 0;
  size_t matched = 0;  ///< events with t_i > 0 (what naive averages)
  OpeEstimate naive, ips, clipped_ips, snips;
  double ess = 0;
  double max_weight = 0;
  /// {"events","matched","naive":{..},"ips":{..},"clipped_ips":{..},"snips":{..},"ess","max_weight"}
  nlohmann::ordered_json to_json() const;
};

/// All four estimators with bootstrap intervals. `propensity`, `target` and `reward` are
/// parallel, one entry per event. Throws cascade::Error for mismatched lengths, no events, a
/// propensity <= 0 or > 1 or not finite, a target probability outside [0, 1], or a non-finite
/// reward, naming the event index.
OpeResult estimate_off_policy(std::span<const double> propensity, std::span<const double> target,
                              std::span<const double> reward, const OpeOptions& opt = {});

/// π(a | x) of a deterministic top-K list: 1 / list.size() when `item` is in `list`, else 0
/// (the "top-K value" above). An empty list gives 0.
double top_k_probability(std::span<const ItemId> list, ItemId item);

}  // namespace cascade
