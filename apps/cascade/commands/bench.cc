// cascade bench: the benchmark subcommands, each in its own file (bench_*.cc).
#include "commands.h"

namespace cascade::cli {

void add_bench_command(CLI::App& app) {
  CLI::App* bench = app.add_subcommand("bench",
                                       "benchmarks: recall quality, ANN search, ranking funnel, "
                                       "re-rank sweep, off-policy estimators, parameter sweep");
  bench->require_subcommand(1);
  add_bench_quality(bench);
  add_bench_ann(bench);
  add_bench_funnel(bench);
  add_bench_rerank(bench);
  add_bench_cuts(bench);
  add_bench_ope(bench);
  add_bench_sweep(bench);
}

}  // namespace cascade::cli
