// Sections drawn from `cascade bench quality` JSON: recall channels, fusion strategies, drop-one.
#include <fmt/format.h>

#include "cascade/report/sections.h"
#include "json_input.h"

namespace cascade::report {

using namespace detail;

namespace {

const char* kQualityCmd =
    "cascade bench quality --data PATH --dataset NAME --protocol seed-loo --json quality.json, "
    "then pass "
    "--quality quality.json";

// A bar per row and a series per metric, with a table of the same numbers.
void metric_bars(Figure& f, Table& t, const std::vector<std::string>& metrics,
                 const std::vector<std::pair<std::string, const Json*>>& rows,
                 const std::string& file, const std::string& where) {
  t.header = {f.xlabel};
  for (const auto& m : metrics) {
    t.header.push_back(m);
    f.series.push_back(Series{.label = m});
  }
  for (const auto& [name, j] : rows) {
    f.categories.push_back(name);
    t.rows.push_back({name});
    for (size_t m = 0; m < metrics.size(); ++m) {
      const double v = number(*j, metrics[m], file, where + "." + name);
      f.series[m].y.push_back(v);
      t.rows.back().push_back(f4(v));
    }
  }
}

}  // namespace

std::vector<Section> quality_sections(const JsonInput& in) {
  if (!in.given()) {
    const std::string why = std::string("no bench quality JSON given; run ") + kQualityCmd;
    return {Section{.id = "channels", .title = "Recall channels", .not_run = why},
            Section{.id = "fusion", .title = "Fusion strategies", .not_run = why},
            Section{.id = "dropone", .title = "Drop-one ablation", .not_run = why}};
  }
  const std::string& file = in.path;
  const std::string src = describe(in) + " (cascade bench quality, test split)";
  const Json& channels = child(in.j, "channels", file, "");
  std::vector<Section> out;
  {
    Figure f{.name = "channels",
             .kind = FigureKind::Bars,
             .title = "Recall channels and the fused pool (test)",
             .xlabel = "channel",
             .ylabel = "metric value"};
    Table t;
    std::vector<std::pair<std::string, const Json*>> rows;
    for (const auto& [name, c] : channels.items()) {
      if (name != "fusion_parity") rows.emplace_back(name, &c);
    }
    metric_bars(f, t, {"recall@10", "ndcg@10", "recall@200"}, rows, file, "channels");
    out.push_back(Section{
        .id = "channels",
        .title = "Recall channels",
        .caption = "Each recall channel alone and the tuned fused pool (fusion), ranking the whole "
                   "catalogue for every test user.",
        .source = src,
        .figures = {f},
        .tables = {t}});
  }
  if (!in.j.contains("fusion_strategies")) {
    out.push_back(
        Section{.id = "fusion",
                .title = "Fusion strategies",
                .not_run = file +
                           " has no fusion_strategies (written by an older cascade bench quality); "
                           "re-run " +
                           kQualityCmd});
  } else {
    const Json& fs = child(in.j, "fusion_strategies", file, "");
    Figure f{.name = "fusion_strategies",
             .kind = FigureKind::Bars,
             .title = "Fusion strategies (test)",
             .xlabel = "strategy",
             .ylabel = "metric value"};
    Table t;
    std::vector<std::string> names;
    std::vector<std::pair<std::string, const Json*>> rows;
    for (size_t i = 0; i < fs.size(); ++i) {
      const std::string where = fmt::format("fusion_strategies[{}]", i);
      const std::string name =
          fmt::format("{} quota={} pool={}", text(fs[i], "method", "?"),
                      number(fs[i], "quota", file, where), number(fs[i], "pool", file, where));
      rows.emplace_back(name, &fs[i]);
    }
    metric_bars(f, t, {"recall@10", "ndcg@10", "recall@200"}, rows, file, "fusion_strategies");
    out.push_back(Section{
        .id = "fusion",
        .title = "Fusion strategies",
        .caption =
            "The same channels fused by min-max normalised weighted sum (norm) or reciprocal "
            "rank fusion (rrf), at several per-channel quotas and pool sizes.",
        .source = src,
        .figures = {f},
        .tables = {t}});
  }
  if (!channels.contains("fusion") || !channels["fusion"].contains("drop_one")) {
    out.push_back(
        Section{.id = "dropone",
                .title = "Drop-one ablation",
                .not_run = file + " has no channels.fusion.drop_one; re-run " + kQualityCmd});
  } else {
    const Json& drop = child(channels["fusion"], "drop_one", file, "channels.fusion");
    Figure f{
        .name = "drop_one",
        .kind = FigureKind::Bars,
        .title = "Drop-one: loss when a channel is removed from the pool (95% bootstrap interval)",
        .xlabel = "channel removed",
        .ylabel = "loss (full pool minus pool without it)"};
    Series r200{.label = "loss of recall@200"}, pool{.label = "loss of pool recall"};
    Table t{"",
            {"channel removed", "recall@200 without", "loss of recall@200", "p",
             "pool recall without", "loss of pool recall", "p"},
            {}};
    for (const auto& [name, a] : drop.items()) {
      const std::string where = "channels.fusion.drop_one." + name;
      // bench quality skips a channel whose tuned weight is 0 (leaving it out changes nothing)
      // and says why: a table row, no bar.
      if (a.is_object() && a.contains("skipped")) {
        t.rows.push_back({name, "skipped: " + a["skipped"].get<std::string>(), "", "", "", "", ""});
        continue;
      }
      f.categories.push_back(name);
      const Json& lr = child(a, "loss_recall@200", file, where);
      const Json& lp = child(a, "loss_pool_recall", file, where);
      for (auto [s, j, key] : {std::tuple{&r200, &lr, "loss_recall@200"},
                               std::tuple{&pool, &lp, "loss_pool_recall"}}) {
        s->y.push_back(number(*j, "diff", file, where + "." + key));
        s->y_low.push_back(number(*j, "ci_low", file, where + "." + key));
        s->y_high.push_back(number(*j, "ci_high", file, where + "." + key));
      }
      t.rows.push_back(
          {name, f4(number(a, "recall@200", file, where)),
           interval(r200.y.back(), r200.y_low.back(), r200.y_high.back()),
           fmt::format("{:.3f}", number(lr, "p_value", file, where + ".loss_recall@200")),
           f4(number(a, "pool_recall", file, where)),
           interval(pool.y.back(), pool.y_low.back(), pool.y_high.back()),
           fmt::format("{:.3f}", number(lp, "p_value", file, where + ".loss_pool_recall"))});
    }
    f.series = {r200, pool};
    out.push_back(Section{
        .id = "dropone",
        .title = "Drop-one ablation",
        .caption =
            "How much recall@200 and pool recall the tuned fused pool loses when one channel "
            "is left out (positive = the channel helps), with paired bootstrap intervals.",
        .source = src,
        .figures = {f},
        .tables = {t}});
  }
  return out;
}

}  // namespace cascade::report
