// cascade — one CLI over the Cascade library: prepare, synth, train, eval, compare, bench.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>

#include "cascade/core/error.h"
#include "commands.h"

int main(int argc, char** argv) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("cascade"));
  spdlog::set_pattern("[%H:%M:%S.%e] %^%l%$ %v");

  CLI::App app{"cascade: a multi-stage recommender engine"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "cascade " CASCADE_VERSION);
  cascade::cli::add_prepare_command(app);
  cascade::cli::add_synth_command(app);
  cascade::cli::add_train_command(app);
  cascade::cli::add_eval_command(app);
  cascade::cli::add_compare_command(app);
  cascade::cli::add_bench_command(app);
  cascade::cli::add_download_command(app);
  cascade::cli::add_bundle_command(app);
  cascade::cli::add_serve_command(app);
  cascade::cli::add_report_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const cascade::Error& e) {
    std::fprintf(stderr, "cascade: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cascade: unexpected error: %s\n", e.what());
    return 1;
  }
  return 0;
}
