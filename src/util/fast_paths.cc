#include "cascade/util/fast_paths.h"

#include <atomic>

namespace cascade {
namespace {
std::atomic<bool> g_fast{true};
}  // namespace

bool fast_paths() {
  return g_fast.load(std::memory_order_relaxed);
}
void set_fast_paths(bool on) {
  g_fast.store(on, std::memory_order_relaxed);
}

}  // namespace cascade
