#include "cascade/pipeline/funnel_bench.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <optional>
#include <random>

#include "cascade/core/error.h"
#include "cascade/eval/compare.h"
#include "cascade/eval/metrics.h"
#include "cascade/io/artifact.h"
#include "cascade/pipeline/bench_breakdown.h"
#include "cascade/pipeline/funnel_eval.h"
#include "cascade/pipeline/funnel_spec.h"
#include "cascade/pipeline/funnel_train.h"
#include "cascade/pipeline/rank_stage.h"
#include "cascade/pipeline/request_time.h"
#include "cascade/pipeline/rerank_stage.h"
#include "cascade/rank/blend.h"
#include "cascade/util/percentile.h"
#include "cascade/util/stopwatch.h"
#include "cascade/util/strings.h"

namespace cascade {
namespace {

using Json = nlohmann::ordered_json;

double mean(const std::vector<double>& v) {
  return v.empty() ? 0.0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

Json paired(const std::vector<double>& base, const std::vector<double>& other) {
  const BootstrapResult b = paired_bootstrap(base, other, 1000, 42, 0.95);
  return Json{
      {"diff", b.diff}, {"ci_low", b.ci_low}, {"ci_high", b.ci_high}, {"p_value", b.p_value}};
}

// Per-user metrics (src/eval) of one list per user against the held-out item.
struct PerUser {
  std::vector<double> r10, n10, r50;
  void add(std::span<const ItemId> list, ItemId target) {
    const ItemId rel[1] = {target};
    r10.push_back(recall_at(list, rel, 10));
    n10.push_back(ndcg_at(list, rel, 10));
    r50.push_back(recall_at(list, rel, 50));
  }
  Json summary(bool with_r50) const {
    Json j = {{"recall@10", mean(r10)}, {"ndcg@10", mean(n10)}};
    if (with_r50) j["recall@50"] = mean(r50);
    return j;
  }
  Json versus(const PerUser& base) const {
    return Json{{"recall@10", paired(base.r10, r10)}, {"ndcg@10", paired(base.n10, n10)}};
  }
};

// Each recall channel alone for `users`: its own list (best first, the request's history masked,
// as collected for the pool) against the held-out item, heldout.row(u)[0]. A funnel must not be
// worse than its best recall channel used alone (issue 16).
std::vector<PerUser> channels_alone(const PoolCandidates& pc, const Interactions& heldout,
                                    const std::vector<UserId>& users) {
  std::vector<PerUser> out(pc.channels.size());
  std::vector<ItemId> list;
  for (const UserId u : users) {
    const ItemId target = heldout.row(u)[0];
    for (size_t c = 0; c < pc.channels.size(); ++c) {
      list.clear();
      if (u < pc.per_user.size() && c < pc.per_user[u].size())
        for (const ScoredItem& s : pc.per_user[u][c].items) list.push_back(s.item);
      out[c].add(list, target);
    }
  }
  return out;
}

// A candidate ranker: a configured one, a configured one with overrides (a GBDT objective), or an
// ablation variant (never a candidate for the funnel).
struct Candidate {
  RankerSpec spec;  // name = the display name
  SpecPart part;    // how a funnel spec names it: the configured name + overrides
  bool ablation = false;
};

// One funnel over precomputed scores.
struct Choice {
  size_t pre = 0, fine = 0;  // indices into the scored rankers
  size_t depth = 200, pre_keep = 100, fine_keep = 20, quota = 500;
  double lambda = -1;  // < 0: the ranking stage's order, no re-rank
};

// The held-out pools of one quota and every scored ranker's scores over them.
struct Scored {
  std::vector<std::vector<FusedCandidate>> pools;
  HeldoutScores hs;
};

// Lists and metrics of funnels over Scored, with the served re-rank stage.
class ListMaker {
 public:
  // `history`: the requests' histories (their watched items are kept out of the re-ranked list).
  ListMaker(const Interactions& history, const Interactions& heldout, const Reranker& side,
            const RerankMethod& method)
      : history_(history), heldout_(heldout), side_(side), method_(method) {}

  ItemId target(const Scored& s, size_t i) const { return heldout_.row(s.hs.users[i])[0]; }

  // The final k items of user i: funnel order over the pool's first `depth` rows, then re-rank.
  std::vector<ItemId> funnel(const Scored& s, size_t i, const Choice& c, size_t k) const {
    const UserId u = s.hs.users[i];
    const auto& pool = s.pools[u];
    const size_t n = std::min(c.depth, pool.size());
    const std::span<const float> pre(s.hs.scores[c.pre][i].data(), n),
        fine(s.hs.scores[c.fine][i].data(), n);
    const auto rows = funnel_order(pre, std::max(c.pre_keep, k), fine, std::max(c.fine_keep, k));
    std::vector<ItemId> items;
    if (c.lambda < 0) {
      for (size_t r = 0; r < std::min(k, rows.size()); ++r) items.push_back(pool[rows[r]].item);
      return items;
    }
    std::vector<ItemId> cand;
    std::vector<float> scores;
    for (uint32_t r : rows) cand.push_back(pool[r].item), scores.push_back(fine[r]);
    const auto row = history_.row(u);
    std::vector<ItemId> watched(row.begin(), row.end());
    std::sort(watched.begin(), watched.end());
    watched.erase(std::unique(watched.begin(), watched.end()), watched.end());
    for (const auto& p : method_.rerank(side_, cand, scores, watched, k, c.lambda))
      items.push_back(p.item);
    return items;
  }

  PerUser funnel_metrics(const Scored& s, const Choice& c) const {
    PerUser m;
    for (size_t i = 0; i < s.hs.users.size(); ++i) m.add(funnel(s, i, c, 10), target(s, i));
    return m;
  }

  // One ranker alone over the first `depth` rows, or (ranker < 0) the fused order.
  PerUser order_metrics(const Scored& s, int ranker, size_t depth) const {
    PerUser m;
    for (size_t i = 0; i < s.hs.users.size(); ++i) {
      const auto& pool = s.pools[s.hs.users[i]];
      const size_t n = std::min(depth, pool.size());
      std::vector<uint32_t> rows(n);
      std::iota(rows.begin(), rows.end(), 0u);
      if (ranker >= 0)
        rows = best_rows(
            std::span<const float>(s.hs.scores[static_cast<size_t>(ranker)][i].data(), n), n);
      std::vector<ItemId> items;
      for (size_t r = 0; r < std::min<size_t>(50, rows.size()); ++r)
        items.push_back(pool[rows[r]].item);
      m.add(items, target(s, i));
    }
    return m;
  }

  // Share of users whose held-out item survives each stage of `c`.
  Json retention(const Scored& s, const Choice& c) const {
    double in_pool = 0, in_pre = 0, in_fine = 0, in_top = 0;
    for (size_t i = 0; i < s.hs.users.size(); ++i) {
      const auto& pool = s.pools[s.hs.users[i]];
      const size_t n = std::min(c.depth, pool.size());
      const ItemId t = target(s, i);
      int64_t row = -1;
      for (size_t r = 0; r < n; ++r)
        if (pool[r].item == t) row = static_cast<int64_t>(r);
      if (row < 0) continue;
      in_pool += 1;
      const auto kept =
          best_rows(std::span<const float>(s.hs.scores[c.pre][i].data(), n), c.pre_keep);
      if (std::find(kept.begin(), kept.end(), static_cast<uint32_t>(row)) == kept.end()) continue;
      in_pre += 1;
      const std::span<const float> pre(s.hs.scores[c.pre][i].data(), n),
          fine(s.hs.scores[c.fine][i].data(), n);
      const auto rows = funnel_order(pre, c.pre_keep, fine, c.fine_keep);
      if (std::find(rows.begin(), rows.end(), static_cast<uint32_t>(row)) == rows.end()) continue;
      in_fine += 1;
      const auto top = funnel(s, i, c, 10);
      if (std::find(top.begin(), top.end(), t) != top.end()) in_top += 1;
    }
    const double users = static_cast<double>(s.hs.users.size());
    return Json{{"pool", in_pool / users},
                {"pre_rank", in_pre / users},
                {"fine_rank", in_fine / users},
                {"top10", in_top / users}};
  }

 private:
  const Interactions& history_;
  const Interactions& heldout_;
  const Reranker& side_;
  const RerankMethod& method_;
};

// The funnel's two rankers re-trained on another feature pipeline or request-time policy
// (time features off; the event-time ablation). Scores: [0] = pre-ranker, [1] = fine-ranker.
struct Pair {
  std::vector<std::unique_ptr<Ranker>> models;  // one when pre and fine are the same ranker
  const Ranker& pre() const { return *models[0]; }
  const Ranker& fine() const { return *models.back(); }
  std::vector<const Ranker*> ptrs() const { return {&pre(), &fine()}; }
};

// The mean of `v` over the users `in` marks (null = every user).
double masked_mean(const std::vector<double>& v, const std::vector<uint8_t>* in) {
  if (!in) return mean(v);
  double sum = 0, n = 0;
  for (size_t i = 0; i < v.size(); ++i)
    if ((*in)[i]) sum += v[i], n += 1;
  return n ? sum / n : 0.0;
}

// How validation compares two funnels: the primary metric (Recall@10, or NDCG@10) over the
// counted users, then the other one; on a full tie the earlier (configured) result is kept.
struct Criterion {
  bool ndcg = false;
  const std::vector<uint8_t>* users = nullptr;  // per validation user: counted (null = all)

  const std::vector<double>& primary_values(const PerUser& m) const { return ndcg ? m.n10 : m.r10; }
  double primary(const PerUser& m) const { return masked_mean(primary_values(m), users); }
  double secondary(const PerUser& m) const { return masked_mean(ndcg ? m.r10 : m.n10, users); }
  bool better(const PerUser& a, const PerUser& b) const {
    const double pa = primary(a), pb = primary(b);
    if (pa != pb) return pa > pb;
    return secondary(a) > secondary(b);
  }
  // The cuts: at an equal primary metric the cheaper cut (fewer pool rows scored, then fewer
  // kept for the fine ranker) wins, so a difference of a user or two in the other metric does
  // not buy a funnel that costs half as much again to serve.
  bool better_cut(const PerUser& a, const Choice& ca, const PerUser& b, const Choice& cb) const {
    const double pa = primary(a), pb = primary(b);
    if (pa != pb) return pa > pb;
    if (ca.depth != cb.depth) return ca.depth < cb.depth;
    if (ca.pre_keep != cb.pre_keep) return ca.pre_keep < cb.pre_keep;
    return secondary(a) > secondary(b);
  }
};

std::string objective_tag(const std::string& objective) {
  std::string t = objective;
  std::replace(t.begin(), t.end(), ':', '_');
  return t;
}

// Blend `s` without its member k, as a funnel spec names it: blend(members=lr+gbdt+deepfm), with
// the member's weight dropped too when weights are configured.
Candidate blend_without(const RankerSpec& s, size_t k) {
  std::vector<std::string> names;
  for (const auto& m : s.members) names.push_back(m.name);
  const std::string dropped = names[k];
  names.erase(names.begin() + static_cast<std::ptrdiff_t>(k));
  SpecPart part{s.name, {{"members", fmt::format("{}", fmt::join(names, "+"))}}};
  if (s.params.has("weights")) {
    auto w = split(s.params.raw().at("weights"), '/');
    CASCADE_CHECK(w.size() == s.members.size(), fmt::format("ranker {}: {} weights for {} members",
                                                            s.name, w.size(), s.members.size()));
    w.erase(w.begin() + static_cast<std::ptrdiff_t>(k));
    part.params["weights"] = fmt::format("{}", fmt::join(w, "/"));
  }
  Candidate c{s, part, false};
  c.spec.name = s.name + "_no_" + dropped;
  for (const auto& [key, value] : part.params) c.spec.params.set(key, value);
  c.spec.members.erase(c.spec.members.begin() + static_cast<std::ptrdiff_t>(k));
  return c;
}

// User u's request as serving makes it: `history`'s row, at the serving time for log `clock`.
RankRequest serving_request(const Interactions& history, int64_t clock, UserId u) {
  return RankRequest{u, history.row(u), history.row_times(u),
                     serving_time(clock, history.row_times(u))};
}

// A funnel's ranking-stage cost per request, estimated from timed validation requests: the
// pool's features and the pre-ranker over the pool's rows, the fine ranker over the kept rows,
// each a cost per call plus a cost per row (a network's or a forest's call has a fixed part that
// a per-row figure from deep pools would miss for the fine ranker's few rows).
constexpr size_t kCostSample = 300;    // validation requests timed for the cost model
constexpr size_t kCostSmallRows = 50;  // the second batch size timed (the first is the pool's)

struct LinearCost {
  double per_call_ms = 0, per_row_ms = 0;
  double at(size_t rows) const { return per_call_ms + per_row_ms * static_cast<double>(rows); }
  Json json() const { return Json{{"per_call_ms", per_call_ms}, {"per_row_ms", per_row_ms}}; }
};

struct CostModel {
  LinearCost features;
  std::vector<LinearCost> rankers;  // per candidate ranker
  double ms(const Choice& c) const {
    return features.at(c.depth) + rankers[c.pre].at(c.depth) + rankers[c.fine].at(c.pre_keep);
  }
};

// Milliseconds summed over `calls` calls of `rows_small` and of `rows_full` rows -> a line
// through both (the per-call part kept at 0 or above).
LinearCost fit_cost(double ms_small, double ms_full, double rows_small, double rows_full,
                    double calls) {
  LinearCost c;
  if (rows_full > rows_small)
    c.per_row_ms = std::max(0.0, (ms_full - ms_small) / (rows_full - rows_small));
  c.per_call_ms = std::max(0.0, (ms_small - c.per_row_ms * rows_small) / calls);
  if (c.per_call_ms == 0) c.per_row_ms = ms_full / rows_full;
  return c;
}

// Times, on this thread, the features and every ranker over the first `depth` rows and the first
// kCostSmallRows rows of the pools of the first `sample` users of `s`, one request at a time as
// serving runs them, each ranker after the others so that none competes with another for cores.
CostModel cost_model(const FeatureBuilder& fb, const Scored& s, const Interactions& history,
                     const std::vector<const Ranker*>& rankers, size_t depth, size_t sample) {
  const int64_t clock = log_clock(history);
  std::vector<RankBatch> full, small;
  double rows_full = 0, rows_small = 0, feat_full = 0, feat_small = 0;
  // The features of the pool's first `rows` rows, timed as run_rank_stage times them (the empty
  // batch included).
  auto features = [&](const RankRequest& req, const std::vector<FusedCandidate>& pool, size_t rows,
                      std::vector<RankBatch>& batches, double& row_sum, double& ms_sum) {
    Stopwatch sw;
    RankBatch b = fb.empty_batch();
    fb.add_pool(req, std::span(pool.data(), std::min(rows, pool.size())), b);
    ms_sum += sw.lap_ms();
    row_sum += static_cast<double>(b.rows());
    batches.push_back(std::move(b));
  };
  for (const UserId u : s.hs.users) {
    if (full.size() == sample) break;
    const auto& pool = s.pools[u];
    if (pool.empty()) continue;
    const RankRequest req = serving_request(history, clock, u);
    features(req, pool, kCostSmallRows, small, rows_small, feat_small);
    features(req, pool, depth, full, rows_full, feat_full);
  }
  CASCADE_CHECK(rows_full > 0, "bench funnel: no validation pool rows to estimate serving cost on");
  const auto calls = static_cast<double>(full.size());
  CostModel m;
  m.features = fit_cost(feat_small, feat_full, rows_small, rows_full, calls);
  std::vector<float> out;
  auto time_all = [&](const Ranker& r, const std::vector<RankBatch>& batches) {
    Stopwatch sw;
    for (const auto& b : batches) {
      out.resize(b.rows());
      r.score(b, out);
    }
    return sw.lap_ms();
  };
  for (const Ranker* r : rankers) {
    const double ms_small = time_all(*r, small);
    m.rankers.push_back(fit_cost(ms_small, time_all(*r, full), rows_small, rows_full, calls));
  }
  return m;
}

// A cost model recorded by an earlier run (--cost-model): its whole JSON or its
// selection.cost_model object. Every candidate must have a cost (by name).
CostModel load_cost_model(const std::filesystem::path& path,
                          const std::vector<std::string>& names) {
  Json j;
  try {
    j = Json::parse(read_file(path));
  } catch (const Json::parse_error& e) {
    throw Error(
        fmt::format("bench funnel: --cost-model {}: not JSON ({})", path.string(), e.what()));
  }
  if (j.contains("selection")) j = j["selection"].value("cost_model", Json());
  CASCADE_CHECK(j.is_object() && j.contains("features") && j.contains("rankers"),
                fmt::format("bench funnel: --cost-model {}: no cost model (expected a bench funnel "
                            "JSON with selection.cost_model, or that object: features, rankers)",
                            path.string()));
  auto linear = [&](const Json& c, const std::string& what) {
    CASCADE_CHECK(c.is_object() && c.contains("per_call_ms") && c.contains("per_row_ms") &&
                      c["per_call_ms"].is_number() && c["per_row_ms"].is_number(),
                  fmt::format("bench funnel: --cost-model {}: {} needs numbers per_call_ms and "
                              "per_row_ms",
                              path.string(), what));
    return LinearCost{c["per_call_ms"].get<double>(), c["per_row_ms"].get<double>()};
  };
  CostModel m;
  m.features = linear(j["features"], "features");
  for (const auto& n : names) {
    if (!j["rankers"].contains(n)) {
      std::vector<std::string> have;
      for (const auto& [k, v] : j["rankers"].items()) have.push_back(k);
      throw Error(
          fmt::format("bench funnel: --cost-model {} has no cost for candidate ranker '{}' "
                      "(it has: {})",
                      path.string(), n, fmt::join(have, ", ")));
    }
    m.rankers.push_back(linear(j["rankers"][n], "rankers." + n));
  }
  return m;
}

// The paired t-test of `other` against `best` (diff = best - other) over the users `in` marks
// (null = every user).
TTestResult paired_over(const std::vector<double>& other, const std::vector<double>& best,
                        const std::vector<uint8_t>* in) {
  if (!in) return paired_t_test(other, best);
  std::vector<double> a, b;
  for (size_t i = 0; i < other.size(); ++i)
    if ((*in)[i]) a.push_back(other[i]), b.push_back(best[i]);
  return paired_t_test(a, b);
}

// The cuts the selection tries, in its order (quota, then pool depth, then pre-rank keep): every
// combination whose keep fits in the pool and holds the fine ranker's keep.
std::vector<Choice> cut_grid(const std::vector<size_t>& quotas, const std::vector<size_t>& depths,
                             const std::vector<size_t>& pre_keeps, size_t fine_keep) {
  std::vector<Choice> cuts;
  for (size_t q : quotas)
    for (size_t d : depths)
      for (size_t k : pre_keeps) {
        if (k > d || k < fine_keep) continue;
        Choice c;
        c.quota = q, c.depth = d, c.pre_keep = k;
        cuts.push_back(c);
      }
  return cuts;
}

// `c` with the cut of `cut` (quota, pool depth, pre-rank keep).
Choice at_cut(Choice c, const Choice& cut) {
  c.quota = cut.quota, c.depth = cut.depth, c.pre_keep = cut.pre_keep;
  return c;
}

// The cheapest funnel of the grid under `m` (for the error when none fits a budget).
double cheapest_ms(const CostModel& m, const std::vector<Choice>& cuts) {
  double best = std::numeric_limits<double>::infinity();
  for (size_t a = 0; a < m.rankers.size(); ++a)
    for (size_t b = 0; b < m.rankers.size(); ++b)
      for (Choice c : cuts) {
        c.pre = a, c.fine = b;
        best = std::min(best, m.ms(c));
      }
  return best;
}

// Candidates: the configured rankers (or a subset), GBDT objective variants, each blend of three
// or more members without each of them, then ablations.
std::vector<Candidate> candidates_of(const RankConfig& rc, const FunnelBenchOptions& opt) {
  std::vector<RankerSpec> base;
  if (opt.rankers.empty()) {
    base = rc.rankers;
  } else {
    for (const auto& n : opt.rankers) base.push_back(rc.ranker(n));
  }
  std::vector<Candidate> out;
  for (const auto& s : base) out.push_back({s, SpecPart{s.name, {}}, false});
  for (const auto& s : base) {
    if (s.kind != "gbdt") continue;
    const std::string own =
        s.params.raw().count("objective") ? s.params.raw().at("objective") : "binary:logistic";
    for (const auto& obj : opt.gbdt_objectives) {
      if (obj == own) continue;
      Candidate c{s, SpecPart{s.name, {{"objective", obj}}}, false};
      c.spec.name = s.name + "_" + objective_tag(obj);
      c.spec.params.set("objective", obj);
      out.push_back(c);
    }
  }
  if (opt.blend_drop_one)
    for (const auto& s : base)
      if (s.kind == "blend" && s.members.size() >= 3)
        for (size_t k = 0; k < s.members.size(); ++k) out.push_back(blend_without(s, k));
  for (const auto& s : base) {
    if (opt.sum_ablation && s.kind == "din" && !s.params.has("pooling")) {
      Candidate c{s, SpecPart{s.name, {{"pooling", "sum"}}}, true};
      c.spec.name = s.name + "_sum";
      c.spec.params.set("pooling", "sum");
      out.push_back(c);
    }
    if (std::find(opt.random_ablation.begin(), opt.random_ablation.end(), s.name) !=
        opt.random_ablation.end()) {
      Candidate c{s, SpecPart{s.name, {}}, true};
      c.spec.name = s.name + "_random";
      c.spec.examples.random_negatives = s.examples.hard_negatives + s.examples.random_negatives;
      c.spec.examples.hard_negatives = 0;
      c.spec.own_examples = true;
      out.push_back(c);
    }
  }
  return out;
}

// Fits candidate `spec`. A blend whose members are all among the candidates fitted so far
// (same spec, same examples) is assembled from those models instead of fitting them again:
// fits are deterministic, so the blend is the one fit_ranker would give, at no extra cost.
// `seconds` gets what the fit took, or for an assembled blend its members' fit seconds.
std::shared_ptr<Ranker> fit_candidate(const RankerSpec& spec, const std::vector<Candidate>& cands,
                                      const std::vector<std::shared_ptr<Ranker>>& fitted,
                                      const std::vector<double>& fit_secs, TrainingSets& sets,
                                      int threads, uint64_t seed, const std::string& dataset_hash,
                                      double& seconds) {
  Stopwatch sw;
  if (spec.kind == "blend") {
    const std::string examples = TrainingSets::key_of(spec.examples);
    std::vector<std::shared_ptr<Ranker>> members;
    std::vector<std::string> names;
    double member_seconds = 0;
    for (const auto& m : spec.members) {
      for (size_t k = 0; k < fitted.size(); ++k) {
        if (cands[k].spec.spec() == m.spec() &&
            TrainingSets::key_of(cands[k].spec.examples) == examples) {
          members.push_back(fitted[k]);
          names.push_back(cands[k].spec.name);
          member_seconds += fit_secs[k];
          break;
        }
      }
    }
    if (members.size() == spec.members.size()) {
      const auto& [tr, va] = sets.get(spec.examples);
      RankFitOptions fo;
      fo.valid = va.batch.rows() ? &va : nullptr;
      fo.dataset_hash = dataset_hash;
      auto blend = make_ranker(spec.spec());
      dynamic_cast<BlendRanker&>(*blend).adopt_fitted(std::move(members), tr, fo);
      spdlog::info("ranker {}: a blend of the fitted {}", spec.name, fmt::join(names, ", "));
      seconds = member_seconds;
      return blend;
    }
  }
  auto model = fit_ranker_on(spec, sets, threads, seed, dataset_hash);
  seconds = sw.seconds();
  return model;
}

size_t index_of(const std::vector<Candidate>& cands, const std::string& name) {
  for (size_t k = 0; k < cands.size(); ++k)
    if (cands[k].spec.name == name) return k;
  throw Error(fmt::format("bench funnel: ranker '{}' is not among the candidates", name));
}

// The ranking stage of test requests timed one at a time on one thread, as serving runs it.
Json stage_latency(const FeatureBuilder& fb, const Scored& s, const Interactions& history,
                   const Ranker& pre, const Ranker& fine, const Choice& c) {
  std::vector<double> feat, pre_ms, fine_ms, total;
  const int64_t clock = log_clock(history);
  for (const UserId u : s.hs.users) {
    const auto& pool = s.pools[u];
    if (pool.empty()) continue;
    const RankRequest req = serving_request(history, clock, u);
    const auto r = run_rank_stage(fb, req, std::span(pool.data(), std::min(c.depth, pool.size())),
                                  pre, fine, RankCuts{c.pre_keep, c.fine_keep});
    feat.push_back(r.features_ms);
    pre_ms.push_back(r.pre_rank_ms);
    fine_ms.push_back(r.fine_rank_ms);
    total.push_back(r.features_ms + r.pre_rank_ms + r.fine_rank_ms);
  }
  auto stats = [](const std::vector<double>& v) {
    return Json{{"p50", percentile(v, 0.5)}, {"p99", percentile(v, 0.99)}};
  };
  return Json{
      {"requests", total.size()},     {"features_ms", stats(feat)},
      {"pre_rank_ms", stats(pre_ms)}, {"fine_rank_ms", stats(fine_ms)},
      {"total_ms", stats(total)},     {"note", "one thread, one request at a time, test users"}};
}

}  // namespace

Json run_funnel_bench(const YAML::Node& cfg_in, const Dataset& ds, const FunnelBenchOptions& opt) {
  CASCADE_CHECK(opt.select_metric == "recall@10" || opt.select_metric == "ndcg@10",
                fmt::format("bench funnel: select metric '{}': expected recall@10 or ndcg@10",
                            opt.select_metric));
  CASCADE_CHECK(opt.split_half_rounds >= 0, "bench funnel: split-half rounds must be >= 0");
  CASCADE_CHECK(
      opt.select_rule == "best" || opt.select_rule == "one-se",
      fmt::format("bench funnel: select rule '{}': expected best or one-se", opt.select_rule));
  CASCADE_CHECK(opt.cost_model.empty() || opt.rank_budget_ms > 0 || opt.select_rule == "one-se",
                "bench funnel: --cost-model is read only with --rank-budget-ms or --select-rule "
                "one-se");
  YAML::Node cfg = YAML::Clone(cfg_in);
  const FunnelSpec configured = resolve_funnel(cfg);
  const uint64_t seed = cfg["seed"] ? cfg["seed"].as<uint64_t>() : 42;
  const int threads = opt.threads;
  Stopwatch total;
  Json out;
  out["dataset"] = ds.name;
  out["protocol"] = protocol_name(ds.options.protocol);
  out["configured_funnel"] = configured.str();

  // Recall side, rankers.
  std::vector<size_t> quotas = opt.select_on_valid ? opt.quotas : std::vector<size_t>{};
  std::vector<size_t> depths = opt.select_on_valid ? opt.pool_depths : std::vector<size_t>{};
  FunnelTrainOptions to;
  to.threads = threads;
  to.channel_cache = opt.channel_cache;
  to.heldout_quota = quotas.empty() ? 0 : *std::max_element(quotas.begin(), quotas.end());
  to.test_sees_valid = opt.test_sees_valid;
  const FunnelInputs in = prepare_funnel_inputs(cfg, ds, to);
  out["test_history"] =
      opt.test_sees_valid ? "training rows + the validation item" : "training rows";
  const RankConfig& rc = in.rank;
  out["channel_folds"] = rc.channel_folds;
  out["channels_fit"] = in.channels_fit();
  // The experiment's request time: serving's unless the config trains under the event policy, in
  // which case evaluation follows it too (the pre-serving-policy protocol, kept to compare).
  const TimePolicy policy = rc.examples.request_time;
  out["request_time"] = time_policy_name(policy);
  if (policy != TimePolicy::kServing)
    spdlog::warn(
        "rank.request_time = {}: these figures are not those of the served funnel (serving uses "
        "{})",
        time_policy_name(policy), time_policy_name(TimePolicy::kServing));
  for (size_t c = 0; c < in.names.size(); ++c) {
    out["channels"][in.names[c]]["fit_seconds"] = in.fitted[c].fit_seconds;
    out["fusion_weights"][in.names[c]] = in.fusion.weights.empty() ? 1.0 : in.fusion.weights[c];
  }
  out["features"] = {{"dense", in.features->schema().dense},
                     {"fields", in.features->schema().n_fields()}};

  const std::vector<Candidate> cands = candidates_of(rc, opt);
  TrainingSets sets(in.training_features(), ds, in.train_pools, rc.valid_share, threads, seed);
  std::vector<std::shared_ptr<Ranker>> models;
  std::vector<const Ranker*> ptrs, candidate_ptrs;
  std::vector<double> fit_secs;
  for (const auto& c : cands) {
    double seconds = 0;
    models.push_back(fit_candidate(c.spec, cands, models, fit_secs, sets, threads, seed,
                                   ds.content_hash, seconds));
    fit_secs.push_back(seconds);
    ptrs.push_back(models.back().get());
  }
  size_t n_candidates = 0;
  while (n_candidates < cands.size() && !cands[n_candidates].ablation) ++n_candidates;
  candidate_ptrs.assign(ptrs.begin(), ptrs.begin() + static_cast<std::ptrdiff_t>(n_candidates));
  for (const auto& [key, st] : sets.stats()) out["examples"][key] = st;

  // Held-out pools per quota at the deepest depth tried, scored by every candidate.
  const size_t cfg_quota = in.fusion_config.quota;
  if (std::find(quotas.begin(), quotas.end(), cfg_quota) == quotas.end())
    quotas.insert(quotas.begin(), cfg_quota);
  if (std::find(depths.begin(), depths.end(), rc.pool_depth) == depths.end())
    depths.insert(depths.begin(), rc.pool_depth);
  const size_t max_depth = *std::max_element(depths.begin(), depths.end());
  // The fusion of each quota has its own weights, tuned at that quota as a bundle built for it
  // would tune them (fusion_at_quota).
  std::map<size_t, FusionOptions> fusion_of;
  // Validation requests' history is the training rows; test requests' is in.test_history(ds)
  // (the training rows, or with the validation item appended: --test-sees-valid).
  const Interactions& test_history = in.test_history(ds);
  auto history_of = [&](const Interactions& split) -> const Interactions& {
    return &split == &in.test ? test_history : ds.train;
  };
  auto pools_for = [&](size_t quota, const Interactions& split) {
    if (!fusion_of.count(quota))
      fusion_of[quota] = quota == cfg_quota ? in.fusion : fusion_at_quota(in, ds, quota, threads);
    const bool test_split = &split == &in.test;
    return fused_pools(test_split ? in.test_candidates() : in.heldout, history_of(split),
                       fusion_of[quota], max_depth, threads);
  };
  auto score = [&](const std::vector<std::vector<FusedCandidate>>& pools, const Interactions& split,
                   const std::vector<const Ranker*>& rankers, const FeatureBuilder& fb,
                   TimePolicy policy) {
    return score_heldout(fb, pools, history_of(split), split, rankers, threads, policy);
  };

  // The chosen pair fitted on training features `fb` under `time` (score_pair: scored on
  // `split`'s pools of `from` with the served pipeline of the same configuration).
  auto fit_pair = [&](const UserFeatures& fb, TimePolicy time, size_t pre, size_t fine) {
    TrainingSets psets(fb, ds, in.train_pools, rc.valid_share, threads, seed);
    Pair p;
    for (size_t k : {pre, fine}) {
      if (k == fine && fine == pre && !p.models.empty()) break;
      RankerSpec spec = cands[k].spec;
      spec.examples.request_time = time;
      p.models.push_back(fit_ranker_on(spec, psets, threads, seed, ds.content_hash));
    }
    return p;
  };
  auto score_pair = [&](const Pair& p, const FeatureBuilder& fb, const Scored& from,
                        const Interactions& split, TimePolicy time) {
    Scored sc;
    sc.pools = from.pools;
    sc.hs = score(sc.pools, split, p.ptrs(), fb, time);
    return sc;
  };
  auto on_pair = [](Choice c) {  // the same funnel over a Pair's scores
    c.pre = 0, c.fine = 1;
    return c;
  };
  FeatureConfig no_time_config = rc.features;
  no_time_config.time = false;
  const FunnelFeatures no_time_features = funnel_features(in, ds.catalog, no_time_config);
  const FeatureBuilder& fb_no_time = *no_time_features.served;
  std::optional<Pair> no_time;  // set when time features off wins on validation

  const RerankConfig rr = RerankConfig::from_yaml(cfg["rerank"]);
  const auto method = rr.make_method();
  const auto side = make_rerank_side(rr, in.channels, in.names, in.fit_matrix, ds.catalog);
  const ListMaker valid_lists(ds.train, in.valid, *side, *method),
      test_lists(test_history, in.test, *side, *method);

  Choice chosen;
  chosen.pre = index_of(cands, rc.pre_rank);
  chosen.fine = index_of(cands, rc.fine_rank);
  chosen.depth = rc.pool_depth;
  chosen.pre_keep = rc.pre_keep;
  chosen.fine_keep = rc.fine_keep;
  chosen.quota = cfg_quota;
  chosen.lambda = method->options().diversity;
  const Choice config_choice = chosen;
  Json& sel = out["selection"];
  sel["on"] = opt.select_on_valid ? "valid" : "none (the configured funnel)";
  if (opt.select_on_valid) {
    Stopwatch sw;
    std::map<size_t, Scored> valid;
    for (size_t q : quotas) {
      valid[q].pools = pools_for(q, in.valid);
      valid[q].hs = score(valid[q].pools, in.valid, candidate_ptrs, *in.features, policy);
    }
    const std::vector<UserId>& valid_users = valid[cfg_quota].hs.users;
    for (const auto& [q, v] : valid)
      CASCADE_CHECK(v.hs.users == valid_users,
                    "bench funnel: the validation pools of two quotas cover different users");
    // Each candidate alone over the configured pool, on validation: what a choice between rankers
    // may read (out["rankers"] holds the same on the test split, read once at the end).
    for (size_t k = 0; k < n_candidates; ++k)
      sel["rankers_alone"][cands[k].spec.name] =
          valid_lists.order_metrics(valid[cfg_quota], static_cast<int>(k), rc.pool_depth)
              .summary(true);
    // The selection under `crit` (steps 1, 2 and 4, staged or, with a budget or the one-se rule,
    // 1 and 2 joined; step 3 re-fits a pair, so it runs only
    // for the recorded selection, `log`). Returns the choice; the recorded selection also sets
    // `no_time`.
    Scored valid_no_time;
    const std::vector<Choice> cuts =
        cut_grid(quotas, depths, opt.pre_keeps, config_choice.fine_keep);
    // With a budget or the one-standard-error rule, every choice's serving cost, estimated from
    // timed validation requests (or read from --cost-model).
    const bool one_se = opt.select_rule == "one-se";
    const bool joint = opt.rank_budget_ms > 0 || one_se;
    CostModel cost;
    if (joint) {
      Json& cm = sel["cost_model"];
      if (!opt.cost_model.empty()) {
        std::vector<std::string> names;
        for (size_t k = 0; k < n_candidates; ++k) names.push_back(cands[k].spec.name);
        cost = load_cost_model(opt.cost_model, names);
        cm["from"] = opt.cost_model.string();
      } else {
        cost = cost_model(*in.features, valid[cfg_quota], ds.train, candidate_ptrs, max_depth,
                          kCostSample);
        cm["sample_users"] = std::min(kCostSample, valid_users.size());
        cm["depth"] = max_depth;
        cm["small_rows"] = kCostSmallRows;
      }
      if (opt.rank_budget_ms > 0) cm["budget_ms"] = opt.rank_budget_ms;
      cm["features"] = cost.features.json();
      for (size_t k = 0; k < n_candidates; ++k)
        cm["rankers"][cands[k].spec.name] = cost.rankers[k].json();
      cm["note"] =
          opt.cost_model.empty()
              ? "estimated ranking-stage ms per request = features(pool depth) + pre-ranker(pool "
                "depth) + fine-ranker(pre-rank keep), each per_call_ms + per_row_ms x rows, fitted "
                "to one-thread timings of the first sample_users validation requests at `depth` "
                "and at small_rows rows on this machine; the choice can differ on another machine"
              : "estimated ranking-stage ms per request = features(pool depth) + pre-ranker(pool "
                "depth) + fine-ranker(pre-rank keep), each per_call_ms + per_row_ms x rows, read "
                "from `from` (not timed in this run)";
    }
    auto select = [&](const Criterion& crit, Json* log) {
      Choice best;
      PerUser best_m;
      if (joint) {
        // 1 and 2 at once: every pair at every cut (whose estimated cost fits the budget, if
        // any), the better on validation, at an equal metric the cheaper estimate.
        // A candidate `m` at cost `ms` beats the best so far (none yet: `have` false): a higher
        // primary metric, or an equal one for less.
        auto beats = [&](const PerUser& m, double ms, bool have, const PerUser& m0, double ms0) {
          if (!have) return true;
          const double p = crit.primary(m), p0 = crit.primary(m0);
          return p > p0 || (p == p0 && ms < ms0);
        };
        // Every funnel scored, with its validation figures and estimated cost (for the
        // one-standard-error rule).
        struct Costed {
          Choice c;
          double primary, secondary, ms;
        };
        std::vector<Costed> all;
        const double budget =
            opt.rank_budget_ms > 0 ? opt.rank_budget_ms : std::numeric_limits<double>::infinity();
        bool any = false;
        double best_ms = 0;
        for (size_t a = 0; a < n_candidates; ++a) {
          for (size_t b = 0; b < n_candidates; ++b) {
            Choice pair;  // the pair's best cut within the budget
            PerUser pair_m;
            double pair_ms = 0;
            bool pair_any = false;
            for (const Choice& cut : cuts) {
              Choice c = at_cut(config_choice, cut);
              c.lambda = -1;
              c.pre = a, c.fine = b;
              const double ms = cost.ms(c);
              if (ms > budget) continue;
              const PerUser m = valid_lists.funnel_metrics(valid[c.quota], c);
              if (one_se) all.push_back({c, crit.primary(m), crit.secondary(m), ms});
              if (beats(m, ms, pair_any, pair_m, pair_ms))
                pair = c, pair_m = m, pair_ms = ms, pair_any = true;
            }
            if (!pair_any) continue;
            if (log) {  // the pair's figures, as without a budget, and the cut they come from
              Json m = pair_m.summary(false);
              m["quota"] = pair.quota, m["pool_depth"] = pair.depth, m["pre_keep"] = pair.pre_keep;
              m["estimate_ms"] = pair_ms;
              (*log)["pairs"][cands[a].spec.name + ">" + cands[b].spec.name] = std::move(m);
            }
            if (beats(pair_m, pair_ms, any, best_m, best_ms))
              best = pair, best_m = pair_m, best_ms = pair_ms, any = true;
          }
        }
        CASCADE_CHECK(any, fmt::format("bench funnel: no funnel fits --rank-budget-ms {} (the "
                                       "cheapest is estimated at {:.3f} ms)",
                                       opt.rank_budget_ms, cheapest_ms(cost, cuts)));
        if (one_se) {
          // The cheapest funnel whose paired difference from the best is within one standard
          // error (cost order; at an equal cost the higher metric). Per-user values lie in
          // [0, 1], so a difference's sample variance is at most n / (n - 1) and its standard
          // error at most 1 / sqrt(n - 1): funnels further below the best are not scored again.
          const double users =
              crit.users
                  ? static_cast<double>(std::count(crit.users->begin(), crit.users->end(), 1))
                  : static_cast<double>(valid_users.size());
          const double reach = 1.0 / std::sqrt(std::max(1.0, users - 1));
          const double best_p = crit.primary(best_m);
          std::stable_sort(all.begin(), all.end(), [](const Costed& x, const Costed& y) {
            if (x.ms != y.ms) return x.ms < y.ms;
            if (x.primary != y.primary) return x.primary > y.primary;
            return x.secondary > y.secondary;
          });
          const Choice top = best;
          const double top_ms = best_ms;
          double gap = 0, se = 0;
          for (const Costed& e : all) {
            if (best_p - e.primary > reach) continue;
            const PerUser m = valid_lists.funnel_metrics(valid[e.c.quota], e.c);
            const TTestResult t =
                paired_over(crit.primary_values(m), crit.primary_values(best_m), crit.users);
            // One user of n apart is exactly one standard error (mean 1/n, variance 1/n, so
            // se = 1/n); the tolerance keeps that case within whatever the rounding.
            if (t.diff > t.se + 1e-12) continue;
            gap = t.diff, se = t.se, best = e.c, best_m = m, best_ms = e.ms;
            break;  // `top` itself is within, so the loop always ends here
          }
          if (log) {
            Json& j = (*log)["one_se"];
            auto name = [&](const Choice& c) {
              return fmt::format("{}@{} > {}@{}, pool {}, quota {}", cands[c.pre].spec.name,
                                 c.pre_keep, cands[c.fine].spec.name, c.fine_keep, c.depth,
                                 c.quota);
            };
            j["best"] = {{"funnel", name(top)},
                         {"valid", best_p},
                         {"estimate_ms", top_ms},
                         {"funnels_scored", all.size()}};
            j["chosen"] = {{"funnel", name(best)},
                           {"valid", crit.primary(best_m)},
                           {"estimate_ms", best_ms},
                           {"below_best", gap},
                           {"standard_error", se}};
            j["note"] =
                "the cheapest funnel (estimated ms) whose validation metric is below the best's by "
                "at most one standard error of their paired per-user difference";
          }
        }
        if (log) (*log)["cost_model"]["chosen_estimate_ms"] = best_ms;
      } else {
        // 1. The ranker pair (ranking-stage order, before re-rank).
        best = config_choice;  // every selection starts from the configured funnel
        best.lambda = -1;
        best_m = valid_lists.funnel_metrics(valid[cfg_quota], best);
        for (size_t a = 0; a < n_candidates; ++a) {
          for (size_t b = 0; b < n_candidates; ++b) {
            Choice c = best;
            c.pre = a, c.fine = b;
            const PerUser m = valid_lists.funnel_metrics(valid[cfg_quota], c);
            if (log)
              (*log)["pairs"][cands[a].spec.name + ">" + cands[b].spec.name] = m.summary(false);
            if (crit.better(m, best_m)) best = c, best_m = m;
          }
        }
        // 2. Pool depth x pre-rank keep x quota.
        for (const Choice& cut : cuts) {
          const Choice c = at_cut(best, cut);
          const PerUser m = valid_lists.funnel_metrics(valid[c.quota], c);
          if (log)
            (*log)["cuts"].push_back(Json{{"quota", c.quota},
                                          {"pool_depth", c.depth},
                                          {"pre_keep", c.pre_keep},
                                          {"valid", m.summary(false)}});
          if (crit.better_cut(m, c, best_m, best)) best = c, best_m = m;
        }
      }
      // 3. Time features (days since the last event, item age) on or off: the pair re-trained
      // without them, compared on validation.
      if (log && opt.select_time_features && rc.features.time) {
        Pair p = fit_pair(no_time_features.training(), policy, best.pre, best.fine);
        valid_no_time = score_pair(p, fb_no_time, valid[best.quota], in.valid, policy);
        const PerUser m = valid_lists.funnel_metrics(valid_no_time, on_pair(best));
        (*log)["time_features"] = {{"on", best_m.summary(false)}, {"off", m.summary(false)}};
        if (crit.better(m, best_m)) no_time = std::move(p), best_m = m;
      }
      const bool off = log && no_time;
      const Scored& valid_best = off ? valid_no_time : valid[best.quota];
      // 4. The re-rank λ of the served list (ties to the larger λ: more diverse at equal
      // accuracy).
      if (rr.method != "mmr") {
        best.lambda = 0;
        return best;
      }
      std::vector<double> lambdas = opt.lambdas;
      std::sort(lambdas.rbegin(), lambdas.rend());
      PerUser best_l;
      Choice picked = best;
      bool first = true;
      for (double l : lambdas) {
        Choice c = best;
        c.lambda = l;
        const PerUser m = valid_lists.funnel_metrics(valid_best, off ? on_pair(c) : c);
        if (log) (*log)["lambda"].push_back(Json{{"lambda", l}, {"valid", m.summary(false)}});
        if (first || crit.better(m, best_l)) best_l = m, picked = c, first = false;
      }
      return picked;
    };
    sel["metric"] = opt.select_metric;
    chosen = select(Criterion{opt.select_metric == "ndcg@10", nullptr}, &sel);

    // Split-half check of the selection metric, on validation only: choose with each metric on
    // a seeded half of the validation users, score the choice on the other half, both ways
    // (without step 3). The metric whose choices hold up on users they were not chosen on is
    // the one that tracks unseen users; the test split is not read.
    if (opt.split_half_rounds > 0) {
      Json& check = sel["split_half_check"];
      check["rounds"] = opt.split_half_rounds;
      check["note"] =
          "choose on one half of the validation users, score on the other (both ways); steps 1, "
          "2 and 4 of the selection, time features as configured";
      std::mt19937_64 rng(seed);
      std::vector<size_t> order(valid_users.size());
      std::iota(order.begin(), order.end(), 0);
      std::map<std::string, std::vector<double>> r10_out, n10_out;
      for (int round = 0; round < opt.split_half_rounds; ++round) {
        std::shuffle(order.begin(), order.end(), rng);
        std::vector<uint8_t> half_a(order.size(), 0), half_b(order.size(), 0);
        for (size_t i = 0; i < order.size(); ++i) (i % 2 ? half_b : half_a)[order[i]] = 1;
        for (const auto* halves : {&half_a, &half_b}) {
          const std::vector<uint8_t>& in_half = *halves;
          const std::vector<uint8_t>& other = halves == &half_a ? half_b : half_a;
          for (const std::string metric : {"recall@10", "ndcg@10"}) {
            const Choice c = select(Criterion{metric == "ndcg@10", &in_half}, nullptr);
            const PerUser m = valid_lists.funnel_metrics(valid[c.quota], c);
            r10_out[metric].push_back(masked_mean(m.r10, &other));
            n10_out[metric].push_back(masked_mean(m.n10, &other));
          }
        }
      }
      for (const auto& [metric, r10] : r10_out) {
        check[metric] = {{"other_half_recall@10", mean(r10)},
                         {"other_half_ndcg@10", mean(n10_out[metric])},
                         {"per_half_recall@10", r10}};
      }
      // The halves of one round share users with other rounds' halves, so this is a count, not
      // an interval.
      int ndcg_higher = 0, recall_higher = 0;
      for (size_t i = 0; i < r10_out["recall@10"].size(); ++i) {
        ndcg_higher += r10_out["ndcg@10"][i] > r10_out["recall@10"][i];
        recall_higher += r10_out["recall@10"][i] > r10_out["ndcg@10"][i];
      }
      check["halves_ndcg_choice_higher"] = ndcg_higher;
      check["halves_recall_choice_higher"] = recall_higher;
    }
    // Each recall channel alone on the same validation users, beside the chosen funnel's figures
    // (sel["lambda"] or sel["cuts"]): what validation would say if it could pick a channel.
    const std::vector<PerUser> ch = channels_alone(in.heldout, in.valid, valid[cfg_quota].hs.users);
    for (size_t c = 0; c < ch.size(); ++c)
      sel["channels_alone"][in.heldout.channels[c]] = ch[c].summary(true);
    sel["seconds"] = sw.seconds();
  }
  FunnelSpec spec = configured;
  spec.pre_rank = cands[chosen.pre].part;
  spec.fine_rank = cands[chosen.fine].part;
  spec.pre_keep = chosen.pre_keep;
  spec.fine_keep = chosen.fine_keep;
  spec.fusion.params["pool"] = std::to_string(chosen.depth);
  spec.fusion.params["quota"] = std::to_string(chosen.quota);
  if (rr.method == "mmr") spec.rerank.params["diversity"] = fmt::format("{}", chosen.lambda);
  sel["chosen"] = {
      {"pre_rank", cands[chosen.pre].spec.name},
      {"fine_rank", cands[chosen.fine].spec.name},
      {"pool_depth", chosen.depth},
      {"pre_keep", chosen.pre_keep},
      {"fine_keep", chosen.fine_keep},
      {"quota", chosen.quota},
      {"diversity", chosen.lambda},
      {"spec", spec.str()},
      {"time_features", !no_time && rc.features.time},
      // Training choices outside the spec that a bundle must repeat to build this funnel
      // (`cascade bundle --funnel-from` applies them): which channels built the training
      // features, and the time features when validation turned them off.
      {"overrides", [&] {
         Json o = Json::array({fmt::format("rank.channel_folds={}", rc.channel_folds)});
         if (no_time) o.push_back("rank.features.time=false");
         return o;
       }()}};
  spdlog::info("chosen on {}: {}", opt.select_on_valid ? "validation" : "config", spec.str());

  // The test split, read once: every candidate over the chosen quota's pools (and the configured
  // quota's, for the configured funnel and the ranker table).
  Stopwatch sw;
  std::map<size_t, Scored> test;
  for (size_t q : {chosen.quota, cfg_quota}) {
    if (test.count(q)) continue;
    test[q].pools = pools_for(q, in.test);
    test[q].hs = score(test[q].pools, in.test, ptrs, *in.features, policy);
  }
  spdlog::info("scored the test pools: {:.1f} s", sw.seconds());
  const Scored& t = test.at(chosen.quota);
  for (size_t c = 0; c < in.names.size(); ++c) {
    const auto& w = fusion_of.at(chosen.quota).weights;
    sel["chosen"]["fusion_weights"][in.names[c]] = w.empty() ? 1.0 : w[c];
  }
  const Scored& t_cfg = test.at(cfg_quota);
  const double users = static_cast<double>(t.hs.users.size());
  out["users"] = t.hs.users.size();

  // Pool and rankers alone (configured depth and quota).
  const PerUser pool_cfg = test_lists.order_metrics(t_cfg, -1, rc.pool_depth);
  out["pool"] = pool_cfg.summary(true);
  out["pool"]["pool_depth"] = rc.pool_depth;
  out["pool"]["quota"] = cfg_quota;
  out["pool"]["pool_recall"] = test_lists.retention(t_cfg, config_choice)["pool"];
  std::vector<PerUser> alone;
  for (size_t k = 0; k < cands.size(); ++k) {
    alone.push_back(test_lists.order_metrics(t_cfg, static_cast<int>(k), rc.pool_depth));
    double auc = 0, counted = 0;
    for (size_t i = 0; i < t_cfg.hs.users.size(); ++i) {
      const double a = pool_auc(
          std::span<const float>(t_cfg.hs.scores[k][i].data(),
                                 std::min(rc.pool_depth, t_cfg.hs.scores[k][i].size())),
          t_cfg.hs.target[i] < static_cast<int32_t>(rc.pool_depth) ? t_cfg.hs.target[i] : -1);
      if (!std::isnan(a)) auc += a, counted += 1;
    }
    Json j = alone.back().summary(true);
    j["split"] = "test";  // validation: selection.rankers_alone
    j["auc_in_pool"] = counted ? auc / counted : std::nan("");
    j["fit_seconds"] = fit_secs[k];
    j["ms_per_user"] = 1000.0 * t_cfg.hs.ranker_seconds[k] / users;
    j["spec"] = cands[k].spec.spec();
    j["examples"] = TrainingSets::key_of(cands[k].spec.examples);
    j["candidate"] = !cands[k].ablation;
    j["vs_pool"] = alone.back().versus(pool_cfg);
    out["rankers"][cands[k].spec.name] = j;
  }
  out["feature_ms_per_user"] = 1000.0 * t_cfg.hs.feature_seconds / users;

  // The chosen funnel (served list, serving time policy) against its own pool.
  auto funnel_json = [&](const ListMaker& lists, const Scored& s, const Choice& c) {
    const PerUser pool = lists.order_metrics(s, -1, c.depth);
    const PerUser m = lists.funnel_metrics(s, c);
    Choice rank_only = c;
    rank_only.lambda = -1;
    Json j = m.summary(false);
    j["pool"] = pool.summary(false);
    j["vs_pool"] = m.versus(pool);
    j["rank_only"] = lists.funnel_metrics(s, rank_only).summary(false);
    j["retention"] = lists.retention(s, c);
    return j;
  };
  Scored t_no_time;
  if (no_time) t_no_time = score_pair(*no_time, fb_no_time, t, in.test, policy);
  const Scored& t_chosen = no_time ? t_no_time : t;
  const Choice test_choice = no_time ? on_pair(chosen) : chosen;
  out["funnel"] = funnel_json(test_lists, t_chosen, test_choice);
  out["funnel"]["spec"] = spec.str();
  out["funnel"]["time_policy"] = time_policy_name(policy);
  out["funnel"]["time_features"] = !no_time && rc.features.time;
  // The served list's per-user test figures, for the comparisons below.
  const PerUser served = test_lists.funnel_metrics(t_chosen, test_choice);
  {
    const PoolCandidates& pc = in.test_candidates();
    const std::vector<PerUser> ch = channels_alone(pc, in.test, t_chosen.hs.users);
    for (size_t c = 0; c < ch.size(); ++c) {
      Json j = ch[c].summary(true);
      j["funnel_vs_channel"] = served.versus(ch[c]);
      out["channels_alone"][pc.channels[c]] = j;
    }
  }
  out["funnel_config"] = funnel_json(test_lists, t_cfg, config_choice);
  out["funnel_config"]["spec"] = configured.str();
  out["stage_latency"] =
      no_time ? stage_latency(fb_no_time, t, test_history, no_time->pre(), no_time->fine(), chosen)
              : stage_latency(*in.features, t, test_history, *ptrs[chosen.pre], *ptrs[chosen.fine],
                              chosen);

  // Every ranker of the table against each other and the pool (the same per-user values and
  // resampling as its vs_pool), and cold vs warm users: test Recall@10 per bucket of the
  // training-history length for the pool, the chosen funnel and each ranker.
  {
    std::vector<std::string> names{"pool"};
    std::vector<std::vector<double>> r10{pool_cfg.r10};
    for (size_t k = 0; k < cands.size(); ++k)
      names.push_back(cands[k].spec.name), r10.push_back(alone[k].r10);
    CASCADE_CHECK(t_chosen.hs.users == t_cfg.hs.users,
                  "bench funnel: the chosen and configured pools cover different users");
    // The served funnel is compared with every ranker alone too (issue 16: a funnel must be at
    // least as good as each of its own stages over the same pool).
    names.insert(names.begin() + 1, "funnel");
    r10.insert(r10.begin() + 1, served.r10);
    out["ranker_pairwise"] = pairwise_bootstrap_json(names, r10, "recall@10", "test");
    std::vector<size_t> history;
    for (const UserId u : t_cfg.hs.users) history.push_back(test_history.row_size(u));
    out["user_buckets"] = user_buckets_json(history, opt.history_edges, names, r10, "recall@10");
  }

  // Ablations of the candidate rankers (test, configured pools).
  for (size_t k = n_candidates; k < cands.size(); ++k) {
    const size_t base = index_of(cands, cands[k].part.name);
    out["ablations"][cands[base].spec.name + " vs " + cands[k].spec.name] = {
        {"recall@10", paired(alone[k].r10, alone[base].r10)},
        {"ndcg@10", paired(alone[k].n10, alone[base].n10)},
        {"auc_in_pool",
         {{cands[base].spec.name, out["rankers"][cands[base].spec.name]["auc_in_pool"]},
          {cands[k].spec.name, out["rankers"][cands[k].spec.name]["auc_in_pool"]}}}};
  }

  if (policy != TimePolicy::kServing) {
    out["seconds"] = total.seconds();
    return out;  // the request-time ablations are relative to serving's policy
  }

  // Request-time ablations of the chosen funnel: its two rankers re-trained and evaluated with
  // (b) the held-out event's time and (c) no time features; each against its own pool.
  Json& tp = out["time_policy"];
  tp["serving"] = out["funnel"];
  tp["serving"].erase("retention");
  if (opt.time_ablations) {
    auto variant = [&](const UserFeatures& train_fb, const FeatureBuilder& fb, TimePolicy time,
                       const std::string& what) {
      const Pair p = fit_pair(train_fb, time, chosen.pre, chosen.fine);
      Json j = funnel_json(test_lists, score_pair(p, fb, t, in.test, time), on_pair(chosen));
      j.erase("retention");
      j["what"] = what;
      return j;
    };
    tp["event"] = variant(
        in.training_features(), *in.features, TimePolicy::kEvent,
        "rankers trained and evaluated with request time = the next event's time (not servable)");
    if (no_time) {  // the chosen funnel already runs without time features: show them on instead
      tp["no_time_features"] = tp["serving"];
      Json on = funnel_json(test_lists, t, chosen);
      on.erase("retention");
      on["what"] = "time features on (the chosen funnel has them off)";
      tp["time_features_on"] = on;
    } else {
      tp["no_time_features"] =
          variant(no_time_features.training(), fb_no_time, TimePolicy::kServing,
                  "days_since_last and age_days missing");
    }
  }
  // Feature-group ablations of the chosen funnel: each group off, the same two rankers re-trained,
  // the same cuts and λ, on validation and test against the chosen funnel's own lists.
  if (!opt.feature_ablations.empty()) {
    FeatureConfig chosen_features = rc.features;
    if (no_time) chosen_features.time = false;
    const FeatureBuilder& fb_chosen = no_time ? fb_no_time : *in.features;
    const std::vector<const Ranker*> chosen_ptrs =
        no_time ? no_time->ptrs() : std::vector<const Ranker*>{ptrs[chosen.pre], ptrs[chosen.fine]};
    Scored v_base;
    v_base.pools = pools_for(chosen.quota, in.valid);
    v_base.hs = score(v_base.pools, in.valid, chosen_ptrs, fb_chosen, policy);
    const PerUser valid_base = valid_lists.funnel_metrics(v_base, on_pair(chosen));
    Json& fa = out["feature_ablations"];
    fa["funnel"] = {{"valid", valid_base.summary(false)}, {"test", served.summary(false)}};
    for (const std::string& group : opt.feature_ablations) {
      Stopwatch asw;
      FeatureConfig fc = chosen_features;
      ablate_feature_group(fc, group);
      const FunnelFeatures ff = funnel_features(in, ds.catalog, fc);
      const Pair p = fit_pair(ff.training(), policy, chosen.pre, chosen.fine);
      const PerUser mv = valid_lists.funnel_metrics(
          score_pair(p, *ff.served, v_base, in.valid, policy), on_pair(chosen));
      const PerUser mt =
          test_lists.funnel_metrics(score_pair(p, *ff.served, t, in.test, policy), on_pair(chosen));
      fa["groups"][group] = {{"dense_columns", ff.served->schema().n_dense()},
                             {"fields", ff.served->schema().n_fields()},
                             {"valid", mv.summary(false)},
                             {"valid_vs_funnel", mv.versus(valid_base)},
                             {"test", mt.summary(false)},
                             {"test_vs_funnel", mt.versus(served)}};
      spdlog::info("feature ablation {}: validation Recall@10 {:.4f} (funnel {:.4f}), {:.1f} s",
                   group, mean(mv.r10), mean(valid_base.r10), asw.seconds());
    }
  }
  out["seconds"] = total.seconds();
  return out;
}

const std::vector<std::string>& feature_group_names() {
  static const std::vector<std::string> names{"similarity", "ids",     "time",    "genres",
                                              "priors",     "session", "sequence"};
  return names;
}

void ablate_feature_group(FeatureConfig& config, const std::string& group) {
  if (group == "similarity") {
    config.similarity.clear();
  } else if (group == "ids") {
    config.user_id = false;
    config.item_id = false;
  } else if (group == "time") {
    config.time = false;
  } else if (group == "genres") {
    config.genres = false;
  } else if (group == "priors") {
    config.priors = false;
  } else if (group == "session") {
    config.session = false;
  } else if (group == "sequence") {
    config.sequence.clear();
  } else {
    throw Error(fmt::format("--feature-ablations: unknown group '{}' (known: {})", group,
                            fmt::join(feature_group_names(), ", ")));
  }
}

}  // namespace cascade
