// Each CLI command registers its subcommand on the root app; `run` callbacks throw
// cascade::Error on failure and main() maps that to a message and exit code 1.
#pragma once

#include <CLI/CLI.hpp>

namespace cascade::cli {

void add_prepare_command(CLI::App& app);
void add_synth_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_compare_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_download_command(CLI::App& app);
void add_bundle_command(CLI::App& app);
void add_serve_command(CLI::App& app);
void add_report_command(CLI::App& app);

// Subcommands of `cascade bench` that live in their own files.
void add_bench_ann(CLI::App* bench);
void add_bench_funnel(CLI::App* bench);
void add_bench_quality(CLI::App* bench);
void add_bench_rerank(CLI::App* bench);
void add_bench_cuts(CLI::App* bench);
void add_bench_ope(CLI::App* bench);
void add_bench_sweep(CLI::App* bench);

}  // namespace cascade::cli
