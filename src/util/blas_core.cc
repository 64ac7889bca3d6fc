#include "cascade/util/blas_core.h"

#include <dlfcn.h>

namespace cascade {

CpuVectorSupport cpu_vector_support() {
  // Read once: the kernels' dispatchers ask on every call.
  static const CpuVectorSupport cached = [] {
    CpuVectorSupport cpu;
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    cpu.avx2 = __builtin_cpu_supports("avx2");
    cpu.fma = __builtin_cpu_supports("fma");
    cpu.avx512f = __builtin_cpu_supports("avx512f");
    cpu.avx512bw = __builtin_cpu_supports("avx512bw");
    cpu.avx512vl = __builtin_cpu_supports("avx512vl");
    cpu.avx512dq = __builtin_cpu_supports("avx512dq");
    cpu.avx512cd = __builtin_cpu_supports("avx512cd");
#endif
    return cpu;
  }();
  return cached;
}

std::string openblas_coretype_for(const CpuVectorSupport& cpu) {
  // OpenBLAS's SkylakeX kernels use AVX-512 F, BW, VL, DQ and CD; its Haswell kernels AVX2 + FMA.
  if (cpu.avx512f && cpu.avx512bw && cpu.avx512vl && cpu.avx512dq && cpu.avx512cd && cpu.avx2 &&
      cpu.fma) {
    return "SkylakeX";
  }
  if (cpu.avx2 && cpu.fma) return "Haswell";
  return "";
}

std::string openblas_core_in_use() {
  auto corename = reinterpret_cast<char* (*)()>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  if (corename == nullptr) return "";
  const char* name = corename();
  return name == nullptr ? "" : name;
}

}  // namespace cascade
