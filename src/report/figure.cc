#include "cascade/report/figure.h"

#include <fmt/format.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

#include "cascade/core/error.h"
#include "cascade/io/artifact.h"

namespace fs = std::filesystem;
using Json = nlohmann::json;

namespace cascade::report {

namespace {

// A gnuplot double-quoted string (the terminal is noenhanced, so '_' stays literal).
std::string q(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string num(double v) {
  return std::isfinite(v) ? fmt::format("{:.17g}", v) : "NaN";
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Twelve distinct colours: the user-bucket figure draws ten series (pool, funnel, eight rankers),
// and a repeated colour made two of them indistinguishable.
const std::array<const char*, 12> kColours = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                              "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                                              "#bcbd22", "#17becf", "#000000", "#fdbf6f"};

std::string header(const Figure& f, const std::string& png) {
  std::string s;
  s += "set terminal pngcairo noenhanced size 1000,580 font \"DejaVu Sans,12\"\n";
  s += fmt::format("set output {}\n", q(png));
  s += fmt::format("set title {} font \",14\"\n", q(f.title));
  s += fmt::format("set xlabel {}\nset ylabel {}\n", q(f.xlabel), q(f.ylabel));
  s += "set datafile missing \"NaN\"\nset border 3\nset tics nomirror\n";
  s += "set grid ytics lc rgb \"#dddddd\"\n";
  if (f.log_x) s += "set logscale x 10\n";
  if (f.log_y) s += "set logscale y 10\n";
  if (!f.xtics.empty()) {
    std::string tics;
    for (double x : f.xtics) tics += fmt::format("{}{}", tics.empty() ? "" : ", ", num(x));
    s += "set xtics (" + tics + ")\n";
    // Fit the x range to the ticks: gnuplot's autoscale would run on to the next decade.
    const auto [lo, hi] = std::minmax_element(f.xtics.begin(), f.xtics.end());
    if (f.log_x && *lo > 0) {
      s += fmt::format("set xrange [{}:{}]\n", num(*lo / 1.25), num(*hi * 1.25));
    } else if (*hi > *lo) {
      s += fmt::format("set xrange [{}:{}]\n", num(*lo - 0.05 * (*hi - *lo)),
                       num(*hi + 0.05 * (*hi - *lo)));
    }
  }
  for (size_t i = 0; i < f.vlines.size(); ++i) {
    const auto& [x, label] = f.vlines[i];
    s += fmt::format(
        "set arrow from {}, graph 0 to {}, graph 1 nohead dt 2 lw 1.5 lc rgb \"#444444\"\n", num(x),
        num(x));
    s += fmt::format("set label {} at {}, graph {} offset char 0.5,0 tc rgb \"#444444\"\n",
                     q(label), num(x), num(0.95 - 0.06 * static_cast<double>(i)));
  }
  return s;
}

size_t longest(const std::vector<std::string>& v) {
  size_t n = 0;
  for (const auto& s : v) n = std::max(n, s.size());
  return n;
}

std::string bars_script(const Figure& f, const std::string& dat) {
  const bool errors =
      std::any_of(f.series.begin(), f.series.end(), [](const Series& s) { return s.has_errors(); });
  std::string s = "set style data histogram\n";
  s += errors ? "set style histogram errorbars gap 1 lw 1.5\n"
              : "set style histogram clustered gap 1\n";
  s += "set style fill solid 0.85 border -1\nset boxwidth 0.9\nset xzeroaxis lt -1\n";
  s += f.series.size() > 1 ? "set key outside top center horizontal\n" : "set key off\n";
  // Bars of non-negative values start at zero (gnuplot would otherwise crop the axis).
  double lowest = 0;
  for (const Series& se : f.series) {
    for (double v : se.y) lowest = std::min(lowest, v);
    for (double v : se.y_low) lowest = std::min(lowest, v);
  }
  if (lowest >= 0) s += "set yrange [0:*]\n";
  if (f.categories.size() > 6 || longest(f.categories) > 10) s += "set xtics rotate by -35 left\n";
  s += "plot ";
  for (size_t i = 0; i < f.series.size(); ++i) {
    const size_t col = 2 + i * (errors ? 3 : 1);
    const std::string cols =
        errors ? fmt::format("{}:{}:{}", col, col + 1, col + 2) : std::to_string(col);
    s +=
        fmt::format("{}{} using {}{} title {} lc rgb \"{}\"", i ? ", " : "", i ? "''" : q(dat),
                    cols, i ? "" : ":xtic(1)", q(f.series[i].label), kColours[i % kColours.size()]);
  }
  return s + "\n";
}

std::string lines_script(const Figure& f, const std::string& dat, bool labelled) {
  std::string s = f.series.size() == 1 && !labelled
                      ? "set key off\n"
                      : fmt::format("set key {} box opaque\n",
                                    f.key_position.empty() ? "top left" : f.key_position);
  // On log axes, points (and p10 markers) at the smallest value would sit on the axis itself.
  double min_x = INFINITY, min_y = INFINITY;
  for (const Series& se : f.series) {
    for (double v : se.x)
      if (v > 0) min_x = std::min(min_x, v);
    for (double v : se.y)
      if (v > 0) min_y = std::min(min_y, v);
  }
  if (f.log_x && f.xtics.empty() && std::isfinite(min_x))
    s += fmt::format("set xrange [{}:*]\n", num(min_x / 1.5));
  if (f.log_y && std::isfinite(min_y)) s += fmt::format("set yrange [{}:*]\n", num(min_y / 1.5));
  // Room around the points so their labels and error bars stay inside the frame.
  if (labelled) {
    s += "set offsets graph 0.04, graph 0.08, graph 0.06, graph 0.04\n";
  } else if (!f.log_x && !f.log_y) {
    s += "set offsets graph 0.03, graph 0.03, graph 0.04, graph 0.04\n";
  }
  s += "plot ";
  for (size_t i = 0; i < f.series.size(); ++i) {
    const Series& se = f.series[i];
    const char* colour = kColours[i % kColours.size()];
    const std::string style = se.has_errors()  ? "yerrorlines"
                              : se.points_only ? "points"
                                               : "linespoints";
    const std::string cols = se.has_errors() ? "1:2:3:4" : "1:2";
    s += fmt::format("{}{} index {} using {} with {} pt 7 ps 1.1 lw 2 lc rgb \"{}\" title {}",
                     i ? ", " : "", q(dat), i, cols, style, colour, q(se.label));
    if (labelled) {
      s += fmt::format(
          ", {} index {} using 1:2:{} with labels offset char 1.2,0.7 left tc rgb \"{}\" notitle",
          q(dat), i, se.has_errors() ? 5 : 3, colour);
    }
  }
  return s + "\n";
}

std::string heatmap_script(const Figure& f, const std::string& dat) {
  const size_t n = f.categories.size();
  double m = 0;
  for (const auto& row : f.matrix)
    for (double v : row)
      if (std::isfinite(v)) m = std::max(m, std::abs(v));
  if (m == 0) m = 1;
  std::string tics;
  for (size_t i = 0; i < n; ++i)
    tics += fmt::format("{}{} {}", i ? ", " : "", q(f.categories[i]), i);
  std::string s = "set key off\nunset grid\n";
  s += fmt::format("set xtics ({})\nset ytics ({})\n", tics, tics);
  if (longest(f.categories) > 6) s += "set xtics rotate by -35 left\n";
  s += fmt::format("set xrange [-0.5:{}]\nset yrange [{}:-0.5]\n",
                   num(static_cast<double>(n) - 0.5), num(static_cast<double>(n) - 0.5));
  s += "set palette defined (-1 \"#2166ac\", 0 \"#f7f7f7\", 1 \"#b2182b\")\n";
  s += fmt::format("set cbrange [{}:{}]\nset cblabel {}\n", num(-m), num(m), q(f.matrix_label));
  s += fmt::format(
      "plot {} index 0 using 1:2:3 with image, {} index 1 using 1:2:3 with labels font \",11\"\n",
      q(dat), q(dat));
  return s;
}

}  // namespace

std::string kind_name(FigureKind k) {
  switch (k) {
    case FigureKind::Bars:
      return "bars";
    case FigureKind::Lines:
      return "lines";
    case FigureKind::Scatter:
      return "scatter";
    case FigureKind::Heatmap:
      return "heatmap";
  }
  return "?";
}

Json to_json(const Figure& f) {
  Json j;
  j["name"] = f.name;
  j["kind"] = kind_name(f.kind);
  j["title"] = f.title;
  j["xlabel"] = f.xlabel;
  j["ylabel"] = f.ylabel;
  j["log_x"] = f.log_x;
  j["log_y"] = f.log_y;
  if (!f.categories.empty()) j["categories"] = f.categories;
  j["series"] = Json::array();
  for (const Series& s : f.series) {
    Json js{{"label", s.label}, {"y", s.y}};
    if (!s.x.empty()) js["x"] = s.x;
    if (s.has_errors()) {
      js["y_low"] = s.y_low;
      js["y_high"] = s.y_high;
    }
    if (!s.point_labels.empty()) js["point_labels"] = s.point_labels;
    j["series"].push_back(js);
  }
  if (!f.matrix.empty()) {
    j["matrix"] = f.matrix;
    j["matrix_label"] = f.matrix_label;
    if (!f.cell_text.empty()) j["cell_text"] = f.cell_text;
  }
  if (!f.vlines.empty()) {
    j["vlines"] = Json::array();
    for (const auto& [x, label] : f.vlines) j["vlines"].push_back({{"x", x}, {"label", label}});
  }
  j["extra"] = f.extra;
  return j;
}

std::string gnuplot_data(const Figure& f) {
  std::string d;
  if (f.kind == FigureKind::Bars) {
    const bool errors = std::any_of(f.series.begin(), f.series.end(),
                                    [](const Series& s) { return s.has_errors(); });
    for (size_t c = 0; c < f.categories.size(); ++c) {
      d += q(f.categories[c]);
      for (const Series& s : f.series) {
        const double y = c < s.y.size() ? s.y[c] : NAN;
        d += " " + num(y);
        if (errors)
          d += " " + num(s.has_errors() ? s.y_low[c] : y) + " " +
               num(s.has_errors() ? s.y_high[c] : y);
      }
      d += "\n";
    }
    return d;
  }
  if (f.kind == FigureKind::Heatmap) {
    for (size_t r = 0; r < f.matrix.size(); ++r) {
      for (size_t c = 0; c < f.matrix[r].size(); ++c)
        d += fmt::format("{} {} {}\n", c, r, num(f.matrix[r][c]));
      d += "\n";
    }
    d += "\n";
    for (size_t r = 0; r < f.cell_text.size(); ++r)
      for (size_t c = 0; c < f.cell_text[r].size(); ++c)
        d += fmt::format("{} {} {}\n", c, r, q(f.cell_text[r][c]));
    return d;
  }
  for (size_t i = 0; i < f.series.size(); ++i) {
    const Series& s = f.series[i];
    if (i) d += "\n\n";
    for (size_t k = 0; k < s.y.size(); ++k) {
      d += num(s.x[k]) + " " + num(s.y[k]);
      if (s.has_errors()) d += " " + num(s.y_low[k]) + " " + num(s.y_high[k]);
      if (f.kind == FigureKind::Scatter)
        d += " " + q(k < s.point_labels.size() ? s.point_labels[k] : "");
      d += "\n";
    }
  }
  return d;
}

std::string gnuplot_script(const Figure& f, const std::string& data_file,
                           const std::string& png_file) {
  std::string s = header(f, png_file);
  switch (f.kind) {
    case FigureKind::Bars:
      return s + bars_script(f, data_file);
    case FigureKind::Lines:
      return s + lines_script(f, data_file, false);
    case FigureKind::Scatter:
      return s + lines_script(f, data_file, true);
    case FigureKind::Heatmap:
      return s + heatmap_script(f, data_file);
  }
  return s;
}

bool gnuplot_available() {
  FILE* p = popen("gnuplot -e 'set terminal pngcairo' 2>&1", "r");
  if (!p) return false;
  std::array<char, 256> buf;
  std::string out;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  const int status = pclose(p);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 && out.empty();
}

fs::path render_figure(const Figure& f, const fs::path& dir) {
  CASCADE_CHECK(!f.name.empty(), "a figure needs a name");
  fs::create_directories(dir);
  const std::string dat = f.name + ".dat", gp = f.name + ".gp", png = f.name + ".png";
  write_file_atomic(dir / dat, gnuplot_data(f));
  write_file_atomic(dir / gp, gnuplot_script(f, dat, png));
  write_file_atomic(dir / (f.name + ".json"), to_json(f).dump(2) + "\n");
  fs::remove(dir / png);
  // gnuplot runs in the figure folder so the script names its files relative to it.
  const std::string cmd =
      "cd " + shell_quote(dir.string()) + " && gnuplot " + shell_quote(gp) + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) throw Error("cannot start gnuplot (popen failed)");
  std::array<char, 4096> buf;
  std::string out;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  const int status = pclose(p);
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (code == 127) {
    throw Error(
        "gnuplot not found on PATH: the report draws its figures with gnuplot; install it with "
        "`apt-get install gnuplot-nox` (or scripts/install_deps.sh)");
  }
  if (code != 0 || !fs::exists(dir / png) || fs::file_size(dir / png) == 0) {
    throw Error(
        fmt::format("gnuplot failed drawing {} (exit {}): {}", (dir / png).string(), code, out));
  }
  return dir / png;
}

}  // namespace cascade::report
