// The recall-quality benchmark (`cascade bench quality`): trains and evaluates every configured
// recall channel in-process on a prepared split, fuses them (weights tuned on the validation
// item, never on test), and does the same for the parity config of SYSTEM.md (fixed weights).
//
// The contract JSON (BENCHMARKS.md):
// {"dataset","protocol","users","items","train_rows","test_rows","test_history",
//  "channels":{NAME:{"recall@10","ndcg@10","mrr@10","recall@200","ndcg@200","coverage@10",
//                    "pool_recall","recall_by_depth","fit_seconds","eval_seconds"},
//              "fusion":{...,"pool_size","quota","method","weights_tuned","weights",
//                        "vs_channel","drop_one"}, "fusion_parity":{...}},
//  "parity_channels":{NAME:{...}},
//  "fusion_strategies":[{"method","quota","pool","weights_tuned","weights","recall@10","ndcg@10",
//                        "recall@200","pool_recall","seconds"}]}
// "fusion_strategies": the tuned config's channels fused by every registered fusion method at each
// of QualityBenchOptions::fusion_quotas (weights tuned on validation per method and quota when
// recall.fusion.tune, as the funnel's fusion_at_quota does), evaluated on test.
// "pool_recall" is Recall@pool_size (1000 by default): for a channel, of its own top 1000.
#pragma once

#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cascade/data/dataset.h"
#include "cascade/pipeline/fused_pool.h"

namespace cascade {

struct QualityBenchOptions {
  int threads = 0;                    ///< 0 = hardware
  std::vector<std::string> channels;  ///< only these of the config's channels (empty = all)
  bool fusion = true;                 ///< fuse the channels (the recall.fusion group)
  /// The parity config (recall=parity), run as a second suite with its own pool of the same
  /// size; null = not run.
  YAML::Node parity_config;
  size_t quota = 0;  ///< 0 = the config's recall.fusion.quota
  size_t pool = 0;   ///< 0 = the config's recall.fusion.pool_size
  /// Channel quotas of the "fusion_strategies" comparison (each with every fusion method);
  /// empty = not run.
  std::vector<size_t> fusion_quotas = {100, 200, 500};
  /// Test requests carry the user's validation item in their history (channels still fitted
  /// without it), as a request served after the validation event would; the validation item
  /// is then also kept out of the test lists. Default: training rows only, seed-loo's definition.
  bool test_sees_valid = false;
};

/// `cfg`'s recall.fusion group with the options' quota and pool size applied: how the bench
/// fuses that config's channels (its pool size is the "pool_recall" depth).
FusionConfig quality_fusion_config(const YAML::Node& cfg, const QualityBenchOptions& opt);

/// Runs the benchmark on `ds` with the composed config `cfg`; the channels fit on ds.train (the
/// recall slice in seed-oof). Returns the contract JSON; progress goes to the log.
nlohmann::ordered_json run_quality_bench(const YAML::Node& cfg, const Dataset& ds,
                                         const QualityBenchOptions& opt);

}  // namespace cascade
