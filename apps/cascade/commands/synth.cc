// cascade synth --users N --items M --interactions K --out FILE.csv
// cascade synth --logged-exposure --users N --items M --impressions K --out LOG.csv
//   (a known logging policy and click model, data/synth.h "Logged exposure":
//   user,item,propensity,click
//    plus LOG.csv.model.json with the options that rebuild the exact model)
#include "cascade/data/synth.h"
#include "cascade/util/stopwatch.h"

#include <fmt/format.h>

#include <memory>

#include "commands.h"

namespace cascade::cli {

void add_synth_command(CLI::App& app) {
  auto opt = std::make_shared<SynthOptions>();
  auto out = std::make_shared<std::string>();
  auto logged = std::make_shared<LoggedExposureOptions>();
  auto logged_mode = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand(
      "synth", "generate a synthetic interaction log (CSV) for scale benchmarks");
  cmd->add_option("--users", opt->users, "number of users")->capture_default_str();
  cmd->add_option("--items", opt->items, "number of items")->capture_default_str();
  cmd->add_option("--interactions", opt->interactions,
                  "number of interactions (up to 1e8 and beyond)")
      ->capture_default_str();
  cmd->add_option("--genres", opt->genres, "number of genres")->capture_default_str();
  cmd->add_option("--zipf", opt->zipf_exponent, "item popularity exponent")->capture_default_str();
  cmd->add_option("--activity-sigma", opt->activity_sigma, "log-normal sigma of user activity")
      ->capture_default_str();
  cmd->add_option("--seed", opt->seed, "random seed")->capture_default_str();
  cmd->add_flag(
      "--logged-exposure", *logged_mode,
      "write a logged-exposure log (user,item,propensity,click) from a known logging policy "
      "and click model instead");
  cmd->add_option("--impressions", logged->impressions,
                  "with --logged-exposure: logged impressions")
      ->capture_default_str();
  cmd->add_option("--temperature", logged->temperature,
                  "with --logged-exposure: logging softmax temperature")
      ->capture_default_str();
  cmd->add_option("--logging-affinity", logged->logging_affinity,
                  "with --logged-exposure: weight of user affinity in the logging score")
      ->capture_default_str();
  cmd->add_option("--out", *out, "output CSV (user,item,rating,timestamp with a header)")
      ->required();
  cmd->callback([opt, out, logged, logged_mode] {
    const Stopwatch t0;
    if (*logged_mode) {
      logged->users = opt->users;
      logged->items = opt->items;
      logged->seed = opt->seed;
      const uint64_t rows = synth_write_logged_exposure(*logged, *out);
      fmt::print(
          "wrote {} logged impressions ({} users, {} items) to {} and {}.model.json in {:.2f} s\n",
          rows, logged->users, logged->items, *out, *out, t0.seconds());
      return;
    }
    uint64_t rows = synth_write_csv(*opt, *out);
    const double secs = t0.seconds();
    fmt::print("wrote {} interactions ({} users, {} items) to {} in {:.2f} s\n", rows, opt->users,
               opt->items, *out, secs);
    fmt::print("prepare it with: cascade prepare --data {} --dataset csv --header --out DIR\n",
               *out);
  });
}

}  // namespace cascade::cli
