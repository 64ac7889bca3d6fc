// Off-policy estimators: exact values on a hand-computed case, bootstrap determinism and the
// on-policy degenerate case, the top-K target probability, input errors naming the event, and
// recovery of a known true value on a synthetic logged-exposure log (data/synth.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "cascade/core/error.h"
#include "cascade/data/synth.h"
#include "cascade/eval/counterfactual.h"

namespace cascade {
namespace {

// Five events.  p = logging propensity, t = target probability, r = reward, w = t / p.
//   event   p     t     r   w
//   0       0.5   0.5   1   1
//   1       0.25  0     1   0
//   2       0.1   0.5   1   5
//   3       0.8   1     1   1.25
//   4       0.5   0.25  0   0.5
const std::vector<double> kP = {0.5, 0.25, 0.1, 0.8, 0.5};
const std::vector<double> kT = {0.5, 0.0, 0.5, 1.0, 0.25};
const std::vector<double> kR = {1, 1, 1, 1, 0};

TEST(Counterfactual, HandComputedEstimates) {
  OpeOptions o;
  o.clip = 2;
  o.resamples = 200;
  const OpeResult r = estimate_off_policy(kP, kT, kR, o);
  EXPECT_EQ(r.events, 5u);
  EXPECT_EQ(r.matched, 4u);                                     // events 0, 2, 3, 4
  EXPECT_DOUBLE_EQ(r.naive.value, 3.0 / 4.0);                   // rewards 1, 1, 1, 0
  EXPECT_DOUBLE_EQ(r.ips.value, (1 + 5 + 1.25) / 5.0);          // 1.45
  EXPECT_DOUBLE_EQ(r.clipped_ips.value, (1 + 2 + 1.25) / 5.0);  // w = 5 capped at 2: 0.85
  EXPECT_DOUBLE_EQ(r.snips.value, 7.25 / 7.75);                 // Σ w r / Σ w
  EXPECT_DOUBLE_EQ(r.ess, 7.75 * 7.75 / (1 + 25 + 1.5625 + 0.25));
  EXPECT_DOUBLE_EQ(r.max_weight, 5.0);
  for (const OpeEstimate* e : {&r.naive, &r.ips, &r.clipped_ips, &r.snips}) {
    EXPECT_LE(e->ci_low, e->ci_high);
    EXPECT_GE(e->ci_low, 0.0);
  }
  // Bootstrap values are bounded by the extreme resamples: all five events w r = 5 gives IPS 5,
  // none rewarded gives 0; the clipped estimator can never exceed the cap.
  EXPECT_LE(r.ips.ci_high, 5.0);
  EXPECT_LE(r.clipped_ips.ci_high, 2.0);
  EXPECT_LE(r.snips.ci_high, 1.0);
  EXPECT_LT(r.clipped_ips.ci_high, r.ips.ci_high);
}

TEST(Counterfactual, BootstrapIsSeededAndUsesTheConfidence) {
  OpeOptions o;
  o.resamples = 300;
  const OpeResult a = estimate_off_policy(kP, kT, kR, o), b = estimate_off_policy(kP, kT, kR, o);
  EXPECT_EQ(a.ips.ci_low, b.ips.ci_low);
  EXPECT_EQ(a.snips.ci_high, b.snips.ci_high);
  o.confidence = 0.5;
  const OpeResult narrow = estimate_off_policy(kP, kT, kR, o);
  EXPECT_GE(narrow.ips.ci_low, a.ips.ci_low);
  EXPECT_LE(narrow.ips.ci_high, a.ips.ci_high);
  EXPECT_LT(narrow.ips.ci_high - narrow.ips.ci_low, a.ips.ci_high - a.ips.ci_low);
}

TEST(Counterfactual, OnPolicyWeightsOfOneMakeEveryEstimatorTheMean) {
  const std::vector<double> p = {0.2, 0.4, 0.6, 0.3}, r = {1, 0, 1, 1};
  const OpeResult res = estimate_off_policy(p, p, r);  // target = logging: w = 1
  for (const OpeEstimate* e : {&res.naive, &res.ips, &res.clipped_ips, &res.snips}) {
    EXPECT_DOUBLE_EQ(e->value, 0.75);
  }
  EXPECT_DOUBLE_EQ(res.ess, 4.0);
  EXPECT_DOUBLE_EQ(res.ips.ci_low, res.snips.ci_low);
  EXPECT_DOUBLE_EQ(res.ips.ci_high, res.snips.ci_high);
}

TEST(Counterfactual, NoMatchedEventGivesZeros) {
  const std::vector<double> p = {0.5, 0.5}, t = {0, 0}, r = {1, 1};
  const OpeResult res = estimate_off_policy(p, t, r);
  EXPECT_EQ(res.matched, 0u);
  EXPECT_EQ(res.naive.value, 0.0);
  EXPECT_EQ(res.ips.value, 0.0);
  EXPECT_EQ(res.snips.value, 0.0);
  EXPECT_EQ(res.ess, 0.0);
}

// A logged-exposure world whose logging policy leans on popularity (and popular items are clicked
// more); the target shows each user the 10 items of largest true click probability. The truth is
// exact (the known model). IPS and SNIPS must cover it; the naive estimate (mean click of the
// logged events the target would show) must not, being pulled towards the items the logging
// policy favoured; and IPS with the propensities ignored (taken uniform) must miss it too.
TEST(Counterfactual, RecoversTheTrueValueOnALoggedExposureLog) {
  LoggedExposureOptions w;
  w.users = 400;
  w.items = 200;
  w.impressions = 100000;
  w.seed = 3;
  const LoggedExposureModel m(w);
  const LoggedExposureLog log = m.sample_log();
  constexpr size_t kK = 10;
  std::vector<std::vector<uint32_t>> lists(w.users);
  std::vector<uint32_t> idx(w.items);
  for (uint32_t u = 0; u < w.users; ++u) {
    std::iota(idx.begin(), idx.end(), 0u);
    std::partial_sort(idx.begin(), idx.begin() + kK, idx.end(), [&](uint32_t a, uint32_t b) {
      return m.click_probability(u, a) > m.click_probability(u, b);
    });
    lists[u].assign(idx.begin(), idx.begin() + kK);
  }
  const double truth = m.true_top_k_value(lists);
  std::vector<double> target(log.size());
  for (size_t j = 0; j < log.size(); ++j)
    target[j] = top_k_probability(lists[log.user[j]], log.item[j]);
  OpeOptions o;
  o.resamples = 300;
  const OpeResult r = estimate_off_policy(log.propensity, target, log.click, o);
  EXPECT_TRUE(r.ips.covers(truth))
      << truth << " not in [" << r.ips.ci_low << ", " << r.ips.ci_high << "]";
  EXPECT_TRUE(r.snips.covers(truth))
      << truth << " not in [" << r.snips.ci_low << ", " << r.snips.ci_high << "]";
  EXPECT_FALSE(r.naive.covers(truth))
      << truth << " in [" << r.naive.ci_low << ", " << r.naive.ci_high << "]";
  // Not a marginal miss: the naive interval is entirely above the truth by more than IPS's
  // half-width.
  EXPECT_GT(r.naive.ci_low - truth, (r.ips.ci_high - r.ips.ci_low) / 2);

  const std::vector<double> uniform(log.size(), 1.0 / w.items);
  const OpeResult blind = estimate_off_policy(uniform, target, log.click, o);
  EXPECT_FALSE(blind.ips.covers(truth))
      << truth << " in [" << blind.ips.ci_low << ", " << blind.ips.ci_high << "]";
}

TEST(Counterfactual, TopKProbability) {
  const std::vector<ItemId> list = {7, 3, 9, 1};
  EXPECT_DOUBLE_EQ(top_k_probability(list, 9), 0.25);
  EXPECT_DOUBLE_EQ(top_k_probability(list, 2), 0.0);
  EXPECT_DOUBLE_EQ(top_k_probability({}, 2), 0.0);
}

void expect_error_mentions(const std::vector<double>& p, const std::vector<double>& t,
                           const std::vector<double>& r, const std::string& needle) {
  try {
    estimate_off_policy(p, t, r);
    ADD_FAILURE() << "no error, expected one mentioning '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Counterfactual, ErrorsNameTheEvent) {
  expect_error_mentions({0.5, 0.5, 0.5, 0.0}, {0, 0, 0, 0}, {1, 1, 1, 1}, "event 3");
  expect_error_mentions({0.5, -0.1}, {0, 0}, {1, 1}, "event 1");
  expect_error_mentions({0.5, 1.5}, {0, 0}, {1, 1}, "event 1: logging propensity 1.5");
  expect_error_mentions({0.5, 0.5}, {1.2, 0}, {1, 1}, "event 0: target probability");
  expect_error_mentions({0.5, 0.5}, {0, 0}, {1, NAN}, "event 1: reward");
  expect_error_mentions({0.5, 0.5}, {0}, {1, 1},
                        "2 propensities, 1 target probabilities and 2 rewards");
  expect_error_mentions({}, {}, {}, "no logged events");
  OpeOptions o;
  o.clip = 0;
  EXPECT_THROW(estimate_off_policy(kP, kT, kR, o), Error);
  o = {};
  o.resamples = 0;
  EXPECT_THROW(estimate_off_policy(kP, kT, kR, o), Error);
  o = {};
  o.confidence = 1;
  EXPECT_THROW(estimate_off_policy(kP, kT, kR, o), Error);
}

}  // namespace
}  // namespace cascade
