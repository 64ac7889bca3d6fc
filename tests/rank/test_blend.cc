// BlendRanker: per-request standardisation and weights against hand-computed values, the
// member lookup of the `rank` group, the refusals, and a saved blend whose member was replaced.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cmath>

#include "cascade/core/error.h"
#include "cascade/pipeline/rank_job.h"
#include "cascade/rank/blend.h"
#include "support/temp_dir.h"

namespace cascade {
namespace {

// Scores a row by one dense column; reports attention when `attends` (one weight per history
// item, all equal to the column index + 1, so the test can tell whose attention it got).
class ColumnRanker final : public Ranker {
 public:
  ColumnRanker(size_t column, bool attends) : column_(column), attends_(attends) {}
  std::string kind() const override { return "column"; }
  void fit(const RankTrainSet& train, const RankFitOptions&) override {
    schema_ = train.batch.schema;
  }
  void score(const RankBatch& b, std::span<float> out) const override {
    for (size_t r = 0; r < b.rows(); ++r) out[r] = b.dense_row(r)[column_];
  }
  bool score_attended(const RankBatch& b, std::span<float> out,
                      HistoryAttention& att) const override {
    score(b, out);
    if (!attends_) return false;
    att.begin.assign(1, 0);
    att.weights.clear();
    for (size_t r = 0; r < b.rows(); ++r) {
      const auto h = b.group_history(b.group_of(r));
      att.weights.insert(att.weights.end(), h.size(), static_cast<float>(column_ + 1));
      att.begin.push_back(static_cast<uint32_t>(att.weights.size()));
    }
    return true;
  }
  const FeatureSchema& schema() const override { return schema_; }
  Params params() const override { return {}; }
  void save(const std::filesystem::path&) const override {}
  void load(const std::filesystem::path&) override {}

 private:
  size_t column_;
  bool attends_;
  FeatureSchema schema_;
};

// Two groups: {a = 1, 2, 3; b = 10, 10, 40} and {a = 5, 5; b = 1, 2}.
RankTrainSet two_groups() {
  RankTrainSet t;
  RankBatch& b = t.batch;
  b.schema.dense = {"a", "b"};
  b.schema.n_items = 10;
  b.schema.max_history = 4;
  const float rows[5][2] = {{1, 10}, {2, 10}, {3, 40}, {5, 1}, {5, 2}};
  for (size_t r = 0; r < 5; ++r) {
    b.items.push_back(static_cast<ItemId>(r));
    b.dense.insert(b.dense.end(), {rows[r][0], rows[r][1]});
    t.labels.push_back(r == 2 ? 1.0f : 0.0f);
  }
  b.group_begin = {0, 3, 5};
  b.history = {7, 8, 9};
  b.hist_begin = {0, 2, 3};
  b.group_user = {0, 1};
  t.validate();
  return t;
}

BlendRanker fitted_blend(const std::string& params, bool second_attends = false) {
  BlendRanker blend(Params::parse(params));
  std::vector<std::unique_ptr<Ranker>> members;
  members.push_back(std::make_unique<ColumnRanker>(0, false));
  members.push_back(std::make_unique<ColumnRanker>(1, second_attends));
  blend.set_members(std::move(members));
  blend.fit(two_groups(), RankFitOptions{});
  return blend;
}

std::vector<float> scores_of(const Ranker& r) {
  const RankTrainSet t = two_groups();
  std::vector<float> s(t.batch.rows());
  r.score(t.batch, s);
  return s;
}

TEST(BlendRanker, ScalesEachMemberByItsSpreadWithinARequestAndWeighsThem) {
  // Pooled within-group variance: a: (1 + 0 + 1 + 0 + 0) / 5 = 0.4; b: (100 + 100 + 400 +
  // 0.25 + 0.25) / 5 = 120.1. The blend is a / sqrt(0.4) + b / sqrt(120.1).
  const BlendRanker equal = fitted_blend("members=a+b");
  ASSERT_EQ(equal.scales().size(), 2u);
  EXPECT_NEAR(equal.scales()[0], 1.0 / std::sqrt(0.4), 1e-9);
  EXPECT_NEAR(equal.scales()[1], 1.0 / std::sqrt(120.1), 1e-9);
  const std::vector<float> want{2.49363f, 4.07477f, 8.39338f, 7.99694f, 8.08819f};
  const auto s = scores_of(equal);
  for (size_t r = 0; r < want.size(); ++r) EXPECT_NEAR(s[r], want[r], 1e-4) << r;
  const auto weighted = scores_of(fitted_blend("members=a+b,weights=2/1"));
  const std::vector<float> want2{4.07477f, 7.23705f, 13.1368f, 15.90264f, 15.99389f};
  for (size_t r = 0; r < want2.size(); ++r) EXPECT_NEAR(weighted[r], want2[r], 1e-4) << r;
  // Rows are scored independently: a group alone scores as inside the batch.
  const RankTrainSet t = two_groups();
  const RankBatch second = t.batch.slice_groups(1, 2);
  std::vector<float> alone(second.rows());
  equal.score(second, alone);
  EXPECT_EQ(alone[0], s[3]);
  EXPECT_EQ(alone[1], s[4]);
}

TEST(BlendRanker, TakesItsScalesFromTheHeldOutGroupsWhenThereAreAny) {
  RankTrainSet valid = two_groups();  // group 1 has a positive and negatives: it can validate
  for (size_t r = 0; r < valid.batch.rows(); ++r)
    valid.batch.dense[r * 2 + 1] *= 4;  // b spreads 4x
  BlendRanker blend(Params::parse("members=a+b"));
  std::vector<std::unique_ptr<Ranker>> members;
  members.push_back(std::make_unique<ColumnRanker>(0, false));
  members.push_back(std::make_unique<ColumnRanker>(1, false));
  blend.set_members(std::move(members));
  RankFitOptions fo;
  fo.valid = &valid;
  blend.fit(two_groups(), fo);
  EXPECT_NEAR(blend.scales()[0], 1.0 / std::sqrt(0.4), 1e-9);
  EXPECT_NEAR(blend.scales()[1], 0.25 / std::sqrt(120.1), 1e-9);
  // A member constant within every group gets scale 0 (it cannot order anything).
  RankTrainSet flat = two_groups();
  for (size_t r = 0; r < flat.batch.rows(); ++r) flat.batch.dense[r * 2] = 7;
  fo.valid = &flat;
  blend.fit(two_groups(), fo);
  EXPECT_EQ(blend.scales()[0], 0.0);
}

TEST(BlendRanker, ForwardsTheAttendingMembersAttention) {
  const BlendRanker blend = fitted_blend("members=a+b", /*second_attends=*/true);
  const RankTrainSet t = two_groups();
  std::vector<float> s(t.batch.rows());
  HistoryAttention att;
  ASSERT_TRUE(blend.score_attended(t.batch, s, att));
  EXPECT_EQ(s, scores_of(blend));
  EXPECT_EQ(att.row(0).size(), 2u);
  EXPECT_EQ(att.row(0)[0], 2.0f);  // member b's (column 1 + 1)
  const BlendRanker none = fitted_blend("members=a+b");
  HistoryAttention att2;
  EXPECT_FALSE(none.score_attended(t.batch, s, att2));
}

void expect_error(const std::function<void()>& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one naming " << needle;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(BlendRanker, RefusesBadParametersAndAFitWithoutMembers) {
  expect_error([] { BlendRanker(Params::parse("members=gbdt")); }, "2 to 8");
  expect_error([] { BlendRanker(Params::parse("members=gbdt+gbdt")); }, "twice");
  expect_error([] { BlendRanker(Params::parse("members=gbdt+")); }, "joined by '+'");
  expect_error([] { BlendRanker(Params::parse("members=gbdt+din,weights=1/0")); },
               "positive numbers");
  expect_error([] { BlendRanker(Params::parse("members=gbdt+din,weights=1/x")); },
               "positive numbers");
  expect_error([] { BlendRanker(Params::parse("members=gbdt+din,weights=1")); },
               "1 weights for 2 members");
  expect_error([] { BlendRanker(Params::parse("members=gbdt+din,normalise=max")); }, "normalise");
  expect_error([] { BlendRanker(Params::parse("members=gbdt+din,colour=red")); }, "colour");
  BlendRanker unfitted(Params::parse("members=gbdt+din"));
  expect_error([&] { unfitted.fit(two_groups(), RankFitOptions{}); }, "member rankers");
  expect_error([&] { (void)scores_of(unfitted); }, "before fit");
  std::vector<std::unique_ptr<Ranker>> one;
  one.push_back(std::make_unique<ColumnRanker>(0, false));
  expect_error([&] { unfitted.set_members(std::move(one)); }, "1 member models for 2");
}

TEST(BlendRanker, TheRankGroupResolvesMembersByName) {
  const RankConfig c = rank_config_from_yaml(YAML::Load(R"(
rankers:
  lr: {}
  tree: {kind: gbdt, rounds: 20}
  both: {kind: blend, members: [tree, lr], weights: 2/1}
funnel: {pre_rank: lr, fine_rank: both}
)"),
                                             1);
  const RankerSpec& b = c.ranker("both");
  EXPECT_EQ(b.spec(), "blend:members=tree+lr,weights=2/1");
  ASSERT_EQ(b.members.size(), 2u);
  EXPECT_EQ(b.members[0].spec(), "gbdt:rounds=20");
  EXPECT_EQ(b.members[1].name, "lr");
  auto fails = [](const std::string& text, const std::string& needle) {
    expect_error([&] { rank_config_from_yaml(YAML::Load(text), 1); }, needle);
  };
  fails(
      "{rankers: {lr: {}, b: {kind: blend, members: [lr, din]}}, funnel: {pre_rank: lr, fine_rank: "
      "b}}",
      "names 'din', which is not configured");
  fails("{rankers: {lr: {}, b: {kind: blend}}, funnel: {pre_rank: lr, fine_rank: b}}",
        "without `members`");
  fails(
      "{rankers: {lr: {}, gbdt: {}, b: {kind: blend, members: lr+gbdt}, c: {kind: blend, members: "
      "[b, lr]}},"
      " funnel: {pre_rank: lr, fine_rank: c}}",
      "itself a blend");
}

RankerSpec lr_gbdt_spec() {
  RankerSpec spec;
  spec.name = "b";
  spec.kind = "blend";
  spec.params = Params::parse("members=lr+gbdt");
  for (const char* m : {"lr", "gbdt"}) {
    RankerSpec s;
    s.name = s.kind = m;
    if (std::string(m) == "gbdt") s.params = Params::parse("rounds=5,threads=1");
    spec.members.push_back(s);
  }
  return spec;
}

std::unique_ptr<Ranker> fit_lr_gbdt(uint64_t seed) {
  return fit_ranker(lr_gbdt_spec(), two_groups(), RankTrainSet{}, 1, seed, "h");
}

// What bench funnel does with candidates it has fitted anyway gives the blend a fit gives.
TEST(BlendRanker, AdoptingFittedMembersEqualsFittingThem) {
  const auto fitted = fit_lr_gbdt(3);
  std::vector<std::shared_ptr<Ranker>> members;
  for (const auto& m : lr_gbdt_spec().members)
    members.push_back(fit_ranker(m, two_groups(), RankTrainSet{}, 1, 3, "h"));
  BlendRanker adopted(Params::parse("members=lr+gbdt"));
  RankFitOptions fo;
  fo.dataset_hash = "h";
  adopted.adopt_fitted(members, two_groups(), fo);
  EXPECT_EQ(scores_of(adopted), scores_of(*fitted));
  EXPECT_EQ(adopted.schema(), fitted->schema());
  // Members of two schemas are refused.
  RankTrainSet other = two_groups();
  other.batch.schema.dense[1] = "c";
  members[1] = fit_ranker(lr_gbdt_spec().members[1], other, RankTrainSet{}, 1, 3, "h");
  expect_error([&] { adopted.adopt_fitted(members, two_groups(), fo); }, "another feature schema");
}

TEST(BlendRanker, SavedBlendRefusesAReplacedMember) {
  const auto blend = fit_lr_gbdt(1);
  test::TempDir dir("blend_replaced_member");
  blend->save(dir.path());
  const auto loaded = load_ranker(dir.path());
  EXPECT_EQ(loaded->kind(), "blend");
  EXPECT_EQ(scores_of(*loaded), scores_of(*blend));
  // Another LR fitted with another seed saved over member 0: a complete, valid model, but not
  // the one the blend was saved with.
  const auto other = fit_lr_gbdt(2);
  dynamic_cast<const BlendRanker&>(*other).member(0).save(dir.path() / "members" / "0-lr");
  expect_error([&] { load_ranker(dir.path()); }, "not the model the blend was saved with");
}

}  // namespace
}  // namespace cascade
