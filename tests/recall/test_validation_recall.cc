// heldout_recall (src/recall/validation_recall.h), the metric the neural channels select
// their best epoch on, is cascade::evaluate's recall@k to the bit, for every registered
// channel, any thread count, and users without a training row (queried cold).
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "cascade/core/registry.h"
#include "cascade/eval/evaluator.h"
#include "cascade/recall/recaller.h"
#include "support/tiny_data.h"
#include "recall/validation_recall.h"
#include "support/test_util.h"

namespace cascade {
namespace {

using test::TinyData;

TEST(HeldoutRecall, EqualsTheEvaluatorsRecall) {
  const TinyData d = test::make_tiny_data();
  // Every user's held-out items: two per user (one repeated), the last user has none, and
  // one extra user has no training row.
  std::vector<std::vector<uint32_t>> rows(TinyData::kUsers + 1);
  for (uint32_t u = 0; u + 1 < TinyData::kUsers; ++u) {
    rows[u] = {(u * 7 + 3) % TinyData::kItems, (u * 11 + 5) % TinyData::kItems, (u * 7 + 3) % TinyData::kItems};
  }
  rows[TinyData::kUsers] = {1, 2};
  const Interactions heldout = test::make_rows(TinyData::kItems, rows);
  // Small settings for the slow channels (any other is fitted with its defaults).
  const std::map<std::string, std::string> specs = {
      {"sasrec", "sasrec:dim=8,blocks=1,max_len=6,epochs=1,batch=8,eval_every=0"},
      {"two_tower", "two_tower:dim=8,feat_dim=4,epochs=1,batch=16,negatives=4,eval_every=0"}};
  for (const std::string& name : Registry<Recaller>::instance().names()) {
    auto m = make_recaller(specs.count(name) ? specs.at(name) : name);
    m->fit(d.fit_input());
    for (size_t k : {size_t{1}, size_t{10}}) {
      EvalOptions eo;
      eo.ks = {k};
      eo.threads = 1;
      const double expected = evaluate(*m, d.train, heldout, eo).summary.at("recall@" + std::to_string(k));
      for (int threads : {1, 2}) {
        EXPECT_EQ(heldout_recall(*m, d.train, heldout, k, threads), expected) << name << " k " << k;
      }
    }
  }
  auto m = make_recaller("popularity");
  m->fit(d.fit_input());
  EXPECT_EQ(heldout_recall(*m, d.train, Interactions{}, 10, 1), 0.0);
}

}  // namespace
}  // namespace cascade
