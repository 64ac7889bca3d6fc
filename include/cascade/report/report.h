// `cascade report`: one self-contained HTML page (out/index.html) and its figures (out/fig/*.png,
// each with fig/<name>.json holding exactly the numbers drawn), from a dataset and/or the JSON
// the bench commands write. Nothing is computed here that its inputs do not hold, except the
// dataset statistics (eda.h); a section without input says "not run".
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "cascade/data/loaders.h"

namespace cascade::report {

struct ReportInputs {
  std::string data, dataset;  ///< both or neither: the dataset section
  LoadOptions load;
  std::string quality, funnel, rerank, cuts, ope;  ///< bench JSON files; empty = not given
  std::vector<std::string> sweeps;           ///< cascade bench sweep JSON files
  std::filesystem::path out = "report";
};

struct ReportOutput {
  std::filesystem::path html;
  std::vector<std::filesystem::path> figures;  ///< the PNGs drawn
  size_t sections = 0, not_run = 0;
};

/// Reads every input (all before drawing, so a bad file fails fast), draws the figures with
/// gnuplot into out/fig and writes out/index.html. `progress` gets one line per step.
ReportOutput write_report(const ReportInputs& in,
                          const std::function<void(const std::string&)>& progress = {});

}  // namespace cascade::report
