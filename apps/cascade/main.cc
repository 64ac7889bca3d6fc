// cascade — one CLI over the Cascade library: prepare, synth, train, eval, compare, bench.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "cascade/core/error.h"
#include "cascade/dist/world.h"
#include "cascade/util/blas_core.h"
#include "cascade/util/memory.h"
#include "commands.h"

namespace {

// Under mpirun with several ranks only `train` and `eval` know how to share their work; any
// other command would run N times over the same files.
void check_command_runs_on_mpi(int argc, char** argv) {
  const cascade::dist::World& w = cascade::dist::world();
  if (w.size <= 1) return;
  for (int a = 1; a < argc; ++a) {
    if (argv[a][0] == '-') continue;
    const std::string cmd = argv[a];
    if (cmd == "train" || cmd == "eval") return;
    throw cascade::Error("`cascade " + cmd +
                         "` does not run across MPI ranks (only train and eval " +
                         "do): run it without mpirun, or with -np 1");
  }
}

}  // namespace

// Two libraries read their settings once, when they are loaded, before main:
// - libgomp (libtorch's intra-op threads) reads OMP_WAIT_POLICY. Its default spins idle
//   threads, which made two intra-op threads several times slower than one on a loaded 2-core
//   machine; passive waiting sleeps instead.
// - OpenBLAS (libtorch's matrix products) reads OPENBLAS_CORETYPE. Without it, Debian's 0.3.21
//   runs its generic SSE3 kernels on CPUs it does not know, AVX-512 VMs included (blas_core.h).
// So a run without either variable sets what is missing and starts over once (exec keeps the
// process and its PID, as mpirun expects). A variable the user set is left as it is. If the
// exec fails, the run goes on with the libraries' defaults.
static void start_with_tuned_libraries(char** argv) {
  bool changed = false;
  if (std::getenv("OMP_WAIT_POLICY") == nullptr) {
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    changed = true;
  }
  if (std::getenv("OPENBLAS_CORETYPE") == nullptr) {
    const std::string core = cascade::openblas_coretype_for(cascade::cpu_vector_support());
    if (!core.empty()) {
      setenv("OPENBLAS_CORETYPE", core.c_str(), 1);
      changed = true;
    }
  }
  if (changed) execv("/proc/self/exe", argv);
}

int main(int argc, char** argv) {
  start_with_tuned_libraries(argv);
  cascade::keep_freed_memory();  // training steps and requests reuse large blocks (memory.h)
  // Initialises MPI only when started by mpirun (cascade/dist/world.h); finalises at return.
  cascade::dist::Session mpi;
  const cascade::dist::World& world = cascade::dist::world();
  spdlog::set_default_logger(spdlog::stderr_color_mt("cascade"));
  spdlog::set_pattern(world.size > 1
                          ? "[%H:%M:%S.%e] [rank " + std::to_string(world.rank) + "] %^%l%$ %v"
                          : "[%H:%M:%S.%e] %^%l%$ %v");
  // One voice per job: the other ranks report warnings and errors only.
  if (world.rank != 0) spdlog::set_level(spdlog::level::warn);

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

  // An error on one rank ends the whole job: the other ranks may be waiting in a collective.
  try {
    check_command_runs_on_mpi(argc, argv);
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const cascade::Error& e) {
    std::fprintf(stderr, "cascade: error: %s\n", e.what());
    cascade::dist::abort_job(1);
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cascade: unexpected error: %s\n", e.what());
    cascade::dist::abort_job(1);
    return 1;
  }
  return 0;
}
