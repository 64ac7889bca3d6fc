#include "cascade/pipeline/served_eval.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "cascade/core/error.h"
#include "cascade/eval/compare.h"
#include "cascade/eval/counterfactual.h"
#include "cascade/eval/metrics.h"
#include "cascade/util/parallel.h"
#include "cascade/util/percentile.h"

namespace cascade {
namespace {

double mean(const std::vector<double>& v) {
  return v.empty() ? 0.0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

nlohmann::ordered_json paired(const std::vector<double>& base, const std::vector<double>& other) {
  const BootstrapResult b = paired_bootstrap(base, other, 1000, 42, 0.95);
  return {{"diff", b.diff}, {"ci_low", b.ci_low}, {"ci_high", b.ci_high}, {"p_value", b.p_value}};
}

}  // namespace

ServedEval evaluate_served(const Recommender& rec, const Interactions& heldout,
                           const ServedEvalOptions& opt) {
  CASCADE_CHECK(std::isfinite(opt.propensity_gamma) && opt.propensity_gamma >= 0,
                fmt::format("--propensity-gamma: {} must be a number >= 0", opt.propensity_gamma));
  CASCADE_CHECK(opt.propensity_floor > 0 && opt.propensity_floor <= 1,
                fmt::format("--propensity-floor: {} must be in (0, 1]", opt.propensity_floor));
  const std::span<const double> popularity = rec.item_propensities();
  const Bundle& b = rec.bundle();
  const Dataset& ds = b.data();
  const auto unit = rec.unit_vectors();
  // Every request is served on its own (in parallel with `opt.threads`), then the figures are
  // gathered in user order, so sums and lists do not depend on the thread count.
  std::vector<uint32_t> users;
  for (uint32_t u = 0; u < heldout.n_rows && u < ds.train.n_rows; ++u)
    if (heldout.row_size(u) > 0) users.push_back(u);
  const int threads = resolve_threads(opt.threads);
  std::vector<RecommendResponse> responses(users.size());
  parallel_for_dynamic(users.size(), threads, 16, [&](size_t i, int) {
    const uint32_t u = users[i];
    RecommendRequest r;
    r.user = ds.user_ids[u];
    r.k = opt.k;
    r.diversity = opt.diversity;
    r.pre_keep = opt.pre_keep;
    r.fine_keep = opt.fine_keep;
    r.pool_depth = opt.pool_depth;
    r.pool_top = opt.k;  // the pool's own order for the same request, from the same recall pass
    std::vector<LiveEvent> live;
    if (opt.prior_events && u < opt.prior_events->n_rows) {
      const Interactions& pe = *opt.prior_events;
      for (size_t j = 0; j < pe.row_size(u); ++j)
        live.push_back({ds.item_ids[pe.row(u)[j]], pe.row_times(u)[j]});
    }
    r.events = live;
    std::vector<std::string> seen;
    if (opt.prior_seen && u < opt.prior_seen->n_rows)
      for (const ItemId i : opt.prior_seen->row(u)) seen.push_back(ds.item_ids[i]);
    r.seen = seen;
    responses[i] = rec.recommend(r);
  });
  ServedEval e;
  e.concurrent_requests = threads;
  std::vector<uint8_t> covered(ds.n_items, 0);
  double ils = 0;
  for (size_t i = 0; i < users.size(); ++i) {
    const RecommendResponse& resp = responses[i];
    const ItemId target[1] = {heldout.row(users[i])[0]};
    std::vector<ItemId> list;
    for (const auto& it : resp.items) list.push_back(it.item);
    e.recall.push_back(recall_at(list, target, opt.k));
    if (!popularity.empty())
      e.target_propensity.push_back(
          std::max(std::pow(popularity[target[0]], opt.propensity_gamma), opt.propensity_floor));
    e.ndcg.push_back(ndcg_at(list, target, opt.k));
    for (ItemId it : list) covered[it] = 1;
    if (!unit.empty()) ils += ils_at(list, unit.data(), rec.vector_dim(), opt.k);
    e.total_ms.push_back(resp.latency.total_ms);
    e.rerank_ms.push_back(resp.latency.rerank_ms);
    // The pool's own order for the same request: what the stages after recall improve on.
    e.pool_recall.push_back(recall_at(resp.pool_top, target, opt.k));
    e.pool_ndcg.push_back(ndcg_at(resp.pool_top, target, opt.k));
    ++e.users;
  }
  e.coverage = static_cast<double>(std::count(covered.begin(), covered.end(), 1)) /
               static_cast<double>(std::max<uint32_t>(ds.n_items, 1));
  e.ils = e.users ? ils / static_cast<double>(e.users) : 0.0;
  return e;
}

nlohmann::ordered_json ServedEval::to_json(size_t k) const {
  const std::string at = fmt::format("@{}", k);
  nlohmann::ordered_json j;
  j["users"] = users;
  j["recall" + at] = mean(recall);
  j["ndcg" + at] = mean(ndcg);
  j["pool"] = {{"recall" + at, mean(pool_recall)}, {"ndcg" + at, mean(pool_ndcg)}};
  j["vs_pool"] = {{"recall" + at, paired(pool_recall, recall)},
                  {"ndcg" + at, paired(pool_ndcg, ndcg)}};
  j["coverage" + at] = coverage;
  j["ils" + at] = ils;
  j["latency_ms"] = {{"p50", percentile(total_ms, 0.5)},
                     {"p99", percentile(total_ms, 0.99)},
                     {"rerank_p50", percentile(rerank_ms, 0.5)},
                     {"concurrent_requests", concurrent_requests}};
  if (!target_propensity.empty() && !recall.empty()) {
    // One event per user: propensity p of the held-out item, target probability 1 (every user's
    // list is evaluated), reward = the user's recall. The floor already bounds w, so the
    // estimator's own cap is set above it.
    const std::vector<double> all(recall.size(), 1.0);
    OpeOptions o;
    o.clip = 1.0 / *std::min_element(target_propensity.begin(), target_propensity.end()) + 1;
    const OpeResult r = estimate_off_policy(target_propensity, all, recall, o);
    j["ips"] = {{"recall" + at, r.ips.to_json()}};
    j["snips"] = {{"recall" + at, r.snips.to_json()}};
  }
  return j;
}

nlohmann::ordered_json rerank_sweep(const Recommender& rec, const Interactions& heldout,
                                    std::span<const double> lambdas, const ServedEvalOptions& base,
                                    const std::string& who) {
  for (double l : lambdas)
    CASCADE_CHECK(l >= 0 && l <= 1, fmt::format("{}: lambda {} is outside [0, 1]", who, l));
  nlohmann::ordered_json out;
  out["ils_space"] = "cosine of " + rec.vectors_channel() + " item vectors";
  out["sweep"] = nlohmann::ordered_json::array();
  for (double lambda : lambdas) {
    ServedEvalOptions so = base;
    so.diversity = lambda;
    nlohmann::ordered_json j = {{"lambda", lambda}};
    const ServedEval e = evaluate_served(rec, heldout, so);
    spdlog::info("{}: lambda {:.2f}: recall@{} {:.4f} ils@{} {:.4f}", who, lambda, so.k,
                 mean(e.recall), so.k, e.ils);
    j.update(e.to_json(so.k));
    out["sweep"].push_back(std::move(j));
  }
  return out;
}

nlohmann::ordered_json cuts_sweep(const Recommender& rec, const Interactions& heldout,
                                  std::span<const size_t> pool_depths,
                                  std::span<const size_t> pre_keeps,
                                  std::span<const size_t> fine_keeps, const ServedEvalOptions& base,
                                  int rounds) {
  const size_t fused = rec.bundle().fusion().pool_size;
  for (size_t d : pool_depths)
    CASCADE_CHECK(
        d >= 1 && d <= fused,
        fmt::format("--pools: depth {} is outside [1, {}] (the bundle's fused pool)", d, fused));
  CASCADE_CHECK(rounds >= 1, fmt::format("--rounds: {} must be at least 1", rounds));
  std::vector<ServedEvalOptions> cuts;
  for (size_t d : pool_depths)
    for (size_t pre : pre_keeps)
      for (size_t fine : fine_keeps) {
        if (!(d >= pre && pre >= fine && fine >= base.k)) continue;
        ServedEvalOptions so = base;
        so.pool_depth = d;
        so.pre_keep = pre;
        so.fine_keep = fine;
        cuts.push_back(so);
      }
  CASCADE_CHECK(!cuts.empty(),
                fmt::format("no cut with pool >= pre-keep >= fine-keep >= k = {}", base.k));
  // Rounds run over every cut in turn, so a slow spell of the machine touches all cuts alike;
  // each latency figure is the median over the rounds. The lists do not change between rounds.
  std::vector<double> recall(cuts.size()), ndcg(cuts.size());
  std::vector<std::vector<double>> ms_mean(cuts.size()), ms_p50(cuts.size()), ms_p99(cuts.size());
  for (int r = 0; r < rounds; ++r) {
    for (size_t c = 0; c < cuts.size(); ++c) {
      const ServedEval e = evaluate_served(rec, heldout, cuts[c]);
      if (r == 0) recall[c] = mean(e.recall), ndcg[c] = mean(e.ndcg);
      CASCADE_CHECK(mean(e.recall) == recall[c],
                    "cuts_sweep: a cut's lists changed between rounds");
      ms_mean[c].push_back(mean(e.total_ms));
      ms_p50[c].push_back(percentile(e.total_ms, 0.5));
      ms_p99[c].push_back(percentile(e.total_ms, 0.99));
    }
    spdlog::info("cuts: round {}/{} of {} cuts done", r + 1, rounds, cuts.size());
  }
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  const std::string at = fmt::format("@{}", base.k);
  for (size_t c = 0; c < cuts.size(); ++c) {
    nlohmann::ordered_json j = {{"pool_depth", cuts[c].pool_depth},
                                {"pre_keep", cuts[c].pre_keep},
                                {"fine_keep", cuts[c].fine_keep}};
    j["recall" + at] = recall[c];
    j["ndcg" + at] = ndcg[c];
    j["ms_mean"] = percentile(ms_mean[c], 0.5);
    j["ms_p50"] = percentile(ms_p50[c], 0.5);
    j["ms_p99"] = percentile(ms_p99[c], 0.5);
    out.push_back(std::move(j));
  }
  for (size_t i = 0; i < cuts.size(); ++i) {
    bool beaten = false;
    for (size_t j = 0; j < cuts.size() && !beaten; ++j)
      beaten = j != i && recall[j] >= recall[i] &&
               out[j]["ms_mean"].get<double>() < out[i]["ms_mean"].get<double>();
    out[i]["frontier"] = !beaten;
  }
  return out;
}

}  // namespace cascade
