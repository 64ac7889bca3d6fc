#include "rank/neural_ranker.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <Eigen/Dense>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>

#include "cascade/core/error.h"
#include "cascade/util/stopwatch.h"
#include "cascade/util/strings.h"
#include "nn/eigen_threads.h"
#include "nn/train_loop.h"

namespace cascade {

NeuralTrainParams NeuralTrainParams::read(Params& p, const Defaults& d) {
  NeuralTrainParams t;
  t.loss = p.get_string("loss", "listwise", {"bce", "listwise"});
  t.epochs = static_cast<int>(p.get_int("epochs", 10, 1, 10000));
  t.batch = static_cast<int>(p.get_int("batch", d.batch, 1, d.max_batch));
  t.lr = p.get_double("lr", 1e-3, 1e-6, 1.0);
  t.weight_decay = p.get_double("weight_decay", 1e-4, 0.0, 1.0);
  t.dropout = p.get_double("dropout", 0.1, 0.0, 0.9);
  t.patience = static_cast<int>(p.get_int("patience", 3, 0, 10000));
  t.seed = p.get_int("seed", -1, -1, std::numeric_limits<int64_t>::max());
  t.torch_threads = static_cast<int>(p.get_int("torch_threads", 1, 0, 1024));
  // Read only when given, so the parameters in force of a model without it stay as they were.
  if (d.item_table && p.has("item_init")) {
    t.item_init = p.get_string("item_init", "");
    if (t.item_init == "none") t.item_init.clear();
  }
  if (d.item_table && p.has("freeze_items")) t.freeze_items = p.get_bool("freeze_items", false);
  return t;
}

NeuralRanker::NeuralRanker(std::string kind, int format_version, Params params,
                           const NeuralTrainParams::Defaults& defaults)
    : kind_(std::move(kind)), format_version_(format_version), params_(std::move(params)) {
  train_ = NeuralTrainParams::read(params_, defaults);
}

void NeuralRanker::check_supported(const FeatureSchema& schema) const {
  CASCADE_CHECK(schema.n_items > 0, fmt::format("{}: the feature schema has n_items 0", kind_));
}

void NeuralRanker::fit(const RankTrainSet& train, const RankFitOptions& opt) {
  train.validate();
  const RankBatch& b = train.batch;
  CASCADE_CHECK(b.rows() > 0, fmt::format("{}: fit() on an empty training set", kind_));
  check_supported(b.schema);
  if (opt.valid != nullptr) {
    opt.valid->validate();
    check_schema(b.schema, opt.valid->batch.schema, kind_ + ": validation set");
  }
  const uint64_t seed = train_.seed >= 0 ? static_cast<uint64_t>(train_.seed) : opt.seed;
  nn::TorchSession session(train_.torch_threads > 0 ? train_.torch_threads : opt.threads, seed);
  const Stopwatch watch;

  fitted_ = false;
  item_init_from_.clear();
  schema_ = b.schema;
  norm_.fit(b);
  build_net();
  if (!train_.item_init.empty()) init_item_embedding(opt);
  // AdamW skips a parameter without a gradient, weight decay included.
  if (train_.freeze_items) item_embedding().requires_grad_(false);
  torch::optim::AdamW optim(
      module().parameters(),
      torch::optim::AdamWOptions(train_.lr).weight_decay(train_.weight_decay));
  const std::function<double()> epoch = epoch_trainer(train, optim, seed);
  std::function<double(int, double)> validate;
  if (opt.valid != nullptr) {
    // Scored through the serving forward: the model is selected as it will serve.
    validate = [&](int, double) {
      finish_model();
      std::vector<float> s(opt.valid->batch.rows());
      score(opt.valid->batch, s);
      return grouped_auc(opt.valid->batch, opt.valid->labels, s);
    };
  }
  nn::EpochPlan plan{.who = kind_,
                     .epochs = train_.epochs,
                     .patience = train_.patience,
                     .eval_every = 1,
                     .metric = "valid grouped AUC"};
  const nn::EpochsRun run = nn::run_epochs(
      module(), plan, [&](int) { return epoch(); }, validate);
  finish_model();
  dataset_hash_ = opt.dataset_hash;
  fit_seed_ = seed;
  best_epoch_ = run.best_epoch;
  spdlog::info("{}: {} rows, {} groups, {} dense -> {}, {} fields, loss {}: {:.1f}s", kind_,
               b.rows(), b.groups(), b.schema.n_dense(), norm_.out_dim(), b.schema.n_fields(),
               train_.loss, watch.seconds());
}

void NeuralRanker::init_item_embedding(const RankFitOptions& opt) {
  // Channels tried in order ("sasrec|two_tower|none"); "none" = random embeddings when no channel
  // before it is in this funnel. A channel that is the last choice must be there.
  const std::vector<std::string> choices = split(train_.item_init, '|');
  for (size_t k = 0; k < choices.size(); ++k) {
    const std::string& channel = choices[k];
    const bool last = k + 1 == choices.size();
    if (channel == "none") {
      spdlog::info("{}: item_init={}: random item embeddings (no channel before 'none' here)",
                   kind_, train_.item_init);
      item_init_from_ = "none";
      return;
    }
    if (opt.item_tables == nullptr) {
      CASCADE_CHECK(!last, fmt::format("{}: item_init={} needs the recall channels; fit it "
                                       "through the funnel (cascade train / bundle / bench funnel)",
                                       kind_, train_.item_init));
      continue;
    }
    ItemTable t;
    try {
      t = opt.item_tables(channel);
    } catch (const Error& e) {
      if (last) throw;
      spdlog::info("{}: item_init: {}; trying {}", kind_, e.what(), choices[k + 1]);
      continue;
    }
    init_item_embedding_from(channel, t);
    item_init_from_ = channel;
    return;
  }
}

void NeuralRanker::init_item_embedding_from(const std::string& channel, const ItemTable& t) {
  CASCADE_CHECK(t.rows == schema_.n_items && t.dim > 0 &&
                    t.values.size() == static_cast<size_t>(t.rows) * t.dim,
                fmt::format("{}: item_init={}: the channel has {} item vectors of {} floats, the "
                            "feature schema {} items",
                            kind_, channel, t.rows, t.dim, schema_.n_items));
  torch::Tensor w = item_embedding();
  CASCADE_CHECK(w.defined() && w.dim() == 2 && w.size(0) == static_cast<int64_t>(t.rows) + 1,
                fmt::format("{}: no item table to initialise", kind_));
  // The random init's scale (std 0.1 per entry), so the products the model forms (DIN's h * t,
  // BST's attention) start where they do with random embeddings.
  constexpr double kInitRms = 0.1;
  double kept = 0;
  const auto out_dim = static_cast<uint32_t>(w.size(1));
  std::vector<float> proj = leading_item_projection(t, out_dim, kInitRms, &kept);
  const int64_t k = std::min<int64_t>(out_dim, t.dim);
  torch::NoGradGuard no_grad;
  // Columns past the channel's width keep their random init; row 0 (padding) stays zero.
  w.narrow(0, 1, t.rows)
      .narrow(1, 0, k)
      .copy_(torch::from_blob(proj.data(), {static_cast<int64_t>(t.rows), k}));
  spdlog::info(
      "{}: item embeddings start from {}'s item vectors ({} -> {} dims, {:.0f}% of their "
      "squared norm kept)",
      kind_, channel, t.dim, out_dim, 100.0 * kept);
}

void NeuralRanker::check_scorable(const RankBatch& batch, std::span<float> out) const {
  CASCADE_CHECK(fitted_, fmt::format("{}: score() before fit() or load()", kind_));
  check_schema(schema_, batch.schema, kind_);
  CASCADE_CHECK(
      out.size() == batch.rows(),
      fmt::format("{}: score() output has {} slots for {} rows", kind_, out.size(), batch.rows()));
  batch.validate();
}

void NeuralRanker::score(const RankBatch& batch, std::span<float> out) const {
  check_scorable(batch, out);
  nn::SingleThreadedEigen single;
  for (size_t g = 0; g < batch.groups(); ++g) score_group(batch, g, out);
}

bool NeuralRanker::score_attended(const RankBatch& batch, std::span<float> out,
                                  HistoryAttention& att) const {
  if (!attends()) {
    score(batch, out);
    return false;
  }
  check_scorable(batch, out);
  // Row r of group g owns |history of g| weights; rows of a group are contiguous.
  att.begin.assign(batch.rows() + 1, 0);
  for (size_t g = 0; g < batch.groups(); ++g) {
    const size_t len = batch.group_history(g).size();
    for (uint32_t r = batch.group_begin[g]; r < batch.group_begin[g + 1]; ++r)
      att.begin[r + 1] = att.begin[r] + static_cast<uint32_t>(len);
  }
  att.weights.assign(att.begin.back(), 0.0f);
  nn::SingleThreadedEigen single;
  for (size_t g = 0; g < batch.groups(); ++g)
    score_group_attended(batch, g, out, att.weights.data() + att.begin[batch.group_begin[g]],
                         att.normalised);
  return true;
}

void NeuralRanker::save(const std::filesystem::path& dir) const {
  CASCADE_CHECK(fitted_, fmt::format("{}: save() before fit()", kind_));
  ArtifactWriter w = model_writer(dir, kind_, format_version_, params_.resolved(), dataset_hash_);
  w.meta()["schema"] = schema_to_json(schema_);
  w.meta()["fit_seed"] = fit_seed_;
  w.meta()["best_epoch"] = best_epoch_;
  if (!train_.item_init.empty()) w.meta()["item_init_from"] = item_init_from_;
  save_extra(w);
  norm_.save(w);
  nn::save_module(w, module());
  w.finish();
}

void NeuralRanker::load(const std::filesystem::path& dir) {
  const ModelReader r(dir, kind_, format_version_);
  std::unique_ptr<NeuralRanker> loaded = with_params(Params(r.params()));
  loaded->restore(r);
  adopt(std::move(*loaded));
}

void NeuralRanker::restore(const ModelReader& r) {
  try {
    schema_ = schema_from_json(r.field<nlohmann::json>("schema"));
  } catch (const nlohmann::json::exception& e) {
    r.bad(e.what());
  }
  try {
    check_supported(schema_);
    norm_.load(r);
    CASCADE_CHECK(
        norm_.in_dim() == schema_.n_dense(),
        fmt::format("normaliser has {} columns, the schema {}", norm_.in_dim(), schema_.n_dense()));
    check_extra(r);
    build_net();
    nn::load_module(r, module());
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", r.dir().string(), e.what()));
  }
  dataset_hash_ = r.dataset_hash();
  fit_seed_ = r.field_or<uint64_t>("fit_seed", 0);
  best_epoch_ = r.field_or<int>("best_epoch", 0);
  item_init_from_ = r.field_or<std::string>("item_init_from", "");
  finish_model();
}

// Eval mode + the serving copy of the weights.
void NeuralRanker::finish_model() {
  torch::NoGradGuard no_grad;
  module().eval();
  copy_serving();
  fitted_ = true;
}

std::vector<float> NeuralRanker::torch_scores(const Ranker& model, const std::string& kind,
                                              const RankBatch& batch) {
  const auto* m = dynamic_cast<const NeuralRanker*>(&model);
  CASCADE_CHECK(m != nullptr && m->kind_ == kind,
                fmt::format("{}::torch_scores: '{}' is not a {} ranker", kind, model.kind(), kind));
  CASCADE_CHECK(m->fitted_, fmt::format("{}: torch_scores() before fit() or load()", kind));
  check_schema(m->schema_, batch.schema, kind);
  batch.validate();
  CASCADE_CHECK(!m->module().is_training(),
                fmt::format("{}: torch_scores() on a module in training mode", kind));
  if (batch.rows() == 0) return {};
  torch::NoGradGuard no_grad;
  return m->torch_forward(batch);
}

GroupBatches::GroupBatches(const RankTrainSet& train, const NeuralTrainParams& p,
                           uint64_t shuffle_seed)
    : train_(&train),
      listwise_(p.listwise()),
      batch_(static_cast<size_t>(p.batch)),
      rng_(shuffle_seed) {
  order_.resize(listwise_ ? train.batch.groups() : train.batch.rows());
  std::iota(order_.begin(), order_.end(), 0u);
}

double GroupBatches::epoch(torch::optim::Optimizer& opt, const Forward& forward) {
  const RankBatch& b = train_->batch;
  std::shuffle(order_.begin(), order_.end(), rng_);
  double loss_sum = 0;
  int64_t loss_n = 0;
  for (size_t i = 0; i < order_.size();) {
    rows_.clear();
    seg_.assign(1, 0);
    if (listwise_) {
      while (i < order_.size() && rows_.size() < batch_) {
        const uint32_t g = order_[i++];
        for (uint32_t r = b.group_begin[g]; r < b.group_begin[g + 1]; ++r) rows_.push_back(r);
        seg_.push_back(static_cast<uint32_t>(rows_.size()));
      }
    } else {
      const size_t n = std::min(batch_, order_.size() - i);
      rows_.assign(order_.begin() + static_cast<std::ptrdiff_t>(i),
                   order_.begin() + static_cast<std::ptrdiff_t>(i + n));
      i += n;
    }
    if (rows_.empty()) continue;
    std::vector<float> y(rows_.size());
    for (size_t k = 0; k < rows_.size(); ++k) y[k] = train_->labels[rows_[k]];
    const auto yt = nn::from_vector(y, {static_cast<int64_t>(y.size())});
    const auto logits = forward(rows_);
    torch::Tensor loss;
    int64_t weight = static_cast<int64_t>(rows_.size());
    if (listwise_) {
      std::vector<torch::Tensor> losses;
      for (size_t s = 0; s + 1 < seg_.size(); ++s) {
        const int64_t o = seg_[s], n = seg_[s + 1] - seg_[s];
        const float pos = std::accumulate(y.begin() + o, y.begin() + o + n, 0.0f);
        if (pos <= 0) continue;
        losses.push_back(
            -(torch::log_softmax(logits.narrow(0, o, n), 0) * yt.narrow(0, o, n)).sum() / pos);
      }
      if (losses.empty()) continue;
      loss = torch::stack(losses).mean();
      weight = static_cast<int64_t>(losses.size());
    } else {
      loss = torch::binary_cross_entropy_with_logits(logits, yt);
    }
    opt.zero_grad();
    loss.backward();
    opt.step();
    loss_sum += loss.item<double>() * static_cast<double>(weight);
    loss_n += weight;
  }
  return loss_sum / static_cast<double>(std::max<int64_t>(1, loss_n));
}

RowTensors row_tensors(const RankBatch& b, const std::vector<float>& dense, size_t n_dense,
                       std::span<const uint32_t> rows) {
  const auto B = static_cast<int64_t>(rows.size());
  const size_t nf = b.schema.n_fields();
  std::vector<int64_t> target(rows.size()), cats(rows.size() * nf);
  std::vector<float> dn(rows.size() * n_dense);
  for (size_t i = 0; i < rows.size(); ++i) {
    const uint32_t r = rows[i];
    target[i] = static_cast<int64_t>(b.items[r]) + 1;
    for (size_t f = 0; f < nf; ++f) cats[i * nf + f] = b.cats[r * nf + f];
    std::copy_n(dense.data() + r * n_dense, n_dense, dn.data() + i * n_dense);
  }
  RowTensors t;
  t.target = nn::from_ids(target, {B});
  t.cats = nn::from_ids(cats, {B, static_cast<int64_t>(nf)});
  t.dense = nn::from_vector(dn, {B, static_cast<int64_t>(n_dense)});
  return t;
}

std::vector<float> leading_item_projection(const ItemTable& table, uint32_t out_dim, double rms,
                                           double* kept) {
  CASCADE_CHECK(table.rows > 0 && table.dim > 0 &&
                    table.values.size() == static_cast<size_t>(table.rows) * table.dim,
                "leading_item_projection: the table's size is not rows x dim");
  CASCADE_CHECK(out_dim > 0, "leading_item_projection: out_dim must be positive");
  using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const Eigen::MatrixXd V =
      Eigen::Map<const RowMajor>(table.values.data(), table.rows, table.dim).cast<double>();
  const Eigen::MatrixXd gram = V.transpose() * V;
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(gram);
  const auto k = static_cast<Eigen::Index>(std::min(out_dim, table.dim));
  // Eigenvalues ascend: the leading directions are the last columns, largest first.
  Eigen::MatrixXd W = eig.eigenvectors().rightCols(k).rowwise().reverse();
  Eigen::MatrixXd E = V * W;
  for (Eigen::Index c = 0; c < k; ++c) {
    Eigen::Index at = 0;
    E.col(c).cwiseAbs().maxCoeff(&at);
    if (E(at, c) < 0) E.col(c) = -E.col(c);
  }
  const double total = gram.trace();
  if (kept != nullptr) *kept = total > 0 ? E.squaredNorm() / total : 0.0;
  const double now = std::sqrt(E.squaredNorm() / static_cast<double>(E.size()));
  if (now > 0) E *= rms / now;
  std::vector<float> out(static_cast<size_t>(table.rows) * static_cast<size_t>(k));
  Eigen::Map<RowMajor>(out.data(), table.rows, k) = E.cast<float>();
  return out;
}

torch::Tensor unit_prelu(const torch::Tensor& x, const torch::Tensor& slope) {
  return torch::where(x > 0, x, x * slope);
}

}  // namespace cascade
