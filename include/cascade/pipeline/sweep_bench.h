// `cascade bench sweep`: one recall channel trained once per value of one of its parameters
// (everything else from the config), each fit evaluated on the validation AND the test split
// (full-catalogue ranking, src/eval, as `cascade train` / `cascade eval` do); the value is chosen
// on validation Recall@10 only, so the test figures of the chosen run are an unbiased read.
//
// The contract JSON (the report layer draws from it):
// {"dataset","protocol","channel","param","values":[v..],
//  "runs":[{"value":v,"spec":"kind:k=v,..","valid":{"recall@10","ndcg@10","recall@200"},
//           "test":{same keys},"fit_seconds"}],
//  "chosen_on_valid":v}
// A value that reads as a number is written as a JSON number, otherwise as a string.
#pragma once

#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cascade/data/dataset.h"
#include "cascade/pipeline/recall_job.h"

namespace cascade {

struct SweepOptions {
  std::string channel;              ///< a configured channel's name (recall.channels.<name>)
  std::string param;                ///< one of that channel kind's parameters
  std::vector<std::string> values;  ///< at least one
  int threads = 0;                  ///< 0 = hardware
};

/// The channel's spec once per value, each validated by constructing the channel (its own
/// Params bounds and unknown-key check): an unconfigured channel, an empty value list, an
/// unknown parameter or an out-of-range value throws cascade::Error naming it. Nothing is fitted.
std::vector<ChannelSpec> sweep_specs(const YAML::Node& cfg, const SweepOptions& opt);

/// The index of the best validation Recall@10 (the first of equal ones); throws when empty.
size_t choose_on_valid(const std::vector<double>& valid_recall10);

/// Runs the sweep on `ds` with the composed config `cfg` (channels fit on ds.train, or the recall
/// slice in seed-oof). Returns the contract JSON; progress goes to the log.
nlohmann::ordered_json run_sweep_bench(const YAML::Node& cfg, const Dataset& ds,
                                       const SweepOptions& opt);

}  // namespace cascade
