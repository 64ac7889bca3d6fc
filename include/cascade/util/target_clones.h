// CASCADE_TARGET_CLONES: a hot function compiled three times (GCC target_clones: x86-64-v4 =
// AVX-512, x86-64-v3 = AVX2 + FMA, baseline), the dynamic loader picking one for the CPU at
// start-up. The default build targets baseline x86-64 (SSE2), so this is how its kernels reach
// the wider units. Clones only for baseline builds: a -march=native build (AVX2 or more) is
// already tuned, and a clone could not inline helpers compiled for a wider native target; the
// sanitizer builds do without them too. Elsewhere (Clang, other CPUs) the macro is empty.
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__AVX2__) && \
    !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#define CASCADE_TARGET_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CASCADE_TARGET_CLONES
#endif
