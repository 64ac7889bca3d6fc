// cascade bench rerank --bundle DIR [--lambdas 0,0.1,...] [--json OUT]
// The lambda sweep of the re-rank stage on a bundle's own held-out test items (the bundle
// never saw them: channels on the recall slice, fusion tuned on validation, rankers on the
// ranker slice). Each test user is one live request through the served funnel
// (Recommender::recommend, the code /recommend runs), history = the training row, request
// time = the test event's time. Per lambda: Recall@10, NDCG@10, Coverage@10, ILS@10 (mean
// pairwise cosine of the list in the `rerank.vectors` channel's item space) and latency.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>

#include "cascade/core/error.h"
#include "cascade/eval/metrics.h"
#include "cascade/io/artifact.h"
#include "cascade/pipeline/recommender.h"
#include "cli_common.h"
#include "commands.h"

namespace cascade::cli {

void add_bench_rerank(CLI::App* bench) {
  struct Opts {
    std::string bundle, json;
    std::vector<double> lambdas = {0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0};
    size_t pre_keep = 0, fine_keep = 0;
    std::string split = "test";
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = bench->add_subcommand(
      "rerank", "lambda sweep of MMR re-ranking on a bundle's held-out items");
  cmd->add_option("--bundle", o->bundle, "bundle directory (cascade bundle)")->required();
  cmd->add_option("--lambdas", o->lambdas, "diversity values to sweep")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--pre-keep", o->pre_keep, "override the bundle's pre-rank cut (0 = bundle's)");
  cmd->add_option("--fine-keep", o->fine_keep,
                  "override the bundle's fine-rank cut (0 = bundle's)");
  cmd->add_option("--split", o->split, "test | valid")->capture_default_str();
  cmd->add_option("--json", o->json, "write the table here");
  cmd->callback([o] {
    Eigen::setNbThreads(1);
    for (double l : o->lambdas)
      CASCADE_CHECK(l >= 0 && l <= 1, fmt::format("--lambdas: {} is outside [0, 1]", l));
    CASCADE_CHECK(o->split == "test" || o->split == "valid", "--split must be test or valid");
    const Recommender rec(Bundle::load(o->bundle));
    const Dataset& ds = rec.bundle().data();
    const Interactions& held = o->split == "test" ? ds.test : ds.valid;
    const auto unit = rec.unit_vectors();
    nlohmann::ordered_json out;
    out["bundle"] = rec.bundle().version();
    out["dataset"] = ds.name;
    out["split"] = o->split;
    out["funnel"] = fmt::format(
        "pool {} -> {} {} -> {} {} -> MMR -> 10", rec.bundle().pool_depth(),
        rec.bundle().pre_name(), o->pre_keep ? o->pre_keep : rec.bundle().pre_keep(),
        rec.bundle().fine_name(), o->fine_keep ? o->fine_keep : rec.bundle().fine_keep());
    out["ils_space"] = "cosine of " + rec.vectors_channel() + " item vectors";
    std::vector<std::pair<std::string, std::map<std::string, double>>> rows;
    for (double lambda : o->lambdas) {
      double recall = 0, ndcg = 0, ils = 0, users = 0;
      std::vector<uint8_t> covered(ds.n_items, 0);
      std::vector<double> total_ms, rerank_ms;
      for (uint32_t u = 0; u < held.n_rows; ++u) {
        if (held.row_size(u) == 0) continue;
        RecommendRequest r;
        r.user = ds.user_ids[u];
        r.k = 10;
        r.diversity = lambda;
        r.now = held.row_times(u)[0];
        r.pre_keep = o->pre_keep;
        r.fine_keep = o->fine_keep;
        const RecommendResponse resp = rec.recommend(r);
        std::vector<ItemId> list;
        for (const auto& it : resp.items) list.push_back(it.item);
        const ItemId target = held.row(u)[0];
        const auto pos = std::find(list.begin(), list.end(), target);
        if (pos != list.end()) {
          recall += 1;
          ndcg += 1.0 / std::log2(static_cast<double>(pos - list.begin()) + 2.0);
        }
        for (ItemId i : list) covered[i] = 1;
        if (!unit.empty()) ils += ils_at(list, unit.data(), rec.vector_dim(), 10);
        users += 1;
        total_ms.push_back(resp.latency.total_ms);
        rerank_ms.push_back(resp.latency.rerank_ms);
      }
      const double coverage = static_cast<double>(std::count(covered.begin(), covered.end(), 1)) /
                              static_cast<double>(ds.n_items);
      std::map<std::string, double> row = {{"recall@10", recall / users},
                                           {"ndcg@10", ndcg / users},
                                           {"coverage@10", coverage},
                                           {"ils@10", ils / users},
                                           {"p50_ms", percentile(total_ms, 0.5)},
                                           {"p99_ms", percentile(total_ms, 0.99)},
                                           {"rerank_p50_ms", percentile(rerank_ms, 0.5)}};
      out["sweep"].push_back({{"lambda", lambda},
                              {"users", users},
                              {"recall@10", row["recall@10"]},
                              {"ndcg@10", row["ndcg@10"]},
                              {"coverage@10", coverage},
                              {"ils@10", row["ils@10"]},
                              {"latency_ms",
                               {{"p50", row["p50_ms"]},
                                {"p99", row["p99_ms"]},
                                {"rerank_p50", row["rerank_p50_ms"]}}}});
      rows.emplace_back(fmt::format("lambda {:.2f}", lambda), row);
      spdlog::info("lambda {:.2f}: recall@10 {:.4f} ils@10 {:.4f}", lambda, row["recall@10"],
                   row["ils@10"]);
    }
    fmt::print("\n{} {} users, {} (latency: one request at a time, whole funnel)\n", ds.name,
               o->split, out["funnel"].get<std::string>());
    print_table(
        {"recall@10", "ndcg@10", "coverage@10", "ils@10", "p50_ms", "p99_ms", "rerank_p50_ms"},
        rows);
    if (!o->json.empty()) {
      write_file_atomic(o->json, out.dump(2) + "\n");
      fmt::print("wrote {}\n", o->json);
    }
  });
}

}  // namespace cascade::cli
