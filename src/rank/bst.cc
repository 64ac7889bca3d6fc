// BST ranker: Chen et al. 2019, "Behavior Sequence Transformer for E-commerce
// Recommendation in Alibaba" (DLP-KDD).
//
// Model (libtorch for training, Eigen for serving):
//  - sequence of a row: its group's history with every occurrence of the row's own item
//    removed (RankBatch::row_history semantics), the last `max_len` items of it, then the
//    target item. Token = item embedding (n_items + 1 rows of `dim`, row 0 = padding, index
//    = item id + 1; shared by history and target) + learned position embedding
//    (max_len + 1 rows): the target takes position max_len, the history item k steps
//    before the target position max_len - k (positions count recency, as the paper's
//    "time since the click" feature does);
//  - ONE transformer block: multi-head self-attention (`heads` heads of dim / heads, scaled
//    dot product, q/k/v/output projections with biases), residual + LayerNorm, FFN
//    dim -> 4 dim -> dim with LeakyReLU (the paper) or ReLU, residual + LayerNorm; dropout
//    after the attention output and after the FFN while training. Padded positions are
//    masked as keys;
//  - head: an MLP (`hidden` layers, PReLU with one slope per unit or ReLU, dropout after
//    each) over [the target position's block output (dim), one `field_dim` embedding per
//    categorical field, the dense columns normalised by DenseNormalizer] -> logit.
// Losses: bce or listwise (per group softmax cross-entropy averaged over its positives),
// AdamW, best epoch on grouped_auc of RankFitOptions::valid; all as in src/rank/din.cc.
//
// Training computes only the target position as a query (the other positions' outputs are
// never used: with one block they feed nothing); bst::torch_scores() (bst_reference.h)
// runs the literal block with every position as a query and takes the target's row.
//
// Serving trick (score(): single-threaded Eigen on copied weights, no libtorch; const and
// thread-safe). With one block and only the target position's output used, the target's
// output depends on the history tokens only through their keys and values in the (only)
// attention layer. So per group, K and V of the masked history (dim x m, m <= max_len) are
// computed once and shared by every row whose item is not in the group's history; a row
// whose item IS in the history gets its own K/V from its own masked history (removing the
// item can also shift which items are among the last max_len). The target token's q/k/v
// are per-item tables precomputed at fit/load (position max_len is fixed), and so are the
// categorical fields' contributions to the head's first layer. Per candidate: attention of
// its query over <= max_len + 1 keys (explicit sequential loops), output projection,
// LayerNorm, FFN, LayerNorm, head — matrix-vector products only, so a row's score does not
// depend on the other rows of its group or batch, and a row whose item is in the history
// scores EXACTLY as the same row with that entry removed (same K/V columns from the same
// per-token matrix-vector products).
//
// Parameters ("bst:dim=16,heads=2,...", all optional; defaults in brackets):
//   dim           item / position embedding and block width             [16]    2..512
//   heads         attention heads (must divide dim)                     [2]     1..64
//   max_len       history items in the sequence (most recent)           [20]    1..512
//   ffn_act       leaky_relu | relu (FFN activation)                    [leaky_relu]
//   field_dim     embedding dimension of every categorical field        [8]     1..256
//   hidden        head hidden layers, "h1-h2-..."                       [64-32] each 1..4096
//   head_act      prelu | relu                                          [prelu]
//   loss          bce | listwise                                        [listwise]
//   epochs        maximum training epochs                               [10]    1..10000
//   batch         rows per training batch                               [256]   1..1e6
//   lr            AdamW learning rate                                   [0.001] 1e-6..1
//   weight_decay  AdamW decoupled weight decay                          [1e-4]  0..1
//   dropout       dropout in the block and after each head layer        [0.1]   0..0.9
//   patience      validation epochs without gain before stopping        [3]     0..10000
//   seed          -1 = RankFitOptions::seed                             [-1]
//   torch_threads libtorch intra-op threads while training
//                 (0 = RankFitOptions::threads)                         [1]     0..1024
// Defaults follow DIN's (same head and loss choice) and the paper (one block, LeakyReLU
// FFN, sequence length 20). NOT tuned: on the synthetic history-target task of
// tests/rank/test_bst.cc (dim 16, 8 epochs, lr 0.01) held-out grouped AUC is 0.82 with fit
// seed 7 (bce 0.77) but only 0.55 / 0.64 with seeds 3 / 5 — learning is seed-unstable.
// Determinism: same seed + same torch_threads -> identical scores. Two fits must not run
// concurrently in one process (nn::TorchSession).
#include <fmt/format.h>
#include <omp.h>
#include <spdlog/spdlog.h>

#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "cascade/core/error.h"
#include "cascade/core/registry.h"
#include "cascade/io/artifact.h"
#include "cascade/rank/ranker.h"
#include "nn/eigen_threads.h"
#include "nn/torch_util.h"
#include "rank/bst_reference.h"
#include "rank/dense_norm.h"

namespace cascade {

namespace {

constexpr const char* kKind = "bst";
constexpr int kFormatVersion = 1;
constexpr float kMaskedLogit = -1e9f;
constexpr double kLnEps = 1e-5;
constexpr float kLeakySlope = 0.01f;  // torch's leaky_relu default

std::vector<int> parse_layers(const std::string& text, const std::string& key) {
  std::vector<int> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t end = std::min(text.find('-', pos), text.size());
    const std::string part = text.substr(pos, end - pos);
    int v = 0;
    bool ok = !part.empty() && part.size() <= 5 &&
              std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (ok) v = std::stoi(part);
    if (!ok || v < 1 || v > 4096) {
      throw Error(fmt::format("bst: {}='{}': expected layer widths like '64-32', each in 1..4096",
                              key, text));
    }
    out.push_back(v);
    pos = end + 1;
  }
  return out;
}

struct BstConfig {
  int dim = 16;
  int heads = 2;
  int max_len = 20;
  std::string ffn_act = "leaky_relu";
  int field_dim = 8;
  std::vector<int> hidden{64, 32};
  std::string head_act = "prelu";
  std::string loss = "listwise";
  int epochs = 10;
  int batch = 256;
  double lr = 1e-3;
  double weight_decay = 1e-4;
  double dropout = 0.1;
  int patience = 3;
  int64_t seed = -1;
  int torch_threads = 1;

  static BstConfig read(Params& p) {
    BstConfig c;
    c.dim = static_cast<int>(p.get_int("dim", 16, 2, 512));
    c.heads = static_cast<int>(p.get_int("heads", 2, 1, 64));
    c.max_len = static_cast<int>(p.get_int("max_len", 20, 1, 512));
    c.ffn_act = p.get_string("ffn_act", "leaky_relu", {"leaky_relu", "relu"});
    c.field_dim = static_cast<int>(p.get_int("field_dim", 8, 1, 256));
    c.hidden = parse_layers(p.get_string("hidden", "64-32"), "hidden");
    c.head_act = p.get_string("head_act", "prelu", {"prelu", "relu"});
    c.loss = p.get_string("loss", "listwise", {"bce", "listwise"});
    c.epochs = static_cast<int>(p.get_int("epochs", 10, 1, 10000));
    c.batch = static_cast<int>(p.get_int("batch", 256, 1, 1000000));
    c.lr = p.get_double("lr", 1e-3, 1e-6, 1.0);
    c.weight_decay = p.get_double("weight_decay", 1e-4, 0.0, 1.0);
    c.dropout = p.get_double("dropout", 0.1, 0.0, 0.9);
    c.patience = static_cast<int>(p.get_int("patience", 3, 0, 10000));
    c.seed = p.get_int("seed", -1, -1, std::numeric_limits<int64_t>::max());
    c.torch_threads = static_cast<int>(p.get_int("torch_threads", 1, 0, 1024));
    if (c.dim % c.heads != 0) {
      throw Error(fmt::format("bst: heads={} does not divide dim={}", c.heads, c.dim));
    }
    return c;
  }
};

torch::Tensor unit_prelu(const torch::Tensor& x, const torch::Tensor& slope) {
  return torch::where(x > 0, x, x * slope);
}

struct BstNetImpl : torch::nn::Module {
  BstNetImpl(const FeatureSchema& s, int64_t n_dense, const BstConfig& c)
      : dim_(c.dim), heads_(c.heads), max_len_(c.max_len), n_dense_(n_dense),
        leaky_(c.ffn_act == "leaky_relu"), prelu_(c.head_act == "prelu"), dropout_(c.dropout) {
    item = register_module(
        "item", torch::nn::Embedding(torch::nn::EmbeddingOptions(s.n_items + 1, c.dim).padding_idx(0)));
    pos = register_module("pos", torch::nn::Embedding(c.max_len + 1, c.dim));
    wq = register_module("wq", torch::nn::Linear(c.dim, c.dim));
    wk = register_module("wk", torch::nn::Linear(c.dim, c.dim));
    wv = register_module("wv", torch::nn::Linear(c.dim, c.dim));
    wo = register_module("wo", torch::nn::Linear(c.dim, c.dim));
    ln1 = register_module("ln1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.dim}).eps(kLnEps)));
    ffn1 = register_module("ffn1", torch::nn::Linear(c.dim, 4 * c.dim));
    ffn2 = register_module("ffn2", torch::nn::Linear(4 * c.dim, c.dim));
    ln2 = register_module("ln2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.dim}).eps(kLnEps)));
    for (size_t f = 0; f < s.fields.size(); ++f) {
      fields.push_back(register_module(fmt::format("field{}", f),
                                       torch::nn::Embedding(s.fields[f].cardinality, c.field_dim)));
    }
    int64_t in = c.dim + static_cast<int64_t>(s.fields.size()) * c.field_dim + n_dense;
    for (size_t k = 0; k < c.hidden.size(); ++k) {
      head.push_back(register_module(fmt::format("head{}", k), torch::nn::Linear(in, c.hidden[k])));
      if (prelu_) {
        head_slope.push_back(register_parameter(fmt::format("head_slope{}", k),
                                                torch::full({static_cast<int64_t>(c.hidden[k])}, 0.25f)));
      }
      in = c.hidden[k];
    }
    head_out = register_module("head_out", torch::nn::Linear(in, 1));
    torch::NoGradGuard ng;
    torch::nn::init::normal_(item->weight, 0.0, 0.1);
    item->weight[0].zero_();
    torch::nn::init::normal_(pos->weight, 0.0, 0.1);
    for (auto& e : fields) torch::nn::init::normal_(e->weight, 0.0, 0.1);
  }

  torch::Tensor ffn_act(const torch::Tensor& x) const {
    return leaky_ ? torch::leaky_relu(x, kLeakySlope) : torch::relu(x);
  }

  // [B, S, d] -> [B, heads, S, d / heads]
  torch::Tensor split_heads(const torch::Tensor& x) const {
    return x.reshape({x.size(0), x.size(1), heads_, dim_ / heads_}).permute({0, 2, 1, 3});
  }

  // hist: [B, L] ids + 1 (0 = padding), left-padded; hist_pos: [B, L] positions (0 on
  // padding); target: [B] ids + 1; cats: [B, n_fields]; dense: [B, n_dense].
  // literal: every position is a query (the reference); otherwise only the target is.
  torch::Tensor forward(const torch::Tensor& hist, const torch::Tensor& hist_pos, const torch::Tensor& target,
                        const torch::Tensor& cats, const torch::Tensor& dense, bool literal) {
    const int64_t B = hist.size(0);
    const auto xt = item(target) + pos(torch::full({B}, max_len_, torch::kInt64));  // [B, d]
    const auto X = torch::cat({item(hist) + pos(hist_pos), xt.unsqueeze(1)}, 1);    // [B, S, d]
    const auto valid = torch::cat({hist.gt(0), torch::ones({B, 1}, torch::kBool)}, 1);  // [B, S]
    const auto key_masked = valid.logical_not().unsqueeze(1).unsqueeze(1);          // [B, 1, 1, S]
    const double scale = 1.0 / std::sqrt(static_cast<double>(dim_ / heads_));
    const auto K = split_heads(wk(X)), V = split_heads(wv(X));  // [B, h, S, dh]
    torch::Tensor xq, Q;
    if (literal) {
      xq = X;
      Q = split_heads(wq(X));
    } else {
      xq = xt.unsqueeze(1);
      Q = split_heads(wq(xq));  // [B, h, 1, dh]
    }
    auto a = torch::matmul(Q, K.transpose(2, 3)) * scale;  // [B, h, Sq, S]
    a = torch::softmax(a.masked_fill(key_masked, kMaskedLogit), -1);
    auto att = torch::matmul(a, V).permute({0, 2, 1, 3}).reshape({B, xq.size(1), dim_});  // [B, Sq, d]
    att = wo(att);
    if (dropout_ > 0) att = torch::dropout(att, dropout_, is_training());
    const auto h1 = ln1(xq + att);
    auto f = ffn2(ffn_act(ffn1(h1)));
    if (dropout_ > 0) f = torch::dropout(f, dropout_, is_training());
    const auto o = ln2(h1 + f).select(1, xq.size(1) - 1);  // the target position: [B, d]
    std::vector<torch::Tensor> parts{o};
    for (size_t fi = 0; fi < fields.size(); ++fi) parts.push_back(fields[fi](cats.select(1, static_cast<int64_t>(fi))));
    if (n_dense_ > 0) parts.push_back(dense);
    auto x = torch::cat(parts, 1);
    for (size_t k = 0; k < head.size(); ++k) {
      x = head[k](x);
      x = prelu_ ? unit_prelu(x, head_slope[k]) : torch::relu(x);
      if (dropout_ > 0) x = torch::dropout(x, dropout_, is_training());
    }
    return head_out(x).squeeze(-1);
  }

  int64_t dim_, heads_, max_len_, n_dense_;
  bool leaky_, prelu_;
  double dropout_;
  torch::nn::Embedding item{nullptr}, pos{nullptr};
  torch::nn::Linear wq{nullptr}, wk{nullptr}, wv{nullptr}, wo{nullptr}, ffn1{nullptr}, ffn2{nullptr};
  torch::nn::LayerNorm ln1{nullptr}, ln2{nullptr};
  std::vector<torch::nn::Embedding> fields;
  std::vector<torch::nn::Linear> head;
  std::vector<torch::Tensor> head_slope;
  torch::nn::Linear head_out{nullptr};
};
TORCH_MODULE(BstNet);

// The masked history of row r, truncated to its last max_len items (oldest first).
void masked_history(const RankBatch& b, size_t r, int max_len, std::vector<ItemId>& out) {
  b.row_history(r, out);
  if (out.size() > static_cast<size_t>(max_len)) {
    out.erase(out.begin(), out.end() - max_len);
  }
}

struct TorchInputs {
  torch::Tensor hist, hist_pos, target, cats, dense;
};

TorchInputs make_inputs(const RankBatch& b, const std::vector<float>& dn, size_t n_dense, int max_len,
                        std::span<const uint32_t> rows) {
  const auto B = static_cast<int64_t>(rows.size());
  const size_t nf = b.schema.n_fields();
  std::vector<std::vector<ItemId>> hs(rows.size());
  size_t L = 1;  // at least one (padded) position
  for (size_t i = 0; i < rows.size(); ++i) {
    masked_history(b, rows[i], max_len, hs[i]);
    L = std::max(L, hs[i].size());
  }
  std::vector<int64_t> hist(rows.size() * L, 0), hpos(rows.size() * L, 0), target(rows.size()),
      cats(rows.size() * nf);
  std::vector<float> dense(rows.size() * n_dense);
  for (size_t i = 0; i < rows.size(); ++i) {
    const uint32_t r = rows[i];
    const size_t m = hs[i].size();
    for (size_t j = 0; j < m; ++j) {
      const size_t col = L - m + j;
      hist[i * L + col] = static_cast<int64_t>(hs[i][j]) + 1;
      hpos[i * L + col] = max_len - static_cast<int64_t>(m - j);
    }
    target[i] = static_cast<int64_t>(b.items[r]) + 1;
    for (size_t f = 0; f < nf; ++f) cats[i * nf + f] = b.cats[r * nf + f];
    std::copy_n(dn.data() + r * n_dense, n_dense, dense.data() + i * n_dense);
  }
  TorchInputs in;
  in.hist = nn::from_ids(hist, {B, static_cast<int64_t>(L)});
  in.hist_pos = nn::from_ids(hpos, {B, static_cast<int64_t>(L)});
  in.target = nn::from_ids(target, {B});
  in.cats = nn::from_ids(cats, {B, static_cast<int64_t>(nf)});
  in.dense = nn::from_vector(dense, {B, static_cast<int64_t>(n_dense)});
  return in;
}

using MatF = Eigen::MatrixXf;  // column-major
using VecF = Eigen::VectorXf;

MatF linear_weight(const torch::Tensor& w) {
  const auto v = nn::to_vector(w);
  return Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
      v.data(), w.size(0), w.size(1));
}

VecF vec_of(const torch::Tensor& t) {
  const auto v = nn::to_vector(t);
  return Eigen::Map<const VecF>(v.data(), static_cast<Eigen::Index>(v.size()));
}

void layer_norm(VecF& x, const VecF& g, const VecF& b) {
  const float mean = x.mean();
  x.array() -= mean;
  const float var = x.squaredNorm() / static_cast<float>(x.size());
  x *= 1.0f / std::sqrt(var + static_cast<float>(kLnEps));
  x = x.cwiseProduct(g) + b;
}

// The serving copy of the eval-mode net.
struct Serving {
  int d = 0, heads = 1, dh = 0, max_len = 0, nd = 0;
  bool leaky = true, prelu = true;
  float scale = 1;
  MatF E;          // d x (n_items + 1): item embeddings (column = id + 1)
  MatF P;          // d x (max_len + 1): position embeddings
  MatF Wk, Wv;     // d x d
  VecF bk, bv;
  MatF Qt, Kt, Vt;  // d x (n_items + 1): the target token's q (scaled), k, v per item
  MatF Wo;          // d x d
  VecF bo, g1, be1, g2, be2;
  MatF W1, W2;  // 4d x d, d x 4d
  VecF b1, b2;
  MatF W_o;                 // h1 x d: the block output's part of the head's first layer
  MatF W_dense;             // h1 x nd
  VecF b_head0;             // h1
  std::vector<MatF> F_tab;  // per field: h1 x cardinality
  std::vector<MatF> head_W;  // layers 1..
  std::vector<VecF> head_b;
  std::vector<VecF> head_slope;  // per layer (prelu only)
  VecF head_out_w;
  float head_out_b = 0;
};

class BstRanker final : public Ranker {
 public:
  explicit BstRanker(Params params) : params_(std::move(params)) {
    cfg_ = BstConfig::read(params_);
    params_.check_unused(kKind);
  }

  std::string kind() const override { return kKind; }
  const FeatureSchema& schema() const override { return schema_; }
  Params params() const override {
    Params p(params_.resolved());
    BstConfig::read(p);
    return p;
  }

  void fit(const RankTrainSet& train, const RankFitOptions& opt) override {
    train.validate();
    const RankBatch& b = train.batch;
    CASCADE_CHECK(b.rows() > 0, "bst: fit() on an empty training set");
    CASCADE_CHECK(b.schema.n_items > 0, "bst: the feature schema has n_items 0");
    if (opt.valid != nullptr) {
      opt.valid->validate();
      check_schema(b.schema, opt.valid->batch.schema, "bst: validation set");
    }
    const uint64_t seed = cfg_.seed >= 0 ? static_cast<uint64_t>(cfg_.seed) : opt.seed;
    nn::TorchSession session(cfg_.torch_threads > 0 ? cfg_.torch_threads : opt.threads, seed);
    const auto t0 = std::chrono::steady_clock::now();
    auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };

    fitted_ = false;
    schema_ = b.schema;
    norm_.fit(b);
    const size_t nd = norm_.out_dim();
    const std::vector<float> dn = norm_.apply_batch(b);
    net_ = BstNet(schema_, static_cast<int64_t>(nd), cfg_);
    torch::optim::AdamW opt_w(net_->parameters(), torch::optim::AdamWOptions(cfg_.lr).weight_decay(cfg_.weight_decay));
    std::mt19937_64 rng(seed ^ 0xb5b5b5b5b5b5b5b5ULL);
    const bool listwise = cfg_.loss == "listwise";
    std::vector<uint32_t> order(listwise ? b.groups() : b.rows());
    std::iota(order.begin(), order.end(), 0u);
    nn::BestEpoch best(cfg_.patience);
    std::vector<uint32_t> rows;
    std::vector<uint32_t> seg;

    for (int epoch = 1; epoch <= cfg_.epochs; ++epoch) {
      net_->train();
      std::shuffle(order.begin(), order.end(), rng);
      double loss_sum = 0;
      int64_t loss_n = 0;
      for (size_t i = 0; i < order.size();) {
        rows.clear();
        seg.assign(1, 0);
        if (listwise) {
          while (i < order.size() && rows.size() < static_cast<size_t>(cfg_.batch)) {
            const uint32_t g = order[i++];
            for (uint32_t r = b.group_begin[g]; r < b.group_begin[g + 1]; ++r) rows.push_back(r);
            seg.push_back(static_cast<uint32_t>(rows.size()));
          }
        } else {
          const size_t n = std::min<size_t>(cfg_.batch, order.size() - i);
          rows.assign(order.begin() + static_cast<std::ptrdiff_t>(i), order.begin() + static_cast<std::ptrdiff_t>(i + n));
          i += n;
        }
        if (rows.empty()) continue;
        const TorchInputs in = make_inputs(b, dn, nd, cfg_.max_len, rows);
        std::vector<float> y(rows.size());
        for (size_t k = 0; k < rows.size(); ++k) y[k] = train.labels[rows[k]];
        const auto yt = nn::from_vector(y, {static_cast<int64_t>(y.size())});
        const auto logits = net_->forward(in.hist, in.hist_pos, in.target, in.cats, in.dense, false);
        torch::Tensor loss;
        int64_t weight = static_cast<int64_t>(rows.size());
        if (listwise) {
          std::vector<torch::Tensor> losses;
          for (size_t s = 0; s + 1 < seg.size(); ++s) {
            const int64_t o = seg[s], n = seg[s + 1] - seg[s];
            const float pos = std::accumulate(y.begin() + o, y.begin() + o + n, 0.0f);
            if (pos <= 0) continue;
            losses.push_back(-(torch::log_softmax(logits.narrow(0, o, n), 0) * yt.narrow(0, o, n)).sum() / pos);
          }
          if (losses.empty()) continue;
          loss = torch::stack(losses).mean();
          weight = static_cast<int64_t>(losses.size());
        } else {
          loss = torch::binary_cross_entropy_with_logits(logits, yt);
        }
        opt_w.zero_grad();
        loss.backward();
        opt_w.step();
        loss_sum += loss.item<double>() * static_cast<double>(weight);
        loss_n += weight;
      }
      const double mean_loss = loss_sum / static_cast<double>(std::max<int64_t>(1, loss_n));
      nn::check_finite(torch::tensor(mean_loss), kKind, epoch);
      if (opt.valid != nullptr) {
        finish_model();
        std::vector<float> s(opt.valid->batch.rows());
        score(opt.valid->batch, s);
        const double auc = grouped_auc(opt.valid->batch, opt.valid->labels, s);
        const bool stop = best.update(epoch, std::isnan(auc) ? 0.0 : auc, *net_);
        spdlog::info("bst: epoch {} loss {:.4f} valid grouped AUC {:.4f} (best {:.4f} @ {}) {:.1f}s", epoch, mean_loss,
                     auc, best.value(), best.epoch(), seconds());
        if (stop) {
          spdlog::info("bst: no validation gain in {} epochs, stopping at epoch {}", cfg_.patience, epoch);
          break;
        }
      } else {
        spdlog::debug("bst: epoch {} loss {:.4f} {:.1f}s", epoch, mean_loss, seconds());
      }
    }
    best.restore(*net_);
    finish_model();
    dataset_hash_ = opt.dataset_hash;
    fit_seed_ = seed;
    best_epoch_ = best.epoch();
    spdlog::info("bst: {} rows, {} groups, {} dense -> {}, {} fields, loss {}: {:.1f}s{}", b.rows(), b.groups(),
                 b.schema.n_dense(), nd, b.schema.n_fields(), cfg_.loss, seconds(),
                 best.any() ? fmt::format(", kept epoch {} (valid grouped AUC {:.4f})", best.epoch(), best.value())
                            : std::string());
  }

  void score(const RankBatch& batch, std::span<float> out) const override {
    CASCADE_CHECK(fitted_, "bst: score() before fit() or load()");
    check_schema(schema_, batch.schema, "bst");
    CASCADE_CHECK(out.size() == batch.rows(),
                  fmt::format("bst: score() output has {} slots for {} rows", out.size(), batch.rows()));
    batch.validate();
    nn::SingleThreadedEigen single;
    for (size_t g = 0; g < batch.groups(); ++g) score_group(batch, g, out);
  }

  void save(const std::filesystem::path& dir) const override {
    CASCADE_CHECK(fitted_, "bst: save() before fit()");
    ArtifactWriter w(dir, kKind, kFormatVersion);
    w.meta()["params"] = params_.resolved();
    w.meta()["schema"] = schema_to_json(schema_);
    w.meta()["dataset_hash"] = dataset_hash_;
    w.meta()["fit_seed"] = fit_seed_;
    w.meta()["best_epoch"] = best_epoch_;
    norm_.save(w);
    nn::save_module(w, *net_);
    w.finish();
  }

  void load(const std::filesystem::path& dir) override {
    ArtifactReader r(dir, kKind, kFormatVersion);
    const auto& m = r.meta();
    Params p;
    FeatureSchema schema;
    try {
      p = Params(m.at("params").get<std::map<std::string, std::string>>());
      schema = schema_from_json(m.at("schema"));
    } catch (const nlohmann::json::exception& e) {
      throw Error(fmt::format("{}: bad bst manifest: {}", dir.string(), e.what()));
    }
    BstConfig cfg = BstConfig::read(p);
    p.check_unused(kKind);
    CASCADE_CHECK(schema.n_items > 0, fmt::format("{}: bst manifest has n_items 0", dir.string()));
    DenseNormalizer norm;
    BstNet net{nullptr};
    try {
      norm.load(r);
      CASCADE_CHECK(norm.in_dim() == schema.n_dense(),
                    fmt::format("normaliser has {} columns, the schema {}", norm.in_dim(), schema.n_dense()));
      net = BstNet(schema, static_cast<int64_t>(norm.out_dim()), cfg);
      nn::load_module(r, *net);
    } catch (const Error& e) {
      throw Error(fmt::format("{}: {}", dir.string(), e.what()));
    }
    params_ = std::move(p);
    cfg_ = cfg;
    schema_ = std::move(schema);
    norm_ = std::move(norm);
    net_ = net;
    dataset_hash_ = m.value("dataset_hash", "");
    fit_seed_ = m.value("fit_seed", uint64_t{0});
    best_epoch_ = m.value("best_epoch", 0);
    finish_model();
  }

 private:
  friend std::vector<float> bst::torch_scores(const Ranker&, const RankBatch&);

  void finish_model() {
    torch::NoGradGuard ng;
    net_->eval();
    Serving s;
    s.d = cfg_.dim;
    s.heads = cfg_.heads;
    s.dh = cfg_.dim / cfg_.heads;
    s.max_len = cfg_.max_len;
    s.nd = static_cast<int>(norm_.out_dim());
    s.leaky = cfg_.ffn_act == "leaky_relu";
    s.prelu = cfg_.head_act == "prelu";
    s.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(s.dh)));
    s.E = linear_weight(net_->item->weight).transpose();
    s.P = linear_weight(net_->pos->weight).transpose();
    s.Wk = linear_weight(net_->wk->weight);
    s.Wv = linear_weight(net_->wv->weight);
    s.bk = vec_of(net_->wk->bias);
    s.bv = vec_of(net_->wv->bias);
    MatF XT = s.E;  // target tokens: every item at position max_len
    XT.colwise() += s.P.col(s.max_len);
    s.Qt = linear_weight(net_->wq->weight) * XT;
    s.Qt.colwise() += vec_of(net_->wq->bias);
    s.Qt *= s.scale;
    s.Kt = s.Wk * XT;
    s.Kt.colwise() += s.bk;
    s.Vt = s.Wv * XT;
    s.Vt.colwise() += s.bv;
    s.Wo = linear_weight(net_->wo->weight);
    s.bo = vec_of(net_->wo->bias);
    s.g1 = vec_of(net_->ln1->weight);
    s.be1 = vec_of(net_->ln1->bias);
    s.g2 = vec_of(net_->ln2->weight);
    s.be2 = vec_of(net_->ln2->bias);
    s.W1 = linear_weight(net_->ffn1->weight);
    s.b1 = vec_of(net_->ffn1->bias);
    s.W2 = linear_weight(net_->ffn2->weight);
    s.b2 = vec_of(net_->ffn2->bias);
    const MatF H1 = linear_weight(net_->head[0]->weight);  // h1 x in
    const int d = s.d, fd = cfg_.field_dim;
    const int nf = static_cast<int>(schema_.n_fields());
    s.W_o = H1.middleCols(0, d);
    s.F_tab.clear();
    for (int f = 0; f < nf; ++f) {
      const MatF emb = linear_weight(net_->fields[f]->weight).transpose();  // fd x card
      s.F_tab.push_back(H1.middleCols(d + f * fd, fd) * emb);
    }
    s.W_dense = H1.middleCols(d + nf * fd, s.nd);
    s.b_head0 = vec_of(net_->head[0]->bias);
    for (size_t k = 1; k < net_->head.size(); ++k) {
      s.head_W.push_back(linear_weight(net_->head[k]->weight));
      s.head_b.push_back(vec_of(net_->head[k]->bias));
    }
    if (s.prelu) {
      for (const auto& t : net_->head_slope) s.head_slope.push_back(vec_of(t));
    }
    s.head_out_w = vec_of(net_->head_out->weight.reshape({-1}));
    s.head_out_b = net_->head_out->bias.item<float>();
    sv_ = std::move(s);
    fitted_ = true;
  }

  // K and V (d x m) of a masked, truncated history: one matrix-vector product per token, so
  // a token's column does not depend on m or on the other tokens.
  void history_kv(std::span<const ItemId> h, MatF& K, MatF& V) const {
    const Serving& s = sv_;
    const int m = static_cast<int>(h.size());
    K.resize(s.d, m);
    V.resize(s.d, m);
    VecF x(s.d), y(s.d);
    for (int j = 0; j < m; ++j) {
      x = s.E.col(static_cast<Eigen::Index>(h[j]) + 1) + s.P.col(s.max_len - (m - j));
      y.noalias() = s.Wk * x;
      K.col(j) = y + s.bk;
      y.noalias() = s.Wv * x;
      V.col(j) = y + s.bv;
    }
  }

  void activate_head(VecF& x, size_t layer) const {
    if (sv_.prelu) {
      x.array() = x.array().max(0.0f) + x.array().min(0.0f) * sv_.head_slope[layer].array();
    } else {
      x.array() = x.array().max(0.0f);
    }
  }

  // Score of row r given the K/V of its masked history.
  float score_row(const RankBatch& batch, size_t r, const MatF& K, const MatF& V) const {
    const Serving& s = sv_;
    const int d = s.d, dh = s.dh, m = static_cast<int>(K.cols());
    const Eigen::Index t = static_cast<Eigen::Index>(batch.items[r]) + 1;
    const auto q = s.Qt.col(t);
    VecF att(d);
    std::vector<float> w(static_cast<size_t>(m) + 1);
    for (int a = 0; a < s.heads; ++a) {
      const int o = a * dh;
      // Keys: history 0..m-1, then the target itself (always unmasked).
      float mx = q.segment(o, dh).dot(s.Kt.col(t).segment(o, dh));
      w[m] = mx;
      for (int j = 0; j < m; ++j) {
        w[j] = q.segment(o, dh).dot(K.col(j).segment(o, dh));
        mx = std::max(mx, w[j]);
      }
      float sum = 0;
      for (int j = 0; j <= m; ++j) {
        w[j] = std::exp(w[j] - mx);
        sum += w[j];
      }
      auto seg = att.segment(o, dh);
      seg = (w[m] / sum) * s.Vt.col(t).segment(o, dh);
      for (int j = 0; j < m; ++j) seg += (w[j] / sum) * V.col(j).segment(o, dh);
    }
    VecF h1(d);
    h1.noalias() = s.Wo * att;
    h1 += s.bo + s.E.col(t) + s.P.col(s.max_len);
    layer_norm(h1, s.g1, s.be1);
    VecF f1(4 * d);
    f1.noalias() = s.W1 * h1;
    f1 += s.b1;
    if (s.leaky) {
      f1.array() = f1.array().max(0.0f) + f1.array().min(0.0f) * kLeakySlope;
    } else {
      f1.array() = f1.array().max(0.0f);
    }
    VecF o(d);
    o.noalias() = s.W2 * f1;
    o += s.b2 + h1;
    layer_norm(o, s.g2, s.be2);
    VecF x(s.b_head0.size());
    x.noalias() = s.W_o * o;
    x += s.b_head0;
    const auto cats = batch.cat_row(r);
    for (size_t f = 0; f < s.F_tab.size(); ++f) x += s.F_tab[f].col(cats[f]);
    if (s.nd > 0) {
      VecF dn(s.nd);
      norm_.apply_row(batch.dense_row(r).data(), dn.data());
      x.noalias() += s.W_dense * dn;
    }
    activate_head(x, 0);
    for (size_t k = 0; k < s.head_W.size(); ++k) {
      VecF y(s.head_W[k].rows());
      y.noalias() = s.head_W[k] * x;
      y += s.head_b[k];
      activate_head(y, k + 1);
      x.swap(y);
    }
    return s.head_out_b + s.head_out_w.dot(x);
  }

  void score_group(const RankBatch& batch, size_t g, std::span<float> out) const {
    const uint32_t r0 = batch.group_begin[g], r1 = batch.group_begin[g + 1];
    if (r0 == r1) return;
    const auto hist = batch.group_history(g);
    const size_t L = hist.size(), m = std::min<size_t>(L, static_cast<size_t>(sv_.max_len));
    MatF K, V, Kr, Vr;
    history_kv(hist.subspan(L - m), K, V);  // shared by rows whose item is not in the history
    std::vector<ItemId> own;
    for (uint32_t r = r0; r < r1; ++r) {
      if (std::find(hist.begin(), hist.end(), batch.items[r]) == hist.end()) {
        out[r] = score_row(batch, r, K, V);
      } else {
        masked_history(batch, r, sv_.max_len, own);
        history_kv(own, Kr, Vr);
        out[r] = score_row(batch, r, Kr, Vr);
      }
    }
  }

  std::vector<float> torch_forward(const RankBatch& batch) const {
    CASCADE_CHECK(fitted_, "bst: torch_scores() before fit() or load()");
    check_schema(schema_, batch.schema, "bst");
    batch.validate();
    CASCADE_CHECK(!net_->is_training(), "bst: torch_scores() on a module in training mode");
    torch::NoGradGuard ng;
    const std::vector<float> dn = norm_.apply_batch(batch);
    std::vector<uint32_t> rows(batch.rows());
    std::iota(rows.begin(), rows.end(), 0u);
    if (rows.empty()) return {};
    const TorchInputs in = make_inputs(batch, dn, norm_.out_dim(), cfg_.max_len, rows);
    const auto net = net_.ptr();
    return nn::to_vector(net->forward(in.hist, in.hist_pos, in.target, in.cats, in.dense, true));
  }

  Params params_;
  BstConfig cfg_;
  FeatureSchema schema_;
  DenseNormalizer norm_;
  BstNet net_{nullptr};
  Serving sv_;
  std::string dataset_hash_;
  uint64_t fit_seed_ = 0;
  int best_epoch_ = 0;
  bool fitted_ = false;
};

}  // namespace

std::vector<float> bst::torch_scores(const Ranker& model, const RankBatch& batch) {
  const auto* m = dynamic_cast<const BstRanker*>(&model);
  CASCADE_CHECK(m != nullptr, fmt::format("bst::torch_scores: '{}' is not a bst ranker", model.kind()));
  return m->torch_forward(batch);
}

CASCADE_REGISTER_RANKER(BstRanker, "bst");

}  // namespace cascade
