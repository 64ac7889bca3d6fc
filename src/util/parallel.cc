#include "cascade/util/parallel.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace cascade {

int resolve_threads(int requested) {
  if (requested > 0) return requested;
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

namespace {
void run_workers(int threads, const std::function<void(int)>& body) {
  if (threads <= 1) {
    body(0);
    return;
  }
  std::exception_ptr error;
  std::mutex mu;
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      // Each worker runs its items on one thread: Eigen and libtorch size their own OpenMP
      // teams from this thread's omp_get_max_threads(), so without this every small GEMM of
      // every item (a SASRec encode, a user's scores) forked a team of `hardware` threads under
      // our `threads` workers: on 2 cores the same validation pass took 2-22 s.
#ifdef _OPENMP
      omp_set_num_threads(1);
#endif
      try {
        body(t);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!error) error = std::current_exception();
      }
    });
  }
  for (auto& th : pool) th.join();
  if (error) std::rethrow_exception(error);
}
}  // namespace

void parallel_for(size_t n, int threads, const std::function<void(size_t, size_t, int)>& fn) {
  if (n == 0) return;
  int t = std::max(1, std::min<int>(resolve_threads(threads), static_cast<int>(n)));
  size_t chunk = (n + t - 1) / t;
  run_workers(t, [&](int idx) {
    size_t b = idx * chunk, e = std::min(n, b + chunk);
    if (b < e) fn(b, e, idx);
  });
}

void parallel_for_dynamic(size_t n, int threads, size_t grain,
                          const std::function<void(size_t, int)>& fn) {
  if (n == 0) return;
  grain = std::max<size_t>(1, grain);
  int t = std::max(1, std::min<int>(resolve_threads(threads), static_cast<int>((n + grain - 1) / grain)));
  std::atomic<size_t> next{0};
  run_workers(t, [&](int idx) {
    for (;;) {
      size_t b = next.fetch_add(grain);
      if (b >= n) break;
      size_t e = std::min(n, b + grain);
      for (size_t i = b; i < e; ++i) fn(i, idx);
    }
  });
}

}  // namespace cascade
