// Which OpenBLAS kernels a run uses. Debian's OpenBLAS 0.3.21 picks its kernels from the CPU's
// family and model numbers at load time; on CPUs newer than the release (and on VMs that hide
// the model, as here: "Intel(R) Xeon(R) Processor" with AVX-512) it falls back to the generic
// SSE3 "Prescott" kernels. libtorch's matrix products run on those: a Two-Tower epoch at 1M
// rows took 20.7 s with Prescott and 10.4-12.0 s with the AVX-512 kernels, the same losses to
// four decimals. OpenBLAS reads OPENBLAS_CORETYPE when it is loaded, before main, so the
// choice has to be in the environment of the process (main.cc starts over once with it set).
#pragma once

#include <string>

namespace cascade {

/// The CPU's vector extensions that decide OpenBLAS's kernel family.
struct CpuVectorSupport {
  bool avx2 = false;
  bool fma = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512dq = false;
  bool avx512cd = false;
};

/// What the running CPU supports (GCC/Clang's cpuid view; all false elsewhere).
CpuVectorSupport cpu_vector_support();

/// The OPENBLAS_CORETYPE that uses the widest kernels this CPU runs: "SkylakeX" with the
/// AVX-512 subsets those kernels need, "Haswell" with AVX2 and FMA, "" otherwise (leave
/// OpenBLAS's own detection alone).
std::string openblas_coretype_for(const CpuVectorSupport& cpu);

/// The kernel family OpenBLAS chose in this process ("Prescott", "SkylakeX", ...), or "" when
/// no OpenBLAS is loaded. Found with dlsym, so a build without OpenBLAS needs nothing.
std::string openblas_core_in_use();

}  // namespace cascade
