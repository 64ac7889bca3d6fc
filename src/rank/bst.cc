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
//   item_init     a recall channel whose item vectors start the item
//                 embeddings (their leading principal directions, scaled to
//                 the random init's 0.1 rms; NeuralRanker::fit), e.g. sasrec;
//                 none / absent = random                                [none]
//   freeze_items  true: the item embeddings are not trained (without        [false]
//                 item_init: the random start stays, an ablation)
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
// concurrently in one process (nn::TorchSession). Fit, validation, save/load and the checks
// around score() are NeuralRanker's (rank/neural_ranker.h); the training pass is
// GroupBatches', shared with DIN.
#include <fmt/format.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include "cascade/core/error.h"
#include "cascade/core/registry.h"
#include "cascade/rank/ranker.h"
#include "nn/torch_util.h"
#include "rank/bst_reference.h"
#include "rank/neural_ranker.h"

namespace cascade {

namespace {

constexpr const char* kKind = "bst";
constexpr int kFormatVersion = 1;
constexpr float kMaskedLogit = -1e9f;
constexpr double kLnEps = 1e-5;
constexpr float kLeakySlope = 0.01f;  // torch's leaky_relu default

// Shuffling generator salt (the libtorch generator gets the seed itself).
constexpr uint64_t kShuffleSalt = 0xb5b5b5b5b5b5b5b5ULL;

struct BstConfig {
  int dim = 16;
  int heads = 2;
  int max_len = 20;
  std::string ffn_act = "leaky_relu";
  int field_dim = 8;
  std::vector<int> hidden{64, 32};
  std::string head_act = "prelu";
  double dropout = 0.1;

  // The training parameters are NeuralRanker's (NeuralTrainParams).
  static BstConfig read(Params& p, double dropout) {
    BstConfig c;
    c.dim = static_cast<int>(p.get_int("dim", 16, 2, 512));
    c.heads = static_cast<int>(p.get_int("heads", 2, 1, 64));
    c.max_len = static_cast<int>(p.get_int("max_len", 20, 1, 512));
    c.ffn_act = p.get_string("ffn_act", "leaky_relu", {"leaky_relu", "relu"});
    c.field_dim = static_cast<int>(p.get_int("field_dim", 8, 1, 256));
    c.hidden = p.get_layers("hidden", "64-32", {.min_width = 1, .max_width = 4096, .max_layers = 0, .none = ""});
    c.head_act = p.get_string("head_act", "prelu", {"prelu", "relu"});
    c.dropout = dropout;
    if (c.dim % c.heads != 0) {
      throw Error(fmt::format("bst: heads={} does not divide dim={}", c.heads, c.dim));
    }
    return c;
  }
};

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

// Inputs of BstNet::forward for the given rows: the left-padded masked histories [B, L]
// (item id + 1, 0 = padding), their positions, and the per-row tensors.
struct TorchInputs {
  torch::Tensor hist, hist_pos;
  RowTensors row;
};

TorchInputs make_inputs(const RankBatch& b, const std::vector<float>& dn, size_t n_dense, int max_len,
                        std::span<const uint32_t> rows) {
  const auto B = static_cast<int64_t>(rows.size());
  std::vector<std::vector<ItemId>> hs(rows.size());
  size_t L = 1;  // at least one (padded) position
  for (size_t i = 0; i < rows.size(); ++i) {
    masked_history(b, rows[i], max_len, hs[i]);
    L = std::max(L, hs[i].size());
  }
  std::vector<int64_t> hist(rows.size() * L, 0), hpos(rows.size() * L, 0);
  for (size_t i = 0; i < rows.size(); ++i) {
    const size_t m = hs[i].size();
    for (size_t j = 0; j < m; ++j) {
      const size_t col = L - m + j;
      hist[i * L + col] = static_cast<int64_t>(hs[i][j]) + 1;
      hpos[i * L + col] = max_len - static_cast<int64_t>(m - j);
    }
  }
  return {nn::from_ids(hist, {B, static_cast<int64_t>(L)}), nn::from_ids(hpos, {B, static_cast<int64_t>(L)}),
          row_tensors(b, dn, n_dense, rows)};
}

using MatF = Eigen::MatrixXf;  // column-major
using VecF = Eigen::VectorXf;

using nn::linear_weight;
using nn::vec_of;

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

class BstRanker final : public NeuralRankerOf<BstRanker> {
 public:
  explicit BstRanker(Params params)
      : NeuralRankerOf(kKind, kFormatVersion, std::move(params),
                       NeuralTrainParams::Defaults{.item_table = true}) {
    cfg_ = BstConfig::read(params_, train_params().dropout);
    params_.check_unused(kKind);
  }

 private:
  void build_net() override { net_ = BstNet(schema_, static_cast<int64_t>(norm_.out_dim()), cfg_); }
  torch::nn::Module& module() const override { return *net_.ptr(); }
  torch::Tensor item_embedding() override { return net_->item->weight; }

  std::function<double()> epoch_trainer(const RankTrainSet& train, torch::optim::Optimizer& opt,
                                        uint64_t seed) override {
    return [this, &train, &opt, dn = norm_.apply_batch(train.batch),
            batches = GroupBatches(train, train_params(), seed ^ kShuffleSalt)]() mutable {
      return batches.epoch(opt, [&](std::span<const uint32_t> rows) {
        const TorchInputs in = make_inputs(train.batch, dn, norm_.out_dim(), cfg_.max_len, rows);
        return net_->forward(in.hist, in.hist_pos, in.row.target, in.row.cats, in.row.dense, false);
      });
    };
  }

  // The serving copy of the eval-mode net (and the target-token tables).
  void copy_serving() override {
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

  void score_group(const RankBatch& batch, size_t g, std::span<float> out) const override {
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

  std::vector<float> torch_forward(const RankBatch& batch) const override {
    const std::vector<float> dn = norm_.apply_batch(batch);
    std::vector<uint32_t> rows(batch.rows());
    std::iota(rows.begin(), rows.end(), 0u);
    const TorchInputs in = make_inputs(batch, dn, norm_.out_dim(), cfg_.max_len, rows);
    // forward() is not const; the module is read, not changed.
    return nn::to_vector(net_.ptr()->forward(in.hist, in.hist_pos, in.row.target, in.row.cats, in.row.dense, true));
  }

  BstConfig cfg_;
  BstNet net_{nullptr};
  Serving sv_;
};

}  // namespace

std::vector<float> bst::torch_scores(const Ranker& model, const RankBatch& batch) {
  return NeuralRanker::torch_scores(model, kKind, batch);
}

CASCADE_REGISTER_RANKER(BstRanker, "bst");

}  // namespace cascade
