// cascade synth --users N --items M --interactions K --out FILE.csv
#include "cascade/data/synth.h"
#include "cascade/util/stopwatch.h"

#include <fmt/format.h>

#include <memory>

#include "commands.h"

namespace cascade::cli {

void add_synth_command(CLI::App& app) {
  auto opt = std::make_shared<SynthOptions>();
  auto out = std::make_shared<std::string>();
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
  cmd->add_option("--out", *out, "output CSV (user,item,rating,timestamp with a header)")
      ->required();
  cmd->callback([opt, out] {
    const Stopwatch t0;
    uint64_t rows = synth_write_csv(*opt, *out);
    const double secs = t0.seconds();
    fmt::print("wrote {} interactions ({} users, {} items) to {} in {:.2f} s\n", rows, opt->users,
               opt->items, *out, secs);
    fmt::print("prepare it with: cascade prepare --data {} --dataset csv --header --out DIR\n",
               *out);
  });
}

}  // namespace cascade::cli
