// Progress lines for long steps: "<label>: 41% (56,700 / 138,228 users), 1,520 users/s, ETA 54 s".
// A step that finishes within the first interval prints nothing, so small runs (the embedded
// dataset, tests) keep their logs as they were; a 20M-row run reports every `interval_s`.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "cascade/util/stopwatch.h"

namespace cascade {

/// "<label>: <pct>% (<done> / <total> <unit>), <rate> <unit>/s, ETA <s> s" (total 0 = unknown:
/// no percentage and no ETA). Pure, for tests and for callers with their own throttling.
std::string format_progress(const std::string& label, uint64_t done, uint64_t total,
                            const std::string& unit, double elapsed_s);

class Progress {
 public:
  using Sink = std::function<void(const std::string&)>;

  /// Logs through spdlog at info level unless a sink is given. interval_s <= 0 logs every add().
  Progress(std::string label, uint64_t total, std::string unit, double interval_s = 10.0,
           Sink sink = nullptr);

  /// Thread-safe: n more units done. Logs a line when interval_s has passed since the last one.
  void add(uint64_t n = 1);
  uint64_t done() const { return done_.load(std::memory_order_relaxed); }
  /// Lines logged so far.
  int lines() const { return lines_.load(std::memory_order_relaxed); }

 private:
  std::string label_, unit_;
  uint64_t total_;
  double interval_s_;
  Sink sink_;
  Stopwatch watch_;
  std::atomic<uint64_t> done_{0};
  std::atomic<double> next_s_;
  std::atomic<int> lines_{0};
  std::mutex mu_;
};

}  // namespace cascade
