// cascade prepare --data PATH --dataset NAME --protocol seed-loo --out DIR
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <memory>

#include "cascade/data/snapshot.h"
#include "cascade/util/stopwatch.h"
#include "cli_common.h"
#include "commands.h"

namespace cascade::cli {

void add_prepare_command(CLI::App& app) {
  struct Opts {
    DataFlags data;
    std::string out;
  };
  auto opts = std::make_shared<Opts>();
  CLI::App* cmd =
      app.add_subcommand("prepare", "load a log, filter, split and write a binary snapshot");
  opts->data.add_to(cmd);
  cmd->add_option("--out", opts->out, "output folder (dataset.snap, id maps, summary.json)")
      ->required();
  cmd->callback([opts] {
    const Stopwatch t0;
    DataSource src = opts->data.to_source();
    RawLog log = load_dataset(src.dataset, src.path, src.load);
    if (log.skipped_rows > 0) {
      spdlog::warn("skipped {} malformed rows (--skip-bad-rows)", log.skipped_rows);
    }
    Dataset ds = prepare_dataset(log, src.tag, src.prepare);
    save_snapshot(ds, opts->out);
    const double secs = t0.seconds();
    fmt::print(
        "prepared {} ({}): {} users, {} items, {} train / {} valid / {} test rows{}\n", src.dataset,
        protocol_name(src.prepare.protocol), ds.n_users, ds.n_items, ds.train.nnz(), ds.valid.nnz(),
        ds.test.nnz(),
        (ds.options.keep_seen ? fmt::format(", {} seen events (ratings below {})", ds.seen.nnz(),
                                            ds.options.min_rating)
                              : std::string()) +
            (log.skipped_rows ? fmt::format(", {} bad rows skipped", log.skipped_rows) : ""));
    fmt::print("snapshot {}/dataset.snap  hash {}  ({:.2f} s)\n", opts->out, ds.content_hash, secs);
  });
}

}  // namespace cascade::cli
