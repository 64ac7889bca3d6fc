// The section drawn from `cascade bench cuts`: validation Recall@10 against the whole request's
// latency for each (pool depth, pre-rank keep, fine-rank keep), the frontier apart.
#include <fmt/format.h>

#include <algorithm>

#include "cascade/report/sections.h"
#include "json_input.h"

namespace cascade::report {

using namespace detail;

namespace {

const char* kCutsCmd =
    "cascade bundle --out BUNDLE ..., then cascade bench cuts --bundle BUNDLE --json cuts.json, "
    "and pass --cuts cuts.json";

std::string cut_label(const Json& c, const std::string& file, const std::string& where) {
  return fmt::format("{:g}>{:g}>{:g}", number(c, "pool_depth", file, where),
                     number(c, "pre_keep", file, where), number(c, "fine_keep", file, where));
}

}  // namespace

std::vector<Section> cuts_sections(const JsonInput& in) {
  if (!in.given()) {
    return {Section{.id = "cuts",
                    .title = "Depth and cuts: recall against serving cost",
                    .not_run = std::string("no bench cuts JSON given; run ") + kCutsCmd}};
  }
  const std::string& file = in.path;
  const Json& curve = child(in.j, "curve", file, "");
  Figure f{.name = "cuts_cost",
           .kind = FigureKind::Scatter,
           .title = "Funnel cuts: recall@10 against mean request latency",
           .xlabel = "mean latency of a whole request, ms (one thread)",
           .ylabel = "recall@10"};
  struct Point {
    double ms, recall;
    std::string label;
  };
  std::vector<Point> frontier;  // drawn as a curve, left to right
  Series rest{.label = "dominated", .points_only = true};
  Table t{"",
          {"pool > pre-keep > fine-keep", "recall@10", "ndcg@10", "mean ms", "p50 ms", "p99 ms",
           "frontier"},
          {}};
  for (size_t i = 0; i < curve.size(); ++i) {
    const Json& c = curve[i];
    const std::string where = fmt::format("curve[{}]", i);
    const bool on =
        c.contains("frontier") && c["frontier"].is_boolean() && c["frontier"].get<bool>();
    const double ms = number(c, "ms_mean", file, where);
    const double recall = number(c, "recall@10", file, where);
    if (on) {
      frontier.push_back({ms, recall, cut_label(c, file, where)});
    } else {
      rest.x.push_back(ms);
      rest.y.push_back(recall);
      rest.point_labels.push_back("");
    }
    t.rows.push_back({cut_label(c, file, where), f4(recall),
                      f4(number(c, "ndcg@10", file, where)), fmt::format("{:.3f}", ms),
                      fmt::format("{:.3f}", number(c, "ms_p50", file, where)),
                      fmt::format("{:.3f}", number(c, "ms_p99", file, where)), on ? "yes" : ""});
  }
  std::stable_sort(frontier.begin(), frontier.end(),
                   [](const Point& a, const Point& b) { return a.ms < b.ms; });
  Series line{.label = "on the frontier (pool > pre-keep > fine-keep)"};
  for (const Point& p : frontier) {
    line.x.push_back(p.ms);
    line.y.push_back(p.recall);
    line.point_labels.push_back(p.label);
  }
  f.series = {line};
  if (!rest.x.empty()) f.series.push_back(rest);
  f.key_position = "bottom right";
  std::string cuts;
  if (in.j.contains("bundle_cuts")) {
    const Json& b = in.j["bundle_cuts"];
    cuts = fmt::format(" The bundle serves {}.", cut_label(b, file, "bundle_cuts"));
  }
  return {Section{
      .id = "cuts",
      .title = "Depth and cuts: recall against serving cost",
      .caption = "Each point is the served funnel with one pool depth, pre-rank keep and fine-rank "
                 "keep, run as live requests on the " +
                 text(in.j, "split", "valid") +
                 " users: recall@10 against the mean latency of a whole request. A frontier point "
                 "has no other cut at least as accurate for less time; choose a cut there for a "
                 "latency budget, on validation." +
                 cuts,
      .source = fmt::format("{}, dataset {}, {} split, bundle {} (cascade bench cuts); latency: {}",
                            file, text(in.j, "dataset", "?"), text(in.j, "split", "valid"),
                            text(in.j, "bundle", "?"), text(in.j, "latency", "?")),
      .figures = {f},
      .tables = {t}}};
}

}  // namespace cascade::report
