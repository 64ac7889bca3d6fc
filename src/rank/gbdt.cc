#include "cascade/rank/gbdt.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <xgboost/c_api.h>

#include <cmath>
#include <limits>
#include <memory>
#include <numeric>
#include <thread>

#include "cascade/core/error.h"
#include "cascade/util/cancel.h"
#include "cascade/util/fast_paths.h"
#include "cascade/util/progress.h"
#include "rank/gbdt_forest.h"

namespace cascade {

namespace {

// Every XGBoost call goes through here: a non-zero return becomes a cascade::Error with
// XGBoost's own message.
void check(int rc, const char* what) {
  if (rc != 0) throw Error(fmt::format("xgboost: {} failed: {}", what, XGBGetLastError()));
}

struct DMatrix {
  DMatrixHandle h = nullptr;
  ~DMatrix() {
    if (h) XGDMatrixFree(h);
  }
};

std::unique_ptr<DMatrix> make_matrix(std::span<const float> x, size_t rows, size_t cols, int threads) {
  CASCADE_CHECK(cols > 0, "gbdt: the feature matrix has no columns");
  CASCADE_CHECK(x.size() == rows * cols,
                fmt::format("gbdt: {} feature values for {} rows x {} columns", x.size(), rows, cols));
  auto m = std::make_unique<DMatrix>();
  check(XGDMatrixCreateFromMat_omp(x.data(), rows, cols, std::numeric_limits<float>::quiet_NaN(), &m->h, threads),
        "creating the feature matrix");
  return m;
}

const char* const kObjectives[] = {"binary:logistic", "rank:ndcg", "rank:pairwise", "rank:map"};

}  // namespace

GbdtOptions GbdtOptions::from_params(Params& p) {
  GbdtOptions o;
  o.objective = p.get_string("objective", o.objective, {std::begin(kObjectives), std::end(kObjectives)});
  o.rounds = static_cast<int>(p.get_int("rounds", 200, 1, 100000));
  o.max_depth = static_cast<int>(p.get_int("max_depth", 6, 1, 64));
  o.eta = p.get_double("eta", 0.1, 1e-6, 1.0);
  o.subsample = p.get_double("subsample", 1.0, 0.01, 1.0);
  o.colsample = p.get_double("colsample", 1.0, 0.01, 1.0);
  o.min_child_weight = p.get_double("min_child_weight", 1.0, 0.0, 1e9);
  o.lambda = p.get_double("lambda", 1.0, 0.0, 1e9);
  o.threads = static_cast<int>(p.get_int("threads", 0, 0, 1024));
  o.seed = p.get_int("seed", 42, -1, std::numeric_limits<int32_t>::max());
  return o;
}

Gbdt::~Gbdt() {
  if (booster_) XGBoosterFree(booster_);
}

Gbdt::Gbdt(Gbdt&& o) noexcept
    : booster_(o.booster_),
      cols_(o.cols_),
      predict_threads_(o.predict_threads_),
      forest_(std::move(o.forest_)) {
  o.booster_ = nullptr;
}

Gbdt& Gbdt::operator=(Gbdt&& o) noexcept {
  if (this != &o) {
    if (booster_) XGBoosterFree(booster_);
    booster_ = o.booster_;
    cols_ = o.cols_;
    predict_threads_ = o.predict_threads_;
    forest_ = std::move(o.forest_);
    o.booster_ = nullptr;
  }
  return *this;
}

void Gbdt::fit(std::span<const float> x, size_t rows, size_t cols, std::span<const float> labels,
               std::span<const uint32_t> groups, const GbdtOptions& opt) {
  CASCADE_CHECK(rows > 0, "gbdt: no training rows");
  CASCADE_CHECK(labels.size() == rows, fmt::format("gbdt: {} labels for {} rows", labels.size(), rows));
  for (size_t i = 0; i < rows; ++i) {
    CASCADE_CHECK(std::isfinite(labels[i]), fmt::format("gbdt: label of row {} is not finite", i));
    if (opt.objective == "binary:logistic") {
      CASCADE_CHECK(labels[i] >= 0 && labels[i] <= 1,
                    fmt::format("gbdt: binary:logistic needs labels in [0, 1]; row {} has {}", i, labels[i]));
    }
  }
  const int threads = opt.threads > 0 ? opt.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  auto m = make_matrix(x, rows, cols, threads);
  check(XGDMatrixSetFloatInfo(m->h, "label", labels.data(), rows), "setting labels");
  if (opt.ranking()) {
    CASCADE_CHECK(!groups.empty(), fmt::format("gbdt: objective {} needs query groups", opt.objective));
    const uint64_t total = std::accumulate(groups.begin(), groups.end(), uint64_t{0});
    CASCADE_CHECK(total == rows, fmt::format("gbdt: query groups cover {} rows, the matrix has {}", total, rows));
    check(XGDMatrixSetUIntInfo(m->h, "group", groups.data(), groups.size()), "setting query groups");
  }
  BoosterHandle b = nullptr;
  check(XGBoosterCreate(&m->h, 1, &b), "creating the booster");
  Gbdt fresh;
  fresh.booster_ = b;
  fresh.cols_ = cols;
  const std::pair<const char*, std::string> params[] = {
      {"objective", opt.objective},
      {"max_depth", std::to_string(opt.max_depth)},
      {"eta", fmt::format("{}", opt.eta)},
      {"subsample", fmt::format("{}", opt.subsample)},
      {"colsample_bytree", fmt::format("{}", opt.colsample)},
      {"min_child_weight", fmt::format("{}", opt.min_child_weight)},
      {"lambda", fmt::format("{}", opt.lambda)},
      {"nthread", std::to_string(threads)},
      {"seed", std::to_string(opt.seed < 0 ? 42 : opt.seed)},
      {"tree_method", "hist"},
      {"verbosity", "0"},
  };
  for (const auto& [k, v] : params) check(XGBoosterSetParam(b, k, v.c_str()), k);
  Progress progress("gbdt", static_cast<uint64_t>(opt.rounds), "rounds");
  for (int it = 0; it < opt.rounds; ++it) {
    check_cancelled();
    check(XGBoosterUpdateOneIter(b, it, m->h), "a boosting round");
    progress.add();
  }
  *this = std::move(fresh);
  predict_threads_ = threads;
  compile_forest(to_bytes());
}

void Gbdt::compile_forest(std::string_view ubj) {
  std::string why;
  forest_ = GbdtForest::compile(ubj, cols_, &why);
  if (!forest_) spdlog::debug("gbdt: predicting through XGBoost ({})", why);
}

void Gbdt::set_predict_threads(int threads) {
  CASCADE_CHECK(booster_ != nullptr, "gbdt: set_predict_threads() before fit() or from_bytes()");
  CASCADE_CHECK(threads > 0, "gbdt: predict threads must be > 0");
  check(XGBoosterSetParam(booster_, "nthread", std::to_string(threads).c_str()), "nthread");
  predict_threads_ = threads;
}

std::vector<float> Gbdt::predict(std::span<const float> x, size_t rows) const {
  CASCADE_CHECK(booster_ != nullptr, "gbdt: predict() before fit() or from_bytes()");
  if (rows == 0) return {};
  if (forest_ && fast_paths()) {
    std::vector<float> out(rows);
    forest_->predict(x, rows, out);
    return out;
  }
  return predict_xgboost(x, rows);
}

std::vector<float> Gbdt::predict_xgboost(std::span<const float> x, size_t rows) const {
  CASCADE_CHECK(booster_ != nullptr, "gbdt: predict() before fit() or from_bytes()");
  if (rows == 0) return {};
  auto m = make_matrix(x, rows, cols_, predict_threads_);
  const char* config = R"({"type": 0, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": false})";
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* out = nullptr;
  check(XGBoosterPredictFromDMatrix(booster_, m->h, config, &shape, &dim, &out), "prediction");
  return std::vector<float>(out, out + rows);
}

std::string Gbdt::to_bytes() const {
  CASCADE_CHECK(booster_ != nullptr, "gbdt: to_bytes() before fit()");
  bst_ulong len = 0;
  const char* data = nullptr;
  check(XGBoosterSaveModelToBuffer(booster_, R"({"format": "ubj"})", &len, &data), "saving the model");
  return std::string(data, len);
}

Gbdt Gbdt::from_bytes(std::string_view bytes, size_t cols) {
  CASCADE_CHECK(!bytes.empty(), "gbdt: empty model bytes");
  CASCADE_CHECK(cols > 0, "gbdt: a model needs at least one feature");
  BoosterHandle b = nullptr;
  check(XGBoosterCreate(nullptr, 0, &b), "creating the booster");
  Gbdt g;
  g.booster_ = b;
  g.cols_ = cols;
  check(XGBoosterLoadModelFromBuffer(b, bytes.data(), bytes.size()), "loading the model");
  bst_ulong n_features = 0;
  check(XGBoosterGetNumFeature(b, &n_features), "reading the feature count");
  CASCADE_CHECK(n_features == cols,
                fmt::format("gbdt: the model was trained on {} features, {} expected", n_features, cols));
  g.set_predict_threads(1);
  g.compile_forest(bytes);
  return g;
}

}  // namespace cascade
