// bench sweep on a tiny synthetic dataset: one run per value with validation and test figures,
// the value chosen on validation Recall@10, and parameters validated by the channel's own bounds.
#include <gtest/gtest.h>

#include "cascade/core/error.h"
#include "cascade/data/synth.h"
#include "cascade/pipeline/sweep_bench.h"

namespace cascade {
namespace {

Dataset tiny_dataset() {
  return synth_dataset({.users = 300, .items = 600, .interactions = 9000}, {.min_rating = 1});
}

const YAML::Node& tiny_config() {
  static const YAML::Node cfg = YAML::Load(
      "seed: 7\n"
      "recall:\n"
      "  channels: {popularity: {}, ials: {factors: 8, iters: 3}}\n");
  return cfg;
}

std::string error_of(const SweepOptions& opt) {
  try {
    sweep_specs(tiny_config(), opt);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(SweepBench, ChoosesTheFirstBestValidationRecall) {
  EXPECT_EQ(choose_on_valid({0.1, 0.3, 0.2}), 1u);
  EXPECT_EQ(choose_on_valid({0.2, 0.1, 0.2}), 0u);  // ties: the first value given
  EXPECT_EQ(choose_on_valid({0.1, 0.1, 0.4}), 2u);
  EXPECT_THROW(choose_on_valid({}), Error);
}

TEST(SweepBench, SpecsCarryEachValueOverTheConfiguredParameters) {
  const auto specs =
      sweep_specs(tiny_config(), {.channel = "ials", .param = "factors", .values = {"4", "16"}});
  ASSERT_EQ(specs.size(), 2u);
  EXPECT_EQ(specs[0].params.raw().at("factors"), "4");
  EXPECT_EQ(specs[1].params.raw().at("factors"), "16");
  EXPECT_EQ(specs[1].params.raw().at("iters"), "3");  // the rest from the config
}

TEST(SweepBench, RejectsUnknownParametersOutOfRangeValuesAndChannels) {
  const std::string unknown = error_of({.channel = "ials", .param = "max_len", .values = {"10"}});
  EXPECT_NE(unknown.find("max_len"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("unknown"), std::string::npos) << unknown;
  const std::string range = error_of({.channel = "ials", .param = "factors", .values = {"8", "0"}});
  EXPECT_NE(range.find("factors=0"), std::string::npos) << range;
  EXPECT_NE(range.find("out of range"), std::string::npos) << range;
  const std::string channel = error_of({.channel = "sasrec", .param = "max_len", .values = {"10"}});
  EXPECT_NE(channel.find("sasrec"), std::string::npos) << channel;
  EXPECT_NE(error_of({.channel = "ials", .param = "factors", .values = {}}).find("no values"),
            std::string::npos);
}

TEST(SweepBench, OneRunPerValueChosenOnValidation) {
  const Dataset ds = tiny_dataset();
  // iALS started from all-zero factors stays at zero (every score 0: catalogue order), so the
  // first value is far weaker than the second: a sweep that kept the first value would fail.
  const SweepOptions opt{
      .channel = "ials", .param = "init_scale", .values = {"0", "0.01"}, .threads = 1};
  const nlohmann::ordered_json out = run_sweep_bench(tiny_config(), ds, opt);
  EXPECT_EQ(out["dataset"], "synth");
  EXPECT_EQ(out["protocol"], "seed-loo");
  EXPECT_EQ(out["channel"], "ials");
  EXPECT_EQ(out["param"], "init_scale");
  EXPECT_EQ(out["values"], nlohmann::ordered_json::parse("[0, 0.01]"));
  ASSERT_EQ(out["runs"].size(), 2u);
  std::vector<double> valid;
  for (size_t i = 0; i < 2; ++i) {
    const auto& r = out["runs"][i];
    EXPECT_EQ(r["value"], out["values"][i]);
    for (const char* split : {"valid", "test"}) {
      for (const char* m : {"recall@10", "ndcg@10", "recall@200"}) {
        ASSERT_TRUE(r[split].contains(m)) << split << " " << m;
        EXPECT_GE(r[split][m].get<double>(), 0.0);
        EXPECT_LE(r[split][m].get<double>(), 1.0);
      }
      EXPECT_GE(r[split]["recall@200"].get<double>(), r[split]["recall@10"].get<double>());
    }
    EXPECT_GE(r["fit_seconds"].get<double>(), 0.0);
    valid.push_back(r["valid"]["recall@10"].get<double>());
  }
  ASSERT_GT(valid[1], valid[0]);  // the construction above: the second value is the better one
  EXPECT_EQ(out["chosen_on_valid"], 0.01);
}

}  // namespace
}  // namespace cascade
