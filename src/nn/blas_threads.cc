#include "nn/blas_threads.h"

#include <dlfcn.h>

namespace cascade::nn {

BlasThreads::BlasThreads(int n) {
  set_ = reinterpret_cast<void (*)(int)>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  auto get = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  if (set_ == nullptr || get == nullptr) {
    set_ = nullptr;
    return;
  }
  previous_ = get();
  set_(n);
}

BlasThreads::~BlasThreads() {
  if (set_ != nullptr) set_(previous_);
}

}  // namespace cascade::nn
