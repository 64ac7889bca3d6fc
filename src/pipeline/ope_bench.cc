// `cascade bench ope` (include/cascade/pipeline/ope_bench.h).
#include "cascade/pipeline/ope_bench.h"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "cascade/core/error.h"
#include "cascade/data/catalog.h"
#include "cascade/data/interactions.h"
#include "cascade/recall/recaller.h"

namespace cascade {

namespace {

using Lists = std::vector<std::vector<uint32_t>>;

/// The k indices of the largest scores, best first (ties: lower index first).
std::vector<uint32_t> top_k_of(const std::vector<double>& score, size_t k) {
  std::vector<uint32_t> idx(score.size());
  std::iota(idx.begin(), idx.end(), 0u);
  std::partial_sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(k), idx.end(),
                    [&](uint32_t a, uint32_t b) {
                      return score[a] > score[b] || (score[a] == score[b] && a < b);
                    });
  idx.resize(k);
  return idx;
}

Lists true_affinity_lists(const LoggedExposureModel& m, size_t k) {
  Lists out(m.users());
  std::vector<double> q(m.items());
  for (uint32_t u = 0; u < m.users(); ++u) {
    for (uint32_t i = 0; i < m.items(); ++i) q[i] = m.click_probability(u, i);
    out[u] = top_k_of(q, k);
  }
  return out;
}

Lists popularity_lists(const LoggedExposureModel& m, size_t k) {
  std::vector<double> theta(m.items());
  for (uint32_t i = 0; i < m.items(); ++i) theta[i] = m.popularity(i);
  return Lists(m.users(), top_k_of(theta, k));
}

Lists uniform_lists(const LoggedExposureModel& m, size_t k, uint64_t seed) {
  std::mt19937_64 g(seed);
  Lists out(m.users());
  std::vector<uint32_t> perm(m.items());
  for (uint32_t u = 0; u < m.users(); ++u) {
    std::iota(perm.begin(), perm.end(), 0u);
    for (size_t j = 0; j < k; ++j) {  // partial Fisher-Yates, exact multiply-shift draws
      const uint64_t span = perm.size() - j;
      const size_t r = j + static_cast<size_t>((static_cast<unsigned __int128>(g()) * span) >> 64);
      std::swap(perm[j], perm[r]);
    }
    out[u].assign(perm.begin(), perm.begin() + static_cast<std::ptrdiff_t>(k));
  }
  return out;
}

Lists logged_ctr_lists(const LoggedExposureModel& m, const LoggedExposureLog& log, size_t k) {
  std::vector<double> shows(m.items(), 0), clicks(m.items(), 0);
  double total_clicks = 0;
  for (size_t j = 0; j < log.size(); ++j) {
    shows[log.item[j]] += 1;
    clicks[log.item[j]] += log.click[j];
    total_clicks += log.click[j];
  }
  const double ctr = total_clicks / static_cast<double>(log.size());
  constexpr double kPrior =
      10;  // pseudo-shows at the overall rate: a rarely shown item needs evidence
  std::vector<double> smoothed(m.items());
  for (uint32_t i = 0; i < m.items(); ++i)
    smoothed[i] = (clicks[i] + kPrior * ctr) / (shows[i] + kPrior);
  return Lists(m.users(), top_k_of(smoothed, k));
}

Lists ials_lists(const LoggedExposureModel& m, const LoggedExposureLog& log, size_t k,
                 const OpeBenchOptions& opt) {
  // Rows come user by user (synth.h), so the clicked pairs form the CSR matrix in one pass.
  Interactions train;
  train.n_cols = m.items();
  std::vector<uint32_t> row;
  size_t j = 0;
  for (uint32_t u = 0; u < m.users(); ++u) {
    row.clear();
    for (; j < log.size() && log.user[j] == u; ++j)
      if (log.click[j] > 0) row.push_back(log.item[j]);
    std::sort(row.begin(), row.end());
    row.erase(std::unique(row.begin(), row.end()), row.end());
    const std::vector<float> vals(row.size(), 1.0f);
    std::vector<int64_t> ts(row.size());
    std::iota(ts.begin(), ts.end(), 0);
    train.append_row(row, vals, ts);
  }
  Catalog cat;
  cat.items.resize(m.items());
  cat.users.resize(m.users());
  auto model = make_recaller(opt.ials_spec);
  model->fit(FitInput{train, cat, opt.threads, opt.ope.seed, nullptr, "ope-bench"});
  Lists out(m.users());
  std::vector<float> s(m.items());
  std::vector<double> sd(m.items());
  for (uint32_t u = 0; u < m.users(); ++u) {
    UserQuery q;
    q.user = u;
    q.history = train.row(u);
    model->score(q, s);
    for (uint32_t i = 0; i < m.items(); ++i) sd[i] = s[i];
    out[u] = top_k_of(sd, k);
  }
  return out;
}

OpePolicyResult value_policy(const std::string& name, const Lists& lists,
                             const LoggedExposureModel& m, const LoggedExposureLog& log,
                             const OpeOptions& ope) {
  std::vector<double> target(log.size());
  for (size_t j = 0; j < log.size(); ++j)
    target[j] = top_k_probability(lists[log.user[j]], log.item[j]);
  return {name, m.true_top_k_value(lists),
          estimate_off_policy(log.propensity, target, log.click, ope)};
}

}  // namespace

OpeBench run_ope_bench(const OpeBenchOptions& opt) {
  opt.ope.validate();
  CASCADE_CHECK(
      opt.k > 0 && opt.k <= opt.world.items,
      fmt::format("bench ope: --k = {} must be in [1, items = {}]", opt.k, opt.world.items));
  const LoggedExposureModel m(opt.world);
  const LoggedExposureLog log = m.sample_log(0), train = m.sample_log(1);

  OpeBench b;
  b.k = opt.k;
  b.clip = opt.ope.clip;
  b.events = log.size();
  b.training_events = train.size();
  const auto& w = opt.world;
  b.logging_policy = fmt::format(
      "softmax over all {} items of (popularity + {} * user-item affinity) / temperature {}; one "
      "item "
      "per impression",
      w.items, w.logging_affinity, w.temperature);
  double v = 0;
  for (uint32_t u = 0; u < m.users(); ++u) {
    const std::vector<double> p = m.logging_distribution(u);
    double s = 0;
    for (uint32_t i = 0; i < m.items(); ++i) s += p[i] * m.click_probability(u, i);
    v += s;
  }
  b.logging_value = v / m.users();
  b.logged_click_rate =
      std::accumulate(log.click.begin(), log.click.end(), 0.0) / static_cast<double>(log.size());

  b.policies.push_back(
      value_policy("top-k-true-affinity", true_affinity_lists(m, opt.k), m, log, opt.ope));
  b.policies.push_back(
      value_policy("top-k-popularity", popularity_lists(m, opt.k), m, log, opt.ope));
  b.policies.push_back(value_policy(
      "uniform-random-k", uniform_lists(m, opt.k, opt.world.seed + 1000), m, log, opt.ope));
  b.policies.push_back(
      value_policy("top-k-logged-ctr", logged_ctr_lists(m, train, opt.k), m, log, opt.ope));
  if (opt.ials)
    b.policies.push_back(
        value_policy("top-k-ials", ials_lists(m, train, opt.k, opt), m, log, opt.ope));
  return b;
}

nlohmann::ordered_json OpeBench::to_json() const {
  nlohmann::ordered_json j;
  j["k"] = k;
  j["clip"] = clip;
  j["events"] = events;
  j["training_events"] = training_events;
  j["logging_policy"] = logging_policy;
  j["logging_value"] = logging_value;
  j["logged_click_rate"] = logged_click_rate;
  j["policies"] = nlohmann::ordered_json::array();
  for (const auto& p : policies) {
    nlohmann::ordered_json e;
    e["name"] = p.name;
    e["true"] = p.truth;
    e["naive"] = p.estimate.naive.to_json();
    e["ips"] = p.estimate.ips.to_json();
    e["clipped_ips"] = p.estimate.clipped_ips.to_json();
    e["snips"] = p.estimate.snips.to_json();
    e["ess"] = p.estimate.ess;
    e["matched"] = p.estimate.matched;
    e["max_weight"] = p.estimate.max_weight;
    j["policies"].push_back(e);
  }
  return j;
}

}  // namespace cascade
