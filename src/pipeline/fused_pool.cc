#include "cascade/pipeline/fused_pool.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "cascade/core/error.h"
#include "cascade/util/parallel.h"
#include "cascade/util/progress.h"

namespace cascade {

std::vector<ItemId> PoolCandidates::excluded(std::span<const ItemId> history, uint32_t u) const {
  std::vector<ItemId> out(history.begin(), history.end());
  if (u < exclude.n_rows) {
    const auto e = exclude.row(u);
    out.insert(out.end(), e.begin(), e.end());
  }
  return out;
}

PoolCandidates collect_candidates(const std::vector<const Recaller*>& channels,
                                  const std::vector<std::string>& names, const Interactions& train,
                                  const Interactions& valid, const Interactions& test, size_t quota,
                                  int threads, bool fitted_rows, const Interactions* exclude) {
  CASCADE_CHECK(channels.size() == names.size(), "collect_candidates: one name per channel");
  PoolCandidates pc;
  pc.channels = names;
  if (exclude != nullptr) pc.exclude = *exclude;
  pc.per_user.resize(train.n_rows);
  Progress progress(fmt::format("candidates ({} channels, top {})", channels.size(), quota), train.n_rows,
                    "users");
  parallel_for_dynamic(train.n_rows, threads, 16, [&](size_t u, int) {
    progress.add();
    const bool needed = (u < valid.n_rows && valid.row_size(u) > 0) || (u < test.n_rows && test.row_size(u) > 0);
    if (!needed) return;
    UserQuery q;
    q.user = static_cast<UserId>(u);
    q.past_fit = !fitted_rows;  // recommender.cc's rule
    q.history = train.row(static_cast<uint32_t>(u));
    q.values = train.row_values(static_cast<uint32_t>(u));
    const auto uu = static_cast<uint32_t>(u);
    const std::span<const ItemId> skip =
        u < pc.exclude.n_rows ? pc.exclude.row(uu) : std::span<const ItemId>();
    thread_local std::vector<ItemId> context;  // history + seen events, by time
    if (!skip.empty()) {
      merge_by_time(q.history, train.row_times(uu), skip, pc.exclude.row_times(uu), context);
      q.context = context;
    }
    auto& lists = pc.per_user[u];
    lists.resize(channels.size());
    for (size_t c = 0; c < channels.size(); ++c) {
      lists[c].channel = names[c];
      lists[c].items = channels[c]->top_n(q, quota, skip);
    }
  });
  return pc;
}

std::vector<std::vector<ItemId>> fuse_pool(const PoolCandidates& pc, const Interactions& train,
                                           const FusionOptions& opt, int threads) {
  validate_fusion_options(opt, pc.channels.size());
  std::vector<std::vector<ItemId>> lists(pc.per_user.size());
  parallel_for_dynamic(pc.per_user.size(), threads, 16, [&](size_t u, int) {
    if (pc.per_user[u].empty()) return;
    const auto uu = static_cast<uint32_t>(u);
    auto fused = fuse(pc.per_user[u], opt, pc.excluded(train.row(uu), uu));
    lists[u].reserve(fused.size());
    for (const auto& f : fused) lists[u].push_back(f.item);
  });
  return lists;
}

FusionOptions tune_fusion_weights(const PoolCandidates& pc, const Interactions& train,
                                  const Interactions& valid, const FusionOptions& base,
                                  const WeightSearch& search, const EvalOptions& eval) {
  const size_t n = pc.channels.size();
  FusionOptions best = base;
  if (best.weights.empty()) best.weights.assign(n, 1.0);
  const uint32_t n_items = train.n_cols;
  const std::string metric =
      search.metric == "pool_recall" ? fmt::format("recall@{}", base.pool_size) : search.metric;
  auto objective = [&](const FusionOptions& o) {
    EvalResult r = evaluate_lists(fuse_pool(pc, train, o, eval.threads), train, valid, n_items, eval);
    auto it = r.summary.find(metric);
    if (it == r.summary.end()) {
      throw Error(fmt::format("fusion tuning: metric '{}' is not computed (check the evaluation ks)",
                              metric));
    }
    return it->second;
  };
  double best_value = objective(best);
  spdlog::info("fusion tuning: start {} = {:.4f}", metric, best_value);
  for (int round = 0; round < search.rounds; ++round) {
    bool improved = false;
    for (size_t c = 0; c < n; ++c) {
      for (double w : search.grid) {
        if (w == best.weights[c]) continue;
        FusionOptions trial = best;
        trial.weights[c] = w;
        bool any = false;
        for (double x : trial.weights) any = any || x > 0;
        if (!any) continue;
        double v = objective(trial);
        if (v > best_value + 1e-12) {
          best_value = v;
          best = trial;
          improved = true;
          spdlog::info("fusion tuning: {} weight {} -> validation {} {:.4f}", pc.channels[c], w,
                       metric, v);
        }
      }
    }
    if (!improved) break;
  }
  return best;
}

FusionOptions FusionConfig::options_for(const std::vector<std::string>& names) const {
  FusionOptions o = base;
  o.weights.assign(names.size(), 1.0);
  o.quotas.assign(names.size(), quota);
  for (size_t i = 0; i < names.size(); ++i) {
    auto it = weights.find(names[i]);
    if (it != weights.end()) o.weights[i] = it->second;
  }
  return o;
}

FusionConfig fusion_config_from_yaml(const YAML::Node& node, const std::vector<std::string>& channels) {
  FusionConfig c;
  if (!node || node.IsNull()) return c;
  if (!node.IsMap()) throw Error("config: recall.fusion must be a map");
  Params p;
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>();
    if (key == "weights") {
      if (kv.second.IsNull()) continue;
      if (!kv.second.IsMap()) throw Error("config: recall.fusion.weights must map channel names to weights");
      for (const auto& w : kv.second) {
        const std::string name = w.first.as<std::string>();
        if (std::find(channels.begin(), channels.end(), name) == channels.end()) {
          throw Error(fmt::format("config: recall.fusion.weights.{}: no such channel (configured: {})",
                                  name, fmt::join(channels, ", ")));
        }
        Params one;
        one.set("w", w.second.as<std::string>());
        try {
          c.weights[name] = one.get_double("w", 1.0, 0.0, 1e6);
        } catch (const Error& e) {
          throw Error(fmt::format("config: recall.fusion.weights.{}: {}", name, e.what()));
        }
      }
      continue;
    }
    if (!kv.second.IsScalar()) throw Error(fmt::format("config: recall.fusion.{} must be a scalar", key));
    p.set(key, kv.second.as<std::string>());
  }
  try {
    c.base.method = p.get_string("method", "norm", {"norm", "rrf"});
    c.base.rrf_k = p.get_double("rrf_k", 60, 0, 1e9);
    c.base.pool_size = static_cast<size_t>(p.get_int("pool_size", 1000, 1, 1'000'000));
    c.quota = static_cast<size_t>(p.get_int("quota", 500, 0, 1'000'000));
    c.tune = p.get_bool("tune", true);
    c.search.metric = p.get_string("tune_metric", "pool_recall");
    p.check_unused("recall.fusion");
  } catch (const Error& e) {
    throw Error(fmt::format("config: recall.fusion: {}", e.what()));
  }
  return c;
}

}  // namespace cascade
