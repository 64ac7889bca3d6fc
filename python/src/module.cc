// The extension module cascade._cascade; python/cascade/__init__.py re-exports it with the
// pandas / SciPy conveniences. One library under it: the same code the CLI and server run.
#include <pybind11/stl.h>
#include <spdlog/spdlog.h>

#include "cascade/core/registry.h"
#include "cascade/rank/ranker.h"
#include "cascade/recall/recaller.h"
#include "py_common.h"
#include "py_parts.h"

#ifndef CASCADE_VERSION
#error "CASCADE_VERSION must be defined by the build (the project version)"
#endif

PYBIND11_MODULE(_cascade, m) {
  namespace pyb = pybind11;
  m.doc() = "Cascade: a multi-stage recommender engine (recall -> pre-rank -> fine-rank -> re-rank).";
  m.attr("__version__") = CASCADE_VERSION;
  // Progress of long jobs goes to stderr like the CLI's; quieter by default in notebooks.
  spdlog::set_level(spdlog::level::warn);
  cascade::py::register_errors(m);
  m.def(
      "set_log_level",
      [](const std::string& level) {
        const auto l = spdlog::level::from_str(level);
        if (l == spdlog::level::off && level != "off")
          throw pyb::value_error("log level must be trace, debug, info, warn, error or off, got '" + level + "'");
        spdlog::set_level(l);
      },
      pyb::arg("level"), "Library log level on stderr: trace, debug, info (the CLI's), warn (default), error, off.");
  m.def("channel_kinds", [] { return cascade::Registry<cascade::Recaller>::instance().names(); },
        "Registered recall channel names.");
  m.def("ranker_kinds", [] { return cascade::Registry<cascade::Ranker>::instance().names(); },
        "Registered ranker names.");
  cascade::py::init_data(m);
  cascade::py::init_channels(m);
  cascade::py::init_rankers(m);
  cascade::py::init_eval(m);
  cascade::py::init_bundle(m);
}
