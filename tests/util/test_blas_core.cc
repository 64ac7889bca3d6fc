// blas_core.h: the OpenBLAS kernel family chosen from the CPU's vector extensions, and the CLI
// starting over with it when the user did not set OPENBLAS_CORETYPE (apps/cascade/main.cc).
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "cascade/util/blas_core.h"
#include "support/run_command.h"

namespace cascade {
namespace {

CpuVectorSupport avx512_cpu() {
  CpuVectorSupport cpu;
  cpu.avx2 = cpu.fma = true;
  cpu.avx512f = cpu.avx512bw = cpu.avx512vl = cpu.avx512dq = cpu.avx512cd = true;
  return cpu;
}

TEST(BlasCore, AvxFiveTwelveWithEverySubsetGetsTheSkylakeXKernels) {
  EXPECT_EQ(openblas_coretype_for(avx512_cpu()), "SkylakeX");
}

TEST(BlasCore, AvxFiveTwelveWithoutBwOrVlFallsBackToHaswell) {
  // Knights Landing has AVX-512 F and CD but not BW/VL/DQ: SkylakeX's kernels would fault.
  CpuVectorSupport knl = avx512_cpu();
  knl.avx512bw = knl.avx512vl = knl.avx512dq = false;
  EXPECT_EQ(openblas_coretype_for(knl), "Haswell");
  CpuVectorSupport no_cd = avx512_cpu();
  no_cd.avx512cd = false;
  EXPECT_EQ(openblas_coretype_for(no_cd), "Haswell");
}

TEST(BlasCore, WithoutAvx2AndFmaOpenBlasDetectionIsLeftAlone) {
  CpuVectorSupport cpu;
  EXPECT_EQ(openblas_coretype_for(cpu), "");
  cpu.avx2 = true;  // AVX2 without FMA: not Haswell's kernels
  EXPECT_EQ(openblas_coretype_for(cpu), "");
}

// Last "Core: X" line OpenBLAS prints at load with OPENBLAS_VERBOSE=2 (the run after the exec).
std::string last_core_line(const std::string& output) {
  const std::string tag = "Core: ";
  const size_t at = output.rfind(tag);
  if (at == std::string::npos) return "";
  const size_t end = output.find('\n', at);
  return output.substr(at + tag.size(), end == std::string::npos ? end : end - at - tag.size());
}

TEST(BlasCore, TheCliRunsOnTheKernelsOfThisCpuUnlessTheUserChose) {
  const std::string want = openblas_coretype_for(cpu_vector_support());
  if (want.empty()) GTEST_SKIP() << "no AVX2/FMA here: the CLI leaves OpenBLAS's choice alone";
  const std::string cli = std::string(CASCADE_BIN) + " --version";
  const auto chosen = testing::run_command("env -u OPENBLAS_CORETYPE OPENBLAS_VERBOSE=2 " + cli);
  ASSERT_EQ(chosen.code, 0) << chosen.output;
  if (last_core_line(chosen.output).empty()) GTEST_SKIP() << "no OpenBLAS in this build";
  EXPECT_EQ(last_core_line(chosen.output), want) << chosen.output;
  EXPECT_NE(chosen.output.find("cascade "), std::string::npos) << chosen.output;

  const auto user = testing::run_command("env OPENBLAS_CORETYPE=Haswell OPENBLAS_VERBOSE=2 " + cli);
  ASSERT_EQ(user.code, 0) << user.output;
  EXPECT_EQ(last_core_line(user.output), "Haswell") << user.output;
}

// In this program (no exec) OpenBLAS keeps its own detection unless the variable is set, as
// the test scripts do not set it; with it set, the core in use is the one asked for.
TEST(BlasCore, TheCoreInUseIsTheOneTheEnvironmentAskedFor) {
  const std::string name = openblas_core_in_use();
  if (name.empty()) GTEST_SKIP() << "no OpenBLAS loaded in this test program";
  const char* asked = std::getenv("OPENBLAS_CORETYPE");
  if (asked != nullptr && *asked != '\0') {
    EXPECT_EQ(name, asked);
  } else {
    EXPECT_GT(name.size(), 2u) << name;
  }
}

}  // namespace
}  // namespace cascade
