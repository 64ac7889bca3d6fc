// `cascade report` end to end on a tiny log and hand-made bench JSON (tests/fixtures/report):
// every figure is drawn, each fig/<name>.json holds exactly the numbers of the JSON it was drawn
// from, the page is self-contained, missing inputs say "not run", bad inputs name the file.
// Needs gnuplot (gnuplot-nox, installed by scripts/install_deps.sh): missing, these tests fail.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "cascade/core/error.h"
#include "cascade/io/artifact.h"
#include "cascade/report/figure.h"
#include "cascade/report/report.h"
#include "support/run_command.h"
#include "support/temp_dir.h"

namespace cascade::report {
namespace {

using Json = nlohmann::json;
namespace fs = std::filesystem;

std::string fixture(const std::string& name) {
  return std::string(CASCADE_TEST_FIXTURES) + "/report/" + name;
}
Json read_json(const fs::path& p) {
  return Json::parse(read_file(p));
}

ReportInputs all_inputs(const fs::path& out) {
  ReportInputs in;
  in.data = fixture("data");
  in.dataset = "ml-latest";
  in.quality = fixture("quality.json");
  in.funnel = fixture("funnel.json");
  in.rerank = fixture("rerank.json");
  in.cuts = fixture("cuts.json");
  in.ope = fixture("ope.json");
  in.sweeps = {fixture("sweep_two_tower.json"), fixture("sweep_sasrec.json")};
  in.out = out;
  return in;
}

std::vector<double> ys(const Json& fig, size_t s, const char* key = "y") {
  return fig["series"][s][key].get<std::vector<double>>();
}

class Report : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(gnuplot_available())
        << "the report tests need gnuplot with the pngcairo terminal: "
           "apt-get install gnuplot-nox (scripts/install_deps.sh installs it)";
  }
};

TEST_F(Report, DrawsEveryFigureFromItsInputs) {
  test::TempDir dir("report");
  const ReportOutput out = write_report(all_inputs(dir.path()));
  EXPECT_EQ(out.not_run, 0u);
  const fs::path fig = dir.path() / "fig";
  for (const char* name : {"eda_ratings",         "eda_user_activity",
                           "eda_item_popularity", "eda_active_days",
                           "eda_genres",          "eda_cold_start",
                           "eda_lorenz",          "channels",
                           "fusion_strategies",   "drop_one",
                           "funnel_retention",    "rankers",
                           "ranker_pairwise",     "din_pooling",
                           "user_buckets",        "sweep_sasrec_max_len",
                           "sweep_two_tower_dim", "mmr_pareto_ils",
                           "mmr_pareto_coverage", "mmr_ope",
                           "cuts_cost",           "ope"}) {
    SCOPED_TRACE(name);
    const std::string png = read_file(fig / (std::string(name) + ".png"));
    ASSERT_GT(png.size(), 1000u);
    EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
    EXPECT_TRUE(fs::exists(fig / (std::string(name) + ".json")));
  }
  EXPECT_EQ(out.figures.size(), 22u);
}

TEST_F(Report, FigureNumbersEqualTheSourceJson) {
  test::TempDir dir("report");
  write_report(all_inputs(dir.path()));
  const fs::path fig = dir.path() / "fig";
  const Json q = read_json(fixture("quality.json")), f = read_json(fixture("funnel.json")),
             r = read_json(fixture("rerank.json")), o = read_json(fixture("ope.json"));

  // Channels: file order, fusion_parity left out.
  const Json ch = read_json(fig / "channels.json");
  EXPECT_EQ(ch["categories"], Json({"popularity", "ials", "fusion"}));
  EXPECT_EQ(ys(ch, 0), (std::vector<double>{0.125, 0.25, 0.3125}));
  EXPECT_EQ(ys(ch, 2), (std::vector<double>{0.5, 0.625, 0.6875}));

  const Json fs_ = read_json(fig / "fusion_strategies.json");
  EXPECT_EQ(fs_["categories"][1], "rrf quota=500 pool=1000");
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(ys(fs_, 0)[i], q["fusion_strategies"][i]["recall@10"].get<double>());
    EXPECT_EQ(ys(fs_, 2)[i], q["fusion_strategies"][i]["recall@200"].get<double>());
  }

  const Json drop = read_json(fig / "drop_one.json");
  const Json& d = q["channels"]["fusion"]["drop_one"];
  EXPECT_EQ(ys(drop, 0)[1], d["ials"]["loss_recall@200"]["diff"].get<double>());
  EXPECT_EQ(ys(drop, 0, "y_low")[0], d["popularity"]["loss_recall@200"]["ci_low"].get<double>());
  EXPECT_EQ(ys(drop, 1, "y_high")[1], d["ials"]["loss_pool_recall"]["ci_high"].get<double>());
  // A channel bench quality skipped (tuned weight 0) has no bar.
  EXPECT_EQ(drop["categories"], Json({"popularity", "ials"}));

  // Cuts: frontier points in the first series, labelled pool>pre>fine; the rest unlabelled.
  const Json cuts = read_json(fig / "cuts_cost.json");
  EXPECT_EQ(ys(cuts, 0, "x"), (std::vector<double>{0.25, 0.5}));
  EXPECT_EQ(ys(cuts, 0), (std::vector<double>{0.125, 0.1875}));
  EXPECT_EQ(cuts["series"][0]["point_labels"], Json({"50>20>10", "200>20>10"}));
  EXPECT_EQ(ys(cuts, 1, "x"), (std::vector<double>{0.375, 0.625}));
  EXPECT_EQ(ys(cuts, 1), (std::vector<double>{0.125, 0.15625}));

  const Json ret = read_json(fig / "funnel_retention.json");
  EXPECT_EQ(ret["categories"], Json({"pool", "pre_rank", "fine_rank", "top10"}));
  EXPECT_EQ(ys(ret, 0), (std::vector<double>{0.75, 0.5625, 0.28125, 0.1796875}));
  EXPECT_EQ(ys(ret, 1), (std::vector<double>{0.75, 0.546875, 0.265625, 0.171875}));

  const Json rk = read_json(fig / "rankers.json");
  EXPECT_EQ(rk["categories"], Json({"lr", "din", "din_sum", "funnel (chosen)"}));
  EXPECT_EQ(ys(rk, 0)[1], f["rankers"]["din"]["vs_pool"]["recall@10"]["diff"].get<double>());
  EXPECT_EQ(ys(rk, 0, "y_low")[3], f["funnel"]["vs_pool"]["recall@10"]["ci_low"].get<double>());
  EXPECT_EQ(ys(rk, 0, "y_high")[0],
            f["rankers"]["lr"]["vs_pool"]["recall@10"]["ci_high"].get<double>());

  const Json pw = read_json(fig / "ranker_pairwise.json");
  EXPECT_EQ(pw["categories"], f["ranker_pairwise"]["names"]);
  EXPECT_EQ(pw["matrix"], f["ranker_pairwise"]["diff"]);
  EXPECT_EQ(pw["extra"]["p_value"], f["ranker_pairwise"]["p_value"]);
  EXPECT_EQ(pw["extra"]["ci_low"], f["ranker_pairwise"]["ci_low"]);
  EXPECT_EQ(pw["cell_text"][1][0], "+0.016*");  // p 0.048 in the fixture

  const Json din = read_json(fig / "din_pooling.json");
  EXPECT_EQ(ys(din, 0), (std::vector<double>{0.171875, 0.0859375}));
  EXPECT_EQ(ys(din, 1), (std::vector<double>{0.1640625, 0.08203125}));

  const Json ub = read_json(fig / "user_buckets.json");
  EXPECT_EQ(ub["categories"][0], "1-19 (40 users)");
  EXPECT_EQ(ub["series"][3]["label"], "din");
  EXPECT_EQ(ys(ub, 3), (std::vector<double>{0.1375, 0.2375, 0.24}));

  const Json sw = read_json(fig / "sweep_sasrec_max_len.json");
  EXPECT_EQ(ys(sw, 0, "x"), (std::vector<double>{10, 25, 50, 100}));
  EXPECT_EQ(ys(sw, 0),
            (std::vector<double>{0.125, 0.140625, 0.15625, 0.1484375}));  // valid recall@10
  EXPECT_EQ(ys(sw, 1),
            (std::vector<double>{0.1171875, 0.1328125, 0.1484375, 0.140625}));  // test recall@10
  EXPECT_EQ(sw["extra"]["chosen_on_valid"], 50);
  const Json tt = read_json(fig / "sweep_two_tower_dim.json");
  EXPECT_EQ(ys(tt, 3),
            (std::vector<double>{0.05078125, 0.0546875, 0.060546875, 0.05859375}));  // test ndcg@10
  EXPECT_TRUE(tt["log_x"].get<bool>());

  const Json ils = read_json(fig / "mmr_pareto_ils.json"),
             cov = read_json(fig / "mmr_pareto_coverage.json");
  EXPECT_EQ(ys(ils, 0, "x"), (std::vector<double>{0.34375, 0.28125, 0.25}));
  EXPECT_EQ(ys(ils, 0), (std::vector<double>{0.1796875, 0.171875, 0.125}));
  EXPECT_EQ(ils["series"][0]["point_labels"], Json({"0", "0.5", "1"}));
  EXPECT_EQ(ys(cov, 0, "x"), (std::vector<double>{0.40625, 0.46875, 0.5625}));
  const Json mo = read_json(fig / "mmr_ope.json");
  EXPECT_EQ(ys(mo, 1), (std::vector<double>{0.15625, 0.1484375, 0.109375}));  // IPS
  EXPECT_EQ(ys(mo, 2, "y_low")[2], r["sweep"][2]["snips"]["recall@10"]["ci_low"].get<double>());

  const Json ope = read_json(fig / "ope.json");
  EXPECT_EQ(ope["categories"], Json({"popularity", "funnel"}));
  EXPECT_EQ(ys(ope, 0), (std::vector<double>{0.0625, 0.171875}));  // true
  for (size_t p = 0; p < 2; ++p) {
    EXPECT_EQ(ys(ope, 1)[p], o["policies"][p]["naive"]["value"].get<double>());
    EXPECT_EQ(ys(ope, 2, "y_low")[p], o["policies"][p]["ips"]["ci_low"].get<double>());
    EXPECT_EQ(ys(ope, 3)[p], o["policies"][p]["clipped_ips"]["value"].get<double>());
    EXPECT_EQ(ys(ope, 4, "y_high")[p], o["policies"][p]["snips"]["ci_high"].get<double>());
  }

  // Dataset figures: the tiny log's hand-computed statistics.
  EXPECT_EQ(ys(read_json(fig / "eda_ratings.json"), 0), (std::vector<double>{1, 3, 2}));
  EXPECT_DOUBLE_EQ(read_json(fig / "eda_lorenz.json")["extra"]["gini"].get<double>(), 2.0 / 9.0);
  const Json act = read_json(fig / "eda_user_activity.json");
  EXPECT_EQ(act["extra"]["p50"], 2.0);
  EXPECT_EQ(act["vlines"][2]["x"], 3.0);
  EXPECT_EQ(ys(read_json(fig / "eda_genres.json"), 0),
            (std::vector<double>{3.5 / 6, 1.5 / 6, 1.0 / 6}));
}

TEST_F(Report, PageIsSelfContained) {
  test::TempDir dir("report");
  const ReportOutput out = write_report(all_inputs(dir.path()));
  const std::string html = read_file(out.html);
  // A plain scan (std::regex recurses per character and overflows the stack on the base64 data).
  size_t images = 0;
  for (const std::string attr : {"src=\"", "href=\""}) {
    for (size_t at = html.find(attr); at != std::string::npos; at = html.find(attr, at + 1)) {
      const size_t begin = at + attr.size();
      const std::string value =
          html.substr(begin, std::min<size_t>(html.find('"', begin) - begin, 80));
      if (attr == "src=\"") {
        EXPECT_EQ(value.rfind("data:image/png;base64,", 0), 0u) << value;
        ++images;
      } else {
        EXPECT_EQ(value.rfind("#", 0), 0u) << value;  // in-page anchors only
      }
    }
  }
  EXPECT_EQ(images, 22u);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("Not run"), std::string::npos);
}

TEST_F(Report, MissingInputsSayNotRunWithTheCommand) {
  test::TempDir dir("report");
  ReportInputs in;
  in.out = dir.path();
  // An older quality JSON: channels and drop-one, no fusion_strategies.
  Json q = read_json(fixture("quality.json"));
  q.erase("fusion_strategies");
  in.quality = dir.write("old_quality.json", q.dump());
  const ReportOutput out = write_report(in);
  const std::string html = read_file(out.html);
  EXPECT_NE(html.find("Not run: no dataset given; pass --data PATH --dataset NAME"),
            std::string::npos);
  EXPECT_NE(html.find("has no fusion_strategies"), std::string::npos);
  EXPECT_NE(html.find("Not run: no bench funnel JSON given; run cascade bench funnel"),
            std::string::npos);
  EXPECT_NE(
      html.find("cascade bench sweep --data PATH --dataset NAME --channel sasrec --param max_len"),
      std::string::npos);
  EXPECT_NE(html.find("--channel two_tower --param dim"), std::string::npos);
  EXPECT_NE(html.find("Not run: no bench rerank JSON given"), std::string::npos);
  EXPECT_NE(html.find("Not run: no bench cuts JSON given"), std::string::npos);
  EXPECT_NE(html.find("Not run: no bench ope JSON given"), std::string::npos);
  // Only the channels and the drop-one were drawable.
  EXPECT_EQ(out.figures.size(), 2u);
  EXPECT_TRUE(fs::exists(dir.path() / "fig" / "channels.png"));
  EXPECT_FALSE(fs::exists(dir.path() / "fig" / "fusion_strategies.png"));
}

TEST_F(Report, BadInputNamesTheFile) {
  test::TempDir dir("report");
  ReportInputs in;
  in.out = dir.path() / "out";
  in.funnel = dir.write("broken.json", "{\"rankers\": ");
  try {
    write_report(in);
    FAIL() << "a broken JSON was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(in.funnel), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("not valid JSON"), std::string::npos) << e.what();
  }
  // Valid JSON missing a number: the message names the file and the field.
  Json f = read_json(fixture("funnel.json"));
  f["rankers"]["din"]["vs_pool"]["recall@10"].erase("ci_low");
  in.funnel = dir.write("no_ci.json", f.dump());
  try {
    write_report(in);
    FAIL() << "a funnel JSON without ci_low was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "no_ci.json: expected a number at rankers.din.vs_pool.recall@10.ci_low"),
              std::string::npos)
        << e.what();
  }
  in.funnel = dir.file("absent.json");
  EXPECT_THROW(write_report(in), Error);
}

TEST_F(Report, CommandWritesTheReportAndFailsOnBadInput) {
  test::TempDir dir("report");
  const std::string bin = CASCADE_BIN;
  const auto ok = testing::run_command(bin + " report --data " + fixture("data") +
                                       " --dataset ml-latest --quality " + fixture("quality.json") +
                                       " --sweep " + fixture("sweep_sasrec.json") + " --sweep " +
                                       fixture("sweep_two_tower.json") + " --out " + dir.str());
  ASSERT_EQ(ok.code, 0) << ok.output;
  EXPECT_NE(ok.output.find("report " + dir.str() + "/index.html"), std::string::npos) << ok.output;
  EXPECT_TRUE(fs::exists(dir.path() / "fig" / "sweep_two_tower_dim.png"));
  const std::string bad = dir.write("bad.json", "not json");
  const auto fail = testing::run_command(bin + " report --ope " + bad + " --out " + dir.str());
  EXPECT_EQ(fail.code, 1);
  EXPECT_NE(fail.output.find(bad), std::string::npos) << fail.output;
  // Without gnuplot on PATH the error says what to install.
  const auto nognuplot =
      testing::run_command("env PATH=/nonexistent " + bin + " report --quality " +
                           fixture("quality.json") + " --out " + dir.str());
  EXPECT_EQ(nognuplot.code, 1);
  EXPECT_NE(nognuplot.output.find("install it with `apt-get install gnuplot-nox`"),
            std::string::npos)
      << nognuplot.output;
}

}  // namespace
}  // namespace cascade::report
