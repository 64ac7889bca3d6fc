// `cascade bench ope`: off-policy estimators checked against the truth on a logged-exposure world
// (data/synth.h). The world's logging policy shows items and records exact propensities; several
// target policies different from it are then valued from the log by the naive, IPS, clipped-IPS
// and SNIPS estimators (eval/counterfactual.h) and exactly from the known click model.
//
// Two independent logs of the same world are drawn: a training log (stream 1), which the learned
// policies below are fitted on, and the evaluation log (stream 0), which every estimate uses.
// (Valued on its own training events, a learned policy looks better than it is: it picked the
// items that happened to be clicked there, and no off-policy estimator corrects that.)
//
// Target policies (each a deterministic top-K list per user; value = the top-K value of
// eval/counterfactual.h, the mean click probability of the list's slots):
//   top-k-true-affinity  per user, the K items of largest true click probability (the oracle);
//   top-k-popularity     the K items of largest popularity θ (the logging policy's main signal),
//                        the same list for everyone;
//   uniform-random-k     K distinct items drawn uniformly per user (seeded);
//   top-k-logged-ctr     the K items of largest smoothed click-through rate in the training log
//                        ((clicks + 10·ctr) / (shows + 10), ctr the log's overall rate);
//   top-k-ials           per user, the K best items of an iALS channel fitted on the logged
//                        (user, clicked item) pairs (scores over the whole catalogue; a click does
//                        not remove the item from the world, so nothing is masked).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cascade/data/synth.h"
#include "cascade/eval/counterfactual.h"

namespace cascade {

struct OpeBenchOptions {
  LoggedExposureOptions world;
  size_t k = 10;
  OpeOptions ope;    ///< clip, bootstrap resamples, seed, confidence
  bool ials = true;  ///< include the top-k-ials policy
  std::string ials_spec = "ials:factors=16,iters=10";
  int threads = 0;  ///< for the iALS fit; 0 = hardware concurrency
};

struct OpePolicyResult {
  std::string name;
  double truth = 0;  ///< exact top-K value under the known click model
  OpeResult estimate;
};

struct OpeBench {
  size_t k = 0;
  double clip = 0;
  size_t events = 0;             ///< of the evaluation log
  size_t training_events = 0;    ///< of the training log (learned policies only)
  std::string logging_policy;    ///< a description of the world's logging policy
  double logging_value = 0;      ///< the logging policy's own exact value (one shown item)
  double logged_click_rate = 0;  ///< the log's mean click (an unbiased sample of logging_value)
  std::vector<OpePolicyResult> policies;

  /// {"k","clip","events","training_events","logging_policy","logging_value","logged_click_rate",
  ///  "policies":[{"name","true","naive":{value,ci_low,ci_high},"ips","clipped_ips","snips",
  ///  "ess","matched","max_weight"}]}
  nlohmann::ordered_json to_json() const;
};

/// Builds the world and its log, then values every target policy. Throws cascade::Error for bad
/// options (k = 0 or k > items, and the world's and estimators' own checks).
OpeBench run_ope_bench(const OpeBenchOptions& opt);

}  // namespace cascade
