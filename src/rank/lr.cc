// Logistic-regression ranker: the linear baseline of the ranking stage (the classic CTR
// model: one weight per categorical value, per dense bucket and per dense value).
//
// Features of a row:
//  - every categorical (field, value) pair and every dense column's quantile bucket (`bins`
//    edges fitted on the training rows; NaN has its own bucket) is a sparse binary feature;
//  - every dense column's standardised value (DenseNormalizer: clipped z-score, NaN -> 0 plus
//    a present-indicator) is a continuous feature.
// Sparse features get weight slots through a dictionary filled in training order, so ids do
// not collide as long as the distinct (field, value) pairs fit in `capacity`; pairs beyond
// it, and pairs first met at scoring time, share `hash_buckets` hashed slots (a value never
// seen in training then reads a bucket trained by other rare values, not a random weight).
//
// Training: binary cross-entropy, AdaGrad (Duchi et al. 2011) with step `lr` and L2 `l2` on
// the touched weights, `epochs` passes over the rows in a seeded shuffled order. Single
// threaded (a pass over 150K rows takes well under a second).
//
// Parameters ("lr:bins=16,epochs=8,..."): bins [16] 2..256, capacity [1000000] 1..1e8,
// hash_buckets [65536] 1..1e8, lr [0.05] 1e-6..10, l2 [1e-6] 0..1, epochs [8] 1..1000,
// seed [-1 = the run's seed].
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <unordered_map>

#include "cascade/core/error.h"
#include "cascade/core/registry.h"
#include "cascade/io/artifact.h"
#include "cascade/rank/ranker.h"
#include "cascade/util/mix64.h"
#include "dense_norm.h"

namespace cascade {
namespace {

constexpr int kFormat = 1;

class LrRanker final : public Ranker {
 public:
  explicit LrRanker(Params p) {
    bins_ = static_cast<uint32_t>(p.get_int("bins", 16, 2, 256));
    capacity_ = static_cast<uint32_t>(p.get_int("capacity", 1000000, 1, 100000000));
    hash_buckets_ = static_cast<uint32_t>(p.get_int("hash_buckets", 65536, 1, 100000000));
    lr_ = p.get_double("lr", 0.05, 1e-6, 10);
    l2_ = p.get_double("l2", 1e-6, 0, 1);
    epochs_ = static_cast<int>(p.get_int("epochs", 8, 1, 1000));
    seed_ = p.get_int("seed", -1, -1, std::numeric_limits<int32_t>::max());
    p.check_unused("lr");
    params_ = p;
  }

  std::string kind() const override { return "lr"; }

  void fit(const RankTrainSet& train, const RankFitOptions& fo) override {
    train.validate();
    const RankBatch& b = train.batch;
    schema_ = b.schema;
    dataset_hash_ = fo.dataset_hash;
    norm_.fit(b);
    fit_edges(b);
    dict_.clear();
    // Slots: [0, dict) dictionary, then hash buckets, then continuous weights.
    std::vector<std::vector<uint32_t>> rows(b.rows());
    for (size_t r = 0; r < b.rows(); ++r) rows[r] = fit_slots(b, r);
    n_dict_ = static_cast<uint32_t>(dict_.size());
    for (auto& row : rows) resolve(row);
    const size_t n_cont = norm_.out_dim();
    w_.assign(static_cast<size_t>(n_dict_) + hash_buckets_ + n_cont, 0.0f);
    bias_ = 0;
    std::vector<float> g2(w_.size(), 0.0f);
    float g2_bias = 0;
    std::vector<float> x(n_cont);
    std::vector<size_t> order(b.rows());
    std::iota(order.begin(), order.end(), 0);
    std::mt19937_64 rng(seed_ >= 0 ? static_cast<uint64_t>(seed_) : fo.seed);
    const float eps = 1e-8f;
    const size_t cont0 = static_cast<size_t>(n_dict_) + hash_buckets_;
    for (int e = 0; e < epochs_; ++e) {
      std::shuffle(order.begin(), order.end(), rng);
      for (size_t r : order) {
        norm_.apply(b.dense_row(r), x.data());
        double z = bias_;
        for (uint32_t s : rows[r]) z += w_[s];
        for (size_t k = 0; k < n_cont; ++k) z += w_[cont0 + k] * x[k];
        const double p = 1.0 / (1.0 + std::exp(-z));
        const auto g = static_cast<float>(p - train.labels[r]);
        g2_bias += g * g;
        bias_ -= static_cast<float>(lr_) * g / (std::sqrt(g2_bias) + eps);
        for (uint32_t s : rows[r]) {
          const float gs = g + static_cast<float>(l2_) * w_[s];
          g2[s] += gs * gs;
          w_[s] -= static_cast<float>(lr_) * gs / (std::sqrt(g2[s]) + eps);
        }
        for (size_t k = 0; k < n_cont; ++k) {
          const float gs = g * x[k] + static_cast<float>(l2_) * w_[cont0 + k];
          g2[cont0 + k] += gs * gs;
          w_[cont0 + k] -= static_cast<float>(lr_) * gs / (std::sqrt(g2[cont0 + k]) + eps);
        }
      }
    }
    build_tables();
  }

  void score(const RankBatch& batch, std::span<float> out) const override {
    CASCADE_CHECK(!w_.empty(), "lr: score() before fit() or load()");
    check_schema(schema_, batch.schema, "lr");
    CASCADE_CHECK(out.size() == batch.rows(), "lr: one output per row");
    const size_t n_cont = norm_.out_dim();
    // Four rows at a time: each row's sum is one chain of dependent adds, so the rows' chains
    // are interleaved to overlap their latencies; every row still adds its terms in the same
    // order (the same bits as one row at a time). The leftover rows go one at a time.
    std::vector<float> x(4 * n_cont);
    size_t r0 = 0;
    for (; r0 + 4 <= batch.rows(); r0 += 4) score_rows<4>(batch, r0, x.data(), out);
    for (; r0 < batch.rows(); ++r0) score_rows<1>(batch, r0, x.data(), out);
  }

  // Rows r0 .. r0 + kRows - 1 into out. kRows is a constant so that the sums stay in registers
  // (with a run-time row count GCC kept them in memory: a store and a reload per term).
  template <size_t kRows>
  void score_rows(const RankBatch& batch, size_t r0, float* x, std::span<float> out) const {
    const size_t n_cont = norm_.out_dim(), cont0 = static_cast<size_t>(n_dict_) + hash_buckets_;
    const size_t nd = schema_.n_dense(), nf = schema_.n_fields();
    double z[kRows];
    for (size_t i = 0; i < kRows; ++i) {
      norm_.apply(batch.dense_row(r0 + i), x + i * n_cont);
      z[i] = bias_;
    }
    // The weights of the row's sparse features, read from the tables in fit_slots' order (so
    // the same sum as training's): one array read per feature instead of a hash lookup.
    for (size_t f = 0; f < nf; ++f)
#pragma GCC unroll 4
      for (size_t i = 0; i < kRows; ++i) z[i] += field_w_[f][batch.cats[(r0 + i) * nf + f]];
    for (size_t d = 0; d < nd; ++d) {
#pragma GCC unroll 4
      for (size_t i = 0; i < kRows; ++i) {
        const uint32_t b = bucket_of(edges_[d], batch.dense[(r0 + i) * nd + d]);
        z[i] += bucket_w_[d][b == kNanBucket ? edges_[d].size() + 1 : b];
      }
    }
    for (size_t k = 0; k < n_cont; ++k)
#pragma GCC unroll 4
      for (size_t i = 0; i < kRows; ++i) z[i] += w_[cont0 + k] * x[i * n_cont + k];
    for (size_t i = 0; i < kRows; ++i) out[r0 + i] = static_cast<float>(z[i]);
  }

  const FeatureSchema& schema() const override { return schema_; }
  Params params() const override { return params_.in_force(); }

  void save(const std::filesystem::path& dir) const override {
    CASCADE_CHECK(!w_.empty(), "lr: save() before fit()");
    ArtifactWriter w = model_writer(dir, "lr", kFormat, params_.resolved(), dataset_hash_);
    std::vector<uint64_t> keys(dict_.size());
    for (const auto& [k, s] : dict_) keys[s] = k;
    w.add_array("dict_keys.u64", keys);
    w.add_array("weights.f32", w_);
    std::vector<float> edges;
    std::vector<uint32_t> edge_count;
    for (const auto& e : edges_) {
      edges.insert(edges.end(), e.begin(), e.end());
      edge_count.push_back(static_cast<uint32_t>(e.size()));
    }
    w.add_array("edges.f32", edges);
    w.add_array("edge_count.u32", edge_count);
    norm_.save(w);
    w.meta()["bias"] = bias_;
    w.meta()["schema"] = schema_to_json(schema_);
    w.finish();
  }

  // Reads into a ranker built from the saved parameters (so params() reports them and a
  // failed load leaves this one unchanged), then takes it over.
  void load(const std::filesystem::path& dir) override {
    const ModelReader r(dir, "lr", kFormat);
    LrRanker m{Params(r.params())};
    m.schema_ = schema_from_json(r.field<nlohmann::json>("schema"));
    m.dataset_hash_ = r.dataset_hash();
    const auto keys = r.array<uint64_t>("dict_keys.u64");
    for (size_t s = 0; s < keys.size(); ++s) m.dict_.emplace(keys[s], static_cast<uint32_t>(s));
    m.n_dict_ = static_cast<uint32_t>(keys.size());
    const auto edges = r.array<float>("edges.f32");
    const auto edge_count = r.array<uint32_t>("edge_count.u32");
    CASCADE_CHECK(edge_count.size() == m.schema_.n_dense(),
                  fmt::format("{}: bucket edges for {} columns, schema has {}", dir.string(), edge_count.size(),
                              m.schema_.n_dense()));
    m.edges_.assign(edge_count.size(), {});
    size_t at = 0;
    for (size_t d = 0; d < edge_count.size(); ++d) {
      CASCADE_CHECK(at + edge_count[d] <= edges.size(), fmt::format("{}: bucket edges truncated", dir.string()));
      m.edges_[d].assign(edges.begin() + at, edges.begin() + at + edge_count[d]);
      at += edge_count[d];
    }
    m.norm_.load(r);
    m.w_ = r.array<float>("weights.f32");
    const size_t expected = static_cast<size_t>(m.n_dict_) + m.hash_buckets_ + m.norm_.out_dim();
    CASCADE_CHECK(m.w_.size() == expected, fmt::format("{}: weights.f32 has {} values, expected {}", dir.string(),
                                                       m.w_.size(), expected));
    m.bias_ = r.field<float>("bias");
    m.build_tables();
    *this = std::move(m);
  }

 private:
  // Quantile edges of each dense column over its finite training values (distinct values).
  void fit_edges(const RankBatch& b) {
    const size_t nd = schema_.n_dense();
    edges_.assign(nd, {});
    std::vector<float> v;
    for (size_t d = 0; d < nd; ++d) {
      v.clear();
      for (size_t r = 0; r < b.rows(); ++r) {
        const float x = b.dense[r * nd + d];
        if (!std::isnan(x)) v.push_back(x);
      }
      if (v.empty()) continue;
      std::sort(v.begin(), v.end());
      for (uint32_t q = 1; q < bins_; ++q) {
        const float e = v[std::min(v.size() - 1, v.size() * q / bins_)];
        if (edges_[d].empty() || e > edges_[d].back()) edges_[d].push_back(e);
      }
    }
  }

  // Sparse feature keys: (column << 1 | is_dense) << 32 | value, a dense column's value being
  // its bucket (kNanBucket for NaN).
  static constexpr uint32_t kNanBucket = 0xffffffffu;
  static uint64_t field_key(size_t f, uint32_t value) { return (uint64_t{f} << 1) << 32 | value; }
  static uint64_t bucket_key(size_t d, uint32_t bucket) {
    return ((uint64_t{d} << 1) | 1) << 32 | bucket;
  }
  // upper_bound's index in a column's edges (they ascend strictly): the count of edges <= v,
  // counted without branches (a binary search over ~15 edges mispredicts on most columns).
  static uint32_t bucket_of(const std::vector<float>& edges, float v) {
    if (std::isnan(v)) return kNanBucket;
    uint32_t b = 0;
    for (const float e : edges) b += e <= v;
    return b;
  }

  // Slot ids of training row r's sparse features, filling the dictionary: keys past its
  // capacity get hashed buckets, returned flagged and resolved once the dictionary's size is
  // final (resolve).
  std::vector<uint32_t> fit_slots(const RankBatch& b, size_t r) {
    std::vector<uint32_t> slots;
    const size_t nd = schema_.n_dense(), nf = schema_.n_fields();
    slots.reserve(nd + nf);
    auto slot = [&](uint64_t key) {
      auto it = dict_.find(key);
      if (it != dict_.end()) return it->second;
      if (dict_.size() < capacity_) {
        const auto s = static_cast<uint32_t>(dict_.size());
        dict_.emplace(key, s);
        return s;
      }
      return kBucketFlag | static_cast<uint32_t>(mix64(key) % hash_buckets_);
    };
    for (size_t f = 0; f < nf; ++f) slots.push_back(slot(field_key(f, b.cats[r * nf + f])));
    for (size_t d = 0; d < nd; ++d)
      slots.push_back(slot(bucket_key(d, bucket_of(edges_[d], b.dense[r * nd + d]))));
    return slots;
  }

  // The weight of every sparse feature scoring can meet, by (field, value) and (column,
  // bucket; NaN last): the dictionary's slot, or for a key it lacks (past capacity, or never
  // seen in training) its hashed bucket after the dictionary. Values are below their field's
  // cardinality (RankBatch::validate), so the field tables cover them all.
  void build_tables() {
    auto weight = [&](uint64_t key) {
      auto it = dict_.find(key);
      return w_[it != dict_.end() ? it->second
                                  : n_dict_ + static_cast<uint32_t>(mix64(key) % hash_buckets_)];
    };
    field_w_.assign(schema_.n_fields(), {});
    for (size_t f = 0; f < schema_.n_fields(); ++f)
      for (uint32_t v = 0; v < schema_.fields[f].cardinality; ++v)
        field_w_[f].push_back(weight(field_key(f, v)));
    bucket_w_.assign(schema_.n_dense(), {});
    for (size_t d = 0; d < schema_.n_dense(); ++d) {
      for (uint32_t b = 0; b <= edges_[d].size(); ++b)
        bucket_w_[d].push_back(weight(bucket_key(d, b)));
      bucket_w_[d].push_back(weight(bucket_key(d, kNanBucket)));
    }
  }

  void resolve(std::vector<uint32_t>& slots) const {
    for (auto& s : slots) if (s & kBucketFlag) s = n_dict_ + (s & ~kBucketFlag);
  }

  static constexpr uint32_t kBucketFlag = 0x80000000u;

  uint32_t bins_ = 16, capacity_ = 1000000, hash_buckets_ = 65536;
  double lr_ = 0.05, l2_ = 1e-6;
  int epochs_ = 8;
  int64_t seed_ = -1;
  Params params_;
  FeatureSchema schema_;
  std::string dataset_hash_;
  DenseNormalizer norm_;
  std::vector<std::vector<float>> edges_;
  std::unordered_map<uint64_t, uint32_t> dict_;
  uint32_t n_dict_ = 0;
  std::vector<float> w_;
  float bias_ = 0;
  std::vector<std::vector<float>> field_w_, bucket_w_;  // build_tables()
};

}  // namespace

CASCADE_REGISTER_RANKER(LrRanker, "lr");

}  // namespace cascade
