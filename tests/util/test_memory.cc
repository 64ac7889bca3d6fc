// keep_freed_memory(): a 24 MB block (glibc's first mmap threshold is 128 KB) comes from the
// heap, and freeing it does not give the memory back; release_freed_memory() (after a hot
// reload) does.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>

#include "cascade/util/memory.h"

#include <unistd.h>

#if defined(__GLIBC__)  // (set by <cstdlib> above)
#include <malloc.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define CASCADE_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CASCADE_TEST_ASAN 1
#endif
#endif

namespace cascade {
namespace {

// This process's resident set (/proc/self/statm, second field, in pages).
size_t resident_bytes() {
  std::ifstream in("/proc/self/statm");
  size_t pages = 0, resident = 0;
  in >> pages >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

TEST(MemoryTest, LargeBlocksComeFromTheHeap) {
#if !defined(__GLIBC__) || defined(CASCADE_TEST_ASAN)
  GTEST_SKIP() << "glibc's allocator only (ASan replaces it)";
#else
  ASSERT_TRUE(keep_freed_memory());
  ASSERT_TRUE(keep_freed_memory());  // idempotent
  const struct mallinfo2 before = mallinfo2();
  const size_t bytes = 24u << 20;
  void* p = std::malloc(bytes);
  ASSERT_NE(p, nullptr);
  std::memset(p, 1, 4096);
  const struct mallinfo2 during = mallinfo2();
  EXPECT_EQ(during.hblks, before.hblks) << "a 24 MB block was mmapped on its own";
  std::free(p);
  // Kept: the heap did not shrink (trim threshold 256 MB; glibc's default is 128 KB).
  EXPECT_EQ(mallinfo2().arena, during.arena);
#endif
}

TEST(MemoryTest, ReleaseGivesKeptMemoryBackToTheKernel) {
#if !defined(__GLIBC__) || defined(CASCADE_TEST_ASAN)
  GTEST_SKIP() << "glibc's allocator only (ASan replaces it)";
#else
  ASSERT_TRUE(keep_freed_memory());
  const size_t bytes = 24u << 20;
  char* p = static_cast<char*>(std::malloc(bytes));
  ASSERT_NE(p, nullptr);
  // Resident: one write per page, through volatile so that the compiler cannot drop writes to
  // memory that is freed unread.
  volatile char* touch = p;
  for (size_t i = 0; i < bytes; i += 4096) touch[i] = 1;
  std::free(p);
  const size_t kept = resident_bytes();
  release_freed_memory();
  const size_t after = resident_bytes();
  // Measured as resident memory, not mallinfo's arena size: malloc_trim also returns whole free
  // pages inside the heap (madvise), which is where the block sits when the heap was fragmented
  // by earlier tests in the same process.
  EXPECT_GE(kept, after + (16u << 20)) << "resident " << kept << " -> " << after << " bytes";
#endif
}

}  // namespace
}  // namespace cascade
