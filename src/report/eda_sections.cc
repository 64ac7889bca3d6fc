// The dataset section of the report: one figure per statistic of eda.h.
#include <fmt/format.h>

#include <cmath>
#include <map>

#include "cascade/report/sections.h"
#include "json_input.h"

namespace cascade::report {

using detail::f4;

namespace {

std::string g(double v) {
  return fmt::format("{:g}", v);
}

Table summary_table(const std::string& what, const Summary& s) {
  return Table{what,
               {"statistic", "value"},
               {{"p10", g(s.p10)},
                {"p50", g(s.p50)},
                {"p90", g(s.p90)},
                {"mean", fmt::format("{:.2f}", s.mean)},
                {"min", g(s.min)},
                {"max", g(s.max)}}};
}

Table histogram_table(const std::string& caption, const std::string& what, const Histogram& h) {
  Table t{caption, {what, "users"}, {}};
  // Empty bins below the smallest value (e.g. a log filtered to users with 20+ rows) say nothing.
  size_t first = 0;
  while (first < h.counts.size() && h.counts[first] == 0) ++first;
  for (size_t i = first; i < h.labels.size(); ++i)
    t.rows.push_back({h.labels[i], std::to_string(h.counts[i])});
  return t;
}

// A distribution of per-user counts drawn as "how many users have exactly v", log-log, with the
// p10 / p50 / p90 marked.
Figure count_distribution(const std::string& name, const std::string& title,
                          const std::string& xlabel, const std::vector<uint64_t>& values,
                          const Summary& s) {
  std::map<uint64_t, uint64_t> freq;
  for (uint64_t v : values) ++freq[v];
  Figure f;
  f.name = name;
  f.kind = FigureKind::Lines;
  f.title = title;
  f.xlabel = xlabel;
  f.ylabel = "users";
  f.log_x = f.log_y = true;
  Series se{.label = "users", .points_only = true};
  for (const auto& [v, c] : freq) {
    se.x.push_back(static_cast<double>(v));
    se.y.push_back(static_cast<double>(c));
  }
  f.series.push_back(se);
  f.vlines = {
      {s.p10, "p10 = " + g(s.p10)}, {s.p50, "p50 = " + g(s.p50)}, {s.p90, "p90 = " + g(s.p90)}};
  f.extra = {{"p10", s.p10},   {"p50", s.p50}, {"p90", s.p90},
             {"mean", s.mean}, {"min", s.min}, {"max", s.max}};
  return f;
}

}  // namespace

std::vector<Section> eda_sections(const Eda* eda, const std::string& dataset) {
  if (eda == nullptr) {
    return {Section{
        .id = "dataset",
        .title = "Dataset",
        .not_run =
            "no dataset given; pass --data PATH --dataset NAME to `cascade report` (the same "
            "flags as `cascade prepare`)"}};
  }
  const Eda& e = *eda;
  const std::string src = fmt::format(
      "{} loaded as {} ({} rows, {} users, {} items; all rows, before the "
      "min-rating / min-positives filters); `cascade report --data {} --dataset {}`",
      e.source, dataset, e.rows, e.users, e.items, e.source, dataset);
  std::vector<Section> out;

  {  // Ratings.
    Figure f{.name = "eda_ratings",
             .kind = FigureKind::Bars,
             .title = "Rating distribution",
             .xlabel = "rating",
             .ylabel = "rows"};
    Series se{.label = "rows"};
    Table t{"", {"rating", "rows", "share"}, {}};
    for (size_t i = 0; i < e.rating_values.size(); ++i) {
      f.categories.push_back(g(e.rating_values[i]));
      se.y.push_back(static_cast<double>(e.rating_counts[i]));
      t.rows.push_back({g(e.rating_values[i]), std::to_string(e.rating_counts[i]),
                        f4(static_cast<double>(e.rating_counts[i]) / static_cast<double>(e.rows))});
    }
    f.series.push_back(se);
    out.push_back(Section{
        .id = "ratings",
        .title = "Rating distribution",
        .caption = e.has_rating ? "Rows per rating value."
                                : "The log has no rating column: every row counts as rating 1.",
        .source = src,
        .figures = {f},
        .tables = {t}});
  }
  {  // User activity.
    Figure f = count_distribution("eda_user_activity", "User activity (rows per user)",
                                  "rows per user", e.user_activity, e.activity);
    out.push_back(Section{
        .id = "activity",
        .title = "User activity",
        .caption =
            "Number of users with exactly x rows (log-log); dashed lines mark p10, p50 and p90 "
            "(nearest rank from below).",
        .source = src,
        .figures = {f},
        .tables = {summary_table("rows per user", e.activity),
                   histogram_table("users per power-of-two bin", "rows", e.activity_hist)}});
  }
  {  // Item popularity.
    Figure f{.name = "eda_item_popularity",
             .kind = FigureKind::Lines,
             .title = fmt::format("Item popularity, rank-frequency (Zipf slope {:.3f}, R^2 {:.3f})",
                                  e.zipf.slope, e.zipf.r2),
             .xlabel = "item rank (1 = most rows)",
             .ylabel = "rows",
             .log_x = true,
             .log_y = true};
    Series items{.label = "items", .points_only = true};
    for (size_t r = 0; r < e.item_freq_desc.size(); ++r) {
      items.x.push_back(static_cast<double>(r + 1));
      items.y.push_back(static_cast<double>(e.item_freq_desc[r]));
    }
    f.series.push_back(items);
    if (e.zipf.points >= 2) {
      // The fitted line is straight on log-log axes: its two ends draw it exactly.
      const double last = static_cast<double>(e.item_freq_desc.size());
      Series fit{.label = fmt::format("least-squares fit, slope {:.3f}", e.zipf.slope),
                 .x = {1.0, last}};
      for (double r : fit.x)
        fit.y.push_back(std::exp(e.zipf.intercept + e.zipf.slope * std::log(r)));
      f.series.push_back(fit);
    }
    f.extra = {{"zipf_slope", e.zipf.slope},
               {"zipf_intercept", e.zipf.intercept},
               {"r2", e.zipf.r2},
               {"items", e.items},
               {"fit_points", e.zipf.points}};
    out.push_back(
        Section{.id = "popularity",
                .title = "Item popularity",
                .caption = "Rows per item against the item's popularity rank on log-log axes, with "
                           "the least-squares line "
                           "through (ln rank, ln rows) at log-spaced ranks (10 per decade, so the "
                           "long tail does not "
                           "outweigh the head); a Zipf law with exponent a has slope -a.",
                .source = src,
                .figures = {f},
                .tables = {Table{
                    "",
                    {"statistic", "value"},
                    {{"Zipf slope", fmt::format("{:.4f}", e.zipf.slope)},
                     {"intercept (ln rows at rank 1)", fmt::format("{:.4f}", e.zipf.intercept)},
                     {"R^2", fmt::format("{:.4f}", e.zipf.r2)},
                     {"items with rows", std::to_string(e.items)}}}}});
  }
  if (!e.has_timestamp) {
    out.push_back(Section{
        .id = "days",
        .title = "Temporal density",
        .not_run = "the log has no timestamp column, so there are no active days to count"});
  } else {
    Figure f = count_distribution("eda_active_days", "Distinct active days per user",
                                  "distinct days with a row", e.active_days, e.days);
    out.push_back(Section{
        .id = "days",
        .title = "Temporal density",
        .caption = "Number of users with exactly x distinct UTC days holding at least one of their "
                   "rows (log-log); dashed lines mark p10, p50 and p90.",
        .source = src,
        .figures = {f},
        .tables = {summary_table("distinct active days per user", e.days),
                   histogram_table("users per power-of-two bin", "days", e.days_hist)}});
  }
  {  // Genres.
    Figure f{.name = "eda_genres",
             .kind = FigureKind::Bars,
             .title = "Genre shares of rows",
             .xlabel = "genre",
             .ylabel = "share of rows"};
    Series se{.label = "share"};
    Table t{"", {"genre", "share of rows", "catalogue items"}, {}};
    for (const auto& gs : e.genres) {
      f.categories.push_back(gs.genre);
      se.y.push_back(gs.share);
      t.rows.push_back({gs.genre, f4(gs.share), std::to_string(gs.items)});
    }
    f.series.push_back(se);
    out.push_back(Section{
        .id = "genres",
        .title = "Genre shares",
        .caption =
            "Share of rows per genre; a row on an item with k genres adds 1/k to each, so the "
            "shares sum to 1.",
        .source = src,
        .figures = {f},
        .tables = {t}});
  }
  {  // Cold-start buckets.
    Figure f{.name = "eda_cold_start",
             .kind = FigureKind::Bars,
             .title = "Cold-start buckets: users and items by rows",
             .xlabel = "rows",
             .ylabel = "share",
             .categories = e.cold_users.labels};
    Series users{.label = "users"}, items{.label = "items"};
    Table t{"", {"rows", "users", "share of users", "items", "share of items"}, {}};
    for (size_t b = 0; b < e.cold_users.labels.size(); ++b) {
      const double su = static_cast<double>(e.cold_users.counts[b]) /
                        static_cast<double>(std::max<size_t>(1, e.users));
      const double si = static_cast<double>(e.cold_items.counts[b]) /
                        static_cast<double>(std::max<size_t>(1, e.items));
      users.y.push_back(su);
      items.y.push_back(si);
      t.rows.push_back({e.cold_users.labels[b], std::to_string(e.cold_users.counts[b]), f4(su),
                        std::to_string(e.cold_items.counts[b]), f4(si)});
    }
    f.series = {users, items};
    f.extra = {{"user_counts", e.cold_users.counts}, {"item_counts", e.cold_items.counts}};
    out.push_back(
        Section{.id = "coldstart",
                .title = "Cold-start buckets",
                .caption = "Share of users and of items whose number of rows falls in each bucket.",
                .source = src,
                .figures = {f},
                .tables = {t}});
  }
  {  // Lorenz curve.
    Figure f{.name = "eda_lorenz",
             .kind = FigureKind::Lines,
             .title = fmt::format("Lorenz curve of item popularity (Gini {:.3f})", e.gini),
             .xlabel = "share of items (least popular first)",
             .ylabel = "share of rows"};
    f.series.push_back(Series{.label = "items", .x = e.lorenz.x, .y = e.lorenz.y});
    f.series.push_back(Series{.label = "equality", .x = {0.0, 1.0}, .y = {0.0, 1.0}});
    f.extra = {{"gini", e.gini}};
    out.push_back(Section{
        .id = "lorenz",
        .title = "Popularity concentration",
        .caption = "Lorenz curve of rows per item at 101 evenly spaced item shares, and the Gini "
                   "coefficient of rows per item (0 = every item equally popular).",
        .source = src,
        .figures = {f},
        .tables = {Table{"", {"statistic", "value"}, {{"Gini", fmt::format("{:.4f}", e.gini)}}}}});
  }
  return out;
}

}  // namespace cascade::report
