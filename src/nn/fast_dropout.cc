#include "nn/fast_dropout.h"

#include <cmath>

#include "cascade/core/error.h"

namespace cascade::nn {

namespace {

uint64_t splitmix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

FastDropout::FastDropout(double p, uint64_t seed)
    : p_(p), counter_(splitmix64(seed ^ 0x64726f706f7574ULL)) {  // "dropout"
  CASCADE_CHECK(p >= 0.0 && p < 1.0, "dropout rate must be in [0, 1)");
  keep_below_ = static_cast<uint32_t>(std::llround((1.0 - p) * static_cast<double>(1u << 24)));
  scale_ = static_cast<float>(1.0 / (1.0 - p));
}

torch::Tensor FastDropout::operator()(const torch::Tensor& x, bool training) {
  if (!training || p_ == 0.0) return x;
  CASCADE_CHECK(x.scalar_type() == torch::kFloat32, "FastDropout takes float32 tensors");
  torch::Tensor mask = torch::empty(x.sizes(), torch::kFloat32);
  float* m = mask.data_ptr<float>();
  const int64_t n = mask.numel();
  const uint32_t below = keep_below_;
  const float scale = scale_;
  uint64_t c = counter_;
  int64_t i = 0;
  for (; i + 1 < n; i += 2) {
    const uint64_t r = splitmix64(c++);
    m[i] = static_cast<uint32_t>(r >> 40) < below ? scale : 0.f;
    m[i + 1] = static_cast<uint32_t>(r & 0xffffffu) < below ? scale : 0.f;
  }
  if (i < n) m[i] = static_cast<uint32_t>(splitmix64(c++) >> 40) < below ? scale : 0.f;
  counter_ = c;
  return x * mask;
}

}  // namespace cascade::nn
