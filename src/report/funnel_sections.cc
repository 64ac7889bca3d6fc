// Sections drawn from `cascade bench funnel` JSON: retention by stage, rankers against their pool,
// the pairwise ranker matrix, DIN attention vs sum pooling, cold vs warm user buckets.
#include <fmt/format.h>

#include "cascade/report/sections.h"
#include "json_input.h"

namespace cascade::report {

using namespace detail;

namespace {

const char* kFunnelCmd =
    "cascade bench funnel --data PATH --dataset NAME --protocol seed-oof --sum-ablation true "
    "--json funnel.json, "
    "then pass --funnel funnel.json";

std::string p3(double p) {
  return fmt::format("{:.3f}", p);
}

Section retention(const JsonInput& in, const std::string& src) {
  const std::string& file = in.path;
  Figure f{.name = "funnel_retention",
           .kind = FigureKind::Bars,
           .title = "Funnel retention: share of test positives still in the list after each stage",
           .xlabel = "stage",
           .ylabel = "share of test positives kept"};
  Table t{"", {"stage"}, {}};
  const Json& chosen = child(in.j, "funnel", file, "");
  // The chosen funnel, then the configured one when the file has it.
  for (const char* which : {"funnel", "funnel_config"}) {
    if (!in.j.contains(which)) continue;
    const std::string where = std::string(which) + ".retention";
    const Json& r = child(in.j[which], "retention", file, which);
    Series s{.label = f.series.empty() ? "chosen funnel" : "configured funnel"};
    size_t k = 0;
    for (const auto& [stage, v] : r.items()) {
      if (f.series.empty()) {
        f.categories.push_back(stage);
        t.rows.push_back({stage});
      } else if (k >= f.categories.size() || f.categories[k] != stage) {
        throw Error(fmt::format("{}: {} lists other stages than funnel.retention", file, where));
      }
      s.y.push_back(number(r, stage, file, where));
      t.rows[k++].push_back(f4(s.y.back()));
    }
    t.header.push_back(which);
    f.series.push_back(s);
  }
  // The spec is long: the caption carries it rather than the legend.
  return Section{
      .id = "retention",
      .title = "Funnel retention by stage",
      .caption =
          "Share of test positives still present after the fused pool, the pre-ranker cut, the "
          "fine-ranker cut and the final top 10 (chosen funnel: " +
          text(chosen, "spec") + ").",
      .source = src,
      .figures = {f},
      .tables = {t}};
}

Section rankers(const JsonInput& in, const std::string& src) {
  const std::string& file = in.path;
  const Json& rk = child(in.j, "rankers", file, "");
  Figure f{.name = "rankers",
           .kind = FigureKind::Bars,
           .title = "Rankers: recall@10 minus the pool's (test, 95% paired bootstrap interval)",
           .xlabel = "ranker",
           .ylabel = "recall@10 difference vs pool order"};
  Series s{.label = "recall@10 - pool"};
  Table t{"",
          {"ranker", "recall@10", "ndcg@10", "recall@10 - pool [95% CI]", "p", "auc in pool",
           "examples"},
          {}};
  auto add = [&](const std::string& name, const Json& j, const std::string& where) {
    const Json& d = child(child(j, "vs_pool", file, where), "recall@10", file, where + ".vs_pool");
    const std::string w = where + ".vs_pool.recall@10";
    f.categories.push_back(name);
    s.y.push_back(number(d, "diff", file, w));
    s.y_low.push_back(number(d, "ci_low", file, w));
    s.y_high.push_back(number(d, "ci_high", file, w));
    t.rows.push_back(
        {name, f4(number(j, "recall@10", file, where)), f4(number(j, "ndcg@10", file, where)),
         interval(s.y.back(), s.y_low.back(), s.y_high.back()), p3(number(d, "p_value", file, w)),
         j.contains("auc_in_pool") ? f4(number(j, "auc_in_pool", file, where)) : "",
         text(j, "examples")});
  };
  for (const auto& [name, j] : rk.items()) add(name, j, "rankers." + name);
  if (in.j.contains("funnel")) add("funnel (chosen)", in.j["funnel"], "funnel");
  f.series.push_back(s);
  return Section{
      .id = "rankers",
      .title = "Ranker comparison",
      .caption =
          "Each ranker re-orders the same fused pool; bars show its test recall@10 minus the "
          "pool's own order, with the paired bootstrap interval (an interval crossing 0 is no "
          "significant gain).",
      .source = src,
      .figures = {f},
      .tables = {t}};
}

Section pairwise(const JsonInput& in, const std::string& src) {
  const std::string& file = in.path;
  if (!in.j.contains("ranker_pairwise")) {
    return Section{
        .id = "pairwise",
        .title = "Pairwise ranker significance",
        .not_run = file +
                   " has no ranker_pairwise (written by an older cascade bench funnel); re-run " +
                   kFunnelCmd};
  }
  const Json& pw = child(in.j, "ranker_pairwise", file, "");
  const std::string metric = text(pw, "metric", "recall@10");
  Figure f{.name = "ranker_pairwise",
           .kind = FigureKind::Heatmap,
           .title = fmt::format("Pairwise {} differences, row minus column ({} split)", metric,
                                text(pw, "split", "test")),
           .xlabel = "column ranker",
           .ylabel = "row ranker",
           .matrix_label = metric + " difference"};
  for (const auto& n : child(pw, "names", file, "ranker_pairwise"))
    f.categories.push_back(n.get<std::string>());
  const size_t n = f.categories.size();
  auto matrix = [&](const char* key) {
    const Json& m = child(pw, key, file, "ranker_pairwise");
    if (m.size() != n)
      throw Error(
          fmt::format("{}: ranker_pairwise.{} has {} rows for {} names", file, key, m.size(), n));
    std::vector<std::vector<double>> out(n);
    for (size_t i = 0; i < n; ++i) {
      if (m[i].size() != n)
        throw Error(fmt::format("{}: ranker_pairwise.{}[{}] has {} entries for {} names", file, key,
                                i, m[i].size(), n));
      for (size_t k = 0; k < n; ++k) {
        if (!m[i][k].is_number())
          throw Error(
              fmt::format("{}: expected a number at ranker_pairwise.{}[{}][{}]", file, key, i, k));
        out[i].push_back(m[i][k].get<double>());
      }
    }
    return out;
  };
  f.matrix = matrix("diff");
  const auto lo = matrix("ci_low"), hi = matrix("ci_high"), p = matrix("p_value");
  Table t{"", {"row - column", "difference [95% CI]", "p"}, {}};
  f.cell_text.assign(n, std::vector<std::string>(n));
  for (size_t i = 0; i < n; ++i) {
    for (size_t k = 0; k < n; ++k) {
      // The difference only, starred when p < 0.05: a p-value per cell does not fit a 9 x 9
      // matrix (the table below the figure has the intervals and p-values).
      f.cell_text[i][k] =
          i == k ? "-" : fmt::format("{:+.3f}{}", f.matrix[i][k], p[i][k] < 0.05 ? "*" : "");
      if (i < k) {
        t.rows.push_back({f.categories[i] + " - " + f.categories[k],
                          interval(f.matrix[i][k], lo[i][k], hi[i][k]), p3(p[i][k])});
      }
    }
  }
  f.extra = {{"ci_low", lo}, {"ci_high", hi}, {"p_value", p}};
  return Section{
      .id = "pairwise",
      .title = "Pairwise ranker significance",
      .caption =
          "Paired bootstrap difference of every pair of rankers (cell = row minus column; * = p < "
          "0.05, the table lists every interval and p-value); red: the row ranker is better.",
      .source = src,
      .figures = {f},
      .tables = {t}};
}

Section din(const JsonInput& in, const std::string& src) {
  const std::string& file = in.path;
  const Json& rk = child(in.j, "rankers", file, "");
  if (!rk.contains("din") || !rk.contains("din_sum")) {
    return Section{.id = "din",
                   .title = "DIN: attention vs sum pooling",
                   .not_run = file + " has no rankers.din and rankers.din_sum; re-run " +
                              std::string(kFunnelCmd)};
  }
  Figure f{.name = "din_pooling",
           .kind = FigureKind::Bars,
           .title = "DIN: attention vs sum pooling of the history (test)",
           .xlabel = "metric",
           .ylabel = "metric value",
           .categories = {"recall@10", "ndcg@10"}};
  for (const char* name : {"din", "din_sum"}) {
    Series s{.label = std::string(name) == "din" ? "din (attention)" : "din_sum (sum pooling)"};
    for (const auto& m : f.categories)
      s.y.push_back(number(rk[name], m, file, std::string("rankers.") + name));
    f.series.push_back(s);
  }
  // AUC (about 0.7) would flatten the recall bars; it is in the table.
  Table t{"", {"metric", "din", "din_sum"}, {}};
  for (const char* m : {"recall@10", "ndcg@10", "auc_in_pool"}) {
    t.rows.push_back({m, f4(number(rk["din"], m, file, "rankers.din")),
                      f4(number(rk["din_sum"], m, file, "rankers.din_sum"))});
  }
  std::vector<Table> tables{t};
  if (in.j.contains("ablations") && in.j["ablations"].contains("din vs din_sum")) {
    const Json& a = in.j["ablations"]["din vs din_sum"];
    Table d{"din minus din_sum, paired bootstrap", {"metric", "difference [95% CI]", "p"}, {}};
    for (const char* m : {"recall@10", "ndcg@10"}) {
      if (!a.contains(m)) continue;
      const std::string w = std::string("ablations.din vs din_sum.") + m;
      d.rows.push_back({m,
                        interval(number(a[m], "diff", file, w), number(a[m], "ci_low", file, w),
                                 number(a[m], "ci_high", file, w)),
                        p3(number(a[m], "p_value", file, w))});
    }
    tables.push_back(d);
  }
  return Section{
      .id = "din",
      .title = "DIN: attention vs sum pooling",
      .caption =
          "The same DIN ranker with attention over the history (din) and with plain sum pooling "
          "(din_sum), trained on the same examples.",
      .source = src,
      .figures = {f},
      .tables = tables};
}

Section buckets(const JsonInput& in, const std::string& src) {
  const std::string& file = in.path;
  if (!in.j.contains("user_buckets")) {
    return Section{
        .id = "buckets",
        .title = "Cold vs warm users",
        .not_run = file +
                   " has no user_buckets (written by an older cascade bench funnel); re-run " +
                   kFunnelCmd};
  }
  const Json& ub = child(in.j, "user_buckets", file, "");
  const Json& bs = child(ub, "buckets", file, "user_buckets");
  Figure f{.name = "user_buckets",
           .kind = FigureKind::Bars,
           .title = "Recall@10 by user bucket (" + text(ub, "by", "history length") + ")",
           .xlabel = "users by " + text(ub, "by", "history length"),
           .ylabel = "recall@10"};
  Table t{"", {"bucket", "users"}, {}};
  for (size_t b = 0; b < bs.size(); ++b) {
    const std::string where = fmt::format("user_buckets.buckets[{}]", b);
    const double users = number(bs[b], "users", file, where);
    f.categories.push_back(fmt::format("{} ({:g} users)", text(bs[b], "label", "?"), users));
    t.rows.push_back({text(bs[b], "label", "?"), fmt::format("{:g}", users)});
    const Json& r = child(bs[b], "recall@10", file, where);
    size_t k = 0;
    for (const auto& [name, v] : r.items()) {
      if (b == 0) {
        f.series.push_back(Series{.label = name});
        t.header.push_back(name);
      }
      if (k >= f.series.size() || f.series[k].label != name)
        throw Error(fmt::format("{}: {}.recall@10 lists other systems than bucket 0", file, where));
      f.series[k].y.push_back(number(r, name, file, where + ".recall@10"));
      t.rows.back().push_back(f4(f.series[k].y.back()));
      ++k;
    }
  }
  return Section{.id = "buckets",
                 .title = "Cold vs warm users",
                 .caption =
                     "Test recall@10 of the pool, the funnel and each ranker for users grouped by "
                     "the length of "
                     "their training history.",
                 .source = src,
                 .figures = {f},
                 .tables = {t}};
}

}  // namespace

std::vector<Section> funnel_sections(const JsonInput& in) {
  if (!in.given()) {
    const std::string why = std::string("no bench funnel JSON given; run ") + kFunnelCmd;
    return {Section{.id = "retention", .title = "Funnel retention by stage", .not_run = why},
            Section{.id = "rankers", .title = "Ranker comparison", .not_run = why},
            Section{.id = "pairwise", .title = "Pairwise ranker significance", .not_run = why},
            Section{.id = "din", .title = "DIN: attention vs sum pooling", .not_run = why},
            Section{.id = "buckets", .title = "Cold vs warm users", .not_run = why}};
  }
  const std::string src =
      describe(in) + " (cascade bench funnel, test split; choices made on validation)";
  return {retention(in, src), rankers(in, src), pairwise(in, src), din(in, src), buckets(in, src)};
}

}  // namespace cascade::report
