#include "cascade/util/cancel.h"

namespace cascade {

namespace {
thread_local const std::atomic<bool>* current_flag = nullptr;
}  // namespace

CancelScope::CancelScope(const std::atomic<bool>* flag) : previous_(current_flag) { current_flag = flag; }

CancelScope::~CancelScope() { current_flag = previous_; }

bool cancel_requested() { return current_flag != nullptr && current_flag->load(std::memory_order_relaxed); }

void check_cancelled() {
  if (cancel_requested()) throw Cancelled();
}

}  // namespace cascade
