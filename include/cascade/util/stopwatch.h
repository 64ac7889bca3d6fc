// The one stopwatch: elapsed wall time on the steady clock, in seconds or milliseconds, with
// laps for per-stage timings.
#pragma once

#include <chrono>

namespace cascade {

class Stopwatch {
 public:
  using Clock = std::chrono::steady_clock;

  Stopwatch() : start_(Clock::now()), lap_(start_) {}

  /// Since construction (or the last restart()).
  double seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }
  double ms() const { return seconds() * 1000.0; }
  /// Since the previous lap (or the start), in milliseconds; starts the next lap.
  double lap_ms() {
    const auto now = Clock::now();
    const double d = std::chrono::duration<double, std::milli>(now - lap_).count();
    lap_ = now;
    return d;
  }
  void restart() { start_ = lap_ = Clock::now(); }

 private:
  Clock::time_point start_, lap_;
};

}  // namespace cascade
