// Off-policy estimators with a shared percentile bootstrap (include/cascade/eval/counterfactual.h).
#include "cascade/eval/counterfactual.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "bootstrap_internal.h"
#include "cascade/core/error.h"

namespace cascade {

namespace {

/// The sums every estimator is a function of, over one (re)sample of events.
struct Sums {
  double n = 0, matched = 0, matched_reward = 0;
  double w = 0, w2 = 0, wr = 0, clipped_wr = 0;

  void add(double w_i, double r_i, double clip) {
    n += 1;
    if (w_i > 0) {
      matched += 1;
      matched_reward += r_i;
    }
    w += w_i;
    w2 += w_i * w_i;
    wr += w_i * r_i;
    clipped_wr += std::min(w_i, clip) * r_i;
  }
  double naive() const { return matched > 0 ? matched_reward / matched : 0.0; }
  double ips() const { return wr / n; }
  double clipped_ips() const { return clipped_wr / n; }
  double snips() const { return w > 0 ? wr / w : 0.0; }
  double ess() const { return w2 > 0 ? w * w / w2 : 0.0; }
};

OpeEstimate interval(double value, std::vector<double>& draws, double confidence) {
  std::sort(draws.begin(), draws.end());
  const double alpha = 1.0 - confidence;
  return {value, eval_detail::percentile_sorted(draws, alpha / 2),
          eval_detail::percentile_sorted(draws, 1.0 - alpha / 2)};
}

}  // namespace

void OpeOptions::validate() const {
  CASCADE_CHECK(std::isfinite(clip) && clip > 0,
                fmt::format("ope.clip: the weight cap must be a positive number, got {}", clip));
  CASCADE_CHECK(resamples >= 1, fmt::format("ope.resamples: must be >= 1, got {}", resamples));
  CASCADE_CHECK(confidence > 0 && confidence < 1,
                fmt::format("ope.confidence: must be in (0, 1), got {}", confidence));
}

nlohmann::ordered_json OpeEstimate::to_json() const {
  return {{"value", value}, {"ci_low", ci_low}, {"ci_high", ci_high}};
}

nlohmann::ordered_json OpeResult::to_json() const {
  return {{"events", events},
          {"matched", matched},
          {"naive", naive.to_json()},
          {"ips", ips.to_json()},
          {"clipped_ips", clipped_ips.to_json()},
          {"snips", snips.to_json()},
          {"ess", ess},
          {"max_weight", max_weight}};
}

OpeResult estimate_off_policy(std::span<const double> propensity, std::span<const double> target,
                              std::span<const double> reward, const OpeOptions& opt) {
  opt.validate();
  const size_t n = propensity.size();
  CASCADE_CHECK(target.size() == n && reward.size() == n,
                fmt::format("off-policy estimate: {} propensities, {} target probabilities and {} "
                            "rewards; one of each per event",
                            n, target.size(), reward.size()));
  CASCADE_CHECK(n > 0, "off-policy estimate: no logged events");
  std::vector<double> w(n);
  for (size_t i = 0; i < n; ++i) {
    const double p = propensity[i], t = target[i];
    CASCADE_CHECK(
        std::isfinite(p) && p > 0 && p <= 1,
        fmt::format("off-policy estimate: event {}: logging propensity {} is not in (0, 1]", i, p));
    CASCADE_CHECK(
        std::isfinite(t) && t >= 0 && t <= 1,
        fmt::format("off-policy estimate: event {}: target probability {} is not in [0, 1]", i, t));
    CASCADE_CHECK(
        std::isfinite(reward[i]),
        fmt::format("off-policy estimate: event {}: reward {} is not finite", i, reward[i]));
    w[i] = t / p;
  }

  Sums all;
  for (size_t i = 0; i < n; ++i) all.add(w[i], reward[i], opt.clip);

  const size_t b = static_cast<size_t>(opt.resamples);
  std::vector<double> naive(b), ips(b), clipped(b), snips(b);
  std::mt19937_64 rng(opt.seed);
  for (size_t r = 0; r < b; ++r) {
    Sums s;
    for (size_t i = 0; i < n; ++i) {
      const size_t j = eval_detail::bounded(rng, n);
      s.add(w[j], reward[j], opt.clip);
    }
    naive[r] = s.naive();
    ips[r] = s.ips();
    clipped[r] = s.clipped_ips();
    snips[r] = s.snips();
  }

  OpeResult res;
  res.events = n;
  res.matched = static_cast<size_t>(all.matched);
  res.naive = interval(all.naive(), naive, opt.confidence);
  res.ips = interval(all.ips(), ips, opt.confidence);
  res.clipped_ips = interval(all.clipped_ips(), clipped, opt.confidence);
  res.snips = interval(all.snips(), snips, opt.confidence);
  res.ess = all.ess();
  res.max_weight = *std::max_element(w.begin(), w.end());
  return res;
}

double top_k_probability(std::span<const ItemId> list, ItemId item) {
  if (list.empty()) return 0.0;
  return std::find(list.begin(), list.end(), item) != list.end()
             ? 1.0 / static_cast<double>(list.size())
             : 0.0;
}

}  // namespace cascade
