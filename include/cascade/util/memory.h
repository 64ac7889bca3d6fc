// Process-wide allocator policy for the engine's hot loops.
#pragma once

namespace cascade {

/// Keeps freed heap memory in the process instead of returning it to the kernel: blocks up to
/// 32 MB (glibc's largest mmap threshold on 64-bit) come from the heap rather than their own
/// mmap, and up to 256 MB of free heap top is kept. Training steps (SASRec's softmax buffers,
/// ~10-34 MB each) and requests allocate and free the same large blocks over and over; with
/// glibc's defaults each one is unmapped at the free and faulted in again, zeroed, at the next
/// allocation. On this VM those page faults made a SASRec epoch 11 s or 15-22 s depending on
/// the host (1.8M vs 50K faults in three epochs). Idempotent. Returns whether the allocator took
/// both settings (false without glibc).
bool keep_freed_memory();

/// Returns the free heap memory of every allocator arena to the kernel (glibc's malloc_trim).
/// For one-off events that free a lot at once, such as a bundle replaced by a hot reload: with
/// keep_freed_memory() in force the old bundle's memory would otherwise stay resident. Costs a
/// walk over the heaps (milliseconds); a no-op without glibc.
void release_freed_memory();

}  // namespace cascade
