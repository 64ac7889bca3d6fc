// A figure as data: what is drawn (series, categories, a matrix) and how (kind, axes). The
// gnuplot backend renders it to PNG; to_json() is the exact record of the numbers drawn, written
// next to the PNG as fig/<name>.json so tests and readers can check them.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace cascade::report {

enum class FigureKind {
  Bars,     ///< clustered bars over `categories`, one bar per series; optional error bars
  Lines,    ///< lines with points over numeric x; optional error bars, log axes
  Scatter,  ///< points over numeric x, each labelled with `point_labels` (a Pareto plot)
  Heatmap,  ///< `matrix` over categories x categories, cells annotated with `cell_text`
};

struct Series {
  std::string label{};
  std::vector<double> x{};  ///< Lines / Scatter only (Bars use the category index)
  std::vector<double> y{};
  std::vector<double> y_low{}, y_high{};    ///< error bars: empty, or one per y
  std::vector<std::string> point_labels{};  ///< Scatter: one per point
  bool points_only = false;                 ///< Lines: draw points without joining them
  bool has_errors() const { return !y_low.empty(); }
};

struct Figure {
  std::string name{};  ///< file stem under fig/
  FigureKind kind = FigureKind::Bars;
  std::string title{}, xlabel{}, ylabel{};
  std::vector<std::string> categories{};  ///< Bars: x tick labels; Heatmap: row and column names
  std::vector<Series> series{};
  std::vector<std::vector<double>> matrix{};          ///< Heatmap: rows x columns
  std::vector<std::vector<std::string>> cell_text{};  ///< Heatmap annotations (same shape or empty)
  std::string matrix_label{};                         ///< Heatmap colour-bar label
  std::vector<std::pair<double, std::string>> vlines{};  ///< labelled vertical markers (x, label)
  std::vector<double>
      xtics{};  ///< explicit x tick positions (e.g. a sweep's values); empty = gnuplot's
  bool log_x = false, log_y = false;
  std::string key_position{};  ///< Lines / Scatter: gnuplot key position ("" = top left)
  nlohmann::json extra =
      nlohmann::json::object();  ///< further numbers drawn or stated (fit slope, Gini)
};

std::string kind_name(FigureKind k);

/// Every number drawn: name, kind, title, axes, categories, series, matrix, vlines, extra.
nlohmann::json to_json(const Figure& f);

/// The gnuplot script drawing `f` from `data_file` into `png_file` (exposed for tests).
std::string gnuplot_script(const Figure& f, const std::string& data_file,
                           const std::string& png_file);
/// The data file the script reads.
std::string gnuplot_data(const Figure& f);

/// Writes <dir>/<name>.dat, .gp, .json and runs gnuplot to draw <dir>/<name>.png. Throws
/// cascade::Error if gnuplot is not installed (naming the package) or fails (with its output).
std::filesystem::path render_figure(const Figure& f, const std::filesystem::path& dir);

/// True when a `gnuplot` binary that can draw PNG (pngcairo) is on PATH.
bool gnuplot_available();

}  // namespace cascade::report
