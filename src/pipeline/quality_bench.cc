#include "cascade/pipeline/quality_bench.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>

#include "cascade/core/error.h"
#include "cascade/eval/compare.h"
#include "cascade/eval/evaluator.h"
#include "cascade/pipeline/funnel_train.h"
#include "cascade/pipeline/recall_job.h"
#include "cascade/util/stopwatch.h"

namespace cascade {
namespace {

using Json = nlohmann::ordered_json;

const char* const kReported[] = {"recall@10", "ndcg@10", "mrr@10", "recall@200", "ndcg@200", "coverage@10"};

uint64_t config_seed(const YAML::Node& cfg) { return cfg["seed"] ? cfg["seed"].as<uint64_t>() : 42; }

// Pool sizes whose recall is reported (the ceiling of every later stage).
std::vector<size_t> pool_sizes(size_t pool) {
  std::vector<size_t> out;
  for (size_t s : {100, 200, 300, 500, 1000}) {
    if (s < pool) out.push_back(s);
  }
  out.push_back(pool);
  return out;
}

Json paired_json(const std::vector<double>& base, const std::vector<double>& other) {
  const BootstrapResult b = paired_bootstrap(base, other, 1000, 42, 0.95);
  return Json{{"diff", b.diff}, {"ci_low", b.ci_low}, {"ci_high", b.ci_high}, {"p_value", b.p_value}};
}

// The figures a channel and a pool share: the reported metrics and recall at every pool depth.
void write_metrics(const EvalResult& r, size_t pool, Json& c) {
  for (const char* m : kReported) c[m] = r.summary.at(m);
  c["pool_recall"] = r.summary.at(fmt::format("recall@{}", pool));
  for (size_t p : pool_sizes(pool)) c["recall_by_depth"][std::to_string(p)] = r.summary.at(fmt::format("recall@{}", p));
}

// What the channel and pool runs share: the split, the matrix fitted on, evaluation options.
struct Context {
  const Dataset& ds;
  const Interactions& train;
  /// The history of test requests: `train`, or `train` with the validation item appended
  /// (QualityBenchOptions::test_sees_valid).
  const Interactions& test_history;
  EvalOptions eval;
  int threads;
  /// What validation and test requests know the user consumed besides the history
  /// (Dataset::seen_at_valid / seen_at_test; no entries without keep_seen).
  Interactions valid_seen, test_seen;
  bool test_sees_valid() const { return &test_history != &train; }
  bool has_seen() const { return test_seen.nnz() > 0; }
};

// The candidates of the validation and test users. When test requests see the validation item
// their history differs, so the test users' lists are collected separately.
struct HeldoutCandidates {
  PoolCandidates valid;
  std::optional<PoolCandidates> test_own;  ///< only with test_sees_valid
  const PoolCandidates& test() const { return test_own ? *test_own : valid; }
};

HeldoutCandidates heldout_candidates(const std::vector<const Recaller*>& models,
                                     const std::vector<std::string>& names, const Context& cx,
                                     size_t quota) {
  const Interactions none;
  HeldoutCandidates h;
  // Test requests know more seen items than validation ones, so their lists differ too.
  const bool own_test = cx.test_sees_valid() || cx.has_seen();
  h.valid = collect_candidates(models, names, cx.train, cx.ds.valid, own_test ? none : cx.ds.test,
                               quota, cx.threads, true, &cx.valid_seen);
  if (own_test)
    h.test_own =
        collect_candidates(models, names, cx.test_history, none, cx.ds.test, quota, cx.threads,
                           /*fitted_rows=*/!cx.test_sees_valid(), &cx.test_seen);
  return h;
}

// One config's channels: fitted, and evaluated on test.
struct Suite {
  std::vector<FittedChannel> fitted;
  std::vector<EvalResult> results;  // test, parallel to fitted
  std::vector<std::string> names;
};

Suite run_channels(const std::vector<ChannelSpec>& specs, const Context& cx, uint64_t seed, size_t pool,
                   const std::string& label, Json& out) {
  Suite s;
  for (const ChannelSpec& spec : specs) {
    spdlog::info("{}: fitting {} ({})", label, spec.name, spec.spec());
    FittedChannel fc = fit_channel(spec, cx.ds, cx.train, cx.threads, seed);
    EvalOptions eo = cx.eval;
    eo.fitted_rows = !cx.test_sees_valid();  // the history past the fit: UserQuery::past_fit
    eo.exclude = &cx.test_seen;
    EvalResult r = evaluate(*fc.model, cx.test_history, cx.ds.test, eo);
    Json& c = out[spec.name];
    write_metrics(r, pool, c);
    c["fit_seconds"] = fc.fit_seconds;
    c["eval_seconds"] = r.seconds;
    s.names.push_back(spec.name);
    s.fitted.push_back(std::move(fc));
    s.results.push_back(std::move(r));
  }
  return s;
}

// Fuses the suite's channels with `fc` (tuning the weights on validation when fc.tune),
// evaluates the pool on test, compares it with every channel (paired bootstrap), and with
// `drop_one` re-fuses without each channel in turn.
void run_fusion(const Suite& s, const FusionConfig& fc, const Context& cx, bool drop_one, Json& c) {
  const Stopwatch sw;
  std::vector<const Recaller*> models;
  for (const auto& f : s.fitted) models.push_back(f.model.get());
  const HeldoutCandidates pc = heldout_candidates(models, s.names, cx, fc.quota);
  FusionOptions opt = fc.options_for(s.names);
  if (fc.tune) opt = tune_fusion_weights(pc.valid, cx.train, cx.ds.valid, opt, fc.search, cx.eval);
  const double secs = sw.seconds();
  const size_t pool = opt.pool_size;
  const std::string pool_metric = fmt::format("recall@{}", pool);
  const auto test_lists = [&](const FusionOptions& o) {
    return evaluate_lists(fuse_pool(pc.test(), cx.test_history, o, cx.threads), cx.test_history,
                          cx.ds.test, cx.ds.n_items, cx.eval);
  };
  const EvalResult r = test_lists(opt);

  write_metrics(r, pool, c);
  c["fit_seconds"] = secs;
  c["pool_size"] = pool;
  c["quota"] = fc.quota;
  c["method"] = opt.method;
  c["weights_tuned"] = fc.tune;
  for (size_t i = 0; i < s.names.size(); ++i) c["weights"][s.names[i]] = opt.weights[i];
  for (size_t i = 0; i < s.names.size(); ++i) {
    const auto& ch = s.results[i].per_user;
    CASCADE_CHECK(ch.at("recall@200").size() == r.per_user.at("recall@200").size(),
                  "fusion and channel results cover different users");
    Json& v = c["vs_channel"][s.names[i]];
    v["recall@200"] = paired_json(ch.at("recall@200"), r.per_user.at("recall@200"));
    v["pool_recall"] = paired_json(ch.at(pool_metric), r.per_user.at(pool_metric));
    v["recall@10"] = paired_json(ch.at("recall@10"), r.per_user.at("recall@10"));
  }
  if (!drop_one) return;
  for (size_t i = 0; i < s.names.size(); ++i) {
    // Created before the checks below: a channel whose removal leaves no weight keeps a null
    // entry, as the contract JSON always had.
    Json& a = c["drop_one"][s.names[i]];
    if (opt.weights[i] == 0) {
      a["skipped"] = "weight 0: the channel contributes nothing to the pool";
      continue;
    }
    FusionOptions dropped = opt;
    dropped.weights[i] = 0;
    bool any = false;
    for (double w : dropped.weights) any = any || w > 0;
    if (!any) continue;
    const EvalResult rd = test_lists(dropped);
    a["recall@200"] = rd.summary.at("recall@200");
    a["pool_recall"] = rd.summary.at(pool_metric);
    a["loss_recall@200"] = paired_json(rd.per_user.at("recall@200"), r.per_user.at("recall@200"));
    a["loss_pool_recall"] = paired_json(rd.per_user.at(pool_metric), r.per_user.at(pool_metric));
  }
}

// The suite's channels fused by every registered method at every quota in `quotas`, each tuned
// (when fc.tune) and evaluated like run_fusion's pool. The channels are queried once, at the
// deepest quota: a smaller quota keeps a prefix of each list, as collecting at it would.
Json run_fusion_strategies(const Suite& s, const FusionConfig& fc, const Context& cx,
                           const std::vector<size_t>& quotas) {
  std::vector<const Recaller*> models;
  for (const auto& f : s.fitted) models.push_back(f.model.get());
  const size_t deepest = *std::max_element(quotas.begin(), quotas.end());
  const HeldoutCandidates pc = heldout_candidates(models, s.names, cx, deepest);
  Json out = Json::array();
  for (const std::string& method : fusion_method_names()) {
    for (size_t q : quotas) {
      const Stopwatch sw;
      FusionOptions opt = fc.options_for(s.names);
      opt.method = method;
      opt.quotas.assign(s.names.size(), q);
      if (fc.tune)
        opt = tune_fusion_weights(pc.valid, cx.train, cx.ds.valid, opt, fc.search, cx.eval);
      const EvalResult r = evaluate_lists(fuse_pool(pc.test(), cx.test_history, opt, cx.threads),
                                          cx.test_history, cx.ds.test, cx.ds.n_items, cx.eval);
      Json j{{"method", method}, {"quota", q}, {"pool", opt.pool_size}, {"weights_tuned", fc.tune}};
      for (size_t i = 0; i < s.names.size(); ++i) j["weights"][s.names[i]] = opt.weights[i];
      for (const char* m : {"recall@10", "ndcg@10", "recall@200"}) j[m] = r.summary.at(m);
      j["pool_recall"] = r.summary.at(fmt::format("recall@{}", opt.pool_size));
      j["seconds"] = sw.seconds();
      spdlog::info("fusion {} at quota {}: test recall@10 {:.4f}, pool recall {:.4f}", method, q,
                   j["recall@10"].get<double>(), j["pool_recall"].get<double>());
      out.push_back(std::move(j));
    }
  }
  return out;
}

}  // namespace

FusionConfig quality_fusion_config(const YAML::Node& cfg, const QualityBenchOptions& opt) {
  std::vector<std::string> names;
  for (const auto& s : channel_specs_from_yaml(cfg["recall"]["channels"])) names.push_back(s.name);
  FusionConfig fc = fusion_config_from_yaml(cfg["recall"]["fusion"], names);
  if (opt.quota > 0) fc.quota = opt.quota;
  if (opt.pool > 0) fc.base.pool_size = opt.pool;
  return fc;
}

nlohmann::ordered_json run_quality_bench(const YAML::Node& cfg, const Dataset& ds, const QualityBenchOptions& opt) {
  const bool oof = ds.options.protocol == Protocol::kSeedOof;
  const Interactions train = oof ? ds.recall_slice() : ds.train;

  Json out;
  out["dataset"] = ds.name;
  out["protocol"] = protocol_name(ds.options.protocol);
  out["users"] = ds.n_users;
  out["items"] = ds.n_items;
  out["train_rows"] = train.nnz();
  out["test_rows"] = ds.test.nnz();
  out["test_history"] =
      opt.test_sees_valid ? "training rows + the validation item" : "training rows";
  out["channels"] = Json::object();

  const FusionConfig tuned_fc = quality_fusion_config(cfg, opt);
  const size_t pool = tuned_fc.base.pool_size;
  // Test requests that see the validation item: the fitted rows plus it (ds.valid holds one
  // item per user in seed-loo and seed-oof).
  const Interactions test_rows =
      opt.test_sees_valid ? with_heldout_appended(train, ds.valid) : Interactions();
  Context cx{ds, train, opt.test_sees_valid ? test_rows : train, EvalOptions(), opt.threads,
             {}, {}};
  cx.valid_seen = ds.seen_at_valid();
  cx.test_seen = ds.seen_at_test();
  if (ds.options.keep_seen)
    out["seen"] = {
        {"rows", ds.seen.nnz()},
        {"excluded_per_test_request",
         static_cast<double>(cx.test_seen.nnz()) / std::max<uint32_t>(ds.n_users, 1)},
        {"policy", "ratings below min_rating known before the request are never listed"}};
  cx.eval.threads = opt.threads;
  cx.eval.ks = {10, 200};
  for (size_t p : pool_sizes(pool)) cx.eval.ks.push_back(p);

  const auto all_specs = channel_specs_from_yaml(cfg["recall"]["channels"]);
  const Suite tuned =
      run_channels(select_channels(all_specs, opt.channels), cx, config_seed(cfg), pool, "", out["channels"]);
  if (opt.fusion && tuned.fitted.size() >= 2) run_fusion(tuned, tuned_fc, cx, true, out["channels"]["fusion"]);
  if (!opt.parity_config.IsNull()) {
    const YAML::Node& pcfg = opt.parity_config;
    FusionConfig pfc = quality_fusion_config(pcfg, opt);
    pfc.base.pool_size = pool;  // same pool size as the tuned pool: comparable pool recall
    out["parity_channels"] = Json::object();
    const Suite parity = run_channels(channel_specs_from_yaml(pcfg["recall"]["channels"]), cx, config_seed(pcfg),
                                      pool, "parity/", out["parity_channels"]);
    if (opt.fusion && parity.fitted.size() >= 2) {
      run_fusion(parity, pfc, cx, false, out["channels"]["fusion_parity"]);
    }
  }
  if (opt.fusion && tuned.fitted.size() >= 2 && !opt.fusion_quotas.empty()) {
    out["fusion_strategies"] = run_fusion_strategies(tuned, tuned_fc, cx, opt.fusion_quotas);
  }
  return out;
}

}  // namespace cascade
