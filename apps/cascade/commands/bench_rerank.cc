// cascade bench rerank --bundle DIR [--lambdas 0,0.1,...] [--split test|valid] [--json OUT]
// The λ sweep of the re-rank stage on a bundle's own held-out users (the bundle never saw their
// items). Each user is one live request through the served funnel (Recommender::recommend, the
// code /recommend runs) at serving's request time (pipeline/served_eval.h). Per λ: Recall@10,
// NDCG@10, Coverage@10, ILS@10 (mean pairwise cosine in the `rerank.vectors` channel's item
// space) and latency; and popularity-debiased Recall@10 (IPS and SNIPS with bootstrap intervals,
// propensity (n_i / max n)^γ floored: the missing-not-at-random estimator of served_eval.h).
#include <fmt/format.h>

#include <Eigen/Core>
#include <memory>
#include <nlohmann/json.hpp>

#include "cascade/core/error.h"
#include "cascade/io/artifact.h"
#include "cascade/pipeline/served_eval.h"
#include "cli_common.h"
#include "commands.h"

namespace cascade::cli {

void add_bench_rerank(CLI::App* bench) {
  struct Opts {
    std::string bundle, json;
    std::vector<double> lambdas = {0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0};
    size_t pre_keep = 0, fine_keep = 0;
    std::string split = "test";
    double gamma = 0.5, floor = 0.01;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = bench->add_subcommand("rerank", "lambda sweep of MMR re-ranking on a bundle's held-out items");
  cmd->add_option("--bundle", o->bundle, "bundle directory (cascade bundle)")->required();
  cmd->add_option("--lambdas", o->lambdas, "diversity values to sweep")->delimiter(',')->capture_default_str();
  cmd->add_option("--pre-keep", o->pre_keep, "override the bundle's pre-rank cut (0 = bundle's)");
  cmd->add_option("--fine-keep", o->fine_keep, "override the bundle's fine-rank cut (0 = bundle's)");
  cmd->add_option("--split", o->split, "test | valid")->check(CLI::IsMember({"test", "valid"}))->capture_default_str();
  cmd->add_option("--propensity-gamma", o->gamma,
                  "exponent of the popularity propensity (n_i / max n)^gamma of the debiased recall")
      ->capture_default_str();
  cmd->add_option("--propensity-floor", o->floor, "propensity floor (weights clipped at 1 / floor)")
      ->capture_default_str();
  cmd->add_option("--json", o->json, "write the table here");
  cmd->callback([o] {
    Eigen::setNbThreads(1);
    const Recommender rec(Bundle::load(o->bundle));
    const Dataset& ds = rec.bundle().data();
    nlohmann::ordered_json out;
    out["bundle"] = rec.bundle().version();
    out["dataset"] = ds.name;
    out["split"] = o->split;
    out["funnel"] = rec.bundle().funnel_spec();
    out["propensity"] = {{"model", "max((n_i / max n)^gamma, floor), n = training counts"},
                         {"gamma", o->gamma},
                         {"floor", o->floor}};
    ServedEvalOptions so;
    so.pre_keep = o->pre_keep;
    so.fine_keep = o->fine_keep;
    so.propensity_gamma = o->gamma;
    so.propensity_floor = o->floor;
    const nlohmann::ordered_json sweep =
        rerank_sweep(rec, o->split == "test" ? ds.test : ds.valid, o->lambdas, so, "--lambdas");
    out["ils_space"] = sweep["ils_space"];
    out["sweep"] = sweep["sweep"];
    std::vector<std::pair<std::string, std::map<std::string, double>>> rows;
    using Ptr = nlohmann::ordered_json::json_pointer;
    for (const auto& j : out["sweep"]) {
      const double lambda = j["lambda"];
      rows.emplace_back(fmt::format("lambda {:.2f}", lambda),
                        std::map<std::string, double>{{"recall@10", j["recall@10"]},
                                                      {"ndcg@10", j["ndcg@10"]},
                                                      {"coverage@10", j["coverage@10"]},
                                                      {"ils@10", j["ils@10"]},
                                                      {"ips_recall@10", j.value(Ptr("/ips/recall@10/value"), 0.0)},
                                                      {"snips_recall@10", j.value(Ptr("/snips/recall@10/value"), 0.0)},
                                                      {"p50_ms", j["latency_ms"]["p50"]},
                                                      {"p99_ms", j["latency_ms"]["p99"]},
                                                      {"rerank_p50_ms", j["latency_ms"]["rerank_p50"]}});
    }
    fmt::print("\n{} {} users, {} (latency: one request at a time, whole funnel)\n", ds.name, o->split,
               out["funnel"].get<std::string>());
    print_table({"recall@10", "ndcg@10", "coverage@10", "ils@10", "ips_recall@10", "snips_recall@10", "p50_ms", "p99_ms", "rerank_p50_ms"}, rows);
    if (!o->json.empty()) {
      write_file_atomic(o->json, out.dump(2) + "\n");
      fmt::print("wrote {}\n", o->json);
    }
  });
}

}  // namespace cascade::cli
