#include "cascade/util/progress.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cmath>

namespace cascade {

namespace {

// 1234567 -> "1,234,567": counts of users and rows read better grouped.
std::string grouped(uint64_t v) {
  std::string s = std::to_string(v), out;
  const size_t lead = s.size() % 3 == 0 ? 3 : s.size() % 3;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i > 0 && i >= lead && (i - lead) % 3 == 0) out += ',';
    out += s[i];
  }
  return out;
}

}  // namespace

std::string format_progress(const std::string& label, uint64_t done, uint64_t total,
                            const std::string& unit, double elapsed_s) {
  const double rate = elapsed_s > 0 ? static_cast<double>(done) / elapsed_s : 0.0;
  std::string line = label + ": ";
  if (total > 0) {
    const double pct = 100.0 * static_cast<double>(done) / static_cast<double>(total);
    line += fmt::format("{:.0f}% ({} / {} {})", std::floor(pct), grouped(done), grouped(total), unit);
  } else {
    line += fmt::format("{} {}", grouped(done), unit);
  }
  // Slow steps (iALS iterations, epochs) need decimals: 0.24 iterations/s, not 0.
  if (rate < 10)
    line += fmt::format(", {:.2g} {}/s", rate, unit);
  else
    line += fmt::format(", {} {}/s", grouped(static_cast<uint64_t>(std::llround(rate))), unit);
  if (total > 0 && rate > 0 && done < total)
    line += fmt::format(", ETA {:.0f} s", static_cast<double>(total - done) / rate);
  return line;
}

Progress::Progress(std::string label, uint64_t total, std::string unit, double interval_s, Sink sink)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      interval_s_(interval_s),
      sink_(std::move(sink)),
      next_s_(interval_s) {
  if (!sink_) sink_ = [](const std::string& line) { spdlog::info("{}", line); };
}

void Progress::add(uint64_t n) {
  const uint64_t done = done_.fetch_add(n, std::memory_order_relaxed) + n;
  const double now = watch_.seconds();
  if (now < next_s_.load(std::memory_order_relaxed)) return;
  // One thread logs per interval; the others skip rather than wait.
  std::unique_lock lock(mu_, std::try_to_lock);
  if (!lock.owns_lock() || now < next_s_.load(std::memory_order_relaxed)) return;
  next_s_.store(now + interval_s_, std::memory_order_relaxed);
  lines_.fetch_add(1, std::memory_order_relaxed);
  sink_(format_progress(label_, done, total_, unit_, now));
}

}  // namespace cascade
