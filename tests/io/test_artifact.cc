// The io layer: atomic writes, content hashes, and the model manifest every model writes
// (model_writer) and checks on load (ModelReader): a changed, missing or unlisted-kind file is
// refused with the directory and file named.
#include "cascade/io/artifact.h"

#include <gtest/gtest.h>

#include <fstream>
#include <functional>

#include "support/temp_dir.h"
#include "support/test_util.h"

namespace cascade {
namespace {

using test::error_of;
using test::TempDir;

TEST(Artifact, AtomicWriteReadAndHash) {
  TempDir dir("artifact");
  const auto p = dir.path() / "a" / "b.txt";
  write_file_atomic(p, "hello");
  EXPECT_EQ(read_file(p), "hello");
  EXPECT_EQ(hash_file(p), hash_hex("hello"));
  EXPECT_EQ(hash_hex("hello").size(), 32u);
  EXPECT_NE(hash_hex("hello"), hash_hex("hellp"));
  write_file_atomic(p, "again");  // replaces
  EXPECT_EQ(read_file(p), "again");
  for (const auto& e : std::filesystem::directory_iterator(p.parent_path()))
    EXPECT_EQ(e.path().filename(), "b.txt") << "a temporary file was left behind";
  EXPECT_NE(error_of([&] { read_file(dir.path() / "missing"); }).find("missing"), std::string::npos);
}

TEST(Artifact, ModelManifestRoundTripsAndRefusesDamage) {
  TempDir dir("model");
  const auto m = dir.path() / "m";
  {
    ArtifactWriter w = model_writer(m, "toy", 3, {{"factors", "8"}, {"reg", "0.5"}}, "abc123");
    w.add_array<float>("w.f32", std::vector<float>{1.f, 2.f, 3.f});
    w.meta()["n_items"] = 3;
    w.finish();
  }
  {
    const ModelReader r(m, "toy", 3);
    EXPECT_EQ(r.params().at("factors"), "8");
    EXPECT_EQ(r.params().at("reg"), "0.5");
    EXPECT_EQ(r.dataset_hash(), "abc123");
    EXPECT_EQ(r.field<int>("n_items"), 3);
    EXPECT_EQ(r.field_or<int>("absent", 7), 7);
    EXPECT_EQ(r.array<float>("w.f32"), (std::vector<float>{1.f, 2.f, 3.f}));
    EXPECT_NE(error_of([&] { r.field<int>("absent"); }).find("bad toy manifest"), std::string::npos);
  }
  EXPECT_EQ(manifest_kind(m), "toy");
  // Another kind or version is refused.
  EXPECT_NE(error_of([&] { ModelReader(m, "other", 3); }).find("toy"), std::string::npos);
  EXPECT_FALSE(error_of([&] { ModelReader(m, "toy", 4); }).empty());
  // A changed file is refused when read, naming it.
  {
    std::fstream f(m / "w.f32", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(0);
    f.put('\x7f');
  }
  const ModelReader r(m, "toy", 3);
  EXPECT_NE(error_of([&] { r.array<float>("w.f32"); }).find("w.f32"), std::string::npos);
}

// Found by fuzz/fuzz_manifest.cc (regression inputs in fuzz/corpus/manifest/regress_model_*):
// manifests of the wrong JSON shape used to escape as nlohmann exceptions, and floats where
// integers belong converted with undefined behaviour. Every one must be a cascade::Error naming
// the directory.
TEST(Artifact, MalformedManifestsAreCascadeErrors) {
  TempDir dir("manifest");
  dir.write("w.f32", std::string(8, '\0'));
  auto error_for = [&](const std::string& manifest, const std::function<void(const ModelReader&)>& use = {}) {
    dir.write("manifest.json", manifest);
    return error_of([&] {
      const ModelReader r(dir.path(), "toy", 1);
      if (use) use(r);
    });
  };
  const std::string ok_head = R"({"kind": "toy", "format_version": 1, "params": {})";
  EXPECT_NE(error_for("[1, 2]").find("not a JSON object"), std::string::npos);
  EXPECT_NE(error_for(R"({"kind": 7, "format_version": 1, "params": {}})").find("expected 'toy'"), std::string::npos);
  EXPECT_NE(error_for(R"({"kind": "toy", "format_version": 1e300, "params": {}})").find("format version"),
            std::string::npos);
  EXPECT_NE(error_for(R"({"kind": "toy", "format_version": "1", "params": {}})").find("format version"),
            std::string::npos);
  // Integer fields: a float, a negative count or a value past the type's range is refused.
  for (const char* v : {"1e30", "-1", "4294967296", "2.5", "\"3\""}) {
    const std::string e = error_for(ok_head + R"(, "n": )" + v + "}",
                                    [](const ModelReader& r) { r.field<uint32_t>("n"); });
    EXPECT_NE(e.find("bad toy manifest"), std::string::npos) << v << ": " << e;
  }
  dir.write("manifest.json", ok_head + R"(, "n": 4294967295})");
  EXPECT_EQ(ModelReader(dir.path(), "toy", 1).field<uint32_t>("n"), 4294967295u);
  // A file entry of the wrong shape.
  for (const char* entry : {R"("x")", R"({"bytes": "8", "xxh3_128": "00"})", R"({"bytes": 8.5e300, "xxh3_128": "00"})",
                            R"({"bytes": 8, "xxh3_128": 5})"}) {
    const std::string e = error_for(ok_head + R"(, "files": {"w.f32": )" + entry + "}}",
                                    [](const ModelReader& r) { r.blob("w.f32"); });
    EXPECT_NE(e.find("w.f32"), std::string::npos) << entry << ": " << e;
  }
}

}  // namespace
}  // namespace cascade
