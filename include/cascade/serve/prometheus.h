// Prometheus metrics for `cascade serve`: counters, gauges (plain and computed at render
// time) and histograms with labels, rendered in the text exposition format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/).
//
// Hot path. A series (one family + one label set) is registered once and returns a stable
// reference (the series lives on the heap, owned by the Registry, until the Registry is
// destroyed; series are never removed). Recording through that reference takes no lock,
// does no lookup and allocates nothing:
//   Counter::inc()        one relaxed atomic fetch_add on a uint64 (`lock xadd`);
//   Counter::add(double)  one CAS loop on an atomic<double> (non-integral amounts);
//   Gauge::set / add      one atomic store / CAS loop;
//   Histogram::observe    binary search over the bucket bounds, one relaxed fetch_add on the
//                         bucket count, one CAS loop on the atomic<double> sum.
// Every series is aligned to its own cache line so that series updated by different threads
// do not false-share.
// Registering a series that already exists returns the existing one (a mutex plus a map
// lookup, ~100 ns), so a caller may also resolve rarely-seen label sets (e.g. an unusual
// HTTP status) at request time; the common ones should be resolved once at start-up.
//
// Naming rules (checked at registration, cascade::Error naming the bad name):
//   metric names  [a-zA-Z_:][a-zA-Z0-9_:]*
//   label names   [a-zA-Z_][a-zA-Z0-9_]*  (Prometheus reserves ':' for metric names and
//                 names starting with "__" for itself; "le" is reserved in histograms)
// A family name registered again must have the same type and help (and, for histograms,
// the same bucket bounds); a family may not take a name that collides with the _bucket,
// _sum or _count series of a histogram. Labels are sorted by name (so {b,a} and {a,b} are
// one series), and a label name may appear once per series.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cascade::prometheus {

/// Label name -> value pairs, in any order.
using Labels = std::vector<std::pair<std::string, std::string>>;

/// Monotonic counter. inc() is the fast integral path; add() accepts non-integral amounts.
class alignas(64) Counter {
 public:
  void inc(uint64_t n = 1) noexcept { ints_.fetch_add(n, std::memory_order_relaxed); }
  /// Adds `v` (finite, >= 0; otherwise cascade::Error: a counter never goes down).
  void add(double v);
  /// The current total (integral part exact up to 2^53).
  double value() const noexcept;

 private:
  std::atomic<uint64_t> ints_{0};
  std::atomic<double> frac_{0.0};
};

/// A value that goes up and down.
class alignas(64) Gauge {
 public:
  void set(double v) noexcept { v_.store(v, std::memory_order_relaxed); }
  void add(double v) noexcept { v_.fetch_add(v, std::memory_order_relaxed); }
  void inc() noexcept { add(1.0); }
  void dec() noexcept { add(-1.0); }
  double value() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0.0};
};

/// Distribution over fixed buckets. Bucket i counts observations v <= bounds[i] (and above
/// bounds[i-1]); the implicit last bucket (+Inf) counts the rest. Rendering makes them
/// cumulative. NaN observations are dropped (they would turn _sum into NaN for good).
class alignas(64) Histogram {
 public:
  /// `bounds`: strictly increasing finite upper bounds (a trailing +Inf is dropped; empty
  /// leaves only the +Inf bucket). Throws cascade::Error otherwise.
  explicit Histogram(std::vector<double> bounds);

  void observe(double v) noexcept;

  const std::vector<double>& bounds() const { return bounds_; }
  /// Cumulative counts, size bounds().size() + 1 (the last one is the +Inf bucket == count).
  std::vector<uint64_t> cumulative_counts() const;
  uint64_t count() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1, not cumulative
  std::atomic<double> sum_{0.0};
};

/// Bucket bounds start, start*factor, ..., `count` of them (start > 0, factor > 1).
std::vector<double> exponential_buckets(double start, double factor, size_t count);
/// Latency buckets in milliseconds, 0.25 ms .. 10 s (for *_ms histograms).
std::vector<double> default_latency_buckets_ms();

/// Owns every metric family; thread-safe. Not copyable or movable (handles point into it).
class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  Counter& counter(std::string_view name, std::string_view help, const Labels& labels = {});
  Gauge& gauge(std::string_view name, std::string_view help, const Labels& labels = {});
  /// A gauge whose value is `fn()` at render time (RSS, cache size...). Registering the same
  /// name and labels again replaces the function (e.g. after a bundle reload). `fn` runs
  /// under the registry's lock: it must not call back into this Registry. If it throws,
  /// the sample renders as NaN.
  void gauge_callback(std::string_view name, std::string_view help, const Labels& labels,
                      std::function<double()> fn);
  /// `bounds` as for Histogram; every series of a family must use the same bounds.
  Histogram& histogram(std::string_view name, std::string_view help, std::vector<double> bounds,
                       const Labels& labels = {});

  /// The whole exposition text: per family (in registration order) one # HELP and one
  /// # TYPE line, then its series in registration order. Content type:
  /// "text/plain; version=0.0.4; charset=utf-8".
  std::string render() const;

 private:
  struct Family;
  Family& family(std::string_view name, std::string_view help, int type,
                 const std::vector<double>* bounds);

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Family>> families_;     // registration order
  std::map<std::string, Family*, std::less<>> by_name_;
};

/// One gauge family with a single sample, rendered like Registry::render() renders it (HELP,
/// TYPE, the sample with escaped label values), outside any Registry: for an info metric whose
/// label changes over the process's life (the bundle version after a reload), which a Registry
/// would keep rendering as a second series forever. Names are checked as at registration.
std::string render_gauge(std::string_view name, std::string_view help, const Labels& labels,
                         double value);

/// Content-Type header value for render()'s output.
inline constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

// Exposed for tests and for other exporters.
/// A sample value as Prometheus parses it: integral values (|v| < 2^53) without exponent or
/// decimal point, "+Inf", "-Inf", "NaN", otherwise the shortest text that round-trips.
std::string format_value(double v);
/// Label value escaping: backslash, double quote and newline.
std::string escape_label_value(std::string_view v);
/// HELP text escaping: backslash and newline.
std::string escape_help(std::string_view v);
bool is_valid_metric_name(std::string_view name);
bool is_valid_label_name(std::string_view name);

}  // namespace cascade::prometheus
