// OpenBLAS's own thread pool (libtorch's BLAS on Debian) pinned to n threads while alive.
// The neural models' GEMMs are small; on the loaded 2-core machine OpenBLAS's default 2
// threads made DIN's synthetic test fit 11x slower in wall time (108 s vs 9.7 s, with 3.8 s
// of CPU). Found with dlsym so a build without OpenBLAS needs nothing. Process-wide, like the
// rest of a fit's libtorch state (nn::TrainSession).
#pragma once

namespace cascade::nn {

class BlasThreads {
 public:
  explicit BlasThreads(int n);
  ~BlasThreads();
  BlasThreads(const BlasThreads&) = delete;
  BlasThreads& operator=(const BlasThreads&) = delete;

 private:
  void (*set_)(int) = nullptr;
  int previous_ = 1;
};

}  // namespace cascade::nn
