// cascade.Recommender: the served funnel from Python. It answers through the very route
// functions `cascade serve` runs (serve/handlers.h: the bundle's Recommender, the feature store,
// the request validation), so a dict from recommend() has the fields and values of the
// /recommend JSON for the same user, events and time. cascade.build_bundle: `cascade bundle`.
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <chrono>

#include "cascade/core/config.h"
#include "cascade/core/error.h"
#include "cascade/pipeline/bundle.h"
#include "serve/handlers.h"
#include "py_common.h"
#include "py_parts.h"

namespace cascade::py {

namespace {

// A loaded bundle with its own feature store (Redis when given, else in-process).
class PyRecommender {
 public:
  PyRecommender(const std::filesystem::path& dir, const std::string& redis, const std::string& key_prefix) {
    FeatureStoreOptions so;
    so.redis = redis;
    so.key_prefix = key_prefix;
    {
      pyb::gil_scoped_release release;
      state_ = ServingState::load(dir);
      store_ = std::make_unique<FeatureStore>(so);
    }
    started_ = std::chrono::steady_clock::now();
  }

  RouteContext context() const {
    RouteContext ctx;
    ctx.state = state_;
    ctx.store = store_.get();
    ctx.limits = &limits_;
    ctx.started = started_;
    return ctx;
  }

  const ServingState& state() const { return *state_; }
  RequestLimits& limits() { return limits_; }

 private:
  std::shared_ptr<const ServingState> state_;
  std::unique_ptr<FeatureStore> store_;
  RequestLimits limits_;
  std::chrono::steady_clock::time_point started_;
};

pyb::object json_loads(const std::string& text) { return pyb::module_::import("json").attr("loads")(text); }

// A route's answer as Python: the parsed body for 2xx, else ValueError (4xx: a bad argument,
// the message names it) or cascade.Error (5xx).
// The exception carries the route's `param` (the argument it names) as an attribute.
pyb::object answer(const RouteResponse& r) {
  if (r.status >= 200 && r.status < 300) return json_loads(r.body);
  std::string message = r.body;
  pyb::object param = pyb::none();
  try {
    pyb::object j = json_loads(r.body);
    if (pyb::isinstance<pyb::dict>(j) && j.contains("error")) {
      pyb::object e = j["error"];
      if (pyb::isinstance<pyb::dict>(e)) {
        if (e.contains("message")) message = pyb::str(e["message"]);
        if (e.contains("param")) param = e["param"];
      } else {
        message = pyb::str(e);
      }
    }
  } catch (const pyb::error_already_set&) {
  }
  if (r.status >= 500) throw Error(message);
  PyObject* type = r.status == 404 ? PyExc_KeyError : PyExc_ValueError;
  pyb::object exc = pyb::reinterpret_borrow<pyb::object>(type)(message);
  exc.attr("param") = param;
  exc.attr("status") = r.status;
  PyErr_SetObject(type, exc.ptr());
  throw pyb::error_already_set();
}

std::string id_text(const pyb::handle& id) {
  return pyb::isinstance<pyb::str>(id) ? id.cast<std::string>() : std::string(pyb::str(id));
}

}  // namespace

void init_bundle(pyb::module_& m) {
  pyb::class_<PyRecommender, std::shared_ptr<PyRecommender>>(m, "Recommender", R"doc(
The served funnel of a bundle (`cascade bundle` / cascade.build_bundle): recall, fusion, both
rankers and re-rank, through the same code and request-time policy as `cascade serve`.

Recommender(bundle_dir, redis="") verifies the bundle (every file against its manifest) and
loads it. Live events (post_events) go to Redis when redis is "host:port" or "unix:/path",
otherwise to an in-process store; they change the next recommendations as they do on the
server.)doc")
      .def(pyb::init<const std::filesystem::path&, const std::string&, const std::string&>(), pyb::arg("bundle"),
           pyb::kw_only(), pyb::arg("redis") = "", pyb::arg("key_prefix") = "cascade:")
      .def(
          "recommend",
          [](const PyRecommender& r, pyb::handle user, size_t k, std::optional<double> diversity, bool explain) {
            QueryParams q;
            q.emplace("k", std::to_string(k));
            if (diversity) {
              if (!(*diversity >= 0 && *diversity <= 1))
                throw pyb::value_error("diversity must be in [0, 1], got " + std::to_string(*diversity));
              // Plain decimal text, as the HTTP parameter is (no exponent).
              char buf[64];
              std::snprintf(buf, sizeof buf, "%.17f", *diversity);
              q.emplace("diversity", buf);
            }
            q.emplace("explain", explain ? "true" : "false");
            const std::string id = id_text(user);
            RouteResponse resp;
            {
              pyb::gil_scoped_release release;
              resp = handle_recommend(r.context(), id, q);
            }
            return answer(resp);
          },
          pyb::arg("user"), pyb::arg("k") = 10, pyb::kw_only(), pyb::arg("diversity") = std::nullopt,
          pyb::arg("explain") = false, R"doc(
The final list for a raw user id: a dict with the fields of GET /recommend/{user}
(items with title, year, genres, every stage's score, channels, and under explain the reason and
DIN's attention; stage latencies; bundle version). diversity in [0, 1] overrides the bundle's MMR
lambda. A bad argument raises ValueError naming it.)doc")
      .def(
          "post_events",
          [](const PyRecommender& r, pyb::object events) {
            const std::string body = pyb::str(pyb::module_::import("json").attr("dumps")(events));
            RouteResponse resp;
            {
              pyb::gil_scoped_release release;
              resp = handle_events(r.context(), body);
            }
            return answer(resp);
          },
          pyb::arg("events"), R"doc(
Appends live events, as POST /events: one dict {user_id, item_id, rating?, timestamp?} or a list
of them. Returns the route's answer (how many were accepted).)doc")
      .def(
          "similar",
          [](const PyRecommender& r, pyb::handle item, size_t k) {
            QueryParams q;
            q.emplace("k", std::to_string(k));
            const std::string id = id_text(item);
            RouteResponse resp;
            {
              pyb::gil_scoped_release release;
              resp = handle_similar(r.context(), id, q);
            }
            return answer(resp);
          },
          pyb::arg("item"), pyb::arg("k") = 10, "The k items most similar to a raw item id (GET /similar).")
      .def("health", [](const PyRecommender& r) { return answer(handle_health(r.context())); })
      .def_property_readonly("version", [](const PyRecommender& r) { return r.state().bundle->version(); })
      .def_property_readonly("funnel", [](const PyRecommender& r) { return r.state().bundle->funnel_spec(); })
      .def_property_readonly("manifest",
                             [](const PyRecommender& r) { return json_loads(r.state().bundle->manifest().dump()); })
      .def_property(
          "max_k", [](PyRecommender& r) { return r.limits().max_k; },
          [](PyRecommender& r, size_t v) { r.limits().max_k = v; }, "Largest k a request may ask for (server: 200).")
      .def("__repr__", [](const PyRecommender& r) {
        return "<cascade.Recommender bundle " + r.state().bundle->version() + ": " + r.state().bundle->funnel_spec() + ">";
      });

  m.def(
      "build_bundle",
      [](const std::filesystem::path& out, std::shared_ptr<const Dataset> ds,
         const std::string& funnel, const std::vector<std::string>& overrides, int threads,
         std::optional<std::vector<double>> lambdas, const std::string& config_dir,
         const std::string& channel_cache, bool test_sees_valid) {
        if (!ds) throw pyb::type_error("build_bundle: dataset is None");
        if (ds->options.protocol != Protocol::kSeedOof)
          throw Error("build_bundle: the dataset must be split seed-oof (the rankers learn from the ranker "
                      "slice), got " + protocol_name(ds->options.protocol));
        YAML::Node cfg = ConfigLoader{config_dir.empty() ? default_config_dir() : std::filesystem::path(config_dir)}.compose("config", overrides);
        if (!funnel.empty()) cfg["funnel"] = funnel;
        BundleBuildOptions bo;
        bo.threads = threads;
        bo.channel_cache = channel_cache;
        bo.test_sees_valid = test_sees_valid;
        if (lambdas) bo.lambdas = *lambdas;
        std::string version;
        run_interruptible([&] { version = build_bundle(cfg, *ds, out, bo); });
        return version;
      },
      pyb::arg("out"), pyb::arg("dataset"), pyb::kw_only(), pyb::arg("funnel") = "",
      pyb::arg("overrides") = std::vector<std::string>{}, pyb::arg("threads") = 0,
      pyb::arg("lambdas") = std::nullopt, pyb::arg("config_dir") = "",
      pyb::arg("channel_cache") = "", pyb::arg("test_sees_valid") = false, R"doc(
Trains a whole funnel and writes a bundle, as `cascade bundle`: funnel is a spec such as
"ials+ease > norm(quota=200,pool=100) > lr@50 > gbdt@20 > mmr(diversity=0.1)" (empty = the
config's), overrides are the CLI's key=value overrides of configs/config.yaml, and the dataset
must be split seed-oof. test_sees_valid: the bundle's offline test requests carry the user's
validation item as a live event (`--test-sees-valid`). Returns the bundle's version; load it
with cascade.Recommender.)doc");
}

}  // namespace cascade::py
