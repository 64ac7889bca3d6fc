// The off-policy commands end to end: `cascade synth --logged-exposure` writes the documented log
// and model file; `cascade bench ope` writes the documented JSON; bad options fail naming them.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "cascade/io/artifact.h"
#include "support/run_command.h"
#include "support/temp_dir.h"

namespace cascade {
namespace {

using testing::run_command;

TEST(OpeCli, SynthLoggedExposureAndBenchOpe) {
  test::TempDir dir("ope_cli");
  const std::string bin = CASCADE_BIN;
  auto r = run_command(
      bin + " synth --logged-exposure --users 60 --items 30 --impressions 3000 --seed 2 --out " +
      dir.file("log.csv"));
  ASSERT_EQ(r.code, 0) << r.output;
  std::ifstream in(dir.file("log.csv"));
  std::string header;
  std::getline(in, header);
  EXPECT_EQ(header, "user,item,propensity,click");
  size_t rows = 0;
  for (std::string line; std::getline(in, line);) ++rows;
  EXPECT_EQ(rows, 3000u);
  EXPECT_EQ(nlohmann::json::parse(read_file(dir.file("log.csv.model.json")))["kind"],
            "logged_exposure");

  r = run_command(
      bin +
      " bench ope --users 200 --items 100 --impressions 20000 --seed 4 --resamples 50 --clip 20" +
      " --threads 1 --json " + dir.file("ope.json"));
  ASSERT_EQ(r.code, 0) << r.output;
  const auto j = nlohmann::json::parse(read_file(dir.file("ope.json")));
  EXPECT_EQ(j["k"], 10);
  EXPECT_EQ(j["clip"], 20.0);
  EXPECT_EQ(j["events"], 20000);
  EXPECT_TRUE(j["logging_policy"].is_string());
  ASSERT_EQ(j["policies"].size(), 5u);
  for (const auto& p : j["policies"]) {
    EXPECT_TRUE(p["name"].is_string());
    EXPECT_TRUE(p["true"].is_number());
    EXPECT_TRUE(p["ess"].is_number());
    for (const char* k : {"naive", "ips", "clipped_ips", "snips"})
      EXPECT_LE(p[k]["ci_low"].get<double>(), p[k]["ci_high"].get<double>()) << k;
  }
  EXPECT_NE(r.output.find("top-k-true-affinity"), std::string::npos) << r.output;

  r = run_command(bin + " bench ope --users 20 --items 5 --impressions 100 --k 6");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("--k"), std::string::npos) << r.output;
  r = run_command(bin + " synth --logged-exposure --temperature 0 --out " + dir.file("bad.csv"));
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("--temperature"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace cascade
