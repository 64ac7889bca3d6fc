// cascade bench cuts --bundle DIR [--split valid|test] [--pools ..] [--pre-keeps ..]
//   [--fine-keeps ..] [--json OUT]
// The serving-cost curve of the funnel's cut-offs on a bundle's held-out users: each
// (pool depth, pre-rank keep, fine-rank keep) is one pass of live requests through the served
// funnel (Recommender::recommend, one request at a time, one thread), giving Recall@10 and the
// whole request's latency; the Pareto frontier is marked (pipeline/served_eval.h, cuts_sweep).
// Choose on the validation split (the default); test is for reporting the chosen point once.
#include <fmt/format.h>

#include <Eigen/Core>
#include <memory>
#include <nlohmann/json.hpp>

#include "cascade/io/artifact.h"
#include "cascade/pipeline/served_eval.h"
#include "cli_common.h"
#include "commands.h"

namespace cascade::cli {

void add_bench_cuts(CLI::App* bench) {
  struct Opts {
    std::string bundle, json, split = "valid";
    std::vector<size_t> pools = {50, 100, 200}, pre_keeps = {20, 50, 100},
                        fine_keeps = {10, 20, 50};
    bool test_sees_valid = false;
    int rounds = 3;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = bench->add_subcommand(
      "cuts", "Recall@10 against serving latency for the funnel's pool depth and stage cuts");
  cmd->add_option("--bundle", o->bundle, "bundle directory (cascade bundle)")->required();
  cmd->add_option("--split", o->split, "valid | test")
      ->check(CLI::IsMember({"valid", "test"}))
      ->capture_default_str();
  cmd->add_option("--pools", o->pools, "pool depths (at most the bundle's fused pool size)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--pre-keeps", o->pre_keeps, "pre-rank cuts")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--fine-keeps", o->fine_keeps, "fine-rank cuts")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--test-sees-valid", o->test_sees_valid,
                  "test requests carry the user's validation item as a live event")
      ->capture_default_str();
  cmd->add_option("--rounds", o->rounds, "passes over all cuts; latencies are their medians")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  cmd->add_option("--json", o->json, "write the curve here");
  cmd->callback([o] {
    Eigen::setNbThreads(1);
    const Recommender rec(Bundle::load(o->bundle));
    const Dataset& ds = rec.bundle().data();
    ServedEvalOptions so;
    if (o->split == "test" && o->test_sees_valid) so.prior_events = &ds.valid;
    const Interactions test_seen = ds.seen_since_train();  // what test requests add (keep_seen)
    if (o->split == "test") so.prior_seen = &test_seen;
    nlohmann::ordered_json out;
    out["bundle"] = rec.bundle().version();
    out["dataset"] = ds.name;
    out["split"] = o->split;
    out["funnel"] = rec.bundle().funnel_spec();
    out["bundle_cuts"] = {{"pool_depth", rec.bundle().pool_depth()},
                          {"pre_keep", rec.bundle().pre_keep()},
                          {"fine_keep", rec.bundle().fine_keep()}};
    out["latency"] = fmt::format(
        "the whole request, one at a time on one thread; medians over {} rounds", o->rounds);
    out["curve"] = cuts_sweep(rec, o->split == "test" ? ds.test : ds.valid, o->pools, o->pre_keeps,
                              o->fine_keeps, so, o->rounds);
    std::vector<std::pair<std::string, std::map<std::string, double>>> rows;
    for (const auto& j : out["curve"]) {
      rows.emplace_back(
          fmt::format("{} > {} > {}{}", j["pool_depth"].get<size_t>(), j["pre_keep"].get<size_t>(),
                      j["fine_keep"].get<size_t>(), j["frontier"].get<bool>() ? " *" : ""),
          std::map<std::string, double>{{"recall@10", j["recall@10"]},
                                        {"ndcg@10", j["ndcg@10"]},
                                        {"ms_mean", j["ms_mean"]},
                                        {"ms_p50", j["ms_p50"]},
                                        {"ms_p99", j["ms_p99"]}});
    }
    fmt::print(
        "\n{} {} users, {}\npool > pre-keep > fine-keep (* = on the frontier: no cut is as "
        "good for less time)\n",
        ds.name, o->split, out["funnel"].get<std::string>());
    print_table({"recall@10", "ndcg@10", "ms_mean", "ms_p50", "ms_p99"}, rows);
    if (!o->json.empty()) {
      write_file_atomic(o->json, out.dump(2) + "\n");
      fmt::print("wrote {}\n", o->json);
    }
  });
}

}  // namespace cascade::cli
