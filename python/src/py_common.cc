#include "py_common.h"

#include <Python.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

#include "cascade/core/error.h"
#include "cascade/util/cancel.h"
#include "cascade/util/parallel.h"

namespace cascade::py {

namespace {

// Created once at import; pybind11 keeps the module (and so these) alive.
PyObject* error_type = nullptr;
PyObject* data_error_type = nullptr;
PyObject* not_supported_type = nullptr;

PyObject* new_exception_type(pyb::module_& m, const char* name, PyObject* bases, const char* doc) {
  const std::string qualified = std::string("cascade.") + name;
  PyObject* type = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, bases, nullptr);
  if (type == nullptr) throw pyb::error_already_set();
  m.add_object(name, pyb::handle(type));
  return type;
}

void raise_data_error(const DataError& e) {
  pyb::object exc = pyb::reinterpret_borrow<pyb::object>(data_error_type)(e.what());
  exc.attr("file") = e.file();
  exc.attr("line") = e.line();
  exc.attr("field") = e.field();
  PyErr_SetObject(data_error_type, exc.ptr());
}

}  // namespace

void register_errors(pyb::module_& m) {
  error_type = new_exception_type(m, "Error", PyExc_RuntimeError,
                                  "Any error the Cascade library reports (the message says what to fix).");
  pyb::tuple data_bases = pyb::make_tuple(pyb::handle(error_type), pyb::handle(PyExc_ValueError));
  data_error_type = new_exception_type(m, "DataError", data_bases.ptr(),
                                       "Bad input data: the attributes file, line (1-based) and field say where.");
  pyb::tuple ns_bases = pyb::make_tuple(pyb::handle(error_type), pyb::handle(PyExc_NotImplementedError));
  not_supported_type = new_exception_type(m, "NotSupported", ns_bases.ptr(),
                                          "An optional ability (item vectors, user vectors) this model lacks.");
  pyb::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Cancelled&) {
      PyErr_SetNone(PyExc_KeyboardInterrupt);
    } catch (const DataError& e) {
      raise_data_error(e);
    } catch (const NotSupported& e) {
      PyErr_SetString(not_supported_type, e.what());
    } catch (const Error& e) {
      PyErr_SetString(error_type, e.what());
    }
  });
}

Params params_from_kwargs(const pyb::kwargs& kwargs) {
  Params p;
  for (const auto& [key_obj, value] : kwargs) {
    const std::string key = pyb::str(key_obj);
    std::string text;
    if (pyb::isinstance<pyb::bool_>(value)) {
      text = value.cast<bool>() ? "true" : "false";
    } else if (pyb::isinstance<pyb::int_>(value)) {
      text = std::to_string(value.cast<long long>());
    } else if (pyb::isinstance<pyb::float_>(value)) {
      text = pyb::str(pyb::repr(value));  // shortest round-trip text, as Params reads it back
    } else if (pyb::isinstance<pyb::str>(value)) {
      text = value.cast<std::string>();
    } else if (pyb::isinstance<pyb::list>(value) || pyb::isinstance<pyb::tuple>(value)) {
      for (const auto& w : value) {
        if (!pyb::isinstance<pyb::int_>(w))
          throw pyb::type_error("keyword '" + key + "': a layer list holds ints, got " +
                                std::string(pyb::str(pyb::repr(w))));
        text += (text.empty() ? "" : "-") + std::to_string(w.cast<long long>());
      }
    } else {
      throw pyb::type_error("keyword '" + key + "': expected str, bool, int, float or a list of ints, got " +
                            std::string(pyb::str(value.get_type().attr("__name__"))));
    }
    p.set(key, text);
  }
  return p;
}

pyb::object param_value(const std::string& text) {
  if (text == "true") return pyb::bool_(true);
  if (text == "false") return pyb::bool_(false);
  long long i = 0;
  const char* end = text.data() + text.size();
  if (!text.empty()) {
    auto r = std::from_chars(text.data(), end, i);
    if (r.ec == std::errc() && r.ptr == end) return pyb::int_(i);
    double d = 0;
    auto rd = std::from_chars(text.data(), end, d);
    if (rd.ec == std::errc() && rd.ptr == end) return pyb::float_(d);
  }
  return pyb::str(text);
}

pyb::dict params_dict(const Params& p) {
  pyb::dict d;
  for (const auto& [k, v] : p.resolved()) d[pyb::str(k)] = param_value(v);
  return d;
}

void run_interruptible(const std::function<void()>& job) {
  std::atomic<bool> cancel{false};
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  bool interrupted = false;
  std::exception_ptr error;
  {
    pyb::gil_scoped_release release;
    std::thread worker([&] {
      {
        CancelScope scope(&cancel);
        try {
          job();
        } catch (...) {
          error = std::current_exception();
        }
      }
      std::lock_guard<std::mutex> lock(mu);
      done = true;
      cv.notify_all();
    });
    std::unique_lock<std::mutex> lock(mu);
    while (!done) {
      cv.wait_for(lock, std::chrono::milliseconds(50));
      if (done || interrupted) continue;
      lock.unlock();
      {
        pyb::gil_scoped_acquire gil;
        // Signal handlers run here (main thread only); a raised KeyboardInterrupt stays set
        // in this thread's error indicator until it is rethrown below.
        if (PyErr_CheckSignals() != 0) {
          interrupted = true;
          cancel = true;
        }
      }
      lock.lock();
    }
    lock.unlock();
    worker.join();
  }
  if (interrupted) {
    if (!PyErr_Occurred()) PyErr_SetNone(PyExc_KeyboardInterrupt);
    throw pyb::error_already_set();
  }
  if (error) std::rethrow_exception(error);
}

pyb::array_t<float> float_view(const float* data, size_t rows, size_t cols, pyb::handle owner) {
  std::vector<ssize_t> shape = {static_cast<ssize_t>(rows)};
  std::vector<ssize_t> strides = {static_cast<ssize_t>(sizeof(float) * (cols ? cols : 1))};
  if (cols) {
    shape.push_back(static_cast<ssize_t>(cols));
    strides.push_back(sizeof(float));
  }
  pyb::array_t<float> a(shape, strides, data, owner);
  // Read-only: the memory is the model's, and scoring reads it concurrently.
  pyb::detail::array_proxy(a.ptr())->flags &= ~pyb::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  return a;
}

int threads_or_default(int threads) { return resolve_threads(threads); }

}  // namespace cascade::py
