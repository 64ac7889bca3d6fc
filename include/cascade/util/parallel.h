// Thread-count policy and a static parallel-for over an index range.
#pragma once

#include <cstddef>
#include <functional>

namespace cascade {

/// `requested` if > 0, else the hardware concurrency (at least 1).
int resolve_threads(int requested);

/// Calls fn(begin, end, thread_index) on `threads` contiguous chunks of [0, n)
/// (or fewer if n is small), and waits. Exceptions from workers are rethrown.
/// With more than one thread, each worker's OpenMP max threads is 1: Eigen and libtorch
/// inside an item stay single-threaded instead of forking teams under ours. With one thread
/// fn runs on the caller, whose setting is left alone. (Both functions.)
void parallel_for(size_t n, int threads, const std::function<void(size_t, size_t, int)>& fn);

/// Dynamic scheduling in blocks of `grain` items, for uneven per-item cost
/// (heavy-tailed user activity): fn(i, thread_index) for each i.
void parallel_for_dynamic(size_t n, int threads, size_t grain,
                          const std::function<void(size_t, int)>& fn);

}  // namespace cascade
