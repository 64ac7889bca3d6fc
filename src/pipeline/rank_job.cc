#include "cascade/pipeline/rank_job.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <unordered_set>

#include "cascade/core/error.h"
#include "cascade/rank/blend.h"
#include "cascade/util/parallel.h"

namespace cascade {
namespace {

size_t yaml_size(const YAML::Node& v, const std::string& where, size_t lo, size_t hi) {
  try {
    const auto x = v.as<int64_t>();
    if (x < static_cast<int64_t>(lo) || x > static_cast<int64_t>(hi)) throw Error("");
    return static_cast<size_t>(x);
  } catch (const std::exception&) {
    throw Error(fmt::format("config: {} must be an integer in [{}, {}]", where, lo, hi));
  }
}

std::string yaml_scalar(const YAML::Node& v, const std::string& where) {
  if (!v.IsScalar()) throw Error(fmt::format("config: {} must be a scalar", where));
  return v.as<std::string>();
}

}  // namespace

ExampleOptions ExampleOptions::from_yaml(const YAML::Node& node, const ExampleOptions& base) {
  ExampleOptions o = base;
  if (!node || node.IsNull()) return o;
  CASCADE_CHECK(node.IsMap(), "config: rank examples must be a map");
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>();
    if (key == "hard_negatives") {
      o.hard_negatives = yaml_size(kv.second, "examples.hard_negatives", 0, 100000);
    } else if (key == "hard_depth") {
      o.hard_depth = yaml_size(kv.second, "examples.hard_depth", 1, 10000000);
    } else if (key == "random_negatives") {
      o.random_negatives = yaml_size(kv.second, "examples.random_negatives", 0, 100000);
    } else if (key == "pool_quota") {
      o.pool_quota = yaml_size(kv.second, "examples.pool_quota", 1, 10000000);
    } else if (key == "max_users") {
      o.max_users = yaml_size(kv.second, "examples.max_users", 0, 1000000000);
    } else if (key == "positives") {
      const std::string v = yaml_scalar(kv.second, "examples.positives");
      CASCADE_CHECK(v == "in_pool" || v == "all", "config: examples.positives must be in_pool or all");
      o.positives_in_pool = v == "in_pool";
    } else {
      throw Error(fmt::format("config: unknown key examples.{} (known: hard_negatives, hard_depth, random_negatives, positives, pool_quota, max_users)", key));
    }
  }
  CASCADE_CHECK(o.hard_negatives + o.random_negatives > 0, "config: examples need at least one negative per user");
  return o;
}

std::vector<std::vector<FusedCandidate>> fused_pools(const PoolCandidates& pc, const Interactions& history,
                                                     const FusionOptions& opt, size_t depth, int threads) {
  validate_fusion_options(opt, pc.channels.size());
  std::vector<std::vector<FusedCandidate>> pools(pc.per_user.size());
  parallel_for_dynamic(pc.per_user.size(), threads, 16, [&](size_t u, int) {
    if (pc.per_user[u].empty()) return;
    const auto uu = static_cast<uint32_t>(u);
    auto fused = fuse(pc.per_user[u], opt, pc.excluded(history.row(uu), uu));
    if (fused.size() > depth) fused.resize(depth);
    pools[u] = std::move(fused);
  });
  return pools;
}

int64_t training_clock(const Dataset& ds) {
  int64_t clock = 0;
  for (uint32_t u = 0; u < ds.n_users && u < ds.recall_rows.size(); ++u) {
    const auto t = ds.train.row_times(u);
    for (uint32_t k = 0; k < std::min<uint32_t>(ds.recall_rows[u], static_cast<uint32_t>(t.size())); ++k)
      clock = std::max(clock, t[k]);
  }
  return clock;
}

RankTrainSet build_training_set(const UserFeatures& fb, const Dataset& ds,
                                const std::vector<std::vector<FusedCandidate>>& pools,
                                const ExampleOptions& opt, int threads) {
  CASCADE_CHECK(ds.options.protocol == Protocol::kSeedOof && ds.recall_rows.size() == ds.n_users,
                "ranker training examples need a seed-oof dataset (prepare with protocol seed-oof)");
  const uint32_t n_users = ds.n_users, n_items = ds.n_items;
  const int64_t clock = training_clock(ds);
  std::vector<RankTrainSet> per_user(n_users);
  parallel_for_dynamic(n_users, threads, 8, [&](size_t uu, int) {
    const auto u = static_cast<uint32_t>(uu);
    const uint32_t split = ds.recall_rows[u], n = ds.train.row_size(u);
    // No pool: a user outside the sample (examples.max_users) or one no channel answered.
    if (split >= n || u >= pools.size() || pools[u].empty()) return;
    const auto row = ds.train.row(u);
    const auto times = ds.train.row_times(u);
    const auto history = row.subspan(0, split);
    std::unordered_set<ItemId> seen(history.begin(), history.end());
    // Items the request knows the user consumed without liking (keep_seen): never served, so
    // never a negative either.
    for (const ItemId i : ds.seen_before(u, split)) seen.insert(i);
    std::unordered_set<ItemId> in_pool;
    for (const auto& c : pools[u]) in_pool.insert(c.item);
    std::vector<ItemId> items;
    std::unordered_set<ItemId> taken;
    std::unordered_set<ItemId> future;  // every ranker-slice item: never a negative
    for (uint32_t k = split; k < n; ++k) {
      const ItemId i = row[k];
      future.insert(i);
      if (seen.count(i) || taken.count(i)) continue;  // a re-watch is not a new item to rank
      if (opt.positives_in_pool && !in_pool.count(i)) continue;
      items.push_back(i);
      taken.insert(i);
    }
    taken.insert(future.begin(), future.end());
    if (items.empty()) return;
    const size_t n_pos = items.size();  // `taken` now also holds positives left out of the pool
    std::mt19937_64 rng(opt.seed ^ (0x9e3779b97f4a7c15ULL * (u + 1)));
    // Hard: a uniform sample of the pool without the positives.
    std::vector<ItemId> hard;
    for (size_t k = 0; k < std::min(opt.hard_depth, pools[u].size()); ++k) {
      if (!taken.count(pools[u][k].item)) hard.push_back(pools[u][k].item);
    }
    const size_t n_hard = std::min(opt.hard_negatives, hard.size());
    for (size_t k = 0; k < n_hard; ++k) {
      std::uniform_int_distribution<size_t> pick(k, hard.size() - 1);
      std::swap(hard[k], hard[pick(rng)]);
      items.push_back(hard[k]);
      taken.insert(hard[k]);
    }
    // Random: uniform over items neither seen, positive nor already drawn (they may be in
    // the pool; then they carry their pool features, as at serving time).
    const size_t free_items = n_items - std::min<size_t>(n_items, seen.size() + taken.size());
    const size_t n_rand = std::min(opt.random_negatives, free_items);
    std::uniform_int_distribution<ItemId> any(0, n_items - 1);
    for (size_t k = 0, tries = 0; k < n_rand && tries < 100 * (n_rand + 10); ++tries) {
      const ItemId i = any(rng);
      if (seen.count(i) || taken.count(i)) continue;
      items.push_back(i);
      taken.insert(i);
      ++k;
    }
    RankRequest req;
    req.user = u;
    req.history = history;
    req.times = times.subspan(0, split);
    req.now = request_time(opt.request_time, clock, req.times, times[split]);
    RankTrainSet& out = per_user[u];
    const FeatureBuilder& features = fb.of(u);
    out.batch = features.empty_batch();
    features.add_items(req, pools[u], items, out.batch);
    out.labels.assign(items.size(), 0.0f);
    std::fill_n(out.labels.begin(), n_pos, 1.0f);
  });
  RankTrainSet all;
  all.batch = fb.first().empty_batch();
  for (auto& p : per_user) {
    if (p.batch.groups() == 0) continue;
    all.batch.append(p.batch);
    all.labels.insert(all.labels.end(), p.labels.begin(), p.labels.end());
  }
  return all;
}

std::string RankerSpec::spec() const {
  const std::string p = params.to_string();
  return p.empty() ? kind : kind + ":" + p;
}

const RankerSpec& RankConfig::ranker(const std::string& name) const {
  for (const auto& r : rankers) if (r.name == name) return r;
  std::string known;
  for (const auto& r : rankers) known += (known.empty() ? "" : ", ") + r.name;
  throw Error(fmt::format("config: ranker '{}' is not configured under rank.rankers (configured: {})", name, known));
}

namespace {

// A blend's members are other configured rankers (not blends), looked up by name.
void resolve_blend_members(RankConfig& c) {
  for (auto& s : c.rankers) {
    if (s.kind != "blend") continue;
    const auto& raw = s.params.raw();
    CASCADE_CHECK(raw.count("members"),
                  fmt::format("config: rank.rankers.{} is a blend without `members` (e.g. members: "
                              "[gbdt, din])",
                              s.name));
    s.members.clear();
    for (const auto& name : blend_member_names(raw.at("members"))) {
      const auto m = std::find_if(c.rankers.begin(), c.rankers.end(),
                                  [&](const RankerSpec& r) { return r.name == name; });
      if (m == c.rankers.end()) {
        std::vector<std::string> known;
        for (const auto& r : c.rankers) known.push_back(r.name);
        throw Error(
            fmt::format("config: rank.rankers.{}.members names '{}', which is not configured "
                        "under rank.rankers (configured: {})",
                        s.name, name, fmt::join(known, ", ")));
      }
      CASCADE_CHECK(
          m->kind != "blend",
          fmt::format("config: rank.rankers.{}.members names '{}', itself a blend", s.name, name));
      s.members.push_back(*m);
    }
  }
}

}  // namespace

RankConfig rank_config_from_yaml(const YAML::Node& node, uint64_t seed) {
  RankConfig c;
  c.examples.seed = seed;
  if (!node || node.IsNull()) throw Error("config: the `rank` group is missing (add `- rank: default` to defaults)");
  CASCADE_CHECK(node.IsMap(), "config: rank must be a map");
  // examples and the request-time policy first: rankers inherit them.
  c.examples = ExampleOptions::from_yaml(node["examples"], c.examples);
  if (node["request_time"])
    c.examples.request_time = time_policy_from_string(yaml_scalar(node["request_time"], "rank.request_time"),
                                                      "config: rank.request_time");
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    if (key == "examples" || key == "request_time") continue;
    if (key == "pool_depth") {
      c.pool_depth = yaml_size(v, "rank.pool_depth", 1, 1000000);
    } else if (key == "valid_share") {
      try {
        c.valid_share = v.as<double>();
      } catch (const std::exception&) {
        c.valid_share = -1;
      }
      CASCADE_CHECK(c.valid_share >= 0 && c.valid_share < 0.9, "config: rank.valid_share must be in [0, 0.9)");
    } else if (key == "features") {
      c.features = FeatureConfig::from_yaml(v);
    } else if (key == "channel_folds") {
      c.channel_folds = static_cast<int>(yaml_size(v, "rank.channel_folds", 0, 20));
      CASCADE_CHECK(
          c.channel_folds != 1,
          "config: rank.channel_folds must be 0 (channels on the recall slice) or at least 2");
    } else if (key == "rankers") {
      CASCADE_CHECK(v.IsMap() && v.size() > 0, "config: rank.rankers must map ranker names to their parameters");
      for (const auto& r : v) {
        RankerSpec s;
        s.name = r.first.as<std::string>();
        s.kind = s.name;
        s.examples = c.examples;
        const YAML::Node& body = r.second;
        if (body && !body.IsNull()) {
          CASCADE_CHECK(body.IsMap(), fmt::format("config: rank.rankers.{} must be a map of parameters", s.name));
          for (const auto& p : body) {
            const std::string pk = p.first.as<std::string>();
            if (pk == "examples") {
              s.examples = ExampleOptions::from_yaml(p.second, c.examples);
              s.own_examples = true;
            } else if (pk == "kind") {
              s.kind = yaml_scalar(p.second, fmt::format("rank.rankers.{}.kind", s.name));
            } else if (pk == "members" && p.second.IsSequence()) {  // [gbdt, din] = gbdt+din
              std::string joined;
              for (const auto& m : p.second)
                joined += (joined.empty() ? "" : "+") +
                          yaml_scalar(m, fmt::format("rank.rankers.{}.members", s.name));
              s.params.set(pk, joined);
            } else {
              s.params.set(pk, yaml_scalar(p.second, fmt::format("rank.rankers.{}.{}", s.name, pk)));
            }
          }
        }
        c.rankers.push_back(std::move(s));
      }
    } else if (key == "funnel") {
      CASCADE_CHECK(v.IsMap(), "config: rank.funnel must be a map");
      for (const auto& f : v) {
        const std::string fk = f.first.as<std::string>();
        if (fk == "pre_rank") c.pre_rank = yaml_scalar(f.second, "rank.funnel.pre_rank");
        else if (fk == "fine_rank") c.fine_rank = yaml_scalar(f.second, "rank.funnel.fine_rank");
        else if (fk == "pre_keep") c.pre_keep = yaml_size(f.second, "rank.funnel.pre_keep", 1, 1000000);
        else if (fk == "fine_keep") c.fine_keep = yaml_size(f.second, "rank.funnel.fine_keep", 1, 1000000);
        else throw Error(fmt::format("config: unknown key rank.funnel.{} (known: pre_rank, pre_keep, fine_rank, fine_keep)", fk));
      }
    } else {
      throw Error(fmt::format(
          "config: unknown key rank.{} (known: pool_depth, valid_share, features, examples, "
          "rankers, funnel, request_time, channel_folds)",
          key));
    }
  }
  CASCADE_CHECK(!c.rankers.empty(), "config: rank.rankers is empty");
  resolve_blend_members(c);
  CASCADE_CHECK(c.pre_keep >= c.fine_keep, "config: rank.funnel.pre_keep must be >= fine_keep");
  c.ranker(c.pre_rank);
  c.ranker(c.fine_rank);
  return c;
}

std::vector<uint32_t> funnel_order(std::span<const float> pre, size_t pre_keep, std::span<const float> fine,
                                   size_t fine_keep) {
  CASCADE_CHECK(pre.size() == fine.size(), "funnel_order: one pre and one fine score per row");
  std::vector<uint32_t> idx(pre.size());
  std::iota(idx.begin(), idx.end(), 0u);
  auto by = [](std::span<const float> s) {
    return [s](uint32_t a, uint32_t b) { return s[a] > s[b] || (s[a] == s[b] && a < b); };
  };
  const size_t k1 = std::min(pre_keep, idx.size());
  std::partial_sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(k1), idx.end(), by(pre));
  idx.resize(k1);
  const size_t k2 = std::min(fine_keep, idx.size());
  std::partial_sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(k2), idx.end(), by(fine));
  idx.resize(k2);
  return idx;
}

std::pair<RankTrainSet, RankTrainSet> split_groups(const RankTrainSet& all, double share, uint64_t seed,
                                                   const FeatureBuilder& fb) {
  CASCADE_CHECK(share >= 0 && share < 1, "split_groups: share must be in [0, 1)");
  std::vector<size_t> g(all.batch.groups());
  std::iota(g.begin(), g.end(), 0);
  std::mt19937_64 rng(seed);
  std::shuffle(g.begin(), g.end(), rng);
  const auto n_valid = static_cast<size_t>(std::floor(share * static_cast<double>(g.size())));
  std::vector<uint8_t> is_valid(g.size(), 0);
  for (size_t k = 0; k < n_valid; ++k) is_valid[g[k]] = 1;
  RankTrainSet tr, va;
  tr.batch = fb.empty_batch();
  va.batch = fb.empty_batch();
  for (size_t k = 0; k < all.batch.groups(); ++k) {
    RankTrainSet& dst = is_valid[k] ? va : tr;
    dst.batch.append(all.batch.slice_groups(k, k + 1));
    const auto b = all.batch.group_begin[k], e = all.batch.group_begin[k + 1];
    dst.labels.insert(dst.labels.end(), all.labels.begin() + b, all.labels.begin() + e);
  }
  return {std::move(tr), std::move(va)};
}

std::unique_ptr<Ranker> fit_ranker(const RankerSpec& spec, const RankTrainSet& train,
                                   const RankTrainSet& valid, int threads, uint64_t seed,
                                   const std::string& dataset_hash, ItemTableLookup item_tables) {
  auto model = make_ranker(spec.spec());
  if (auto* blend = dynamic_cast<BlendRanker*>(model.get())) {
    CASCADE_CHECK(spec.members.size() == blend->member_names().size(),
                  fmt::format("ranker {}: a blend of {} configured members, its parameters name {}",
                              spec.name, spec.members.size(), blend->member_names().size()));
    std::vector<std::unique_ptr<Ranker>> members;
    for (const auto& m : spec.members) members.push_back(make_ranker(m.spec()));
    blend->set_members(std::move(members));
  }
  RankFitOptions fo;
  fo.threads = threads;
  fo.seed = seed;
  fo.valid = valid.batch.rows() ? &valid : nullptr;
  fo.dataset_hash = dataset_hash;
  fo.item_tables = std::move(item_tables);
  model->fit(train, fo);
  return model;
}

}  // namespace cascade
