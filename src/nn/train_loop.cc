#include "nn/train_loop.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>

#include "cascade/util/cancel.h"
#include "cascade/util/stopwatch.h"

namespace cascade::nn {

EpochProgress::EpochProgress(std::string who, int epoch, uint64_t total, double interval_s)
    : who_(std::move(who)),
      epoch_(epoch),
      total_(total),
      interval_s_(interval_s),
      start_(std::chrono::steady_clock::now()),
      next_(start_ + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                         std::chrono::duration<double>(interval_s))) {}

void EpochProgress::update(uint64_t done) {
  const auto now = std::chrono::steady_clock::now();
  if (now < next_ || done == 0 || done >= total_) return;
  next_ = now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                    std::chrono::duration<double>(interval_s_));
  const double s = std::chrono::duration<double>(now - start_).count();
  const double rate = static_cast<double>(done) / s;
  spdlog::info("{}: epoch {} {}/{} rows ({:.0f}%), {:.0f} rows/s, ETA {:.0f}s", who_, epoch_, done,
               total_, 100.0 * static_cast<double>(done) / static_cast<double>(total_), rate,
               static_cast<double>(total_ - done) / rate);
}

EpochsRun run_epochs(torch::nn::Module& module, const EpochPlan& plan,
                     const std::function<double(int)>& train_epoch,
                     const std::function<double(int, double)>& validate) {
  return run_epochs(module, plan, 0, train_epoch, validate);
}

EpochsRun run_epochs(torch::nn::Module& module, const EpochPlan& plan, uint64_t rows_per_epoch,
                     const std::function<double(int)>& train_epoch,
                     const std::function<double(int, double)>& validate) {
  const Stopwatch watch;
  auto seconds = [&] { return watch.seconds(); };
  BestEpoch best(plan.patience);
  EpochsRun run;
  for (int epoch = 1; epoch <= plan.epochs; ++epoch) {
    check_cancelled();
    module.train();
    const Stopwatch epoch_watch;
    const double loss = train_epoch(epoch);
    const double train_s = epoch_watch.seconds();
    check_finite(loss, plan.who, epoch);
    run.epochs_run = epoch;
    const std::string rate =
        rows_per_epoch > 0 && train_s > 0
            ? fmt::format(", {:.0f} rows/s", static_cast<double>(rows_per_epoch) / train_s)
            : "";
    const bool due =
        validate && plan.eval_every > 0 && (epoch % plan.eval_every == 0 || epoch == plan.epochs);
    const Stopwatch valid_watch;
    const double value = due ? validate(epoch, loss) : std::nan("");
    if (std::isnan(value)) {
      spdlog::info("{}: epoch {}/{} loss {:.4f}{}, train {:.2f}s{}, total {:.1f}s", plan.who, epoch,
                   plan.epochs, loss,
                   due ? fmt::format(" ({}: nothing to evaluate)", plan.metric) : std::string(),
                   train_s, rate, seconds());
      continue;
    }
    const bool stop = best.update(epoch, value, module);
    spdlog::info(
        "{}: epoch {}/{} loss {:.4f} {} {:.4f} (best {:.4f} @ {}), train {:.2f}s{}, valid {:.2f}s, "
        "total {:.1f}s",
        plan.who, epoch, plan.epochs, loss, plan.metric, value, best.value(), best.epoch(), train_s,
        rate, valid_watch.seconds(), seconds());
    if (stop) {
      spdlog::info("{}: no validation gain in {} evaluations, stopping at epoch {}", plan.who,
                   plan.patience, epoch);
      break;
    }
  }
  run.kept_best = best.restore(module);
  run.best_epoch = best.epoch();
  run.best_value = best.value();
  if (run.kept_best) {
    spdlog::info("{}: kept epoch {} ({} {:.4f})", plan.who, run.best_epoch, plan.metric,
                 run.best_value);
  }
  return run;
}

}  // namespace cascade::nn
