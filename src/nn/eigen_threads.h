// Serving-time guard shared by the neural rankers: Eigen's GEMM (the library is built with
// OpenMP) parallelises products above ~50K multiply-adds, which would put one request on
// every core. Serving parallelises over requests instead, so score() keeps Eigen on the
// calling thread.
#pragma once

#include <omp.h>

namespace cascade::nn {

/// Sets the OpenMP thread count to 1 for the calling thread while alive (libgomp keeps the
/// nthreads ICV per thread, so concurrent callers do not interfere).
class SingleThreadedEigen {
 public:
  SingleThreadedEigen() : previous_(omp_get_max_threads()) { omp_set_num_threads(1); }
  ~SingleThreadedEigen() { omp_set_num_threads(previous_); }
  SingleThreadedEigen(const SingleThreadedEigen&) = delete;
  SingleThreadedEigen& operator=(const SingleThreadedEigen&) = delete;

 private:
  int previous_;
};

}  // namespace cascade::nn
