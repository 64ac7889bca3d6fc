// DIN-only tests for the "din" ranker (src/rank/din.cc): bce learns, the pooling/attention
// variants, best-epoch selection on a validation set. What DIN shares with BST (learning,
// target masking, serving vs libtorch, save/load, errors, determinism, batch independence)
// is in test_sequence_rankers.cc. Small dimensions and few epochs keep the suite fast.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cascade/rank/ranker.h"
#include "cascade/util/fast_paths.h"
#include "rank/din_reference.h"
#include "rank/din_simd.h"
#include "support/cluster_rank_data.h"
#include "support/test_util.h"
#include "support/tiny_data.h"

namespace cascade {
namespace {

using test::cluster_test_auc;
using test::ClusterRankData;
using test::error_of;
using test::fitted_ranker;
using test::scores_of;
using test::TempDir;

uint32_t bits(float v) {
  uint32_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

// Only the history-target relation decides the label; bce learns it too. Measured held-out
// grouped AUC (fit seed 7): bce 0.868 (listwise 0.958, test_sequence_rankers.cc).
constexpr const char* kLearn =
    "din:dim=16,field_dim=4,att_hidden=16-8,hidden=32-16,epochs=8,batch=128,lr=0.01";

TEST(DinTest, BceLossLearns) {
  auto m = fitted_ranker(std::string(kLearn) + ",loss=bce");
  EXPECT_GT(cluster_test_auc(*m), 0.8);
}

// pooling=sum / mean and attention=raw train and score: finite, better than chance, and not
// the attention model's scores. Measured (5 epochs): sum 0.930, mean 0.820, raw 0.891,
// softmax 0.909.
TEST(DinTest, SumPoolingAndRawAttentionTrainAndScore) {
  const std::string base =
      "din:dim=16,field_dim=4,att_hidden=16-8,hidden=32-16,epochs=5,batch=128,lr=0.01";
  const auto& test = ClusterRankData::test().batch;
  auto att = fitted_ranker(base);
  const auto ref = scores_of(*att, test);
  for (const std::string extra : {",pooling=sum", ",pooling=mean", ",attention=raw"}) {
    auto m = fitted_ranker(base + extra);
    const auto s = scores_of(*m, test);
    for (float v : s) ASSERT_TRUE(std::isfinite(v)) << extra;
    EXPECT_NE(s, ref) << extra;
    EXPECT_GT(cluster_test_auc(*m), 0.75) << extra;
    EXPECT_EQ(m->params().resolved().at(extra.substr(1, extra.find('=') - 1)),
              extra.substr(extra.find('=') + 1));
  }
}

// With a validation set the best epoch is kept: its validation AUC is at least the last
// epoch's (same seed, same trajectory without validation), and the manifest names it.
TEST(DinTest, ValidationKeepsTheBestEpoch) {
  const RankTrainSet valid = ClusterRankData::make(60, 3);
  const std::string spec =
      "din:dim=8,field_dim=4,att_hidden=8,hidden=16,epochs=5,batch=64,lr=0.05,patience=0";
  auto with = fitted_ranker(spec, ClusterRankData::train(), &valid);
  auto without = fitted_ranker(spec);
  const double a_with = grouped_auc(valid.batch, valid.labels, scores_of(*with, valid.batch));
  const double a_without = grouped_auc(valid.batch, valid.labels, scores_of(*without, valid.batch));
  EXPECT_GE(a_with, a_without);
  TempDir dir("din_best");
  with->save(dir.path() / "m");
  const auto manifest = nlohmann::json::parse(std::ifstream(dir.path() / "m" / "manifest.json"));
  const int best = manifest.at("best_epoch").get<int>();
  EXPECT_GE(best, 1);
  EXPECT_LE(best, 5);
  // A validation set of another schema is refused.
  RankTrainSet wrong = valid;
  wrong.batch.schema.dense[0] = "other";
  EXPECT_NE(error_of([&] { fitted_ranker(spec, ClusterRankData::train(), &wrong); }).find("other"),
            std::string::npos);
}

// score_attended: the same scores as score(), and the weights are the ones the libtorch
// forward pools with (so the ones that made the score): softmax rows sum to 1 over the
// unmasked history, a history position equal to the row's own item weighs 0. Raw attention
// reports un-normalised weights; sum pooling has none.
TEST(DinTest, ScoreAttendedReturnsTheWeightsTheScoreUsed) {
  const std::string base =
      "din:dim=16,field_dim=4,att_hidden=16-8,hidden=32-16,epochs=3,batch=128,lr=0.01";
  const RankBatch& test = ClusterRankData::test().batch;
  for (const std::string extra : {"", ",attention=raw"}) {
    auto m = fitted_ranker(base + extra);
    std::vector<float> plain = scores_of(*m, test), attended(test.rows());
    HistoryAttention att;
    ASSERT_TRUE(m->score_attended(test, attended, att)) << extra;
    EXPECT_EQ(attended, plain) << extra;
    EXPECT_EQ(att.normalised, extra.empty());
    const auto ref = din::torch_attention(*m, test);
    ASSERT_EQ(att.begin.size(), test.rows() + 1);
    size_t checked_masks = 0;
    for (size_t g = 0; g < test.groups(); ++g) {
      const auto hist = test.group_history(g);
      for (uint32_t r = test.group_begin[g]; r < test.group_begin[g + 1]; ++r) {
        const auto w = att.row(r);
        ASSERT_EQ(w.size(), hist.size());
        ASSERT_EQ(ref[r].size(), hist.size());
        double sum = 0;
        for (size_t l = 0; l < w.size(); ++l) {
          EXPECT_NEAR(w[l], ref[r][l], 1e-4) << extra << " row " << r << " position " << l;
          sum += w[l];
          if (hist[l] == test.items[r]) {
            EXPECT_EQ(w[l], 0.0f);
            ++checked_masks;
          }
        }
        const bool any_unmasked =
            std::any_of(hist.begin(), hist.end(), [&](ItemId h) { return h != test.items[r]; });
        if (extra.empty() && any_unmasked) {
          EXPECT_NEAR(sum, 1.0, 1e-5);
        }
      }
    }
    if (extra.empty()) {
      EXPECT_GT(checked_masks, 0u) << "the test data should hold rows whose item is in the history";
    }
  }
  auto sum_pooled = fitted_ranker(base + ",pooling=sum");
  std::vector<float> out(test.rows());
  HistoryAttention att;
  EXPECT_FALSE(sum_pooled->score_attended(test, out, att));
  EXPECT_EQ(out, scores_of(*sum_pooled, test));
}

// The AVX2 pair loops (rank/din_simd.h, a fast path) give the Eigen loops' floats, bit for
// bit: scores and attention weights, softmax and raw attention, with rows whose own item is
// in the history (masked positions), over the test groups of a fitted model whose widths are
// multiples of 8 (kLearn: 16, 16-8, 32-16). A model with a width of 12 takes the Eigen loops
// either way.
TEST(DinTest, Avx2PairLoopsGiveTheEigenLoopsBits) {
  if (!din_simd::cpu_has_avx2()) GTEST_SKIP() << "this CPU has no AVX2: only the Eigen loops run";
  struct Restore {
    ~Restore() { set_fast_paths(true); }
  } restore;
  const RankBatch& test = ClusterRankData::test().batch;
  const std::string widths_of_8 = "din:dim=16,field_dim=4,att_hidden=16-8,hidden=32-16,epochs=2";
  for (const std::string& spec :
       {widths_of_8, widths_of_8 + ",attention=raw", std::string("din:dim=12,epochs=2")}) {
    auto m = fitted_ranker(spec);
    const std::string& extra = spec;
    std::vector<float> fast(test.rows()), ref(test.rows());
    HistoryAttention fast_att, ref_att;
    set_fast_paths(true);
    ASSERT_TRUE(m->score_attended(test, fast, fast_att)) << extra;
    set_fast_paths(false);
    ASSERT_TRUE(m->score_attended(test, ref, ref_att)) << extra;
    for (size_t r = 0; r < test.rows(); ++r)
      ASSERT_EQ(bits(fast[r]), bits(ref[r])) << extra << " row " << r;
    ASSERT_EQ(fast_att.weights.size(), ref_att.weights.size());
    for (size_t i = 0; i < ref_att.weights.size(); ++i)
      ASSERT_EQ(bits(fast_att.weights[i]), bits(ref_att.weights[i])) << extra << " weight " << i;
    set_fast_paths(true);
    EXPECT_EQ(scores_of(*m, test), fast) << extra;
  }
}

}  // namespace
}  // namespace cascade
