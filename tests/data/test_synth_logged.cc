// Logged-exposure synthesis: exact propensities, the logging policy's shape, the click model,
// the true value of a target, the CSV/model files, determinism and option errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <string>
#include <vector>

#include "cascade/core/error.h"
#include "cascade/data/synth.h"
#include "cascade/io/artifact.h"
#include "support/temp_dir.h"

namespace cascade {
namespace {

LoggedExposureOptions small_world() {
  LoggedExposureOptions o;
  o.users = 50;
  o.items = 40;
  o.impressions = 20000;
  o.seed = 5;
  return o;
}

TEST(SynthLogged, PropensitiesAreTheLoggingDistribution) {
  const LoggedExposureModel m(small_world());
  const LoggedExposureLog log = m.sample_log();
  ASSERT_EQ(log.size(), 20000u);
  for (uint32_t u : {0u, 17u, 49u}) {
    const auto p = m.logging_distribution(u);
    EXPECT_NEAR(std::accumulate(p.begin(), p.end(), 0.0), 1.0, 1e-12);
    EXPECT_GT(*std::min_element(p.begin(), p.end()), 0.0);
  }
  for (size_t j = 0; j < log.size(); j += 97) {
    EXPECT_EQ(log.propensity[j], m.logging_distribution(log.user[j])[log.item[j]]) << j;
    EXPECT_TRUE(log.click[j] == 0.0 || log.click[j] == 1.0);
  }
  EXPECT_TRUE(std::is_sorted(log.user.begin(), log.user.end()));  // rows user by user
}

TEST(SynthLogged, LoggingFavoursPopularItemsAndFrequenciesMatchPropensities) {
  LoggedExposureOptions o = small_world();
  o.logging_affinity = 0;  // the same distribution for every user: frequencies are checkable
  o.impressions = 200000;
  const LoggedExposureModel m(o);
  const LoggedExposureLog log = m.sample_log();
  const auto p = m.logging_distribution(0);
  EXPECT_EQ(p, m.logging_distribution(31));
  std::vector<double> freq(o.items, 0);
  for (uint32_t i : log.item) freq[i] += 1.0 / static_cast<double>(log.size());
  for (uint32_t i = 0; i < o.items; ++i) {
    // Binomial standard error sqrt(p(1-p)/n); 5 of them is a fluke of ~1e-6.
    EXPECT_NEAR(freq[i], p[i], 5 * std::sqrt(p[i] * (1 - p[i]) / static_cast<double>(log.size())))
        << i;
  }
  // softmax(θ): the ratio of two items' propensities is exp(θ_a - θ_b).
  EXPECT_NEAR(p[3] / p[7], std::exp(m.popularity(3) - m.popularity(7)), 1e-9);
  const auto top = std::max_element(p.begin(), p.end()) - p.begin();
  for (uint32_t i = 0; i < o.items; ++i)
    EXPECT_LE(m.popularity(i), m.popularity(static_cast<uint32_t>(top)));
}

TEST(SynthLogged, ClicksFollowTheClickModel) {
  const LoggedExposureModel m(small_world());
  const LoggedExposureLog log = m.sample_log();
  double clicks = 0, expected = 0, var = 0;
  for (size_t j = 0; j < log.size(); ++j) {
    const double q = m.click_probability(log.user[j], log.item[j]);
    clicks += log.click[j];
    expected += q;
    var += q * (1 - q);
  }
  EXPECT_NEAR(clicks, expected, 5 * std::sqrt(var));
  EXPECT_GT(clicks, 0.02 * static_cast<double>(log.size()));  // not a degenerate world
}

TEST(SynthLogged, TrueTopKValueIsTheExactMeanClickProbability) {
  LoggedExposureOptions o = small_world();
  o.users = 2;
  o.items = 3;
  const LoggedExposureModel m(o);
  const std::vector<std::vector<uint32_t>> lists = {{0, 2}, {1}};
  const double want =
      ((m.click_probability(0, 0) + m.click_probability(0, 2)) / 2 + m.click_probability(1, 1)) / 2;
  EXPECT_DOUBLE_EQ(m.true_top_k_value(lists), want);
  // q = σ(base + u·v + b): lowering base_logit lowers every click probability.
  o.base_logit -= 1;
  EXPECT_LT(LoggedExposureModel(o).true_top_k_value(lists), want);
  EXPECT_THROW(m.true_top_k_value({{0}}), Error);
  EXPECT_THROW(m.true_top_k_value({{0}, {}}), Error);
  EXPECT_THROW(m.true_top_k_value({{0}, {3}}), Error);
}

TEST(SynthLogged, DeterministicForASeedAndTheCsvMatches) {
  const LoggedExposureOptions o = small_world();
  const LoggedExposureLog a = LoggedExposureModel(o).sample_log(),
                          b = LoggedExposureModel(o).sample_log();
  EXPECT_EQ(a.item, b.item);
  EXPECT_EQ(a.click, b.click);
  // Another stream: another log of the same world.
  const LoggedExposureLog other = LoggedExposureModel(o).sample_log(1);
  EXPECT_NE(other.item, a.item);
  EXPECT_EQ(other.size(), a.size());
  for (size_t j = 0; j < other.size(); j += 131)
    EXPECT_EQ(other.propensity[j],
              LoggedExposureModel(o).logging_distribution(other.user[j])[other.item[j]]);
  LoggedExposureOptions o2 = o;
  o2.seed = 6;
  EXPECT_NE(LoggedExposureModel(o2).sample_log().item, a.item);

  test::TempDir dir("synth_logged");
  const std::string path = dir.file("log.csv");
  EXPECT_EQ(synth_write_logged_exposure(o, path), a.size());
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "user,item,propensity,click");
  for (size_t j = 0; j < 3; ++j) {
    std::getline(in, line);
    uint32_t u = 0, i = 0;
    double p = 0;
    int c = -1;
    ASSERT_EQ(std::sscanf(line.c_str(), "%u,%u,%lf,%d", &u, &i, &p, &c), 4) << line;
    EXPECT_EQ(u, a.user[j] + 1);
    EXPECT_EQ(i, a.item[j] + 1);
    EXPECT_EQ(p, a.propensity[j]);  // 17 significant digits round-trip
    EXPECT_EQ(c, static_cast<int>(a.click[j]));
  }
  const auto j = nlohmann::json::parse(read_file(path + ".model.json"));
  EXPECT_EQ(j["seed"], o.seed);
  EXPECT_EQ(j["users"], o.users);
  EXPECT_EQ(j["temperature"], o.temperature);
}

TEST(SynthLogged, BadOptionsThrowNamingTheOption) {
  auto fails_with = [](LoggedExposureOptions o, const std::string& needle) {
    try {
      LoggedExposureModel m(o);
      ADD_FAILURE() << "no error for " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  LoggedExposureOptions o = small_world();
  o.users = 0;
  fails_with(o, "--users");
  o = small_world();
  o.temperature = 0;
  fails_with(o, "--temperature");
  o = small_world();
  o.quality_popularity_corr = 1.5;
  fails_with(o, "--quality-popularity-corr");
  o = small_world();
  o.impressions = 0;
  fails_with(o, "--impressions");
}

}  // namespace
}  // namespace cascade
