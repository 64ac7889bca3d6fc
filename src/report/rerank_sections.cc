// Sections drawn from `cascade bench rerank` (the MMR λ sweep) and `cascade bench ope` JSON.
#include <fmt/format.h>

#include "cascade/report/sections.h"
#include "json_input.h"

namespace cascade::report {

using namespace detail;

namespace {

const char* kRerankCmd =
    "cascade bundle --out BUNDLE --data PATH --dataset NAME --funnel-from funnel.json, then "
    "cascade bench rerank "
    "--bundle BUNDLE --json rerank.json, and pass --rerank rerank.json";
const char* kOpeCmd =
    "cascade bench ope (see cascade bench ope --help) --json ope.json, then pass --ope ope.json";

// y against x for every λ, each point labelled with its λ.
Figure pareto(const std::string& name, const std::string& xkey, const std::string& xlabel,
              const Json& sweep, const std::string& file) {
  Figure f{.name = name,
           .kind = FigureKind::Scatter,
           .title = "MMR diversity sweep: recall@10 vs " + xkey,
           .xlabel = xlabel,
           .ylabel = "recall@10"};
  Series s{.label = "lambda (MMR diversity)"};
  for (size_t i = 0; i < sweep.size(); ++i) {
    const std::string where = fmt::format("sweep[{}]", i);
    s.x.push_back(number(sweep[i], xkey, file, where));
    s.y.push_back(number(sweep[i], "recall@10", file, where));
    s.point_labels.push_back(fmt::format("{:g}", number(sweep[i], "lambda", file, where)));
  }
  f.series.push_back(s);
  return f;
}

// {"recall@10": {"value", "ci_low", "ci_high"}} of an estimator object.
void estimate(Series& s, const Json& j, const std::string& metric, const std::string& file,
              const std::string& where) {
  const Json& m = child(j, metric, file, where);
  s.y.push_back(number(m, "value", file, where + "." + metric));
  s.y_low.push_back(number(m, "ci_low", file, where + "." + metric));
  s.y_high.push_back(number(m, "ci_high", file, where + "." + metric));
}

}  // namespace

std::vector<Section> rerank_sections(const JsonInput& in) {
  if (!in.given()) {
    return {Section{.id = "mmr",
                    .title = "MMR diversity: accuracy vs diversity",
                    .not_run = std::string("no bench rerank JSON given; run ") + kRerankCmd}};
  }
  const std::string& file = in.path;
  const Json& sweep = child(in.j, "sweep", file, "");
  const std::string src =
      fmt::format("{}, dataset {}, {} split, bundle {} (cascade bench rerank); ILS in {}", file,
                  text(in.j, "dataset", "?"), text(in.j, "split", "test"),
                  text(in.j, "bundle", "?"), text(in.j, "ils_space", "?"));
  std::vector<Figure> figs{
      pareto("mmr_pareto_ils", "ils@10", "intra-list similarity ILS@10 (lower = more diverse)",
             sweep, file),
      pareto("mmr_pareto_coverage", "coverage@10", "catalogue coverage@10", sweep, file)};
  Table t{"",
          {"lambda", "recall@10", "ndcg@10", "ILS@10", "coverage@10", "recall@10 - pool [95% CI]"},
          {}};
  bool has_ope = false;
  for (size_t i = 0; i < sweep.size(); ++i) {
    const Json& e = sweep[i];
    const std::string where = fmt::format("sweep[{}]", i);
    std::string vs;
    if (e.contains("vs_pool") && e["vs_pool"].contains("recall@10")) {
      const Json& d = e["vs_pool"]["recall@10"];
      const std::string w = where + ".vs_pool.recall@10";
      vs = interval(number(d, "diff", file, w), number(d, "ci_low", file, w),
                    number(d, "ci_high", file, w));
    }
    t.rows.push_back({fmt::format("{:g}", number(e, "lambda", file, where)),
                      f4(number(e, "recall@10", file, where)),
                      f4(number(e, "ndcg@10", file, where)), f4(number(e, "ils@10", file, where)),
                      f4(number(e, "coverage@10", file, where)), vs});
    has_ope = has_ope || e.contains("ips") || e.contains("snips");
  }
  std::vector<Table> tables{t};
  std::string caption =
      "The funnel's final list re-ranked by MMR at each diversity weight lambda (0 = the fine "
      "ranker's order): "
      "test recall@10 against intra-list similarity and against catalogue coverage; each point is "
      "labelled with "
      "its lambda.";
  if (has_ope) {
    Figure f{.name = "mmr_ope",
             .kind = FigureKind::Lines,
             .title = "MMR sweep: recall@10, naive vs IPS vs SNIPS estimates (95% interval)",
             .xlabel = "lambda (MMR diversity)",
             .ylabel = "recall@10"};
    Series naive{.label = "naive (observed)"}, ips{.label = "IPS"}, snips{.label = "SNIPS"};
    Table o{
        "inverse-propensity estimates", {"lambda", "naive", "IPS [95% CI]", "SNIPS [95% CI]"}, {}};
    for (size_t i = 0; i < sweep.size(); ++i) {
      const std::string where = fmt::format("sweep[{}]", i);
      const double lambda = number(sweep[i], "lambda", file, where);
      naive.x.push_back(lambda);
      naive.y.push_back(number(sweep[i], "recall@10", file, where));
      ips.x.push_back(lambda);
      snips.x.push_back(lambda);
      estimate(ips, child(sweep[i], "ips", file, where), "recall@10", file, where + ".ips");
      estimate(snips, child(sweep[i], "snips", file, where), "recall@10", file, where + ".snips");
      o.rows.push_back({fmt::format("{:g}", lambda), f4(naive.y.back()),
                        interval(ips.y.back(), ips.y_low.back(), ips.y_high.back()),
                        interval(snips.y.back(), snips.y_low.back(), snips.y_high.back())});
    }
    f.series = {naive, ips, snips};
    figs.push_back(f);
    tables.push_back(o);
    caption +=
        " The last figure adds the inverse-propensity (IPS) and self-normalised (SNIPS) estimates "
        "of recall@10.";
  }
  return {Section{.id = "mmr",
                  .title = "MMR diversity: accuracy vs diversity",
                  .caption = caption,
                  .source = src,
                  .figures = figs,
                  .tables = tables}};
}

std::vector<Section> ope_sections(const JsonInput& in) {
  if (!in.given()) {
    return {Section{.id = "ope",
                    .title = "Off-policy estimates",
                    .not_run = std::string("no bench ope JSON given; run ") + kOpeCmd}};
  }
  const std::string& file = in.path;
  const Json& policies = child(in.j, "policies", file, "");
  const double k = number(in.j, "k", file, "");
  Figure f{
      .name = "ope",
      .kind = FigureKind::Bars,
      .title = fmt::format(
          "Off-policy estimates of a top-{:g} list's value against the truth (95% interval)", k),
      .xlabel = "target policy",
      .ylabel = "click probability of one slot of the list"};
  const std::vector<std::string> estimators = {"naive", "ips", "clipped_ips", "snips"};
  Series truth{.label = "true"};
  std::vector<Series> est;
  for (const auto& e : estimators) est.push_back(Series{.label = e});
  Table t{"", {"policy", "true", "naive", "IPS", "clipped IPS", "SNIPS", "ESS"}, {}};
  for (size_t i = 0; i < policies.size(); ++i) {
    const Json& p = policies[i];
    const std::string where = fmt::format("policies[{}]", i);
    f.categories.push_back(text(p, "name", "?"));
    const double tv = number(p, "true", file, where);
    // The truth has no interval: its bar's error bar collapses onto the value.
    truth.y.push_back(tv);
    truth.y_low.push_back(tv);
    truth.y_high.push_back(tv);
    t.rows.push_back({f.categories.back(), f4(tv)});
    for (size_t e = 0; e < estimators.size(); ++e) {
      const Json& o = child(p, estimators[e], file, where);
      const std::string w = where + "." + estimators[e];
      est[e].y.push_back(number(o, "value", file, w));
      est[e].y_low.push_back(number(o, "ci_low", file, w));
      est[e].y_high.push_back(number(o, "ci_high", file, w));
      t.rows.back().push_back(interval(est[e].y.back(), est[e].y_low.back(), est[e].y_high.back()));
    }
    t.rows.back().push_back(p.contains("ess") ? fmt::format("{:.1f}", number(p, "ess", file, where))
                                              : "");
  }
  f.series = {truth};
  f.series.insert(f.series.end(), est.begin(), est.end());
  return {Section{
      .id = "ope",
      .title = "Off-policy estimates",
      .caption =
          "For each target policy, its true recall against the naive (logged-order), IPS, clipped "
          "IPS and SNIPS estimates from logged data, with 95% intervals; ESS = effective sample "
          "size.",
      .source = describe(in) + " (cascade bench ope)",
      .figures = {f},
      .tables = {t}}};
}

}  // namespace cascade::report
