// What every part of the Python module shares: the exception types, keyword arguments turned
// into a model's Params, long calls run without the GIL and stoppable by Ctrl-C, and NumPy
// arrays that view memory Cascade owns.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <functional>
#include <span>
#include <string>
#include <vector>

#include "cascade/core/params.h"

namespace cascade::py {

namespace pyb = pybind11;

/// Registers cascade.Error (RuntimeError), cascade.DataError (Error and ValueError, with file,
/// line and field attributes), cascade.NotSupported (Error and NotImplementedError) and the
/// translator from the library's C++ exceptions. Cancelled becomes KeyboardInterrupt.
void register_errors(pyb::module_& m);

/// Keyword arguments as model parameters: str as is, bool as true/false, int as decimal, float
/// in the shortest text that reads back as the same double, a list/tuple of ints as a layer
/// list "64-32". Anything else raises TypeError naming the keyword.
Params params_from_kwargs(const pyb::kwargs& kwargs);

/// A value of Params as the Python type it reads as (int, float, bool or str).
pyb::object param_value(const std::string& text);

/// A model's parameters in force as a dict of Python values (param_value).
pyb::dict params_dict(const Params& p);

/// Runs `job` on a worker thread with the GIL released and polls for signals every 50 ms on
/// the calling (main) thread: on Ctrl-C the job is asked to stop (cascade::CancelScope) and,
/// once it has unwound, KeyboardInterrupt is raised. An exception of the job is rethrown here.
/// For fits, bundle builds and evaluations: calls long enough that a thread start is noise.
void run_interruptible(const std::function<void()>& job);

/// A read-only NumPy array over `data` (shape rows x cols, or rows when cols == 0) whose base
/// keeps `owner` alive: no copy, and the memory outlives nothing it belongs to.
pyb::array_t<float> float_view(const float* data, size_t rows, size_t cols, pyb::handle owner);

/// A NumPy array that takes over `v` (moved into a capsule; no copy).
template <class T>
pyb::array_t<T> to_numpy(std::vector<T>&& v, std::vector<ssize_t> shape) {
  auto* heap = new std::vector<T>(std::move(v));
  pyb::capsule free_when_done(heap, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return pyb::array_t<T>(shape, heap->data(), free_when_done);
}

/// The thread count a call uses: `threads` when > 0, else the hardware's.
int threads_or_default(int threads);

}  // namespace cascade::py
