#include "cascade/serve/prometheus.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <exception>

#include <fmt/format.h>

#include "cascade/core/error.h"

namespace cascade::prometheus {

namespace {

enum Type : int { kCounter = 0, kGauge = 1, kHistogram = 2 };

const char* type_name(int t) {
  switch (t) {
    case kCounter: return "counter";
    case kGauge: return "gauge";
    default: return "histogram";
  }
}

// Below 2^53 every integer is exact in a double, so it prints (and parses back) as an integer.
constexpr double kExactIntLimit = 9007199254740992.0;

bool is_alpha_(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

void check_metric_name(std::string_view name) {
  if (!is_valid_metric_name(name))
    throw Error(fmt::format("invalid metric name \"{}\": must match [a-zA-Z_:][a-zA-Z0-9_:]*",
                            escape_label_value(name)));
}

// Sorted, validated labels rendered as `a="x",b="y"` (no braces): the series key.
std::string label_text(std::string_view metric, const Labels& labels, bool histogram) {
  std::vector<const std::pair<std::string, std::string>*> sorted;
  sorted.reserve(labels.size());
  for (const auto& l : labels) {
    if (!is_valid_label_name(l.first))
      throw Error(fmt::format("metric {}: invalid label name \"{}\": must match [a-zA-Z_][a-zA-Z0-9_]*",
                              metric, escape_label_value(l.first)));
    if (l.first.size() >= 2 && l.first[0] == '_' && l.first[1] == '_')
      throw Error(fmt::format("metric {}: label name \"{}\" is reserved (names starting with \"__\")",
                              metric, l.first));
    if (histogram && l.first == "le")
      throw Error(fmt::format("metric {}: label name \"le\" is reserved in histograms", metric));
    sorted.push_back(&l);
  }
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->first < b->first; });
  std::string out;
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (i > 0 && sorted[i]->first == sorted[i - 1]->first)
      throw Error(fmt::format("metric {}: label name \"{}\" given twice", metric, sorted[i]->first));
    if (i > 0) out += ',';
    out += sorted[i]->first;
    out += "=\"";
    out += escape_label_value(sorted[i]->second);
    out += '"';
  }
  return out;
}

std::vector<double> normalize_bounds(std::vector<double> b) {
  if (!b.empty() && std::isinf(b.back()) && b.back() > 0) b.pop_back();
  for (size_t i = 0; i < b.size(); ++i) {
    if (!std::isfinite(b[i]))
      throw Error(fmt::format("histogram bucket bound {} is {}: bounds must be finite (+Inf is implicit)",
                              i, format_value(b[i])));
    if (i > 0 && !(b[i] > b[i - 1]))
      throw Error(fmt::format("histogram bucket bounds must be strictly increasing, got {} after {}",
                              format_value(b[i]), format_value(b[i - 1])));
  }
  return b;
}

// A family's "# HELP" and "# TYPE" lines.
void append_header(std::string& out, std::string_view name, std::string_view help, int type) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += escape_help(help);
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type_name(type);
  out += '\n';
}

void append_sample(std::string& out, std::string_view name, std::string_view suffix,
                   std::string_view labels, std::string_view extra_label, double v) {
  out += name;
  out += suffix;
  if (!labels.empty() || !extra_label.empty()) {
    out += '{';
    out += labels;
    if (!labels.empty() && !extra_label.empty()) out += ',';
    out += extra_label;
    out += '}';
  }
  out += ' ';
  out += format_value(v);
  out += '\n';
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Formatting and names

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::fabs(v) < kExactIntLimit && v == std::trunc(v))
    return std::to_string(static_cast<int64_t>(v));  // -0.0 -> "0"
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);  // shortest round-trip form
  return std::string(buf, r.ptr);
}

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string escape_help(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

bool is_valid_metric_name(std::string_view name) {
  if (name.empty() || !(is_alpha_(name[0]) || name[0] == ':')) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return is_alpha_(c) || is_digit(c) || c == ':'; });
}

bool is_valid_label_name(std::string_view name) {
  if (name.empty() || !is_alpha_(name[0])) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return is_alpha_(c) || is_digit(c); });
}

// ---------------------------------------------------------------------------------------
// Counter, Histogram

void Counter::add(double v) {
  if (!(v >= 0) || !std::isfinite(v))
    throw Error(fmt::format("counter increment must be finite and >= 0, got {}", format_value(v)));
  if (v < kExactIntLimit && v == std::trunc(v))
    ints_.fetch_add(static_cast<uint64_t>(v), std::memory_order_relaxed);
  else
    frac_.fetch_add(v, std::memory_order_relaxed);
}

double Counter::value() const noexcept {
  return static_cast<double>(ints_.load(std::memory_order_relaxed)) +
         frac_.load(std::memory_order_relaxed);
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(normalize_bounds(std::move(bounds))),
      counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double v) noexcept {
  if (std::isnan(v)) return;
  // First bound >= v: the bucket whose `le` covers v (bounds_.size() is +Inf).
  const size_t i = static_cast<size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::cumulative_counts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  uint64_t acc = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    acc += counts_[i].load(std::memory_order_relaxed);
    out[i] = acc;
  }
  return out;
}

uint64_t Histogram::count() const { return cumulative_counts().back(); }

std::vector<double> exponential_buckets(double start, double factor, size_t count) {
  if (!(start > 0) || !(factor > 1) || !std::isfinite(start) || !std::isfinite(factor) || count == 0)
    throw Error(fmt::format("exponential_buckets needs start > 0, factor > 1, count >= 1; got {}, {}, {}",
                            format_value(start), format_value(factor), count));
  std::vector<double> out(count);
  double v = start;
  for (size_t i = 0; i < count; ++i, v *= factor) out[i] = v;
  return out;
}

std::vector<double> default_latency_buckets_ms() {
  return {0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000};
}

// ---------------------------------------------------------------------------------------
// Registry

struct Registry::Family {
  struct Series {
    std::string labels;  // rendered, sorted: a="x",b="y"
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::function<double()> fn;  // callback gauge when set
    std::unique_ptr<Histogram> histogram;
  };
  std::string name;
  std::string help;
  int type = kCounter;
  std::vector<double> bounds;  // histograms only (normalized)
  std::vector<std::unique_ptr<Series>> series;  // registration order
  std::map<std::string, Series*, std::less<>> index;

  Series* find(const std::string& key) const {
    auto it = index.find(key);
    return it == index.end() ? nullptr : it->second;
  }
  Series& add(std::string key) {
    auto s = std::make_unique<Series>();
    s->labels = key;
    Series* p = s.get();
    series.push_back(std::move(s));
    index.emplace(std::move(key), p);
    return *p;
  }
};

Registry::Registry() = default;
Registry::~Registry() = default;

Registry::Family& Registry::family(std::string_view name, std::string_view help, int type,
                                   const std::vector<double>* bounds) {
  if (auto it = by_name_.find(name); it != by_name_.end()) {
    Family& f = *it->second;
    if (f.type != type)
      throw Error(fmt::format("metric {} is already registered as a {}, not a {}", name,
                              type_name(f.type), type_name(type)));
    if (f.help != help)
      throw Error(fmt::format("metric {} is already registered with help \"{}\", not \"{}\"", name,
                              escape_help(f.help), escape_help(help)));
    if (bounds && *bounds != f.bounds)
      throw Error(fmt::format("histogram {} is already registered with other bucket bounds", name));
    return f;
  }
  // The series names a histogram adds must not collide with other families.
  for (const auto& f : families_) {
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (f->type == kHistogram && name == f->name + suffix)
        throw Error(fmt::format("metric name {} collides with the series of histogram {}", name, f->name));
      if (type == kHistogram && f->name == std::string(name) + suffix)
        throw Error(fmt::format("histogram {} would add series {}, which is already a metric", name, f->name));
    }
  }
  auto f = std::make_unique<Family>();
  f->name = std::string(name);
  f->help = std::string(help);
  f->type = type;
  if (bounds) f->bounds = *bounds;
  Family* p = f.get();
  families_.push_back(std::move(f));
  by_name_.emplace(p->name, p);
  return *p;
}

Counter& Registry::counter(std::string_view name, std::string_view help, const Labels& labels) {
  check_metric_name(name);
  std::string key = label_text(name, labels, false);
  std::lock_guard lock(mu_);
  Family& f = family(name, help, kCounter, nullptr);
  if (auto* s = f.find(key)) return *s->counter;
  auto& s = f.add(std::move(key));
  s.counter = std::make_unique<Counter>();
  return *s.counter;
}

Gauge& Registry::gauge(std::string_view name, std::string_view help, const Labels& labels) {
  check_metric_name(name);
  std::string key = label_text(name, labels, false);
  std::lock_guard lock(mu_);
  Family& f = family(name, help, kGauge, nullptr);
  if (auto* s = f.find(key)) {
    if (!s->gauge)
      throw Error(fmt::format("gauge {}{{{}}} is already registered as a callback gauge", name, key));
    return *s->gauge;
  }
  auto& s = f.add(std::move(key));
  s.gauge = std::make_unique<Gauge>();
  return *s.gauge;
}

void Registry::gauge_callback(std::string_view name, std::string_view help, const Labels& labels,
                              std::function<double()> fn) {
  check_metric_name(name);
  if (!fn) throw Error(fmt::format("gauge_callback {}: empty function", name));
  std::string key = label_text(name, labels, false);
  std::lock_guard lock(mu_);
  Family& f = family(name, help, kGauge, nullptr);
  if (auto* s = f.find(key)) {
    if (s->gauge)
      throw Error(fmt::format("gauge {}{{{}}} is already registered as a plain gauge", name, key));
    s->fn = std::move(fn);
    return;
  }
  f.add(std::move(key)).fn = std::move(fn);
}

Histogram& Registry::histogram(std::string_view name, std::string_view help, std::vector<double> bounds,
                               const Labels& labels) {
  check_metric_name(name);
  std::string key = label_text(name, labels, true);
  bounds = normalize_bounds(std::move(bounds));
  std::lock_guard lock(mu_);
  Family& f = family(name, help, kHistogram, &bounds);
  if (auto* s = f.find(key)) return *s->histogram;
  auto& s = f.add(std::move(key));
  s.histogram = std::make_unique<Histogram>(std::move(bounds));
  return *s.histogram;
}

std::string Registry::render() const {
  std::lock_guard lock(mu_);
  std::string out;
  out.reserve(256 * families_.size());
  for (const auto& fp : families_) {
    const Family& f = *fp;
    append_header(out, f.name, f.help, f.type);
    for (const auto& sp : f.series) {
      const auto& s = *sp;
      if (s.counter) {
        append_sample(out, f.name, "", s.labels, "", s.counter->value());
      } else if (s.gauge) {
        append_sample(out, f.name, "", s.labels, "", s.gauge->value());
      } else if (s.fn) {
        double v;
        try {
          v = s.fn();
        } catch (const std::exception&) {
          v = std::nan("");  // one broken callback must not take /metrics down
        }
        append_sample(out, f.name, "", s.labels, "", v);
      } else if (s.histogram) {
        const Histogram& h = *s.histogram;
        // One snapshot of the counts, so the buckets and _count agree with each other.
        const std::vector<uint64_t> cum = h.cumulative_counts();
        for (size_t i = 0; i < cum.size(); ++i) {
          const std::string le =
              "le=\"" + (i < h.bounds().size() ? format_value(h.bounds()[i]) : std::string("+Inf")) + "\"";
          append_sample(out, f.name, "_bucket", s.labels, le, static_cast<double>(cum[i]));
        }
        append_sample(out, f.name, "_sum", s.labels, "", h.sum());
        append_sample(out, f.name, "_count", s.labels, "", static_cast<double>(cum.back()));
      }
    }
  }
  return out;
}

std::string render_gauge(std::string_view name, std::string_view help, const Labels& labels,
                         double value) {
  check_metric_name(name);
  const std::string key = label_text(name, labels, false);
  std::string out;
  append_header(out, name, help, kGauge);
  append_sample(out, name, "", key, "", value);
  return out;
}

}  // namespace cascade::prometheus
