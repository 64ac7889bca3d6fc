// GBDT ranker: XGBoost (Chen & Guestrin 2016) over the dense feature columns plus the small
// categorical fields as integer codes. The user and item id fields are left out by default
// (`ids=false`): a tree splitting on an id's integer value learns nothing that transfers,
// and the collaborative signal already arrives through the channel scores.
//
// Objectives: rank:ndcg (LambdaMART over each request's rows, the default), rank:pairwise,
// rank:map, binary:logistic. Parameters ("gbdt:objective=rank:ndcg,rounds=300,..."):
//   objective, rounds [300], max_depth [6], eta [0.05], subsample [0.8], colsample [0.8],
//   min_child_weight [1], lambda [1], threads [0 = hardware], seed [-1 = the run's seed],
//   ids [false] (see GbdtOptions in rank/gbdt.h for ranges).
#include <fmt/format.h>

#include "cascade/core/error.h"
#include "cascade/core/registry.h"
#include "cascade/io/artifact.h"
#include "cascade/rank/gbdt.h"
#include "cascade/rank/ranker.h"

namespace cascade {
namespace {

constexpr int kFormat = 1;

class GbdtRanker final : public Ranker {
 public:
  explicit GbdtRanker(Params p) {
    if (!p.has("objective")) p.set("objective", "rank:ndcg");
    if (!p.has("rounds")) p.set("rounds", "300");
    if (!p.has("eta")) p.set("eta", "0.05");
    if (!p.has("subsample")) p.set("subsample", "0.8");
    if (!p.has("colsample")) p.set("colsample", "0.8");
    if (!p.has("seed")) p.set("seed", "-1");
    opt_ = GbdtOptions::from_params(p);
    ids_ = p.get_bool("ids", false);
    p.check_unused("gbdt");
    params_ = p;
  }

  std::string kind() const override { return "gbdt"; }

  void fit(const RankTrainSet& train, const RankFitOptions& fo) override {
    train.validate();
    schema_ = train.batch.schema;
    choose_columns();
    GbdtOptions o = opt_;
    if (o.seed < 0) o.seed = static_cast<int64_t>(fo.seed & 0x7fffffff);
    if (o.threads == 0) o.threads = fo.threads;
    std::vector<uint32_t> groups(train.batch.groups());
    for (size_t g = 0; g < groups.size(); ++g) {
      groups[g] = train.batch.group_begin[g + 1] - train.batch.group_begin[g];
    }
    const auto x = matrix(train.batch);
    model_.fit(x, train.batch.rows(), cols(), train.labels, groups, o);
    model_.set_predict_threads(1);  // one request per call; callers parallelise over requests
    dataset_hash_ = fo.dataset_hash;
  }

  void score(const RankBatch& batch, std::span<float> out) const override {
    CASCADE_CHECK(model_.fitted(), "gbdt: score() before fit() or load()");
    check_schema(schema_, batch.schema, "gbdt");
    CASCADE_CHECK(out.size() == batch.rows(), "gbdt: one output per row");
    if (batch.rows() == 0) return;
    const auto p = model_.predict(matrix(batch), batch.rows());
    std::copy(p.begin(), p.end(), out.begin());
  }

  const FeatureSchema& schema() const override { return schema_; }
  Params params() const override { return params_.in_force(); }

  void save(const std::filesystem::path& dir) const override {
    CASCADE_CHECK(model_.fitted(), "gbdt: save() before fit()");
    ArtifactWriter w = model_writer(dir, "gbdt", kFormat, params_.resolved(), dataset_hash_);
    w.add_blob("model.ubj", model_.to_bytes());
    w.meta()["schema"] = schema_to_json(schema_);
    w.finish();
  }

  // Reads into a ranker built from the saved parameters (so params() reports them and a
  // failed load leaves this one unchanged), then takes it over.
  void load(const std::filesystem::path& dir) override {
    const ModelReader r(dir, "gbdt", kFormat);
    GbdtRanker m{Params(r.params())};
    m.schema_ = schema_from_json(r.field<nlohmann::json>("schema"));
    m.dataset_hash_ = r.dataset_hash();
    m.choose_columns();
    m.model_ = Gbdt::from_bytes(r.blob("model.ubj"), m.cols());
    m.model_.set_predict_threads(1);
    *this = std::move(m);
  }

 private:
  size_t cols() const { return schema_.n_dense() + fields_.size(); }

  void choose_columns() {
    fields_.clear();
    for (size_t f = 0; f < schema_.n_fields(); ++f) {
      const auto& name = schema_.fields[f].name;
      if (!ids_ && (name == "user" || name == "item")) continue;
      fields_.push_back(f);
    }
  }

  std::vector<float> matrix(const RankBatch& b) const {
    const size_t nd = schema_.n_dense(), nf = schema_.n_fields(), c = cols();
    std::vector<float> x(b.rows() * c);
    for (size_t r = 0; r < b.rows(); ++r) {
      float* row = x.data() + r * c;
      std::copy_n(b.dense.data() + r * nd, nd, row);
      for (size_t k = 0; k < fields_.size(); ++k) row[nd + k] = static_cast<float>(b.cats[r * nf + fields_[k]]);
    }
    return x;
  }

  GbdtOptions opt_;
  bool ids_ = false;
  Params params_;
  FeatureSchema schema_;
  std::vector<size_t> fields_;
  Gbdt model_;
  std::string dataset_hash_;
};

}  // namespace

CASCADE_REGISTER_RANKER(GbdtRanker, "gbdt");

}  // namespace cascade
