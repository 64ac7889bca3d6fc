// Synthetic ranking data for the sequence rankers (DIN, BST), where only the history-target
// relation decides the label, and the helpers their tests share.
//
// Requests of users who like one or two item clusters (item i is in cluster i % kClusters):
// the history holds 8..20 items, ~85% from the liked clusters; the candidates are 4
// positives from the liked clusters and 12 negatives from the others. Every user appears
// once (its id says nothing), every cluster is liked equally often (an item's id says
// nothing), dense columns are noise. Positives may also be in the history (a model must not
// learn "the target is in the history": it never sees it).
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "cascade/rank/ranker.h"

namespace cascade::test {

struct ClusterRankData {
  static constexpr uint32_t kItems = 120;
  static constexpr uint32_t kClusters = 6;
  static constexpr uint32_t kMaxHistory = 20;
  static constexpr uint32_t kUsers = 1000;
  static constexpr uint32_t kPositives = 4;
  static constexpr uint32_t kRowsPerGroup = 16;

  static FeatureSchema schema() {
    FeatureSchema s;
    s.dense = {"noise", "sparse_noise"};
    s.fields = {{"user", kUsers + 1}, {"item", kItems + 1}, {"gender", 3}};
    s.n_items = kItems;
    s.max_history = kMaxHistory;
    return s;
  }

  static RankTrainSet make(uint32_t n_groups, uint32_t seed) {
    std::mt19937 gen(seed);
    std::normal_distribution<float> normal;
    std::uniform_real_distribution<float> unif;
    auto in_cluster = [&](uint32_t c) { return c + kClusters * (gen() % (kItems / kClusters)); };
    RankTrainSet t;
    RankBatch& b = t.batch;
    b.schema = schema();
    for (uint32_t g = 0; g < n_groups; ++g) {
      std::vector<uint32_t> liked{static_cast<uint32_t>(gen() % kClusters)};
      if (gen() % 2) liked.push_back((liked[0] + 1 + gen() % (kClusters - 1)) % kClusters);
      const uint32_t len = 8 + gen() % (kMaxHistory - 7);
      for (uint32_t k = 0; k < len; ++k) {
        b.history.push_back(unif(gen) < 0.85f ? in_cluster(liked[gen() % liked.size()]) : gen() % kItems);
      }
      std::vector<std::pair<ItemId, float>> rows;
      for (uint32_t k = 0; k < kPositives; ++k) rows.push_back({in_cluster(liked[gen() % liked.size()]), 1.f});
      while (rows.size() < kRowsPerGroup) {
        const uint32_t c = gen() % kClusters;
        if (std::find(liked.begin(), liked.end(), c) == liked.end()) rows.push_back({in_cluster(c), 0.f});
      }
      std::shuffle(rows.begin(), rows.end(), gen);
      const uint32_t user = gen() % kUsers;
      for (const auto& [item, label] : rows) {
        b.items.push_back(item);
        t.labels.push_back(label);
        b.cats.insert(b.cats.end(), {user + 1, item + 1, 1 + static_cast<uint32_t>(gen() % 2)});
        b.dense.push_back(normal(gen));
        b.dense.push_back(unif(gen) < 0.3f ? std::numeric_limits<float>::quiet_NaN() : unif(gen));
      }
      b.group_begin.push_back(static_cast<uint32_t>(b.items.size()));
      b.hist_begin.push_back(static_cast<uint32_t>(b.history.size()));
      b.group_user.push_back(user);
    }
    t.validate();
    return t;
  }

  static const RankTrainSet& train() {
    static const RankTrainSet s = make(300, 1);
    return s;
  }
  static const RankTrainSet& test() {
    static const RankTrainSet s = make(100, 2);
    return s;
  }

  /// One group (history `hist`) with candidate rows `items`, features from row 0 of test().
  static RankBatch one_group(const std::vector<ItemId>& hist, const std::vector<ItemId>& items) {
    const auto& src = test().batch;
    RankBatch b;
    b.schema = src.schema;
    for (ItemId i : items) {
      b.items.push_back(i);
      b.cats.insert(b.cats.end(), {src.cats[0], i + 1, src.cats[2]});
      b.dense.insert(b.dense.end(), {src.dense[0], src.dense[1]});
    }
    b.history = hist;
    b.group_begin.push_back(static_cast<uint32_t>(items.size()));
    b.hist_begin.push_back(static_cast<uint32_t>(hist.size()));
    b.group_user.push_back(0);
    return b;
  }
};

inline std::vector<float> scores_of(const Ranker& m, const RankBatch& b) {
  std::vector<float> out(b.rows());
  m.score(b, out);
  return out;
}

/// Held-out grouped AUC on ClusterRankData::test().
inline double cluster_test_auc(const Ranker& m) {
  const auto& t = ClusterRankData::test();
  return grouped_auc(t.batch, t.labels, scores_of(m, t.batch));
}

/// `spec` fitted with one thread and seed 7 (the seed the tests' measured figures are for).
inline std::unique_ptr<Ranker> fitted_ranker(const std::string& spec,
                                             const RankTrainSet& train = ClusterRankData::train(),
                                             const RankTrainSet* valid = nullptr) {
  auto m = make_ranker(spec);
  RankFitOptions opt;
  opt.threads = 1;
  opt.seed = 7;
  opt.valid = valid;
  m->fit(train, opt);
  return m;
}

}  // namespace cascade::test
