#include "nn/fast_dropout.h"

#include <cmath>

#include "cascade/core/error.h"
#include "cascade/util/mix64.h"

namespace cascade::nn {

FastDropout::FastDropout(double p, uint64_t seed)
    : p_(p), counter_(mix64(seed ^ 0x64726f706f7574ULL)) {  // "dropout"
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
    const uint64_t r = mix64(c++);
    m[i] = static_cast<uint32_t>(r >> 40) < below ? scale : 0.f;
    m[i + 1] = static_cast<uint32_t>(r & 0xffffffu) < below ? scale : 0.f;
  }
  if (i < n) m[i] = static_cast<uint32_t>(mix64(c++) >> 40) < below ? scale : 0.f;
  counter_ = c;
  return x * mask;
}

}  // namespace cascade::nn
