#include "nn/torch_util.h"

#include <fmt/format.h>

#include <cmath>
#include <thread>

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#define CASCADE_HAS_MXCSR 1
#endif

#include "cascade/core/error.h"
#include "cascade/util/memory.h"

namespace cascade::nn {

namespace {
int threads_or_hardware(int threads) {
  return threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}
}  // namespace

namespace {
std::recursive_mutex& session_mutex() {
  static std::recursive_mutex m;
  return m;
}
}  // namespace

TorchSession::TorchSession(int threads, uint64_t seed)
    : exclusive_(session_mutex()),
      previous_threads_(torch::get_num_threads()), threads_(threads_or_hardware(threads)), blas_(threads_) {
  torch::set_num_threads(threads_);
  torch::manual_seed(seed);
  keep_freed_memory();  // for fits started outside the CLI (the Python module): see memory.h
}

TorchSession::~TorchSession() { torch::set_num_threads(previous_threads_); }

#ifdef CASCADE_HAS_MXCSR
namespace {
constexpr unsigned kFtzDaz = 0x8040;  // flush-to-zero (bit 15) | denormals-are-zero (bit 6)
}
FlushDenormals::FlushDenormals() : previous_(_mm_getcsr()) { _mm_setcsr(previous_ | kFtzDaz); }
FlushDenormals::~FlushDenormals() { _mm_setcsr((_mm_getcsr() & ~kFtzDaz) | (previous_ & kFtzDaz)); }
#else
FlushDenormals::FlushDenormals() {}
FlushDenormals::~FlushDenormals() {}
#endif

namespace {

std::vector<std::pair<std::string, torch::Tensor>> named_tensors(const torch::nn::Module& m) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& p : m.named_parameters(/*recurse=*/true)) out.emplace_back(p.key(), p.value());
  for (const auto& b : m.named_buffers(/*recurse=*/true)) out.emplace_back(b.key(), b.value());
  return out;
}

}  // namespace

void save_module(ArtifactWriter& w, const torch::nn::Module& module, const std::string& prefix) {
  auto& shapes = w.meta()["tensors"];
  for (const auto& [name, t] : named_tensors(module)) {
    const std::string file = prefix + name + ".f32";
    w.add_array<float>(file, to_vector(t));
    shapes[prefix + name] = t.sizes().vec();
  }
}

void load_module(const ArtifactReader& r, torch::nn::Module& module, const std::string& prefix) {
  torch::NoGradGuard no_grad;
  const auto& shapes = r.meta().value("tensors", nlohmann::json::object());
  for (auto& [name, t] : named_tensors(module)) {
    const std::string key = prefix + name;
    if (!shapes.contains(key)) throw Error(fmt::format("model file has no tensor '{}'", key));
    const auto shape = shapes.at(key).get<std::vector<int64_t>>();
    if (shape != t.sizes().vec()) {
      throw Error(fmt::format("tensor '{}' has shape [{}] in the file but the model expects [{}]",
                              key, fmt::join(shape, ","), fmt::join(t.sizes().vec(), ",")));
    }
    const auto data = r.array<float>(key + ".f32");
    if (static_cast<int64_t>(data.size()) != t.numel()) {
      throw Error(fmt::format("tensor '{}' holds {} values for shape [{}]", key, data.size(),
                              fmt::join(shape, ",")));
    }
    t.copy_(from_vector(data, t.sizes()));
  }
}

std::vector<float> to_vector(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kFloat32).contiguous();
  const float* p = c.data_ptr<float>();
  return std::vector<float>(p, p + c.numel());
}

Eigen::MatrixXf linear_weight(const torch::Tensor& w) {
  const auto v = to_vector(w);
  return Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
      v.data(), w.size(0), w.size(1));
}

Eigen::VectorXf vec_of(const torch::Tensor& t) {
  const auto v = to_vector(t);
  return Eigen::Map<const Eigen::VectorXf>(v.data(), static_cast<Eigen::Index>(v.size()));
}

torch::Tensor from_vector(std::span<const float> v, at::IntArrayRef shape) {
  auto t = torch::empty(shape, torch::kFloat32);
  CASCADE_CHECK(static_cast<size_t>(t.numel()) == v.size(), "from_vector: size does not match shape");
  if (!v.empty()) std::memcpy(t.data_ptr<float>(), v.data(), v.size_bytes());
  return t;
}

torch::Tensor from_ids(std::span<const int64_t> v, at::IntArrayRef shape) {
  auto t = torch::empty(shape, torch::kInt64);
  CASCADE_CHECK(static_cast<size_t>(t.numel()) == v.size(), "from_ids: size does not match shape");
  if (!v.empty()) std::memcpy(t.data_ptr<int64_t>(), v.data(), v.size_bytes());
  return t;
}

bool BestEpoch::update(int epoch, double value, const torch::nn::Module& module) {
  if (value > value_) {
    value_ = value;
    epoch_ = epoch;
    without_gain_ = 0;
    best_.clear();
    for (const auto& p : module.parameters()) best_.push_back(p.detach().clone());
    return false;
  }
  ++without_gain_;
  return patience_ > 0 && without_gain_ >= patience_;
}

bool BestEpoch::restore(torch::nn::Module& module) const {
  if (best_.empty()) return false;
  torch::NoGradGuard no_grad;
  auto params = module.parameters();
  CASCADE_CHECK(params.size() == best_.size(), "BestEpoch::restore: a different module");
  for (size_t k = 0; k < params.size(); ++k) params[k].copy_(best_[k]);
  return true;
}

void check_finite(const torch::Tensor& loss, const std::string& who, int epoch) {
  check_finite(loss.item<double>(), who, epoch);
}

void check_finite(double v, const std::string& who, int epoch) {
  if (!std::isfinite(v)) {
    throw Error(fmt::format("{}: training diverged at epoch {} (loss {}); lower the learning rate "
                            "or raise the weight decay",
                            who, epoch, v));
  }
}

}  // namespace cascade::nn
