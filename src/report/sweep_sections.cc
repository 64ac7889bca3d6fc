// Sections drawn from `cascade bench sweep` JSON: one channel parameter varied, validation and
// test metrics per value (the SASRec max_len and Two-Tower dim sweeps are expected).
#include <fmt/format.h>

#include <algorithm>

#include "cascade/report/sections.h"
#include "json_input.h"

namespace cascade::report {

using namespace detail;

namespace {

struct Expected {
  const char* channel;
  const char* param;
  const char* title;
  const char* values;
};
constexpr Expected kExpected[] = {
    {"sasrec", "max_len", "SASRec max length sweep", "10,25,50,100"},
    {"two_tower", "dim", "Two-Tower dimension sweep", "16,32,64,128"}};

Section sweep_section(const JsonInput& in, const std::string& title) {
  const std::string& file = in.path;
  const std::string channel = text(in.j, "channel", "?"), param = text(in.j, "param", "?");
  const Json& runs = child(in.j, "runs", file, "");
  Figure f{.name = "sweep_" + channel + "_" + param,
           .kind = FigureKind::Lines,
           .title = fmt::format("{}: {} {} (validation and test)", title, channel, param),
           .xlabel = param,
           .ylabel = "metric value"};
  const std::vector<std::pair<std::string, std::string>> lines = {
      {"valid", "recall@10"}, {"test", "recall@10"}, {"valid", "ndcg@10"}, {"test", "ndcg@10"}};
  for (const auto& [split, metric] : lines)
    f.series.push_back(Series{.label = split + " " + metric});
  Table t{"",
          {param, "valid recall@10", "valid ndcg@10", "valid recall@200", "test recall@10",
           "test ndcg@10", "test recall@200", "fit s"},
          {}};
  for (size_t i = 0; i < runs.size(); ++i) {
    const std::string where = fmt::format("runs[{}]", i);
    const double v = number(runs[i], "value", file, where);
    for (size_t s = 0; s < lines.size(); ++s) {
      const Json& split = child(runs[i], lines[s].first, file, where);
      f.series[s].x.push_back(v);
      f.series[s].y.push_back(number(split, lines[s].second, file, where + "." + lines[s].first));
    }
    t.rows.push_back({fmt::format("{:g}", v)});
    for (const char* split : {"valid", "test"}) {
      const Json& sj = child(runs[i], split, file, where);
      for (const char* m : {"recall@10", "ndcg@10", "recall@200"})
        t.rows.back().push_back(f4(number(sj, m, file, where + "." + split)));
    }
    t.rows.back().push_back(runs[i].contains("fit_seconds")
                                ? fmt::format("{:.1f}", number(runs[i], "fit_seconds", file, where))
                                : "");
  }
  const auto& xs = f.series[0].x;
  // Doubling grids (16, 32, 64, 128) read best on a log axis.
  if (!xs.empty() && *std::min_element(xs.begin(), xs.end()) > 0 &&
      *std::max_element(xs.begin(), xs.end()) >= 4 * *std::min_element(xs.begin(), xs.end()))
    f.log_x = true;
  f.xtics = xs;
  if (in.j.contains("chosen_on_valid")) {
    const double c = number(in.j, "chosen_on_valid", file, "");
    f.vlines.push_back({c, fmt::format("chosen on validation: {:g}", c)});
    f.extra["chosen_on_valid"] = c;
  }
  return Section{
      .id = "sweep-" + channel + "-" + param,
      .title = title,
      .caption = fmt::format("The {} channel retrained at each {} (everything else as configured); "
                             "recall@10 and ndcg@10 on validation and test. The value is chosen on "
                             "validation (dashed line); test is only reported.",
                             channel, param),
      .source = describe(in) + " (cascade bench sweep)",
      .figures = {f},
      .tables = {t}};
}

}  // namespace

std::vector<Section> sweep_sections(const std::vector<JsonInput>& sweeps) {
  std::vector<Section> out;
  std::vector<bool> used(sweeps.size(), false);
  for (const Expected& e : kExpected) {
    bool found = false;
    for (size_t i = 0; i < sweeps.size(); ++i) {
      if (used[i] || text(sweeps[i].j, "channel") != e.channel ||
          text(sweeps[i].j, "param") != e.param)
        continue;
      out.push_back(sweep_section(sweeps[i], e.title));
      used[i] = found = true;
      break;
    }
    if (!found) {
      out.push_back(Section{
          .id = std::string("sweep-") + e.channel + "-" + e.param,
          .title = e.title,
          .not_run =
              fmt::format("no sweep JSON of {} {} given; run cascade bench sweep --data "
                          "PATH --dataset NAME --channel {} --param {} --values {} --json "
                          "sweep-{}.json, then pass --sweep sweep-{}.json",
                          e.channel, e.param, e.channel, e.param, e.values, e.channel, e.channel)});
    }
  }
  for (size_t i = 0; i < sweeps.size(); ++i) {
    if (used[i]) continue;
    // Two sweeps of the same pair: the later one gets its own figure name.
    Section s = sweep_section(sweeps[i], "Sweep");
    for (const Section& o : out) {
      if (o.id == s.id) {
        s.id += "-" + std::to_string(i);
        s.figures[0].name += "_" + std::to_string(i);
      }
    }
    out.push_back(s);
  }
  return out;
}

}  // namespace cascade::report
