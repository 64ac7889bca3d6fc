// cascade bench ope [--users N --items M --impressions K --seed S] [--clip M] [--k 10]
//                   [--resamples B] [--no-ials] [--json OUT.json]
// Off-policy estimators against the truth (pipeline/ope_bench.h): a synthetic logged-exposure
// world with a known logging policy and click model, several target policies valued exactly and
// from the log by naive, IPS, clipped IPS and SNIPS with bootstrap intervals.
#include <fmt/format.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "cascade/io/artifact.h"
#include "cascade/pipeline/ope_bench.h"
#include "cascade/util/stopwatch.h"
#include "cli_common.h"
#include "commands.h"

namespace cascade::cli {

void add_bench_ope(CLI::App* bench) {
  struct Opts {
    OpeBenchOptions b;
    std::string json;
    bool no_ials = false;
  };
  auto o = std::make_shared<Opts>();
  o->b.ope.clip = 100;
  LoggedExposureOptions& w = o->b.world;
  CLI::App* cmd = bench->add_subcommand("ope",
                                        "off-policy estimators (naive, IPS, clipped IPS, SNIPS) "
                                        "against the truth on a synthetic logged-exposure world");
  cmd->add_option("--users", w.users, "users")->capture_default_str();
  cmd->add_option("--items", w.items, "items")->capture_default_str();
  cmd->add_option("--impressions", w.impressions, "logged impressions (events)")
      ->capture_default_str();
  cmd->add_option("--seed", w.seed, "world and log seed")->capture_default_str();
  cmd->add_option("--temperature", w.temperature, "logging softmax temperature")
      ->capture_default_str();
  cmd->add_option("--logging-affinity", w.logging_affinity,
                  "weight of user affinity in the logging score")
      ->capture_default_str();
  cmd->add_option("--k", o->b.k, "target list length (top-K value)")->capture_default_str();
  cmd->add_option("--clip", o->b.ope.clip, "weight cap M of clipped IPS")->capture_default_str();
  cmd->add_option("--resamples", o->b.ope.resamples, "bootstrap resamples")->capture_default_str();
  cmd->add_option("--bootstrap-seed", o->b.ope.seed, "bootstrap seed")->capture_default_str();
  cmd->add_option("--threads", o->b.threads, "threads for the iALS fit (0 = all)")
      ->capture_default_str();
  cmd->add_flag("--no-ials", o->no_ials, "skip the top-k-ials target policy");
  cmd->add_option("--json", o->json, "write the results here");
  cmd->callback([o] {
    o->b.ials = !o->no_ials;
    const Stopwatch t0;
    const OpeBench r = run_ope_bench(o->b);
    fmt::print("\n{} events, {} users, {} items; logging: {}\n", r.events, o->b.world.users,
               o->b.world.items, r.logging_policy);
    fmt::print(
        "logging policy value {:.4f} (logged click rate {:.4f}); top-{} value = mean click "
        "probability of a slot of the target's list; clip {}\n",
        r.logging_value, r.logged_click_rate, r.k, r.clip);
    fmt::print("{:<20} {:>7} {:>24} {:>24} {:>24} {:>24} {:>8}\n", "policy", "true",
               "naive [95% CI]", "IPS [95% CI]", "clipped IPS [95% CI]", "SNIPS [95% CI]", "ESS");
    auto cell = [](const OpeEstimate& e) {
      return fmt::format("{:.4f} [{:.4f},{:.4f}]", e.value, e.ci_low, e.ci_high);
    };
    for (const auto& p : r.policies)
      fmt::print("{:<20} {:>7.4f} {:>24} {:>24} {:>24} {:>24} {:>8.1f}\n", p.name, p.truth,
                 cell(p.estimate.naive), cell(p.estimate.ips), cell(p.estimate.clipped_ips),
                 cell(p.estimate.snips), p.estimate.ess);
    fmt::print("{:.1f} s\n", t0.seconds());
    if (!o->json.empty()) {
      write_file_atomic(o->json, r.to_json().dump(2) + "\n");
      fmt::print("wrote {}\n", o->json);
    }
  });
}

}  // namespace cascade::cli
