// The report's sections, each built from one input: the dataset's statistics (eda.h) or one
// bench JSON. A builder only reads numbers from its input and never invents one: when the input
// (or the part of it a section needs) is missing, the section says "not run" and names the
// command that produces it. Malformed input throws cascade::Error naming the file and the field.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cascade/report/eda.h"
#include "cascade/report/html.h"

namespace cascade::report {

/// A JSON input: its path (for messages and captions) and content. `j` is null when not given.
struct JsonInput {
  std::string path;
  nlohmann::ordered_json j;  // file order kept
  bool given() const { return !j.is_null(); }
};

/// Reads and parses a JSON file; throws cascade::Error naming the file when it is missing,
/// unreadable or not valid JSON.
JsonInput load_json_input(const std::string& path);

/// Dataset sections: ratings, user activity, item popularity (Zipf), active days, genres,
/// cold-start buckets, Lorenz curve. `eda` null: one "not run" section.
std::vector<Section> eda_sections(const Eda* eda, const std::string& dataset);

/// `cascade bench quality`: channels, fusion strategies, drop-one.
std::vector<Section> quality_sections(const JsonInput& in);
/// `cascade bench funnel`: funnel retention, rankers vs pool, pairwise matrix, DIN attention vs
/// sum pooling, cold vs warm user buckets.
std::vector<Section> funnel_sections(const JsonInput& in);
/// `cascade bench rerank`: MMR λ Pareto fronts (and IPS / SNIPS estimates when present).
std::vector<Section> rerank_sections(const JsonInput& in);
/// `cascade bench sweep` files: the SASRec max_len and Two-Tower dim sweeps (not run when
/// absent), then any other sweep given.
std::vector<Section> sweep_sections(const std::vector<JsonInput>& sweeps);
/// `cascade bench cuts`: recall@10 against request latency per pool depth and stage cuts.
std::vector<Section> cuts_sections(const JsonInput& in);
/// `cascade bench ope`: true vs naive vs IPS vs SNIPS per policy.
std::vector<Section> ope_sections(const JsonInput& in);

}  // namespace cascade::report
