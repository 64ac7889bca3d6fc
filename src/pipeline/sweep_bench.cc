#include "cascade/pipeline/sweep_bench.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <charconv>

#include "cascade/core/error.h"
#include "cascade/eval/evaluator.h"

namespace cascade {
namespace {

using Json = nlohmann::ordered_json;

const char* const kReported[] = {"recall@10", "ndcg@10", "recall@200"};

uint64_t config_seed(const YAML::Node& cfg) {
  return cfg["seed"] ? cfg["seed"].as<uint64_t>() : 42;
}

// "50" -> 50, "0.5" -> 0.5, "softmax" -> "softmax": numbers stay numbers for the figures.
Json value_json(const std::string& v) {
  int64_t i = 0;
  const char* end = v.data() + v.size();
  if (auto [p, ec] = std::from_chars(v.data(), end, i); ec == std::errc() && p == end) return i;
  double d = 0;
  if (auto [p, ec] = std::from_chars(v.data(), end, d); ec == std::errc() && p == end) return d;
  return v;
}

Json metrics_json(const EvalResult& r) {
  Json j;
  for (const char* m : kReported) j[m] = r.summary.at(m);
  return j;
}

}  // namespace

std::vector<ChannelSpec> sweep_specs(const YAML::Node& cfg, const SweepOptions& opt) {
  if (opt.values.empty())
    throw Error(fmt::format("bench sweep: no values given for --param {}", opt.param));
  if (opt.param.empty()) throw Error("bench sweep: --param is empty");
  const auto all = channel_specs_from_yaml(cfg["recall"]["channels"]);
  const ChannelSpec base = select_channels(all, {opt.channel}).front();
  std::vector<ChannelSpec> out;
  for (const std::string& v : opt.values) {
    ChannelSpec s = base;
    s.params.set(opt.param, v);
    try {
      // Constructing the channel reads every parameter against its bounds and rejects unknown
      // keys: the channel's own validation, before any value is trained.
      make_recaller(s.spec());
    } catch (const Error& e) {
      throw Error(fmt::format("bench sweep: channel {} ({}), --param {}={}: {}", opt.channel,
                              base.kind, opt.param, v, e.what()));
    }
    out.push_back(std::move(s));
  }
  return out;
}

size_t choose_on_valid(const std::vector<double>& valid_recall10) {
  CASCADE_CHECK(!valid_recall10.empty(), "bench sweep: no runs to choose from");
  size_t best = 0;
  for (size_t i = 1; i < valid_recall10.size(); ++i)
    if (valid_recall10[i] > valid_recall10[best]) best = i;
  return best;
}

Json run_sweep_bench(const YAML::Node& cfg, const Dataset& ds, const SweepOptions& opt) {
  const std::vector<ChannelSpec> specs = sweep_specs(cfg, opt);
  const bool oof = ds.options.protocol == Protocol::kSeedOof;
  const Interactions train = oof ? ds.recall_slice() : ds.train;
  EvalOptions eval;
  eval.ks = {10, 200};
  eval.threads = opt.threads;

  Json out;
  out["dataset"] = ds.name;
  out["protocol"] = protocol_name(ds.options.protocol);
  out["channel"] = opt.channel;
  out["param"] = opt.param;
  out["values"] = Json::array();
  for (const auto& v : opt.values) out["values"].push_back(value_json(v));
  out["runs"] = Json::array();
  std::vector<double> valid_r10;
  // keep_seen: what validation / test requests know the user consumed (no rows otherwise).
  const Interactions valid_seen = ds.seen_at_valid(), test_seen = ds.seen_at_test();
  for (size_t i = 0; i < specs.size(); ++i) {
    spdlog::info("sweep {}.{} = {}: fitting {}", opt.channel, opt.param, opt.values[i],
                 specs[i].spec());
    const FittedChannel fc = fit_channel(specs[i], ds, train, opt.threads, config_seed(cfg));
    EvalOptions valid_eval = eval, test_eval = eval;
    valid_eval.exclude = &valid_seen;
    test_eval.exclude = &test_seen;
    const EvalResult valid = evaluate(*fc.model, train, ds.valid, valid_eval);
    const EvalResult test = evaluate(*fc.model, train, ds.test, test_eval);
    spdlog::info("sweep {}.{} = {}: fit {:.1f} s, valid recall@10 {:.4f}, test recall@10 {:.4f}",
                 opt.channel, opt.param, opt.values[i], fc.fit_seconds,
                 valid.summary.at("recall@10"), test.summary.at("recall@10"));
    valid_r10.push_back(valid.summary.at("recall@10"));
    out["runs"].push_back(Json{{"value", value_json(opt.values[i])},
                               {"spec", specs[i].spec()},
                               {"valid", metrics_json(valid)},
                               {"test", metrics_json(test)},
                               {"fit_seconds", fc.fit_seconds}});
  }
  out["chosen_on_valid"] = value_json(opt.values[choose_on_valid(valid_r10)]);
  return out;
}

}  // namespace cascade
