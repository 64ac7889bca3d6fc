// The server's worker pool; see admission.h.
#include "serve/admission.h"

namespace cascade {
namespace {

// Set by a worker before it serves a connection; consumed by the first request's handler.
thread_local std::optional<double> t_connection_wait_ms;

}  // namespace

AdmissionQueue::AdmissionQueue(size_t workers) {
  for (size_t i = 0; i < std::max<size_t>(1, workers); ++i) threads_.emplace_back([this] { work(); });
}

AdmissionQueue::~AdmissionQueue() { shutdown(); }

void AdmissionQueue::enqueue(std::function<void()> fn) {
  {
    std::lock_guard lk(mu_);
    jobs_.push_back({std::move(fn), std::chrono::steady_clock::now()});
  }
  cv_.notify_one();
}

void AdmissionQueue::shutdown() {
  {
    std::lock_guard lk(mu_);
    if (shutdown_ && threads_.empty()) return;
    shutdown_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

size_t AdmissionQueue::queued() const {
  std::lock_guard lk(mu_);
  return jobs_.size();
}

std::optional<double> AdmissionQueue::take_connection_wait_ms() {
  std::optional<double> w = t_connection_wait_ms;
  t_connection_wait_ms.reset();
  return w;
}

void AdmissionQueue::work() {
  for (;;) {
    Job job;
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return shutdown_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // shut down and drained: queued connections are still served
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    t_connection_wait_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - job.queued_at).count();
    job.fn();
    t_connection_wait_ms.reset();
  }
}

}  // namespace cascade
