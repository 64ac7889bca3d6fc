// code_build_id(): the GNU build ID of the binary holding the code, as `readelf -n` prints it.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "cascade/util/build_id.h"

namespace cascade {
namespace {

TEST(BuildIdTest, MatchesReadelf) {
  const std::string& id = code_build_id();
  ASSERT_EQ(id.size(), 40u) << "a SHA-1 build ID (gcc on Debian links with --build-id)";
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(&code_build_id(), &id);  // computed once
  // The same ID as the linker wrote into this test binary.
  const std::string exe = std::filesystem::read_symlink("/proc/self/exe").string();
  std::unique_ptr<FILE, int (*)(FILE*)> p(popen(("readelf -n '" + exe + "' 2>/dev/null").c_str(), "r"), pclose);
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p.get())) out.append(buf, n);
  if (out.empty()) GTEST_SKIP() << "readelf not available";
  EXPECT_NE(out.find("Build ID: " + id), std::string::npos) << out;
}

}  // namespace
}  // namespace cascade
