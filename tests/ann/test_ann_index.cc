// AnnIndex (FAISS exact / HNSW inner-product search) and its use by recall channels.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include "cascade/ann/ann_index.h"
#include "cascade/io/artifact.h"
#include "cascade/pipeline/recall_job.h"
#include "support/test_util.h"
#include "support/tiny_data.h"

namespace cascade {
namespace {

using test::error_of;

// rows x dim Gaussian vectors (seeded, so every run sees the same data).
std::vector<float> random_vectors(uint32_t rows, uint32_t dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.f, 1.f);
  std::vector<float> v(static_cast<size_t>(rows) * dim);
  for (float& x : v) x = g(rng);
  return v;
}

// Brute-force top-k by inner product, ties to the lower id.
std::vector<ItemId> brute_top(const std::vector<float>& v, uint32_t dim, std::span<const float> q,
                              size_t k, const std::set<ItemId>& skip = {}) {
  const uint32_t rows = static_cast<uint32_t>(v.size() / dim);
  std::vector<std::pair<float, ItemId>> s;
  for (uint32_t i = 0; i < rows; ++i) {
    if (skip.count(i)) continue;
    float d = 0;
    for (uint32_t j = 0; j < dim; ++j) d += v[static_cast<size_t>(i) * dim + j] * q[j];
    s.push_back({d, i});
  }
  std::sort(s.begin(), s.end(), [](auto& a, auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  });
  std::vector<ItemId> out;
  for (size_t j = 0; j < std::min(k, s.size()); ++j) out.push_back(s[j].second);
  return out;
}

std::vector<ItemId> items_of(const std::vector<ScoredItem>& r) {
  std::vector<ItemId> out;
  for (const auto& s : r) out.push_back(s.item);
  return out;
}

TEST(AnnIndex, ExactMatchesHandComputedInnerProducts) {
  // 4 items in 2-D; query (1, 2): scores 1, 2, 3, -1 -> order 2, 1, 0, 3.
  const std::vector<float> v = {1, 0, 0, 1, 1, 1, -1, 0};
  AnnOptions o;
  o.kind = "exact";
  AnnIndex idx(v.data(), 4, 2, o);
  const std::vector<float> q = {1, 2};
  auto r = idx.search(q, 3);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(items_of(r), (std::vector<ItemId>{2, 1, 0}));
  EXPECT_FLOAT_EQ(r[0].score, 3.f);
  EXPECT_FLOAT_EQ(r[1].score, 2.f);
  EXPECT_FLOAT_EQ(r[2].score, 1.f);
  // Skipping the best two still returns k items when the catalogue has them.
  const std::vector<ItemId> skip = {2, 1};
  EXPECT_EQ(items_of(idx.search(q, 2, skip)), (std::vector<ItemId>{0, 3}));
  // k larger than the catalogue: everything not skipped.
  EXPECT_EQ(idx.search(q, 10, skip).size(), 2u);
  EXPECT_TRUE(idx.search(q, 0).empty());
}

TEST(AnnIndex, ExactEqualsBruteForceOnRandomVectors) {
  const uint32_t n = 500, d = 16;
  auto v = random_vectors(n, d, 1);
  AnnOptions o;
  o.kind = "exact";
  AnnIndex idx(v.data(), n, d, o);
  auto queries = random_vectors(20, d, 2);
  for (uint32_t t = 0; t < 20; ++t) {
    std::span<const float> q(queries.data() + t * d, d);
    std::set<ItemId> skip = {t, t + 7, t * 3};
    std::vector<ItemId> sv(skip.begin(), skip.end());
    EXPECT_EQ(items_of(idx.search(q, 10, sv)), brute_top(v, d, q, 10, skip)) << "query " << t;
  }
}

TEST(AnnIndex, HnswRecallAgainstExactIsHigh) {
  const uint32_t n = 3000, d = 16;
  auto v = random_vectors(n, d, 3);
  AnnOptions o;  // hnsw, M 32, efConstruction 200, efSearch 128
  o.threads = 1;
  AnnIndex idx(v.data(), n, d, o);
  auto queries = random_vectors(50, d, 4);
  size_t hits = 0, total = 0;
  for (uint32_t t = 0; t < 50; ++t) {
    std::span<const float> q(queries.data() + t * d, d);
    auto truth = brute_top(v, d, q, 10);
    auto got = items_of(idx.search(q, 10));
    for (ItemId i : truth) hits += std::count(got.begin(), got.end(), i);
    total += truth.size();
  }
  // Measured 1.00 at these settings; random Gaussian vectors in 16-D are a hard case for
  // HNSW, so the floor leaves room without letting a broken index (recall ~0) pass.
  EXPECT_GE(static_cast<double>(hits) / total, 0.95)
      << "recall " << static_cast<double>(hits) / total;
}

// The MIPS -> L2 reduction returns inner products too, in the same order as exact search.
TEST(AnnIndex, L2ReductionReturnsInnerProducts) {
  const std::vector<float> v = {1, 0, 0, 1, 1, 1, -1, 0, 2, 2};
  AnnOptions o;
  o.metric = "l2";
  AnnIndex idx(v.data(), 5, 2, o);
  const std::vector<float> q = {1, 2};
  auto r = idx.search(q, 5);
  ASSERT_EQ(r.size(), 5u);
  EXPECT_EQ(items_of(r), (std::vector<ItemId>{4, 2, 1, 0, 3}));
  const float expect[] = {6, 3, 2, 1, -1};
  for (size_t j = 0; j < 5; ++j) EXPECT_NEAR(r[j].score, expect[j], 1e-5) << j;
  test::TempDir dir("ann_l2");
  idx.save(dir.path() / "ann");
  auto loaded = AnnIndex::load(dir.path() / "ann", v.data(), 5, 2);
  EXPECT_EQ(loaded->options().metric, "l2");
  EXPECT_EQ(items_of(loaded->search(q, 5)), items_of(r));
}

TEST(AnnIndex, SaveLoadRoundTripAndVectorCheck) {
  const uint32_t n = 300, d = 8;
  auto v = random_vectors(n, d, 5);
  AnnIndex idx(v.data(), n, d, AnnOptions{});
  test::TempDir dir("ann");
  idx.save(dir.path() / "ann");
  auto loaded = AnnIndex::load(dir.path() / "ann", v.data(), n, d);
  EXPECT_EQ(loaded->options().kind, "hnsw");
  EXPECT_EQ(loaded->options().m, 32);
  auto q = random_vectors(1, d, 6);
  auto a = idx.search(q, 20), b = loaded->search(q, 20);
  ASSERT_EQ(a.size(), b.size());
  for (size_t j = 0; j < a.size(); ++j) {
    EXPECT_EQ(a[j].item, b[j].item);
    EXPECT_EQ(a[j].score, b[j].score);
  }
  // Other vectors (a retrained model) must not silently use the stale index.
  auto other = v;
  other[0] += 1.f;
  EXPECT_NE(
      error_of([&] { AnnIndex::load(dir.path() / "ann", other.data(), n, d); }).find("rebuild"),
      std::string::npos);
  EXPECT_NE(error_of([&] {
              AnnIndex::load(dir.path() / "ann", v.data(), n - 1, d);
            }).find("other item vectors"),
            std::string::npos);
}

TEST(AnnIndex, BadInputThrows) {
  std::vector<float> v = {1, 2, 3, 4};
  AnnOptions bad;
  bad.kind = "pq";
  EXPECT_NE(error_of([&] {
              AnnIndex(v.data(), 2, 2, bad);
            }).find("'pq' is not one of exact, pruned, hnsw, ivf"),
            std::string::npos);
  EXPECT_FALSE(error_of([&] { AnnIndex(v.data(), 2, 0, AnnOptions{}); }).empty());
  AnnIndex idx(v.data(), 2, 2, AnnOptions{});
  const std::vector<float> q3 = {1, 2, 3};
  EXPECT_NE(error_of([&] { idx.search(q3, 1); }).find("dimension 2"), std::string::npos);
  AnnOptions bad_metric;
  bad_metric.metric = "cosine";
  EXPECT_NE(error_of([&] { AnnIndex(v.data(), 2, 2, bad_metric); }).find("cosine"),
            std::string::npos);
  Params p({{"kind", "hnsw"}, {"m", "1"}});
  EXPECT_NE(error_of([&] { AnnOptions::from_params(p); }).find("m"), std::string::npos);
}

// Recall of the IVF index's top-k against brute force over `queries` (pooled hit share).
double ivf_recall(const AnnIndex& idx, const std::vector<float>& v,
                  const std::vector<float>& queries, uint32_t d, size_t k) {
  size_t hits = 0, total = 0;
  for (size_t t = 0; t < queries.size() / d; ++t) {
    std::span<const float> q(queries.data() + t * d, d);
    auto truth = brute_top(v, d, q, k);
    auto got = items_of(idx.search(q, k));
    for (ItemId i : truth) hits += std::count(got.begin(), got.end(), i);
    total += truth.size();
  }
  return static_cast<double>(hits) / static_cast<double>(total);
}

// IVF-Flat stores the vectors unquantised: probing every list is an exhaustive scan, so the
// top-k (and its scores) equal brute force; probing fewer lists can only lose items.
TEST(AnnIndex, IvfProbingAllListsIsExactAndFewerListsLoseRecall) {
  const uint32_t n = 3000, d = 16;
  auto v = random_vectors(n, d, 7);
  auto queries = random_vectors(40, d, 8);
  for (const auto& [metric, quantizer] : std::vector<std::pair<std::string, std::string>>{
           {"ip", "flat"}, {"ip", "hnsw"}, {"l2", "flat"}}) {
    SCOPED_TRACE(metric + " " + quantizer);
    AnnOptions o;
    o.metric = metric;
    o.kind = "ivf";
    o.nlist = 32;
    o.nprobe = 32;
    o.threads = 1;
    o.quantizer = quantizer;
    AnnIndex idx(v.data(), n, d, o);
    for (uint32_t t = 0; t < 40; ++t) {
      std::span<const float> q(queries.data() + t * d, d);
      const std::set<ItemId> skip = {t, t + 100};
      const std::vector<ItemId> sv(skip.begin(), skip.end());
      const auto got = idx.search(q, 20, sv);
      ASSERT_EQ(items_of(got), brute_top(v, d, q, 20, skip)) << quantizer << " query " << t;
      float expect = 0;
      for (uint32_t j = 0; j < d; ++j) expect += v[static_cast<size_t>(got[0].item) * d + j] * q[j];
      EXPECT_NEAR(got[0].score, expect, 1e-3);  // l2: recovered from a squared distance
    }
    EXPECT_DOUBLE_EQ(ivf_recall(idx, v, queries, d, 20), 1.0) << quantizer;
    idx.set_nprobe(1000);  // clamped to nlist
    EXPECT_DOUBLE_EQ(ivf_recall(idx, v, queries, d, 20), 1.0) << quantizer;
    idx.set_nprobe(2);  // 2 of 32 lists: structureless vectors lose most of their top 20
    const double r2 = ivf_recall(idx, v, queries, d, 20);
    idx.set_nprobe(8);
    const double r8 = ivf_recall(idx, v, queries, d, 20);
    EXPECT_LT(r2, 0.9) << quantizer;
    EXPECT_GT(r2, 0.05) << quantizer;  // but the probed lists are the right ones, not noise
    EXPECT_GE(r8, r2) << quantizer;
    EXPECT_LT(r8, 1.0) << quantizer;
  }
}

TEST(AnnIndex, IvfSaveLoadRoundTripAndKindCheck) {
  const uint32_t n = 1000, d = 8;
  auto v = random_vectors(n, d, 9);
  AnnOptions o;
  o.kind = "ivf";
  o.nlist = 16;
  o.nprobe = 3;
  o.train_size = 700;  // a sample: 7 rows in 10
  o.threads = 1;
  AnnIndex idx(v.data(), n, d, o);
  test::TempDir dir("ann_ivf");
  idx.save(dir.path() / "ann");
  auto loaded = AnnIndex::load(dir.path() / "ann", v.data(), n, d);
  EXPECT_EQ(loaded->options().kind, "ivf");
  EXPECT_EQ(loaded->options().nlist, 16);
  EXPECT_EQ(loaded->options().nprobe, 3);
  EXPECT_EQ(loaded->options().train_size, 700);
  auto queries = random_vectors(10, d, 10);
  for (uint32_t t = 0; t < 10; ++t) {
    std::span<const float> q(queries.data() + t * d, d);
    auto a = idx.search(q, 15), b = loaded->search(q, 15);
    ASSERT_EQ(items_of(a), items_of(b)) << t;
  }
  // The loaded index keeps nprobe 3: fewer than all lists, so not always the exact answer.
  EXPECT_LT(ivf_recall(*loaded, v, queries, d, 15), 1.0);
  loaded->set_nprobe(16);
  EXPECT_DOUBLE_EQ(ivf_recall(*loaded, v, queries, d, 15), 1.0);
  EXPECT_NE(
      error_of([&] { AnnIndex::load(dir.path() / "ann", v.data(), n - 1, d); }).find("rebuild"),
      std::string::npos);

  // The MIPS -> L2 reduction's IVF (dim + 1 stored) loads back too.
  AnnOptions l2 = o;
  l2.metric = "l2";
  l2.nprobe = 16;
  AnnIndex idx_l2(v.data(), n, d, l2);
  idx_l2.save(dir.path() / "ann_l2");
  auto loaded_l2 = AnnIndex::load(dir.path() / "ann_l2", v.data(), n, d);
  EXPECT_EQ(loaded_l2->options().metric, "l2");
  EXPECT_DOUBLE_EQ(ivf_recall(*loaded_l2, v, queries, d, 15), 1.0);

  // A manifest that names another kind than the blob holds is refused.
  const auto manifest = dir.path() / "ann" / "manifest.json";
  std::string text = read_file(manifest);
  const size_t at = text.find("\"ivf\"");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 5, "\"hnsw\"");
  write_file_atomic(manifest, text);
  EXPECT_NE(error_of([&] {
              AnnIndex::load(dir.path() / "ann", v.data(), n, d);
            }).find("not the hnsw index"),
            std::string::npos);
}

TEST(AnnIndex, IvfBadParametersThrowNamingThem) {
  auto v = random_vectors(50, 4, 11);
  AnnOptions o;
  o.kind = "ivf";
  o.nlist = 51;
  EXPECT_NE(
      error_of([&] { AnnIndex(v.data(), 50, 4, o); }).find("nlist 51 exceeds the 50 item vectors"),
      std::string::npos);
  o.nlist = 10;
  o.train_size = 5;
  EXPECT_NE(error_of([&] { AnnIndex(v.data(), 50, 4, o); }).find("train_size 5 is below nlist 10"),
            std::string::npos);
  o.train_size = 0;
  o.metric = "ip";
  o.quantizer = "pq";
  EXPECT_NE(error_of([&] { AnnIndex(v.data(), 50, 4, o); }).find("quantizer 'pq'"),
            std::string::npos);
  Params zero({{"kind", "ivf"}, {"nprobe", "0"}});
  EXPECT_NE(error_of([&] { AnnOptions::from_params(zero); }).find("nprobe"), std::string::npos);
  Params quant({{"kind", "ivf"}, {"quantizer", "pq"}});
  EXPECT_NE(error_of([&] { AnnOptions::from_params(quant); }).find("quantizer"), std::string::npos);
  Params ok({{"kind", "ivf"},
             {"nlist", "4096"},
             {"nprobe", "64"},
             {"train_size", "262144"},
             {"quantizer", "hnsw"}});
  const AnnOptions parsed = AnnOptions::from_params(ok);
  EXPECT_EQ(parsed.kind, "ivf");
  EXPECT_EQ(parsed.nlist, 4096);
  EXPECT_EQ(parsed.nprobe, 64);
  EXPECT_EQ(parsed.train_size, 262144);
  EXPECT_EQ(parsed.quantizer, "hnsw");
  EXPECT_EQ(parsed.to_map().at("nlist"), "4096");
}

// A channel with an attached exact index answers top_n() exactly as the full scan does,
// still masking the history; the index survives save_recaller / load_recaller.
TEST(AnnIndex, IalsTopNThroughExactAndHnswIndex) {
  auto data = test::make_tiny_data();
  auto model = make_recaller("ials:factors=8,iters=5");
  model->fit(data.fit_input());
  std::vector<std::vector<ScoredItem>> scan;
  for (UserId u = 0; u < test::TinyData::kUsers; ++u)
    scan.push_back(model->top_n(data.query(u), 10));

  for (const char* kind : {"exact", "pruned", "hnsw"}) {
    AnnOptions o;
    o.kind = kind;
    const ItemVectorsView v = model->item_vectors();
    model->attach_index(std::make_shared<AnnIndex>(v.data, v.rows, v.dim, o));
    for (UserId u = 0; u < test::TinyData::kUsers; ++u) {
      auto r = model->top_n(data.query(u), 10);
      ASSERT_EQ(r.size(), scan[u].size()) << kind << " user " << u;
      // The user with no history has a zero vector: every item ties at 0, and HNSW may
      // return any of them (exact search still breaks ties by id).
      if (u == test::TinyData::kEmptyUser && std::string(kind) == "hnsw") continue;
      for (size_t j = 0; j < r.size(); ++j) {
        EXPECT_EQ(r[j].item, scan[u][j].item) << kind << " user " << u << " rank " << j;
        EXPECT_NEAR(r[j].score, scan[u][j].score, 1e-5);
      }
      for (ItemId h : data.train.row(u)) {
        for (const auto& s : r) EXPECT_NE(s.item, h) << "history item recommended";
      }
    }
  }
  test::TempDir dir("ann_ials");
  save_recaller(*model, dir.path() / "ials");
  auto loaded = load_recaller(dir.path() / "ials");
  ASSERT_NE(loaded->index(), nullptr);
  EXPECT_EQ(loaded->index()->options().kind, "hnsw");
  auto r = loaded->top_n(data.query(3), 5);
  for (size_t j = 0; j < r.size(); ++j) EXPECT_EQ(r[j].item, scan[3][j].item);

  // Detached: saving removes the stale index directory.
  model->attach_index(nullptr);
  save_recaller(*model, dir.path() / "ials");
  EXPECT_EQ(load_recaller(dir.path() / "ials")->index(), nullptr);
}

// Vectors whose lengths vary as a factor model's do: a log-normal length per row.
std::vector<float> lengths_varying(uint32_t rows, uint32_t dim, uint32_t seed, float sigma) {
  std::vector<float> v = random_vectors(rows, dim, seed);
  std::mt19937 rng(seed + 100);
  std::normal_distribution<float> g(0.f, sigma);
  for (uint32_t i = 0; i < rows; ++i) {
    const float len = std::exp(g(rng));
    for (uint32_t j = 0; j < dim; ++j) v[size_t(i) * dim + j] *= len;
  }
  return v;
}

TEST(AnnIndex, PrunedMatchesHandComputedOrderAndStopsAtTheLengthBound) {
  // Lengths 4, 3, 0.1, 0.1 (items 3, 0, 1, 2); query (1, 0): scores 3, 0.1, 0, 4 -> 3, 0, 1, 2.
  const std::vector<float> v = {3, 0, 0.1f, 0, 0, 0.1f, 4, 0};
  AnnOptions o;
  o.kind = "pruned";
  AnnIndex idx(v.data(), 4, 2, o);
  const std::vector<float> q = {1, 0};
  size_t scored = 0;
  auto r = idx.search(q, 2, {}, &scored);
  EXPECT_EQ(items_of(r), (std::vector<ItemId>{3, 0}));
  EXPECT_FLOAT_EQ(r[0].score, 4.f);
  EXPECT_FLOAT_EQ(r[1].score, 3.f);
  // Four rows are one block: all scored. Ties at 0 go to the lower id.
  EXPECT_EQ(scored, 4u);
  EXPECT_EQ(items_of(idx.search(q, 4)), (std::vector<ItemId>{3, 0, 1, 2}));
  const std::vector<ItemId> skip = {3};
  EXPECT_EQ(items_of(idx.search(q, 10, skip)), (std::vector<ItemId>{0, 1, 2}));
  EXPECT_TRUE(idx.search(q, 0).empty());

  // A NaN row neither breaks the length order nor enters the answer.
  std::vector<float> with_nan = v;
  with_nan[2] = NAN;  // item 1
  const AnnIndex nan_idx(with_nan.data(), 4, 2, o);
  EXPECT_EQ(items_of(nan_idx.search(q, 4)), (std::vector<ItemId>{3, 0, 2}));
}

TEST(AnnIndex, PrunedEqualsBruteForceAndScoresLessWhenLengthsVary) {
  const uint32_t n = 4000, d = 24;  // 24: a 16-float chunk and a scalar tail
  const auto skewed = lengths_varying(n, d, 11, 1.5f);
  auto queries = random_vectors(30, d, 12);
  AnnOptions o;
  o.kind = "pruned";
  const AnnIndex idx(skewed.data(), n, d, o);
  size_t total_scored = 0;
  for (uint32_t qi = 0; qi < 30; ++qi) {
    std::span<const float> q(queries.data() + size_t(qi) * d, d);
    const std::set<ItemId> skip_set = {qi, qi + 7, 3999};
    const std::vector<ItemId> skip(skip_set.rbegin(), skip_set.rend());  // any order
    size_t scored = 0;
    EXPECT_EQ(items_of(idx.search(q, 50, skip, &scored)), brute_top(skewed, d, q, 50, skip_set))
        << "query " << qi;
    total_scored += scored;
  }
  // With lengths spread over e^(+-3), the bound stops well before the end of the catalogue.
  EXPECT_LT(total_scored, 30u * n / 2);

  // Equal lengths: nothing can be pruned, and the answer is still exact.
  auto unit = random_vectors(n, d, 13);
  for (uint32_t i = 0; i < n; ++i) {
    double s = 0;
    for (uint32_t j = 0; j < d; ++j) s += double(unit[size_t(i) * d + j]) * unit[size_t(i) * d + j];
    for (uint32_t j = 0; j < d; ++j) unit[size_t(i) * d + j] /= static_cast<float>(std::sqrt(s));
  }
  const AnnIndex flat(unit.data(), n, d, o);
  std::span<const float> q(queries.data(), d);
  size_t scored = 0;
  EXPECT_EQ(items_of(flat.search(q, 20, {}, &scored)), brute_top(unit, d, q, 20));
  EXPECT_GT(scored, n * 9 / 10);
}

TEST(AnnIndex, PrunedSaveLoadRoundTripChecksTheVectors) {
  const uint32_t n = 300, d = 16;
  const auto v = lengths_varying(n, d, 21, 1.f);
  AnnOptions o;
  o.kind = "pruned";
  const AnnIndex idx(v.data(), n, d, o);
  EXPECT_EQ(idx.index_bytes(),
            size_t(n) * d * sizeof(float) + n * (sizeof(ItemId) + sizeof(float)));
  test::TempDir dir("ann_pruned");
  idx.save(dir.path() / "ann");
  auto loaded = AnnIndex::load(dir.path() / "ann", v.data(), n, d);
  EXPECT_EQ(loaded->options().kind, "pruned");
  const auto q = random_vectors(1, d, 22);
  const auto a = idx.search(q, 25), b = loaded->search(q, 25);
  ASSERT_EQ(a.size(), 25u);
  ASSERT_EQ(b.size(), 25u);
  for (size_t j = 0; j < a.size(); ++j) {
    EXPECT_EQ(a[j].item, b[j].item);
    EXPECT_EQ(a[j].score, b[j].score);
  }
  auto other = v;
  other[5] *= 2.f;
  EXPECT_NE(
      error_of([&] { AnnIndex::load(dir.path() / "ann", other.data(), n, d); }).find("rebuild"),
      std::string::npos);
}

TEST(AnnIndex, ChannelWithoutVectorsCannotTakeAnIndex) {
  auto data = test::make_tiny_data();
  auto pop = make_recaller("popularity");
  pop->fit(data.fit_input());
  std::vector<float> v(40 * 4, 0.f);
  auto idx = std::make_shared<AnnIndex>(v.data(), 40, 4, AnnOptions{});
  EXPECT_FALSE(error_of([&] { pop->attach_index(idx); }).empty());
  auto ials = make_recaller("ials:factors=8,iters=2");
  ials->fit(data.fit_input());
  EXPECT_NE(error_of([&] { ials->attach_index(idx); }).find("40 x 4"), std::string::npos);
}

TEST(AnnIndex, ChannelSpecReadsAnnMap) {
  auto specs = channel_specs_from_yaml(
      YAML::Load("ials: {factors: 8, ann: {kind: hnsw, m: 16, ef_search: 64}}\n"
                 "ease: {ann: {kind: none}}\n"
                 "popularity: {}\n"));
  ASSERT_EQ(specs.size(), 3u);
  ASSERT_TRUE(specs[0].ann.has_value());
  EXPECT_EQ(specs[0].ann->m, 16);
  EXPECT_EQ(specs[0].ann->ef_search, 64);
  EXPECT_EQ(specs[0].ann->ef_construction, 200);
  EXPECT_EQ(specs[0].spec(), "ials:factors=8");  // ann is not a model parameter
  EXPECT_FALSE(specs[1].ann.has_value());
  EXPECT_FALSE(specs[2].ann.has_value());
  EXPECT_NE(error_of([] {
              channel_specs_from_yaml(YAML::Load("ials: {ann: {kind: hnsw, mm: 3}}"));
            }).find("mm"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              channel_specs_from_yaml(YAML::Load("ials: {ann: 3}"));
            }).find("ann must be a map"),
            std::string::npos);
}

}  // namespace
}  // namespace cascade
