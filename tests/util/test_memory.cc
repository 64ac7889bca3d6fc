// keep_freed_memory(): a 24 MB block (glibc's first mmap threshold is 128 KB) comes from the
// heap, and freeing it does not give the memory back; release_freed_memory() (after a hot
// reload) does.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

#include "cascade/util/memory.h"

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
  std::memset(p, 1, bytes);  // resident
  std::free(p);
  const struct mallinfo2 kept = mallinfo2();
  ASSERT_GE(kept.fordblks, bytes) << "the freed block should still be held by the heap";
  release_freed_memory();
  const struct mallinfo2 after = mallinfo2();
  // malloc_trim shrinks the heap top and returns whole free pages inside it (madvise), which
  // mallinfo2 does not show; the heap's top at least must be given back.
  EXPECT_LT(after.arena + (16u << 20), kept.arena) << "arena " << kept.arena << " -> " << after.arena;
#endif
}

}  // namespace
}  // namespace cascade
