// cascade download --dataset NAME --out DIR [--base-url URL]
// Fetches a GroupLens MovieLens archive (needs a network connection) and unpacks it.
#include "cascade/data/download.h"

#include <fmt/format.h>

#include <memory>

#include "commands.h"

namespace cascade::cli {

void add_download_command(CLI::App& app) {
  struct Opts {
    std::string dataset;
    std::string out = "data";
    DownloadOptions download;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand(
      "download", "download and unpack a GroupLens MovieLens archive (online only)");
  cmd->add_option("--dataset", o->dataset,
                  "ml-100k | ml-1m | ml-10m | ml-20m | ml-25m | ml-latest-small | ml-latest")
      ->required();
  cmd->add_option("--out", o->out, "folder to unpack into")->capture_default_str();
  cmd->add_option("--base-url", o->download.base_url, "where the archives live (http only)")
      ->capture_default_str();
  cmd->add_option("--timeout", o->download.timeout_seconds, "seconds")->capture_default_str();
  cmd->callback([o] {
    auto dir = download_dataset(o->dataset, o->out, o->download);
    fmt::print("{} is in {}\n", o->dataset, dir.string());
  });
}

}  // namespace cascade::cli
