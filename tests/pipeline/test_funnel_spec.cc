// The funnel spec: parsing, the canonical form, errors that name the bad part, the YAML form,
// and how a spec is written into (and read back from) the configuration groups.
#include <gtest/gtest.h>

#include <filesystem>

#include "cascade/core/config.h"
#include "cascade/pipeline/funnel_spec.h"
#include "cascade/pipeline/rank_job.h"
#include "cascade/rank/features.h"
#include "support/test_util.h"

namespace cascade {
namespace {

using test::error_of;

// The repository's own configuration (configs/config.yaml and its default groups).
YAML::Node repo_config(const std::vector<std::string>& overrides = {}) {
  return ConfigLoader{std::filesystem::path(CASCADE_SOURCE_DIR) / "configs"}.compose("config", overrides);
}

void expect_error(const std::function<void()>& fn, const std::vector<std::string>& needles) {
  const std::string e = error_of(fn);
  for (const auto& n : needles) EXPECT_NE(e.find(n), std::string::npos) << "'" << n << "' not in: " << e;
}

TEST(FunnelSpec, ParsesEveryPartAndPrintsCanonically) {
  const FunnelSpec s = FunnelSpec::parse(
      "  ials(reg=10 , factors=128)+ sasrec +content>rrf(rrf_k=10,pool=300)>gbdt(objective=rank:ndcg,rounds=50)@80 "
      ">  din@15>mmr(diversity=0.3)");
  ASSERT_EQ(s.channels.size(), 3u);
  EXPECT_EQ(s.channels[0].name, "ials");
  EXPECT_EQ(s.channels[0].params.at("factors"), "128");
  EXPECT_EQ(s.channels[0].params.at("reg"), "10");
  EXPECT_EQ(s.channels[2].name, "content");
  EXPECT_EQ(s.fusion.name, "rrf");
  EXPECT_EQ(s.pre_rank.params.at("objective"), "rank:ndcg");
  EXPECT_EQ(s.pre_keep, 80u);
  EXPECT_EQ(s.fine_rank.name, "din");
  EXPECT_EQ(s.fine_keep, 15u);
  EXPECT_EQ(s.rerank.params.at("diversity"), "0.3");
  // Channels keep their order; parameters are sorted; spaces are normalised.
  const std::string canonical =
      "ials(factors=128,reg=10)+sasrec+content > rrf(pool=300,rrf_k=10) > gbdt(objective=rank:ndcg,rounds=50)@80 > "
      "din@15 > mmr(diversity=0.3)";
  EXPECT_EQ(s.str(), canonical);
  EXPECT_EQ(FunnelSpec::parse(canonical), s);
}

// The feature switches a `bench funnel` JSON may record for `bundle --funnel-from`
// (rank.features.time=false when validation drops the time features) are keys of the
// repository's configuration, so they apply as plain overrides. Before `time` was listed there,
// such a JSON could not be built into a bundle ("unknown config key").
TEST(FunnelSpec, RecordedFeatureSwitchesApplyToTheRepositoryConfig) {
  const std::pair<const char*, bool FeatureConfig::*> switches[] = {
      {"time", &FeatureConfig::time},       {"genres", &FeatureConfig::genres},
      {"priors", &FeatureConfig::priors},   {"session", &FeatureConfig::session},
      {"user_id", &FeatureConfig::user_id}, {"item_id", &FeatureConfig::item_id}};
  const FeatureConfig defaults = FeatureConfig::from_yaml(repo_config()["rank"]["features"]);
  for (const auto& [key, member] : switches) {
    const bool flipped = !(defaults.*member);
    const YAML::Node cfg =
        repo_config({std::string("rank.features.") + key + "=" + (flipped ? "true" : "false")});
    EXPECT_EQ(FeatureConfig::from_yaml(cfg["rank"]["features"]).*member, flipped) << key;
  }
}

TEST(FunnelSpec, YamlFormIsTheSameFunnel) {
  const FunnelSpec s = FunnelSpec::parse("ials+ease > norm(pool=200) > lr@50 > gbdt@10 > none");
  EXPECT_EQ(FunnelSpec::from_yaml(s.to_yaml()), s);
  const YAML::Node map = YAML::Load(
      "{channels: [ials, ease], fusion: norm(pool=200), pre_rank: lr@50, fine_rank: gbdt@10, rerank: none}");
  EXPECT_EQ(FunnelSpec::from_yaml(map), s);
  EXPECT_EQ(FunnelSpec::from_yaml(YAML::Node(s.str())), s);
  expect_error([] { FunnelSpec::from_yaml(YAML::Load("{channels: [ials], fusion: norm}")); }, {"funnel.pre_rank", "missing"});
  expect_error(
      [] {
        FunnelSpec::from_yaml(YAML::Load(
            "{channels: [ials], fusion: norm, pre_rank: lr@5, fine_rank: lr@5, rerank: none, colour: red}"));
      },
      {"funnel.colour", "unknown key"});
}

// Found by fuzz/fuzz_funnel_spec.cc (regression input in
// fuzz/corpus/funnel_spec/regress_key_not_a_string): a map key that is not a string escaped
// from_yaml as YAML::TypedBadConversion. Parts that are not strings are refused by name.
TEST(FunnelSpec, YamlFormRefusesNonStringKeysAndParts) {
  const std::string rest = "fusion: norm, pre_rank: lr@5, fine_rank: lr@5, rerank: none";
  expect_error([&] { FunnelSpec::from_yaml(YAML::Load("{[a]: 1, channels: [ials], " + rest + "}")); },
               {"<not a string>", "unknown key"});
  expect_error([&] { FunnelSpec::from_yaml(YAML::Load("{~: 1, channels: [ials], " + rest + "}")); },
               {"<not a string>", "unknown key"});
  expect_error([&] { FunnelSpec::from_yaml(YAML::Load("{channels: &c [*c], " + rest + "}")); },
               {"funnel.channels", "expected a string", "got a list"});
  expect_error([&] { FunnelSpec::from_yaml(YAML::Load("{channels: [ials], fusion: {a: 1}, pre_rank: lr@5, "
                                                      "fine_rank: lr@5, rerank: none}")); },
               {"funnel.fusion", "got a map"});
  expect_error([&] { FunnelSpec::from_yaml(YAML::Load("{channels: [ials], fusion: norm, pre_rank: lr@5, "
                                                      "fine_rank: , rerank: none}")); },
               {"funnel.fine_rank", "got a null"});
}

TEST(FunnelSpec, ErrorsNameTheBadPart) {
  auto bad = [](const std::string& text, const std::vector<std::string>& needles) {
    expect_error([&] { FunnelSpec::parse(text); }, needles);
  };
  bad("ials > norm > lr@10 > gbdt@5", {"5 stages", "got 4"});
  bad("ials > norm > lr > gbdt@5 > none", {"pre-ranker", "RANKER@KEEP"});
  bad("ials > norm > lr@ten > gbdt@5 > none", {"pre-ranker", "'ten'"});
  bad("ials > norm > lr@0 > gbdt@5 > none", {"pre-ranker", "at least 1"});
  bad("ials > norm > lr@10 > gbdt@20 > none", {"keeps 20", "only 10"});
  bad("ials(factors > norm > lr@10 > gbdt@5 > none", {"unbalanced"});
  bad("ials(factors) > norm > lr@10 > gbdt@5 > none", {"channel 1", "'factors'", "key=value"});
  bad("ials+ease+ials > norm > lr@10 > gbdt@5 > none", {"'ials' is named twice"});
  bad("ials > norm(pool=1,pool=2) > lr@10 > gbdt@5 > none", {"fusion", "'pool' given twice"});
  bad("ials+ > norm > lr@10 > gbdt@5 > none", {"channel 2", "expected a name"});
  bad("ials > norm > lr@10 > gbdt@5 > mmr diversity", {"re-ranker"});
}

TEST(FunnelSpec, TheDefaultConfigDescribesItsFunnel) {
  const YAML::Node cfg = repo_config();
  const FunnelSpec s = funnel_spec_of(cfg);
  EXPECT_EQ(s.str(),
            "popularity+content+ials+ease+two_tower+sasrec > norm(pool=200,quota=500) > deepfm@100 > din@20 > "
            "mmr(diversity=0.2)");
}

TEST(FunnelSpec, ApplyWritesTheGroupsAndReadsBackTheSameSpec) {
  YAML::Node cfg = repo_config(
      {"funnel=ials(factors=8,ann.kind=exact)+popularity > rrf(quota=100,pool=50,rrf_k=10) > lr@30 > "
       "gbdt(rounds=5)@10 > none"});
  const FunnelSpec s = resolve_funnel(cfg);
  EXPECT_EQ(s.str(),
            "ials(ann.kind=exact,factors=8)+popularity > rrf(pool=50,quota=100,rrf_k=10) > lr@30 > gbdt(rounds=5)@10 > "
            "none");
  EXPECT_EQ(cfg["funnel"].as<std::string>(), s.str());
  const YAML::Node ch = cfg["recall"]["channels"];
  ASSERT_EQ(ch.size(), 2u);
  EXPECT_EQ(ch.begin()->first.as<std::string>(), "ials");  // the spec's order
  EXPECT_EQ(ch["ials"]["factors"].as<int>(), 8);
  EXPECT_EQ(ch["ials"]["reg"].as<double>(), 15.0);  // not named: the configured value
  EXPECT_EQ(ch["ials"]["ann"]["kind"].as<std::string>(), "exact");
  EXPECT_EQ(ch["ials"]["ann"]["m"].as<int>(), 32);
  EXPECT_EQ(cfg["recall"]["fusion"]["method"].as<std::string>(), "rrf");
  EXPECT_EQ(cfg["recall"]["fusion"]["rrf_k"].as<double>(), 10.0);
  EXPECT_EQ(cfg["recall"]["fusion"]["quota"].as<int>(), 100);
  EXPECT_FALSE(cfg["recall"]["fusion"]["weights"]["sasrec"]);  // weights of dropped channels go
  EXPECT_EQ(cfg["recall"]["fusion"]["weights"]["ials"].as<double>(), 1.0);
  const RankConfig rc = rank_config_from_yaml(cfg["rank"], 1);
  EXPECT_EQ(rc.pool_depth, 50u);
  EXPECT_EQ(rc.pre_rank, "lr");
  EXPECT_EQ(rc.pre_keep, 30u);
  EXPECT_EQ(rc.fine_rank, "gbdt");
  EXPECT_EQ(rc.fine_keep, 10u);
  EXPECT_EQ(rc.ranker("gbdt").params.raw().at("rounds"), "5");
  EXPECT_EQ(rc.ranker("gbdt").params.raw().at("max_depth"), "6");  // configured, kept
  EXPECT_EQ(cfg["rerank"]["method"].as<std::string>(), "none");
  // Resolving again is a fixed point.
  YAML::Node again = YAML::Clone(cfg);
  EXPECT_EQ(resolve_funnel(again).str(), s.str());
}

TEST(FunnelSpec, RegisteredKindsNeedNoConfigEntry) {
  YAML::Node cfg =
      repo_config({"funnel=ease > norm > lr@20 > bst(dim=16)@10 > mmr(diversity=0.5,max_per_genre=3,vectors=none)"});
  const FunnelSpec s = resolve_funnel(cfg);
  EXPECT_EQ(s.str(),
            "ease > norm(pool=200,quota=500) > lr@20 > bst(dim=16)@10 > mmr(diversity=0.5,max_per_genre=3,vectors=none)");
  EXPECT_EQ(cfg["rank"]["rankers"]["bst"]["dim"].as<int>(), 16);
  EXPECT_EQ(cfg["rerank"]["max_per_genre"].as<int>(), 3);
}

// A drop-one blend as `bench funnel` prints it: the spec's members replace the configured list,
// and the blend's members resolve to the configured rankers of those names.
TEST(FunnelSpec, BlendMembersFromTheSpec) {
  YAML::Node cfg =
      repo_config({"funnel=ials+ease > norm > lr@50 > blend(members=lr+gbdt+din)@20 > none"});
  const FunnelSpec s = resolve_funnel(cfg);
  EXPECT_EQ(s.fine_rank.params.at("members"), "lr+gbdt+din");
  const RankConfig rc = rank_config_from_yaml(cfg["rank"], 1);
  const RankerSpec& blend = rc.ranker("blend");
  ASSERT_EQ(blend.members.size(), 3u);
  EXPECT_EQ(blend.members[1].name, "gbdt");
  EXPECT_EQ(blend.members[1].params.raw().at("rounds"), "300");  // the configured GBDT
  EXPECT_EQ(blend.members[2].kind, "din");
  YAML::Node again = YAML::Clone(cfg);
  EXPECT_EQ(resolve_funnel(again).str(), s.str());
  YAML::Node bad =
      repo_config({"funnel=ials+ease > norm > lr@50 > blend(members=lr+xgb)@20 > none"});
  expect_error([&] { resolve_funnel(bad); }, {"rank.rankers.blend.members", "'xgb'"});
}

TEST(FunnelSpec, UnknownNamesListTheKnownOnes) {
  auto bad = [](const std::string& spec, const std::vector<std::string>& needles) {
    YAML::Node cfg = repo_config({"funnel=" + spec});
    expect_error([&] { resolve_funnel(cfg); }, needles);
  };
  bad("ials+magic > norm > lr@20 > din@10 > mmr", {"channel 'magic'", "recall.channels", "sasrec", "registered"});
  bad("ials > mean > lr@20 > din@10 > mmr", {"unknown fusion method 'mean'", "norm", "rrf"});
  bad("ials > norm > forest@20 > din@10 > mmr", {"ranker 'forest'", "deepfm", "gbdt"});
  bad("ials > norm > lr@20 > din@10 > shuffle", {"unknown re-ranker 'shuffle'", "mmr", "none"});
  bad("ials(colour=red) > norm > lr@20 > din@10 > mmr", {"channel 'ials'", "colour"});
  bad("ials > norm(depth=3) > lr@20 > din@10 > mmr", {"fusion norm", "'depth'", "quota, pool, tune"});
  bad("ials > norm(rrf_k=3) > lr@20 > din@10 > mmr", {"fusion norm", "'rrf_k'"});
  bad("ials > norm > lr(rate=fast)@20 > din@10 > mmr", {"ranker 'lr'", "rate"});
  bad("ials > norm > lr@20 > din@10 > mmr(diversity=3)", {"re-ranker mmr", "rerank.diversity"});
  bad("ials > norm(pool=0) > lr@20 > din@10 > mmr", {"rank.pool_depth"});
  // The re-ranker's item vectors must come from a channel of the funnel (checked before training).
  bad("ease+sasrec > norm > lr@20 > din@10 > mmr", {"channel 'ials'", "rerank.vectors", "ease, sasrec",
                                                     "mmr(vectors=sasrec)"});
}

}  // namespace
}  // namespace cascade
