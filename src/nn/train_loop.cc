#include "nn/train_loop.h"
#include "cascade/util/cancel.h"
#include "cascade/util/stopwatch.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>

namespace cascade::nn {

EpochsRun run_epochs(torch::nn::Module& module, const EpochPlan& plan,
                     const std::function<double(int)>& train_epoch,
                     const std::function<double(int, double)>& validate) {
  const Stopwatch watch;
  auto seconds = [&] { return watch.seconds(); };
  BestEpoch best(plan.patience);
  EpochsRun run;
  for (int epoch = 1; epoch <= plan.epochs; ++epoch) {
    check_cancelled();
    module.train();
    const double loss = train_epoch(epoch);
    check_finite(loss, plan.who, epoch);
    run.epochs_run = epoch;
    const bool due = validate && plan.eval_every > 0 && (epoch % plan.eval_every == 0 || epoch == plan.epochs);
    const double value = due ? validate(epoch, loss) : std::nan("");
    if (std::isnan(value)) {
      spdlog::debug("{}: epoch {} loss {:.4f}{} {:.1f}s", plan.who, epoch, loss,
                    due ? fmt::format(" ({}: nothing to evaluate)", plan.metric) : std::string(), seconds());
      continue;
    }
    const bool stop = best.update(epoch, value, module);
    spdlog::info("{}: epoch {} loss {:.4f} {} {:.4f} (best {:.4f} @ {}) {:.1f}s", plan.who, epoch, loss,
                 plan.metric, value, best.value(), best.epoch(), seconds());
    if (stop) {
      spdlog::info("{}: no validation gain in {} evaluations, stopping at epoch {}", plan.who, plan.patience,
                   epoch);
      break;
    }
  }
  run.kept_best = best.restore(module);
  run.best_epoch = best.epoch();
  run.best_value = best.value();
  if (run.kept_best) {
    spdlog::info("{}: kept epoch {} ({} {:.4f})", plan.who, run.best_epoch, plan.metric, run.best_value);
  }
  return run;
}

}  // namespace cascade::nn
