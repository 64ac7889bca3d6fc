#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cascade/core/error.h"
#include "cascade/serve/prometheus.h"

namespace cascade::prometheus {
namespace {

// The message of the cascade::Error `fn` throws ("" when it does not throw one).
template <class Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(PrometheusRender, ExactTextForSmallRegistry) {
  Registry reg;
  const std::string help = "Requests served, by route and status.";
  // Labels given out of order: rendered sorted by name.
  Counter& ok = reg.counter("cascade_requests_total", help, {{"status", "200"}, {"route", "/recommend"}});
  reg.gauge("cascade_bundle_loaded", "1 when a bundle is serving.").set(1);
  reg.gauge("cascade_rerank_diversity", "Configured diversity.").set(0.25);
  reg.gauge_callback("cascade_cache_items", "Items in the feature cache.", {}, [] { return 42.0; });
  Histogram& h = reg.histogram("cascade_request_latency_ms", "Request latency in milliseconds.",
                               {1, 2.5, 10}, {{"route", "/recommend"}});
  // A series of the first family registered last still renders inside that family's block.
  Counter& nf = reg.counter("cascade_requests_total", help, {{"route", "/similar"}, {"status", "404"}});
  ok.inc();
  ok.inc(2);
  nf.inc();
  for (double v : {0.5, 1.0, 2.0, 7.5, 100.0}) h.observe(v);

  const std::string expected =
      "# HELP cascade_requests_total Requests served, by route and status.\n"
      "# TYPE cascade_requests_total counter\n"
      "cascade_requests_total{route=\"/recommend\",status=\"200\"} 3\n"
      "cascade_requests_total{route=\"/similar\",status=\"404\"} 1\n"
      "# HELP cascade_bundle_loaded 1 when a bundle is serving.\n"
      "# TYPE cascade_bundle_loaded gauge\n"
      "cascade_bundle_loaded 1\n"
      "# HELP cascade_rerank_diversity Configured diversity.\n"
      "# TYPE cascade_rerank_diversity gauge\n"
      "cascade_rerank_diversity 0.25\n"
      "# HELP cascade_cache_items Items in the feature cache.\n"
      "# TYPE cascade_cache_items gauge\n"
      "cascade_cache_items 42\n"
      "# HELP cascade_request_latency_ms Request latency in milliseconds.\n"
      "# TYPE cascade_request_latency_ms histogram\n"
      "cascade_request_latency_ms_bucket{route=\"/recommend\",le=\"1\"} 2\n"
      "cascade_request_latency_ms_bucket{route=\"/recommend\",le=\"2.5\"} 3\n"
      "cascade_request_latency_ms_bucket{route=\"/recommend\",le=\"10\"} 4\n"
      "cascade_request_latency_ms_bucket{route=\"/recommend\",le=\"+Inf\"} 5\n"
      "cascade_request_latency_ms_sum{route=\"/recommend\"} 111\n"
      "cascade_request_latency_ms_count{route=\"/recommend\"} 5\n";
  EXPECT_EQ(reg.render(), expected);
}

TEST(PrometheusRender, EmptyRegistryRendersNothing) {
  Registry reg;
  EXPECT_EQ(reg.render(), "");
}

TEST(PrometheusRender, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  EXPECT_EQ(escape_label_value("plain /x?y=1"), "plain /x?y=1");
  EXPECT_EQ(escape_help("x\\y\nz \"q\""), "x\\\\y\\nz \"q\"");  // quotes stay in HELP

  Registry reg;
  reg.counter("c_total", "back\\slash\nnew line", {{"path", "/a\"b\\c\nd"}}).inc(7);
  EXPECT_EQ(reg.render(),
            "# HELP c_total back\\\\slash\\nnew line\n"
            "# TYPE c_total counter\n"
            "c_total{path=\"/a\\\"b\\\\c\\nd\"} 7\n");
}

TEST(PrometheusRender, OneOffGaugeEscapesItsLabelValue) {
  // A bundle version is free text from the manifest: quote, backslash and newline must not
  // end the label value or the line.
  EXPECT_EQ(render_gauge("cascade_bundle_info", "the serving bundle's version",
                         {{"version", "v\"1\\2\n3"}}, 1),
            "# HELP cascade_bundle_info the serving bundle's version\n"
            "# TYPE cascade_bundle_info gauge\n"
            "cascade_bundle_info{version=\"v\\\"1\\\\2\\n3\"} 1\n");
  EXPECT_EQ(render_gauge("up", "h", {}, 0.5), "# HELP up h\n# TYPE up gauge\nup 0.5\n");
  const std::string bad_name = error_of([] { render_gauge("bad name", "h", {}, 1); });
  EXPECT_NE(bad_name.find("invalid metric name"), std::string::npos) << bad_name;
  const std::string bad_label = error_of([] { render_gauge("g", "h", {{"9x", "v"}}, 1); });
  EXPECT_NE(bad_label.find("invalid label name"), std::string::npos) << bad_label;
}

TEST(PrometheusRender, FormatsNumbersPrometheusCanParse) {
  EXPECT_EQ(format_value(0), "0");
  EXPECT_EQ(format_value(-0.0), "0");
  EXPECT_EQ(format_value(3), "3");
  EXPECT_EQ(format_value(-17), "-17");
  EXPECT_EQ(format_value(1e6), "1000000");  // integral: no exponent
  EXPECT_EQ(format_value(1234567890123.0), "1234567890123");
  EXPECT_EQ(format_value(0.25), "0.25");
  EXPECT_EQ(format_value(0.1), "0.1");  // shortest round-trip, not 0.1000000000000000055
  EXPECT_EQ(format_value(-2.5), "-2.5");
  EXPECT_EQ(std::stod(format_value(1e-7)), 1e-7);
  EXPECT_EQ(std::stod(format_value(1e300)), 1e300);
  EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_value(std::nan("")), "NaN");
}

TEST(PrometheusHistogram, BucketsAreCumulative) {
  Histogram h({0.1, 1, 10});
  // Bucket edges are inclusive (le): 0.1 lands in le="0.1", 10 in le="10".
  for (double v : {0.05, 0.1, 0.5, 1.0, 1.5, 10.0, 11.0, 1e9, -3.0}) h.observe(v);
  // Non-cumulative: le=0.1 {0.05, 0.1, -3}, le=1 {0.5, 1}, le=10 {1.5, 10}, +Inf {11, 1e9}.
  EXPECT_EQ(h.cumulative_counts(), (std::vector<uint64_t>{3, 5, 7, 9}));
  EXPECT_EQ(h.count(), 9u);
  EXPECT_DOUBLE_EQ(h.sum(), 0.05 + 0.1 + 0.5 + 1.0 + 1.5 + 10.0 + 11.0 + 1e9 - 3.0);

  h.observe(std::nan(""));  // dropped
  EXPECT_EQ(h.count(), 9u);
  EXPECT_FALSE(std::isnan(h.sum()));
}

TEST(PrometheusHistogram, RendersSumAndCountWithoutLabels) {
  Registry reg;
  Histogram& h = reg.histogram("lat_seconds", "Latency.", {0.5, 1, std::numeric_limits<double>::infinity()});
  EXPECT_EQ(h.bounds(), (std::vector<double>{0.5, 1}));  // trailing +Inf is implicit
  h.observe(0.75);
  h.observe(0.75);
  EXPECT_EQ(reg.render(),
            "# HELP lat_seconds Latency.\n"
            "# TYPE lat_seconds histogram\n"
            "lat_seconds_bucket{le=\"0.5\"} 0\n"
            "lat_seconds_bucket{le=\"1\"} 2\n"
            "lat_seconds_bucket{le=\"+Inf\"} 2\n"
            "lat_seconds_sum 1.5\n"
            "lat_seconds_count 2\n");
}

TEST(PrometheusHistogram, RejectsBadBounds) {
  EXPECT_THROW(Histogram({1, 1}), Error);
  EXPECT_THROW(Histogram({2, 1}), Error);
  EXPECT_THROW(Histogram({1, std::nan("")}), Error);
  EXPECT_THROW(Histogram({-std::numeric_limits<double>::infinity(), 1}), Error);
  EXPECT_NO_THROW(Histogram({}));  // only +Inf
  EXPECT_EQ(exponential_buckets(1, 2, 4), (std::vector<double>{1, 2, 4, 8}));
  EXPECT_THROW(exponential_buckets(0, 2, 4), Error);
  EXPECT_THROW(exponential_buckets(1, 1, 4), Error);
  const auto lat = default_latency_buckets_ms();
  EXPECT_NO_THROW(Histogram{lat});
}

TEST(PrometheusRegistry, SameSeriesReturnsSameHandle) {
  Registry reg;
  Counter& a = reg.counter("x_total", "X.", {{"a", "1"}, {"b", "2"}});
  Counter& b = reg.counter("x_total", "X.", {{"b", "2"}, {"a", "1"}});  // label order is irrelevant
  Counter& c = reg.counter("x_total", "X.", {{"a", "1"}, {"b", "3"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &c);
  Histogram& h1 = reg.histogram("h", "H.", {1, 2});
  Histogram& h2 = reg.histogram("h", "H.", {1, 2});
  EXPECT_EQ(&h1, &h2);
}

TEST(PrometheusRegistry, ConflictingRegistrationsThrow) {
  Registry reg;
  reg.counter("x_total", "X.");
  EXPECT_NE(error_of([&] { reg.gauge("x_total", "X."); }).find("x_total"), std::string::npos);
  EXPECT_NE(error_of([&] { reg.counter("x_total", "Other help."); }).find("help"), std::string::npos);
  EXPECT_THROW(reg.histogram("x_total", "X.", {1}), Error);
  reg.histogram("h", "H.", {1, 2});
  EXPECT_THROW(reg.histogram("h", "H.", {1, 3}), Error);  // other bounds
  EXPECT_THROW(reg.gauge("h_count", "Collides with h's _count."), Error);
  reg.gauge("g_bucket", "G.");
  EXPECT_THROW(reg.histogram("g", "Would add g_bucket.", {1}), Error);
  reg.gauge("plain", "P.");
  EXPECT_THROW(reg.gauge_callback("plain", "P.", {}, [] { return 1.0; }), Error);
  reg.gauge_callback("cb", "C.", {}, [] { return 1.0; });
  EXPECT_THROW(reg.gauge("cb", "C."), Error);
  EXPECT_THROW(reg.gauge_callback("cb2", "C.", {}, nullptr), Error);
}

TEST(PrometheusRegistry, InvalidNamesThrowNamingThem) {
  Registry reg;
  EXPECT_NE(error_of([&] { reg.counter("bad-name", "h"); }).find("\"bad-name\""), std::string::npos);
  EXPECT_NE(error_of([&] { reg.counter("9lives", "h"); }).find("9lives"), std::string::npos);
  EXPECT_NE(error_of([&] { reg.gauge("", "h"); }).find("invalid metric name"), std::string::npos);
  EXPECT_NE(error_of([&] { reg.gauge("sp ace", "h"); }).find("sp ace"), std::string::npos);
  EXPECT_NE(error_of([&] { reg.counter("ok_total", "h", {{"bad.label", "v"}}); }).find("bad.label"),
            std::string::npos);
  EXPECT_THROW(reg.counter("ok_total", "h", {{"a:b", "v"}}), Error);  // ':' only in metric names
  EXPECT_THROW(reg.counter("ok_total", "h", {{"__reserved", "v"}}), Error);
  EXPECT_THROW(reg.counter("ok_total", "h", {{"a", "1"}, {"a", "2"}}), Error);
  EXPECT_THROW(reg.histogram("ok_h", "h", {1}, {{"le", "1"}}), Error);
  EXPECT_THROW(reg.counter("ok_total", "h", {{"", "v"}}), Error);
  // Valid names, including colons in metric names.
  EXPECT_NO_THROW(reg.counter("job:requests:rate5m", "h", {{"_x", "1"}, {"A9", ""}}));
  EXPECT_TRUE(is_valid_metric_name(":a_1"));
  EXPECT_FALSE(is_valid_metric_name("a\n"));
  EXPECT_TRUE(is_valid_label_name("_a1"));
  EXPECT_FALSE(is_valid_label_name("1a"));
  // Failed registrations left no half-made series behind.
  EXPECT_EQ(reg.render().find("ok_total{"), std::string::npos);
}

TEST(PrometheusCounter, AddAcceptsFractionsAndRejectsDecrements) {
  Counter c;
  c.inc();
  c.add(2);
  c.add(0.5);
  EXPECT_DOUBLE_EQ(c.value(), 3.5);
  EXPECT_THROW(c.add(-1), Error);
  EXPECT_THROW(c.add(std::nan("")), Error);
  EXPECT_THROW(c.add(std::numeric_limits<double>::infinity()), Error);
  EXPECT_DOUBLE_EQ(c.value(), 3.5);
}

TEST(PrometheusGauge, SetAddAndCallback) {
  Registry reg;
  Gauge& g = reg.gauge("inflight", "In-flight requests.");
  g.inc();
  g.inc();
  g.dec();
  g.add(2.5);
  EXPECT_DOUBLE_EQ(g.value(), 3.5);
  g.set(-4);
  EXPECT_DOUBLE_EQ(g.value(), -4);

  double size = 10;
  reg.gauge_callback("cache_size", "Cache entries.", {{"cache", "features"}}, [&] { return size; });
  size = 12;  // evaluated at render time, not at registration
  EXPECT_NE(reg.render().find("cache_size{cache=\"features\"} 12\n"), std::string::npos);
  // Re-registration replaces the function (after a bundle reload).
  reg.gauge_callback("cache_size", "Cache entries.", {{"cache", "features"}}, [] { return 99.0; });
  // A throwing callback renders NaN instead of failing the whole scrape.
  reg.gauge_callback("broken", "Broken.", {}, []() -> double { throw std::runtime_error("boom"); });
  const std::string text = reg.render();
  EXPECT_NE(text.find("cache_size{cache=\"features\"} 99\n"), std::string::npos);
  EXPECT_EQ(text.find("cache_size{cache=\"features\"} 12\n"), std::string::npos);
  EXPECT_NE(text.find("broken NaN\n"), std::string::npos);
  EXPECT_NE(text.find("inflight -4\n"), std::string::npos);
}

TEST(PrometheusConcurrency, FourThreadsSumExactly) {
  Registry reg;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 200000;
  std::vector<Counter*> handles(kThreads);
  std::vector<std::thread> threads;
  std::atomic<bool> stop{false};
  // A scraper renders while the writers run: the counter it sees never goes down, and a
  // histogram's _count always equals its +Inf bucket (one snapshot per render).
  size_t scrapes = 0;
  std::thread scraper([&] {
    double last = 0;
    const std::string key = "hits_total{route=\"/recommend\"} ";
    const std::string inf = "lat_ms_bucket{route=\"/recommend\",le=\"+Inf\"} ";
    const std::string cnt = "lat_ms_count{route=\"/recommend\"} ";
    auto value_after = [](const std::string& text, const std::string& k) {
      const size_t pos = text.find(k);
      return pos == std::string::npos ? -1.0 : std::stod(text.substr(pos + k.size()));
    };
    while (!stop.load()) {
      const std::string text = reg.render();
      ++scrapes;
      const double v = value_after(text, key);
      if (v >= 0) {
        EXPECT_GE(v, last);
        last = v;
      }
      EXPECT_EQ(value_after(text, inf), value_after(text, cnt));
    }
  });
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Every thread resolves the same series concurrently; all must get one handle.
      Counter& c = reg.counter("hits_total", "Hits.", {{"route", "/recommend"}});
      Histogram& h = reg.histogram("lat_ms", "Latency.", {1, 2}, {{"route", "/recommend"}});
      Gauge& g = reg.gauge("inflight", "In flight.");
      handles[t] = &c;
      for (int i = 0; i < kPerThread; ++i) {
        c.inc();
        g.add(1);
        h.observe(i % 3 == 0 ? 0.5 : 1.5);
      }
    });
  }
  for (auto& th : threads) th.join();
  stop = true;
  scraper.join();
  EXPECT_GT(scrapes, 0u);
  for (int t = 1; t < kThreads; ++t) EXPECT_EQ(handles[t], handles[0]);
  const double total = static_cast<double>(kThreads) * kPerThread;
  EXPECT_EQ(handles[0]->value(), total);
  EXPECT_EQ(reg.gauge("inflight", "In flight.").value(), total);
  Histogram& h = reg.histogram("lat_ms", "Latency.", {1, 2}, {{"route", "/recommend"}});
  const uint64_t low = kThreads * ((kPerThread + 2) / 3);  // i % 3 == 0
  EXPECT_EQ(h.cumulative_counts(), (std::vector<uint64_t>{low, 800000, 800000}));
  EXPECT_DOUBLE_EQ(h.sum(), 0.5 * low + 1.5 * (800000 - low));
  EXPECT_NE(reg.render().find("hits_total{route=\"/recommend\"} 800000\n"), std::string::npos);
}

}  // namespace
}  // namespace cascade::prometheus
