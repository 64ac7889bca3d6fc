// Config composition against the fixture tree in tests/fixtures/configs.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "cascade/core/config.h"
#include "cascade/core/error.h"
#include "support/temp_dir.h"
#include "support/test_util.h"

namespace cascade {
namespace {
using test::error_of;

using Pairs = std::vector<std::pair<std::string, std::string>>;

ConfigLoader fixture_loader() { return ConfigLoader{std::filesystem::path(CASCADE_TEST_FIXTURES) / "configs"}; }

std::vector<std::string> keys(const YAML::Node& map) {
  std::vector<std::string> out;
  for (const auto& kv : map) out.push_back(kv.first.Scalar());
  return out;
}

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

TEST(Config, ComposesDefaultsThenOwnKeys) {
  YAML::Node cfg = fixture_loader().compose("config", {});
  // Defaults first (in list order), then the primary's own keys in file order; no `defaults`.
  EXPECT_EQ(keys(cfg), (std::vector<std::string>{"data", "recall", "seed", "experiment", "eval", "name"}));
  EXPECT_EQ(cfg["data"]["path"].as<std::string>(), "data/small.csv");
  EXPECT_EQ(cfg["data"]["min_rating"].as<int>(), 4);
  // The primary's recall.ials.factors (32) is merged over recall/default.yaml (64); the
  // sibling keys of the group survive the merge.
  EXPECT_EQ(cfg["recall"]["ials"]["factors"].as<int>(), 32);
  EXPECT_DOUBLE_EQ(cfg["recall"]["ials"]["reg"].as<double>(), 0.01);
  EXPECT_EQ(cfg["recall"]["ials"]["iters"].as<int>(), 20);
  EXPECT_DOUBLE_EQ(cfg["recall"]["pop"]["weight"].as<double>(), 0.5);
  EXPECT_EQ(cfg["recall"]["channels"].as<std::vector<std::string>>(), (std::vector<std::string>{"ials", "pop"}));
  EXPECT_EQ(cfg["seed"].as<int>(), 42);
  EXPECT_EQ(cfg["eval"]["ks"].as<std::vector<int>>(), (std::vector<int>{10, 20}));
}

TEST(Config, MapFormDefaultsAndEmptyFile) {
  ConfigLoader loader = fixture_loader();
  YAML::Node cfg = loader.compose("map_defaults", {});
  EXPECT_EQ(keys(cfg), (std::vector<std::string>{"data", "seed"}));
  EXPECT_EQ(cfg["data"]["path"].as<std::string>(), "data/big.csv");
  EXPECT_TRUE(cfg["data"]["extra"].as<bool>());
  YAML::Node empty = loader.compose("empty", {});
  EXPECT_TRUE(empty.IsMap());
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_EQ(loader.compose("empty", {"+a.b=3"})["a"]["b"].as<int>(), 3);
}

TEST(Config, NullAndOptionalDefaults) {
  YAML::Node cfg = fixture_loader().compose("optional_defaults", {});
  EXPECT_EQ(keys(cfg), (std::vector<std::string>{"extra", "seed"}));
  EXPECT_EQ(cfg["extra"]["level"].as<int>(), 1);
}

TEST(Config, GroupSwapReplacesTheWholeSubtree) {
  ConfigLoader loader = fixture_loader();
  YAML::Node cfg = loader.compose("config", {"data=big"});
  EXPECT_EQ(cfg["data"]["path"].as<std::string>(), "data/big.csv");
  EXPECT_DOUBLE_EQ(cfg["data"]["min_rating"].as<double>(), 3.5);
  EXPECT_TRUE(cfg["data"]["extra"].as<bool>());
  EXPECT_EQ(keys(cfg).front(), "data");  // the swapped group keeps its position

  // recall=fast drops recall.ials entirely, including the primary's factors: 32.
  YAML::Node fast = loader.compose("config", {"recall=fast"});
  EXPECT_EQ(keys(fast["recall"]), (std::vector<std::string>{"channels", "pop"}));
  EXPECT_DOUBLE_EQ(fast["recall"]["pop"]["weight"].as<double>(), 1.0);

  // Overrides apply in order: a value set before the swap is replaced by it.
  EXPECT_DOUBLE_EQ(loader.compose("config", {"recall.pop.weight=2", "recall=fast"})["recall"]["pop"]["weight"]
                       .as<double>(),
                   1.0);
  EXPECT_DOUBLE_EQ(loader.compose("config", {"recall=fast", "recall.pop.weight=2"})["recall"]["pop"]["weight"]
                       .as<double>(),
                   2.0);
}

TEST(Config, NestedGroupsResolveRelativeToTheirFolder) {
  ConfigLoader loader = fixture_loader();
  YAML::Node cfg = loader.compose("config", {"recall=nested"});
  EXPECT_EQ(cfg["recall"]["ials"]["factors"].as<int>(), 64);  // from recall/ials/parity.yaml
  EXPECT_EQ(cfg["recall"]["ials"]["iters"].as<int>(), 5);     // nested.yaml's own key wins
  EXPECT_EQ(cfg["recall"]["channels"].as<std::vector<std::string>>(), (std::vector<std::string>{"ials"}));
  // A nested group can be swapped with '/' or '.' between the folder names.
  for (const char* ov : {"recall/ials=small", "recall.ials=small"}) {
    YAML::Node s = loader.compose("config", {"recall=nested", ov});
    EXPECT_EQ(s["recall"]["ials"]["factors"].as<int>(), 8) << ov;
    EXPECT_EQ(s["recall"]["ials"]["iters"].as<int>(), 3) << ov;
  }
}

TEST(Config, OverrideValuesAreParsedAsYaml) {
  YAML::Node cfg = fixture_loader().compose(
      "config", {"recall.ials.factors=128", "recall.ials.reg=0.5", "eval.ks=[5, 50]", "eval.split=valid",
                 "name='64'", "seed=null", "experiment="});
  EXPECT_EQ(cfg["recall"]["ials"]["factors"].as<int>(), 128);
  EXPECT_DOUBLE_EQ(cfg["recall"]["ials"]["reg"].as<double>(), 0.5);
  ASSERT_TRUE(cfg["eval"]["ks"].IsSequence());
  EXPECT_EQ(cfg["eval"]["ks"].as<std::vector<int>>(), (std::vector<int>{5, 50}));
  EXPECT_EQ(cfg["eval"]["split"].as<std::string>(), "valid");
  EXPECT_TRUE(cfg["seed"].IsNull());
  EXPECT_EQ(cfg["experiment"].as<std::string>(), "");
  // A quoted value stays a string: tagged "!" and written back quoted by yaml_dump.
  EXPECT_EQ(cfg["name"].Tag(), "!");
  EXPECT_EQ(cfg["recall"]["ials"]["factors"].Tag(), "?");
  std::string text = yaml_dump(cfg);
  EXPECT_TRUE(contains(text, "name: '64'")) << text;
  YAML::Node back = YAML::Load(text);
  EXPECT_EQ(back["name"].Tag(), "!");
  EXPECT_EQ(back["recall"]["ials"]["factors"].Tag(), "?");
  EXPECT_EQ(flatten_config(back), flatten_config(cfg));
  // Keys keep their position when overridden.
  EXPECT_EQ(keys(cfg), (std::vector<std::string>{"data", "recall", "seed", "experiment", "eval", "name"}));
}

TEST(Config, PlusAddsAndTildeRemoves) {
  ConfigLoader loader = fixture_loader();
  YAML::Node cfg = loader.compose(
      "config", {"+recall.ials.dropout=0.2", "+new.section.flag=true", "++seed=7", "++brand_new=x", "~eval.split"});
  EXPECT_DOUBLE_EQ(cfg["recall"]["ials"]["dropout"].as<double>(), 0.2);
  EXPECT_TRUE(cfg["new"]["section"]["flag"].as<bool>());
  EXPECT_EQ(cfg["seed"].as<int>(), 7);
  EXPECT_EQ(cfg["brand_new"].as<std::string>(), "x");
  EXPECT_EQ(keys(cfg["eval"]), (std::vector<std::string>{"ks"}));

  std::string msg = error_of([&] { loader.compose("config", {"+seed=1"}); });
  EXPECT_TRUE(contains(msg, "already exists")) << msg;
  msg = error_of([&] { loader.compose("config", {"~eval.nope"}); });
  EXPECT_TRUE(contains(msg, "unknown config key 'eval.nope'")) << msg;

  // A group that is not in the config is added only with '+'.
  msg = error_of([&] { loader.compose("config", {"extra=one"}); });
  EXPECT_TRUE(contains(msg, "+extra=one")) << msg;
  EXPECT_EQ(loader.compose("config", {"+extra=one"})["extra"]["level"].as<int>(), 1);
  msg = error_of([&] { loader.compose("config", {"+data=big"}); });
  EXPECT_TRUE(contains(msg, "already in the config")) << msg;
}

TEST(Config, UnknownKeySuggestsNearbyKeys) {
  ConfigLoader loader = fixture_loader();
  std::string msg = error_of([&] { loader.compose("config", {"recall.ials.factorz=8"}); });
  EXPECT_TRUE(contains(msg, "unknown config key 'recall.ials.factorz'")) << msg;
  EXPECT_TRUE(contains(msg, "did you mean 'recall.ials.factors'?")) << msg;
  EXPECT_TRUE(contains(msg, "keys under 'recall.ials': factors, reg, alpha, iters")) << msg;
  EXPECT_TRUE(contains(msg, "+recall.ials.factorz=8")) << msg;

  // An unknown section in the middle of the path names the closest sibling.
  msg = error_of([&] { loader.compose("config", {"recall.ialz.factors=8"}); });
  EXPECT_TRUE(contains(msg, "unknown config key 'recall.ialz.factors'")) << msg;
  EXPECT_TRUE(contains(msg, "did you mean 'recall.ials'")) << msg;

  // Nothing close: the message still lists the keys that exist.
  msg = error_of([&] { loader.compose("config", {"zzzzzzzz=1"}); });
  EXPECT_FALSE(contains(msg, "did you mean")) << msg;
  EXPECT_TRUE(contains(msg, "top-level keys: data, recall, seed")) << msg;

  // A value cannot replace a section, nor can a path go through a scalar.
  msg = error_of([&] { loader.compose("config", {"eval=5"}); });
  EXPECT_TRUE(contains(msg, "'eval' is a section")) << msg;
  msg = error_of([&] { loader.compose("config", {"seed.x=5"}); });
  EXPECT_TRUE(contains(msg, "'seed' is not a section")) << msg;
}

TEST(Config, MalformedOverridesAreErrors) {
  ConfigLoader loader = fixture_loader();
  std::string msg = error_of([&] { loader.compose("config", {"recall.ials.factors"}); });
  EXPECT_TRUE(contains(msg, "malformed override 'recall.ials.factors'")) << msg;
  msg = error_of([&] { loader.compose("config", {"=5"}); });
  EXPECT_TRUE(contains(msg, "malformed override")) << msg;
  msg = error_of([&] { loader.compose("config", {"recall..factors=5"}); });
  EXPECT_TRUE(contains(msg, "empty part")) << msg;
  msg = error_of([&] { loader.compose("config", {"seed=[1, 2"}); });
  EXPECT_TRUE(contains(msg, "cannot parse value")) << msg;
}

TEST(Config, MissingConfigsGroupsAndOptionsListWhatExists) {
  ConfigLoader loader = fixture_loader();
  const std::string dir = loader.config_dir.string();

  std::string msg = error_of([&] { loader.compose("config", {"data=nope"}); });
  EXPECT_TRUE(contains(msg, "group 'data' has no option 'nope'")) << msg;
  EXPECT_TRUE(contains(msg, dir + "/data/nope.yaml")) << msg;
  EXPECT_TRUE(contains(msg, "available options: big, small")) << msg;

  msg = error_of([&] { loader.compose("config", {"recall.ials=huge"}); });
  EXPECT_TRUE(contains(msg, "available options: parity, small")) << msg;

  msg = error_of([&] { loader.compose("bad_option", {}); });
  EXPECT_TRUE(contains(msg, "bad_option.yaml")) << msg;
  EXPECT_TRUE(contains(msg, "available options: big, small")) << msg;

  msg = error_of([&] { loader.compose("bad_group", {}); });
  EXPECT_TRUE(contains(msg, "config group 'nogroup' not found")) << msg;
  EXPECT_TRUE(contains(msg, "data, extra, recall")) << msg;

  msg = error_of([&] { loader.compose("bad_item", {}); });
  EXPECT_TRUE(contains(msg, "just_a_name")) << msg;

  msg = error_of([&] { loader.compose("nosuch", {}); });
  EXPECT_TRUE(contains(msg, dir + "/nosuch.yaml")) << msg;
  EXPECT_TRUE(contains(msg, "config, empty")) << msg;

  msg = error_of([&] { loader.compose("broken", {}); });
  EXPECT_TRUE(contains(msg, "broken.yaml:")) << msg;
  EXPECT_TRUE(contains(msg, "YAML syntax error")) << msg;

  msg = error_of([&] { ConfigLoader{"/nonexistent/configs"}.compose("config", {}); });
  EXPECT_TRUE(contains(msg, "/nonexistent/configs")) << msg;
}

TEST(Config, ListsConfigsAndOptions) {
  ConfigLoader loader = fixture_loader();
  EXPECT_EQ(loader.options("data"), (std::vector<std::string>{"big", "small"}));
  EXPECT_EQ(loader.options("recall"), (std::vector<std::string>{"default", "fast", "nested"}));
  EXPECT_EQ(loader.options("recall/ials"), (std::vector<std::string>{"parity", "small"}));
  std::vector<std::string> c = loader.configs();
  EXPECT_NE(std::find(c.begin(), c.end(), "config"), c.end());
  EXPECT_EQ(std::find(c.begin(), c.end(), "small"), c.end());  // group options are not configs
  EXPECT_THROW(loader.options("nogroup"), Error);
}

TEST(Config, AliasedNodesAreIndependentAfterComposition) {
  YAML::Node cfg = fixture_loader().compose("anchors", {"model_a.lr=0.5"});
  EXPECT_DOUBLE_EQ(cfg["model_a"]["lr"].as<double>(), 0.5);
  EXPECT_DOUBLE_EQ(cfg["model_b"]["lr"].as<double>(), 0.1);
  EXPECT_DOUBLE_EQ(cfg["base"]["lr"].as<double>(), 0.1);
  // Editing the returned tree does not leak into the next composition.
  ConfigLoader loader = fixture_loader();
  YAML::Node a = loader.compose("config", {});
  a["recall"]["ials"]["factors"] = 1;
  EXPECT_EQ(loader.compose("config", {})["recall"]["ials"]["factors"].as<int>(), 32);
}

// Inputs run through fuzz/fuzz_config.cc (regression inputs in fuzz/corpus/config/regress_*):
// composing copies every node with its aliases expanded, so an alias inside the node it names
// recursed until the stack overflowed, and nested aliases ("billion laughs") expanded without
// end. Both are now errors naming the file or the override.
TEST(Config, SelfReferentialAndExplodingAliasesAreErrors) {
  test::TempDir dir("config_alias");
  dir.write("list.yaml", "a: &a [*a]\n");
  dir.write("map.yaml", "a: &a {b: *a}\n");
  std::string bomb = "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 6; ++i) {
    bomb += "l" + std::to_string(i) + ": &l" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) bomb += (j ? ", *l" : "*l") + std::to_string(i - 1);
    bomb += "]\n";
  }
  dir.write("bomb.yaml", bomb);
  dir.write("ok.yaml", "base: &b {lr: 0.1}\nuse: *b\n");
  const ConfigLoader loader{dir.path()};
  for (const char* name : {"list", "map"}) {
    const std::string e = error_of([&] { loader.compose(name, {}); });
    EXPECT_TRUE(contains(e, std::string(name) + ".yaml") && contains(e, "deeper than")) << e;
  }
  const std::string e = error_of([&] { loader.compose("bomb", {}); });
  EXPECT_TRUE(contains(e, "bomb.yaml") && contains(e, "expands to more than")) << e;
  const std::string o = error_of([&] { loader.compose("ok", {"+x=&a [*a]"}); });
  EXPECT_TRUE(contains(o, "override '+x=&a [*a]'") && contains(o, "deeper than")) << o;
  // Ordinary aliases still expand.
  EXPECT_DOUBLE_EQ(loader.compose("ok", {})["use"]["lr"].as<double>(), 0.1);
}

TEST(Config, FlattenInDocumentOrder) {
  YAML::Node cfg = fixture_loader().compose("config", {});
  Pairs expected = {{"data.path", "data/small.csv"},
                    {"data.min_rating", "4"},
                    {"data.format", "csv"},
                    {"recall.channels", "[ials, pop]"},
                    {"recall.ials.factors", "32"},
                    {"recall.ials.reg", "0.01"},
                    {"recall.ials.alpha", "40"},
                    {"recall.ials.iters", "20"},
                    {"recall.pop.weight", "0.5"},
                    {"seed", "42"},
                    {"experiment", "test"},
                    {"eval.ks", "[10, 20]"},
                    {"eval.split", "test"},
                    {"name", "plain"}};
  EXPECT_EQ(flatten_config(cfg), expected);

  YAML::Node odd = YAML::Load("a: {}\nb: ~\nc: [1, [2, 3]]\nd: [{x: 1}]\ne: {f: {g: h}}\n");
  Pairs odd_expected = {{"a", "{}"}, {"b", "null"}, {"c", "[1, [2, 3]]"}, {"d", "[{x: 1}]"}, {"e.f.g", "h"}};
  EXPECT_EQ(flatten_config(odd), odd_expected);
  EXPECT_TRUE(flatten_config(YAML::Node()).empty());
  EXPECT_THROW(flatten_config(YAML::Load("[1, 2]")), Error);
}

TEST(Config, DumpRoundTrips) {
  YAML::Node cfg = fixture_loader().compose("config", {"data=big", "+x.y=[a, 'on', 3]"});
  std::string text = yaml_dump(cfg);
  EXPECT_EQ(text.back(), '\n');
  YAML::Node back = YAML::Load(text);
  EXPECT_EQ(flatten_config(back), flatten_config(cfg));
  EXPECT_EQ(back["x"]["y"][1].Tag(), "!");  // 'on' stays a quoted string
  EXPECT_EQ(yaml_dump(YAML::Node()), "{}\n");
  EXPECT_EQ(yaml_dump(YAML::Load("a: {}\nb: []\nc: ~\n")), "a: {}\nb: []\nc: null\n");
}

TEST(Config, DefaultConfigDirPrefersTheEnvironment) {
  const char* old = std::getenv("CASCADE_CONFIG_DIR");
  std::string saved = old ? old : "";
  ::setenv("CASCADE_CONFIG_DIR", "/some/where/configs", 1);
  EXPECT_EQ(default_config_dir(), std::filesystem::path("/some/where/configs"));
  ::unsetenv("CASCADE_CONFIG_DIR");
  std::filesystem::path d = default_config_dir();
  EXPECT_EQ(d.filename(), "configs");
  EXPECT_TRUE(d.is_absolute());
  if (old) ::setenv("CASCADE_CONFIG_DIR", saved.c_str(), 1);
}

}  // namespace
}  // namespace cascade
