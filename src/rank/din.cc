// DIN ranker: Zhou et al. 2018, "Deep Interest Network for Click-Through Rate Prediction"
// (KDD).
//
// Model (libtorch for training, Eigen for serving):
//  - item embedding E (n_items + 1 rows of `dim`, row 0 = padding; index = item id + 1),
//    shared by the history items h and the candidate (target) t;
//  - attention unit (the paper's "activation unit"): an MLP over [h, t, h - t, h * t]
//    (4 dim inputs) with hidden layers `att_hidden`, each followed by PReLU with one learned
//    slope per unit (init 0.25, as the paper), then a linear layer to one weight a(h, t);
//  - pooling of the history (the user's interest w.r.t. this candidate):
//      attention, attention=softmax  sum_h softmax_h(a(h, t)) * h
//      attention, attention=raw      sum_h a(h, t) * h (the paper's un-normalised weights)
//      sum / mean                    plain sum / mean of the history embeddings (no attention
//                                    unit; the ablation)
//    History positions equal to the row's own item are never attended (RankBatch::
//    row_history semantics); an empty (or fully masked) history pools to zero;
//  - head: an MLP (`hidden` layers, PReLU, dropout after each) over
//    [pooled interest (dim), t (dim), one `field_dim` embedding per categorical field,
//     the dense columns normalised by DenseNormalizer (+ its present-indicators)] -> logit.
// Losses (`loss`): bce (binary cross-entropy on the logit) or listwise (per request group,
// softmax cross-entropy of the group's scores, averaged over its positives; groups without
// a positive are skipped). Optimiser AdamW. When RankFitOptions::valid is given, grouped_auc
// on it is computed each epoch through score() and the best epoch's weights are kept;
// `patience` epochs without gain stop early.
//
// Training batches: loss=bce draws `batch` rows at random (across groups); loss=listwise
// takes whole groups in random order until a batch holds >= `batch` rows. The attention
// unit's first layer is computed in the split form below (same parameters, half the FLOPs
// of the literal concatenation); din::torch_scores() (din_reference.h) uses the literal form.
//
// Serving (score(): single-threaded Eigen on copied weights, no libtorch; const and
// thread-safe; Eigen's OpenMP GEMM is switched off for the calling thread during the call).
// The first attention layer is linear, so W [h, t, h - t, h * t] + b =
//   A h + (B t + b) + C (h * t)   with A = W_h + W_d, B = W_t - W_d, C = W_p,
// and A e_i, B e_i + b are precomputed for every item at fit/load (tables a1 x (n_items+1)).
// Per group: the history embeddings H [dim x L] and A H are gathered once; per block of
// candidates, X = [h_l * t_j] (dim x (candidates * L8)) and one GEMM C X gives the pairwise
// part; the remaining attention layers are GEMMs over all pairs of the block. In the head,
// the target's and every categorical field's contribution to the first layer are
// precomputed tables (h1 x cardinality) summed per row (one h1-float add per field; the
// user-side fields are therefore not computed "once per group" but cost ~nothing), and
// pooled interest and dense columns enter as two GEMMs over the group's candidates.
// Exactness: each candidate's pairs occupy L8 = round_up(L, 8) columns and the candidate
// count is padded to a multiple of 8, so every column goes through the same GEMM kernel
// path and the softmax / pooling are explicit sequential loops over the unmasked history:
// a row's score does not depend on the other rows of its group or on other groups, and a
// row whose item is in the history scores EXACTLY as with that history entry removed
// (without the padding, Eigen's AVX-512 remainder kernels round differently).
//
// Parameters ("din:dim=16,att_hidden=16-8,...", all optional; defaults in brackets):
//   dim           item embedding dimension                              [16]    2..512
//   field_dim     embedding dimension of every categorical field        [8]     1..256
//   att_hidden    attention-unit hidden layers, "a1-a2-..."             [16-8]  each 1..4096
//   hidden        head hidden layers, "h1-h2-..."                       [64-32] each 1..4096
//   attention     softmax | raw                                         [softmax]
//   pooling       attention | sum | mean                                [attention]
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
//   dropout       dropout after each head hidden layer                  [0.1]   0..0.9
//   patience      validation epochs without gain before stopping
//                 (0 = never stop early; the best epoch is still kept)  [3]     0..10000
//   seed          -1 = RankFitOptions::seed                             [-1]
//   torch_threads libtorch intra-op threads while training
//                 (0 = RankFitOptions::threads)                         [1]     0..1024
//                 Default 1: on the shared 2-core machine, 2 spin-waiting libgomp threads
//                 made SASRec's training 5-6x slower than one.
// How the defaults were chosen:
//  - sizes by the latency target (bench/din_bench.cc: 100 candidates, 50-item history,
//    60 dense columns, the real pipeline's 7 fields, one thread, default SSE2 build): the
//    attention unit costs candidates x history x (dim x a1 + a1 x a2) multiply-adds, which
//    at dim 32 / att 32-16 / head 128-64 was ~1.4 ms; dim 16 / att 16-8 / head 64-32 meets
//    1 ms with margin (figures in the bench file). The paper's Amazon models use 12-dim
//    embeddings and a one-hidden-layer activation unit, so 16 is not small for DIN;
//  - loss and attention on the synthetic set of tests/rank/test_din.cc (only the history-
//    target relation decides the label; held-out grouped AUC, 3 seeds, dim 16, 8 epochs,
//    lr 0.01): listwise + softmax 0.982 / 0.974 / 0.975, listwise + raw 0.97 / 0.94 / 0.95,
//    bce + softmax 0.94 / 0.86 / 0.90, bce + raw 0.99 / 0.96 / 0.85, sum pooling (bce)
//    0.96 / 0.89 / 0.95; with listwise, att 16-8 0.96 / 0.99 / 0.97 vs 16 0.93 / 0.97 /
//    0.87. lr, epochs, dropout and weight decay were NOT tuned on real data.
// Determinism: row/group shuffling uses a generator seeded from `seed`; dropout and the
// initialisation use libtorch's generator seeded by nn::TorchSession: same seed + same
// torch_threads -> identical scores. Two fits must not run concurrently in one process.
// Fit, validation, save/load and the checks around score() are NeuralRanker's
// (rank/neural_ranker.h); the training pass is GroupBatches', shared with BST.
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
#include "cascade/util/fast_paths.h"
#include "nn/simd_gemm.h"
#include "nn/torch_util.h"
#include "rank/din_reference.h"
#include "rank/din_simd.h"
#include "rank/neural_ranker.h"

namespace cascade {

namespace {

constexpr const char* kKind = "din";
constexpr int kFormatVersion = 1;
// Pairs per attention GEMM block when scoring (columns of X): a1 x kPairCols floats of
// activations stay in L2.
constexpr int kPairCols = 512;
// Logit of a masked attention position before the softmax: exp() of it underflows to 0.
constexpr float kMaskedLogit = -1e9f;

// Shuffling generator salt (the libtorch generator gets the seed itself).
constexpr uint64_t kShuffleSalt = 0xd1d1d1d1d1d1d1d1ULL;

struct DinConfig {
  int dim = 16;
  int field_dim = 8;
  std::vector<int> att_hidden{16, 8};
  std::vector<int> hidden{64, 32};
  std::string attention = "softmax";
  std::string pooling = "attention";
  double dropout = 0.1;

  // The training parameters are NeuralRanker's (NeuralTrainParams).
  static DinConfig read(Params& p, double dropout) {
    const LayerLimits layers{
        .min_width = 1, .max_width = 4096, .max_layers = 0, .none = ""};  // no count limit
    DinConfig c;
    c.dim = static_cast<int>(p.get_int("dim", 16, 2, 512));
    c.field_dim = static_cast<int>(p.get_int("field_dim", 8, 1, 256));
    c.att_hidden = p.get_layers("att_hidden", "16-8", layers);
    c.hidden = p.get_layers("hidden", "64-32", layers);
    c.attention = p.get_string("attention", "softmax", {"softmax", "raw"});
    c.pooling = p.get_string("pooling", "attention", {"attention", "sum", "mean"});
    c.dropout = dropout;
    return c;
  }
  bool attend() const { return pooling == "attention"; }
};

struct DinNetImpl : torch::nn::Module {
  // n_dense: normalised dense width (DenseNormalizer::out_dim()).
  DinNetImpl(const FeatureSchema& s, int64_t n_dense, const DinConfig& c)
      : dim_(c.dim),
        field_dim_(c.field_dim),
        n_dense_(n_dense),
        attend_(c.attend()),
        softmax_(c.attention == "softmax"),
        mean_(c.pooling == "mean"),
        dropout_(c.dropout) {
    item = register_module(
        "item",
        torch::nn::Embedding(torch::nn::EmbeddingOptions(s.n_items + 1, c.dim).padding_idx(0)));
    for (size_t f = 0; f < s.fields.size(); ++f) {
      fields.push_back(register_module(fmt::format("field{}", f),
                                       torch::nn::Embedding(s.fields[f].cardinality, c.field_dim)));
    }
    if (attend_) {
      int64_t in = 4 * c.dim;
      for (size_t k = 0; k < c.att_hidden.size(); ++k) {
        att.push_back(
            register_module(fmt::format("att{}", k), torch::nn::Linear(in, c.att_hidden[k])));
        att_slope.push_back(
            register_parameter(fmt::format("att_slope{}", k),
                               torch::full({static_cast<int64_t>(c.att_hidden[k])}, 0.25f)));
        in = c.att_hidden[k];
      }
      att_out = register_module("att_out", torch::nn::Linear(in, 1));
    }
    int64_t in = 2 * c.dim + static_cast<int64_t>(s.fields.size()) * c.field_dim + n_dense;
    for (size_t k = 0; k < c.hidden.size(); ++k) {
      head.push_back(register_module(fmt::format("head{}", k), torch::nn::Linear(in, c.hidden[k])));
      head_slope.push_back(register_parameter(
          fmt::format("head_slope{}", k), torch::full({static_cast<int64_t>(c.hidden[k])}, 0.25f)));
      in = c.hidden[k];
    }
    head_out = register_module("head_out", torch::nn::Linear(in, 1));
    // Small embeddings so that h * t starts near the scale of the other inputs; Linear layers
    // keep libtorch's default (Kaiming-uniform) init. Runs under the fit's seeded generator.
    torch::NoGradGuard ng;
    torch::nn::init::normal_(item->weight, 0.0, 0.1);
    item->weight[0].zero_();
    for (auto& e : fields) torch::nn::init::normal_(e->weight, 0.0, 0.1);
  }

  // Attention logits [B, L] for history embeddings H [B, L, d] and targets t [B, d].
  // literal: feed [h, t, h - t, h * t] to the first layer as written in the paper; otherwise
  // the algebraically equal split form A h + B t + C (h * t) (what training uses).
  torch::Tensor attention_logits(const torch::Tensor& H, const torch::Tensor& t, bool literal) {
    const int64_t d = dim_;
    torch::Tensor z;
    if (literal) {
      const auto tt = t.unsqueeze(1).expand_as(H);
      z = att[0](torch::cat({H, tt, H - tt, H * tt}, -1));
    } else {
      const auto& W = att[0]->weight;  // [a1, 4d]
      const auto Wh = W.narrow(1, 0, d), Wt = W.narrow(1, d, d), Wd = W.narrow(1, 2 * d, d),
                 Wp = W.narrow(1, 3 * d, d);
      z = torch::matmul(H, (Wh + Wd).t()) +
          (torch::matmul(t, (Wt - Wd).t()) + att[0]->bias).unsqueeze(1) +
          torch::matmul(H * t.unsqueeze(1), Wp.t());
    }
    z = unit_prelu(z, att_slope[0]);
    for (size_t k = 1; k < att.size(); ++k) z = unit_prelu(att[k](z), att_slope[k]);
    return att_out(z).squeeze(-1);
  }

  // The weights [B, L] the history embeddings H are pooled with: attention (softmax or raw)
  // over the valid positions of hist (> 0), or the sum / mean mask.
  torch::Tensor pooling_weights(const torch::Tensor& hist, const torch::Tensor& H,
                                const torch::Tensor& t, bool literal) {
    const auto valid = hist.gt(0);  // [B, L]
    torch::Tensor w;
    if (attend_) {
      auto a = attention_logits(H, t, literal);
      if (softmax_) {
        // A finite fill, not -inf: a fully masked row then gets uniform weights that the
        // second mask zeroes (no NaN in forward or backward).
        a = torch::softmax(a.masked_fill(valid.logical_not(), kMaskedLogit), 1);
      }
      w = a * valid.to(torch::kFloat32);
    } else {
      w = valid.to(torch::kFloat32);
      if (mean_) w = w / w.sum(1, true).clamp_min(1.0);
    }
    return w;
  }

  // hist: [B, L] ids + 1 (0 = padding or the row's own item); target: [B] ids + 1;
  // cats: [B, n_fields] int64; dense: [B, n_dense]. Returns logits [B].
  torch::Tensor forward(const torch::Tensor& hist, const torch::Tensor& target,
                        const torch::Tensor& cats, const torch::Tensor& dense, bool literal) {
    const auto H = item(hist);    // [B, L, d] (padding rows are zero)
    const auto t = item(target);  // [B, d]
    const torch::Tensor w = pooling_weights(hist, H, t, literal);
    const auto pooled = (w.unsqueeze(-1) * H).sum(1);  // [B, d]
    std::vector<torch::Tensor> parts{pooled, t};
    for (size_t f = 0; f < fields.size(); ++f)
      parts.push_back(fields[f](cats.select(1, static_cast<int64_t>(f))));
    if (n_dense_ > 0) parts.push_back(dense);
    auto x = torch::cat(parts, 1);
    for (size_t k = 0; k < head.size(); ++k) {
      x = unit_prelu(head[k](x), head_slope[k]);
      if (dropout_ > 0) x = torch::dropout(x, dropout_, is_training());
    }
    return head_out(x).squeeze(-1);
  }

  int64_t dim_, field_dim_, n_dense_;
  bool attend_, softmax_, mean_;
  double dropout_;
  torch::nn::Embedding item{nullptr};
  std::vector<torch::nn::Embedding> fields;
  std::vector<torch::nn::Linear> att, head;
  std::vector<torch::Tensor> att_slope, head_slope;
  torch::nn::Linear att_out{nullptr}, head_out{nullptr};
};
TORCH_MODULE(DinNet);

// Inputs of DinNet::forward for the given rows of a batch.
// Inputs of DinNet::forward for the given rows of a batch: the history ids [B, L] (item id
// + 1; 0 = padding or the row's own item) and the per-row tensors.
struct TorchInputs {
  torch::Tensor hist;
  RowTensors row;
};

TorchInputs make_inputs(const RankBatch& b, const std::vector<float>& dn, size_t n_dense,
                        std::span<const uint32_t> rows, std::span<const uint32_t> row_group) {
  const auto B = static_cast<int64_t>(rows.size());
  size_t L = 1;  // at least one (padded) position, so a batch without history still works
  for (uint32_t r : rows) L = std::max<size_t>(L, b.group_history(row_group[r]).size());
  std::vector<int64_t> hist(rows.size() * L, 0);
  for (size_t i = 0; i < rows.size(); ++i) {
    const ItemId own = b.items[rows[i]];
    const auto h = b.group_history(row_group[rows[i]]);
    for (size_t l = 0; l < h.size(); ++l)
      hist[i * L + l] = h[l] == own ? 0 : static_cast<int64_t>(h[l]) + 1;
  }
  return {nn::from_ids(hist, {B, static_cast<int64_t>(L)}), row_tensors(b, dn, n_dense, rows)};
}

std::vector<uint32_t> row_groups(const RankBatch& b) {
  std::vector<uint32_t> out(b.rows());
  for (size_t g = 0; g < b.groups(); ++g) {
    for (uint32_t r = b.group_begin[g]; r < b.group_begin[g + 1]; ++r)
      out[r] = static_cast<uint32_t>(g);
  }
  return out;
}

using MatF = Eigen::MatrixXf;  // column-major
using VecF = Eigen::VectorXf;

// x <- PReLU(x) with one slope per row (unit): max(x, 0) + slope * min(x, 0), which is
// exactly x or slope * x, vectorised.
void prelu_rows(MatF& x, const VecF& slope) {
  x.array() = x.array().max(0.0f) + x.array().min(0.0f).colwise() * slope.array();
}

using nn::linear_weight;
using nn::vec_of;

int round_up8(int n) {
  return (n + 7) / 8 * 8;
}

// y = W X (all column-major). Column-major y = W X is row-major y^T = X^T W^T, which the SIMD
// kernel computes when W has a multiple of 16 rows, and the AVX2 kernel (8-wide vectors, on any
// CPU that has it) for a multiple of 8 (the attention's second layer by default); Eigen's SSE2
// GEMM otherwise. Eigen's was the head's and the attention's largest cost without AVX-512.
void multiply(const MatF& W, const MatF& X, MatF& y) {
  static const nn::GemmFn eight = nn::gemm_kernel("avx2");
  const nn::GemmFn k = W.rows() % 16 == 0 ? nn::best_gemm() : W.rows() % 8 == 0 ? eight : nullptr;
  if (!k) {
    y.noalias() = W * X;
    return;
  }
  y.resize(W.rows(), X.cols());
  k(X.data(), static_cast<size_t>(X.cols()), static_cast<size_t>(X.rows()),
    static_cast<size_t>(X.rows()), W.data(), static_cast<size_t>(W.rows()), y.data());
}

// The serving copy of the eval-mode net (see the header comment for the algebra).
struct Serving {
  int d = 0, nd = 0;
  bool attend = true, softmax = true, mean = false;
  MatF E;      // d x (n_items + 1): column i = embedding of index i (item id + 1)
  MatF A_tab;  // a1 x (n_items + 1): A e_i
  MatF B_tab;  // a1 x (n_items + 1): B e_i + b (first attention bias)
  MatF C;      // a1 x d
  VecF att_slope0;
  std::vector<MatF> att_W;  // attention layers 1..: a_k x a_{k-1}
  std::vector<VecF> att_b, att_slope;
  VecF att_out_w;
  float att_out_b = 0;
  MatF W_pool;              // h1 x d
  MatF W_dense;             // h1 x nd
  MatF T_tab;               // h1 x (n_items + 1): W_t e_i + b1 (first head bias folded in)
  std::vector<MatF> F_tab;  // per field: h1 x cardinality: W_f emb_f[v]
  VecF head_slope0;
  std::vector<MatF> head_W;  // head layers 1..
  std::vector<VecF> head_b, head_slope;
  VecF head_out_w;
  float head_out_b = 0;
  bool simd_shapes = false;  // every width a multiple of 8: din_simd's kernels apply
};

// din_simd's dot follows the summation order of Eigen's 4-lane (SSE) packets, the default
// build's; a -march=native build (CASCADE_NATIVE) has wider packets and another order, so it
// keeps the Eigen loops and the fast path stays bit-identical to them.
constexpr bool kEigenIsSse = Eigen::internal::packet_traits<float>::size == 4;

// x.colwise() += *bias (when given), then PReLU with one slope per row: din_simd's kernel on the
// fast path (`simd`), Eigen's loops otherwise; the same floats either way.
void bias_prelu(MatF& x, const VecF* bias, const VecF& slope, bool simd) {
  if (simd) {
    din_simd::bias_prelu(x.data(), static_cast<int>(x.rows()), static_cast<size_t>(x.cols()),
                         bias ? bias->data() : nullptr, slope.data());
    return;
  }
  if (bias) x.colwise() += *bias;
  prelu_rows(x, slope);
}

// bias + w . col (w.size() floats), through din_simd on the fast path: the same float.
float dot_col(const VecF& w, const float* col, float bias, bool simd) {
  if (simd) return din_simd::dot(w.data(), col, static_cast<int>(w.size()), bias);
  return bias + w.dot(Eigen::Map<const VecF>(col, w.size()));
}

class DinRanker final : public NeuralRankerOf<DinRanker> {
 public:
  explicit DinRanker(Params params)
      : NeuralRankerOf(kKind, kFormatVersion, std::move(params),
                       NeuralTrainParams::Defaults{.item_table = true}) {
    cfg_ = DinConfig::read(params_, train_params().dropout);
    params_.check_unused(kKind);
  }

 private:
  void build_net() override { net_ = DinNet(schema_, static_cast<int64_t>(norm_.out_dim()), cfg_); }
  torch::nn::Module& module() const override { return *net_.ptr(); }
  torch::Tensor item_embedding() override { return net_->item->weight; }

  std::function<double()> epoch_trainer(const RankTrainSet& train, torch::optim::Optimizer& opt,
                                        uint64_t seed) override {
    return [this, &train, &opt, dn = norm_.apply_batch(train.batch), rg = row_groups(train.batch),
            batches = GroupBatches(train, train_params(), seed ^ kShuffleSalt)]() mutable {
      return batches.epoch(opt, [&](std::span<const uint32_t> rows) {
        const TorchInputs in = make_inputs(train.batch, dn, norm_.out_dim(), rows, rg);
        return net_->forward(in.hist, in.row.target, in.row.cats, in.row.dense, false);
      });
    };
  }

  // The serving copy of the eval-mode net (and the per-item / per-value tables).
  void copy_serving() override {
    Serving s;
    s.d = cfg_.dim;
    s.nd = static_cast<int>(norm_.out_dim());
    s.attend = cfg_.attend();
    s.softmax = cfg_.attention == "softmax";
    s.mean = cfg_.pooling == "mean";
    const int d = s.d;
    s.E = linear_weight(net_->item->weight).transpose();  // [(n+1), d] -> d x (n+1)
    if (s.attend) {
      const MatF W = linear_weight(net_->att[0]->weight);  // a1 x 4d
      const MatF A = W.middleCols(0, d) + W.middleCols(2 * d, d);
      const MatF B = W.middleCols(d, d) - W.middleCols(2 * d, d);
      s.C = W.middleCols(3 * d, d);
      s.A_tab = A * s.E;
      s.B_tab = B * s.E;
      s.B_tab.colwise() += vec_of(net_->att[0]->bias);
      s.att_slope0 = vec_of(net_->att_slope[0]);
      for (size_t k = 1; k < net_->att.size(); ++k) {
        s.att_W.push_back(linear_weight(net_->att[k]->weight));
        s.att_b.push_back(vec_of(net_->att[k]->bias));
        s.att_slope.push_back(vec_of(net_->att_slope[k]));
      }
      s.att_out_w = vec_of(net_->att_out->weight.reshape({-1}));
      s.att_out_b = net_->att_out->bias.item<float>();
    }
    const MatF W1 = linear_weight(net_->head[0]->weight);  // h1 x in
    const int fd = cfg_.field_dim;
    s.W_pool = W1.middleCols(0, d);
    s.T_tab = W1.middleCols(d, d) * s.E;
    s.T_tab.colwise() += vec_of(net_->head[0]->bias);
    const int nf = static_cast<int>(schema_.n_fields());
    s.F_tab.clear();
    for (int f = 0; f < nf; ++f) {
      const MatF emb = linear_weight(net_->fields[f]->weight).transpose();  // fd x card
      s.F_tab.push_back(W1.middleCols(2 * d + f * fd, fd) * emb);
    }
    s.W_dense = W1.middleCols(2 * d + nf * fd, s.nd);
    s.head_slope0 = vec_of(net_->head_slope[0]);
    for (size_t k = 1; k < net_->head.size(); ++k) {
      s.head_W.push_back(linear_weight(net_->head[k]->weight));
      s.head_b.push_back(vec_of(net_->head[k]->bias));
      s.head_slope.push_back(vec_of(net_->head_slope[k]));
    }
    s.head_out_w = vec_of(net_->head_out->weight.reshape({-1}));
    s.head_out_b = net_->head_out->bias.item<float>();
    std::vector<long> widths{d, static_cast<long>(s.W_pool.rows()),
                             static_cast<long>(s.head_out_w.size())};
    if (s.attend) {
      widths.push_back(static_cast<long>(s.C.rows()));
      widths.push_back(static_cast<long>(s.att_out_w.size()));
    }
    for (const MatF& W : s.att_W) widths.push_back(static_cast<long>(W.rows()));
    for (const MatF& W : s.head_W) widths.push_back(static_cast<long>(W.rows()));
    s.simd_shapes =
        std::all_of(widths.begin(), widths.end(), [](long w) { return w > 0 && w % 8 == 0; });
    sv_ = std::move(s);
  }

  void score_group(const RankBatch& batch, size_t g, std::span<float> out) const override {
    score_rows(batch, g, out, nullptr);
  }
  bool attends() const override { return sv_.attend; }
  void score_group_attended(const RankBatch& batch, size_t g, std::span<float> out, float* weights,
                            bool& normalised) const override {
    normalised = sv_.softmax;
    score_rows(batch, g, out, weights);
  }

  // Scores the rows of group g into out (see the header comment for the layout); with
  // `weights`, also the attention weights of each row (row j of the group at weights + j * L).
  void score_rows(const RankBatch& batch, size_t g, std::span<float> out, float* weights) const {
    const Serving& s = sv_;
    const int d = s.d;
    const uint32_t r0 = batch.group_begin[g];
    const int N = static_cast<int>(batch.group_begin[g + 1] - r0);
    if (N == 0) return;
    const bool simd = kEigenIsSse && s.simd_shapes && fast_paths() && din_simd::cpu_has_avx2();
    const int Np = round_up8(N);
    const auto hist = batch.group_history(g);
    const int L = static_cast<int>(hist.size());
    auto item_col = [&](int j) { return static_cast<Eigen::Index>(batch.items[r0 + j]) + 1; };

    MatF pooled = MatF::Zero(d, Np);
    if (L > 0) {
      MatF H(d, L);
      for (int l = 0; l < L; ++l) H.col(l) = s.E.col(static_cast<Eigen::Index>(hist[l]) + 1);
      if (!s.attend) {
        for (int j = 0; j < N; ++j) {
          const ItemId own = batch.items[r0 + j];
          int count = 0;
          for (int l = 0; l < L; ++l) {
            if (hist[l] == own) continue;
            pooled.col(j) += H.col(l);
            ++count;
          }
          if (s.mean && count > 0) pooled.col(j) /= static_cast<float>(count);
        }
      } else {
        attention_pool(batch, g, H, pooled, weights, simd);
      }
    }

    // Head, first layer: h1 x Np pre-activations.
    MatF x;
    multiply(s.W_pool, pooled, x);
    if (s.nd > 0) {
      MatF dense = MatF::Zero(s.nd, Np), xd;
      for (int j = 0; j < N; ++j) norm_.apply(batch.dense_row(r0 + j), dense.col(j).data());
      multiply(s.W_dense, dense, xd);
      x += xd;
    }
    const size_t nf = batch.schema.n_fields();
    std::vector<const float*> src(nf + 1);
    for (int j = 0; j < N; ++j) {
      const auto cats = batch.cat_row(r0 + j);
      if (simd) {
        src[0] = s.T_tab.col(item_col(j)).data();
        for (size_t f = 0; f < nf; ++f) src[f + 1] = s.F_tab[f].col(cats[f]).data();
        din_simd::add_columns(x.col(j).data(), src.data(), static_cast<int>(nf + 1),
                              static_cast<int>(x.rows()));
        continue;
      }
      x.col(j) += s.T_tab.col(item_col(j));
      for (size_t f = 0; f < nf; ++f) x.col(j) += s.F_tab[f].col(cats[f]);
    }
    bias_prelu(x, nullptr, s.head_slope0, simd);
    for (size_t k = 0; k < s.head_W.size(); ++k) {
      MatF y;
      multiply(s.head_W[k], x, y);
      bias_prelu(y, &s.head_b[k], s.head_slope[k], simd);
      x.swap(y);
    }
    for (int j = 0; j < N; ++j)
      out[r0 + j] = dot_col(s.head_out_w, x.col(j).data(), s.head_out_b, simd);
  }

  // The attention unit over every (candidate, history item) pair of group g and the pooled
  // interest of each candidate into pooled.col(j). H: d x L history embeddings.
  void attention_pool(const RankBatch& batch, size_t g, const MatF& H, MatF& pooled, float* weights,
                      bool simd) const {
    const Serving& s = sv_;
    const int d = s.d;
    const uint32_t r0 = batch.group_begin[g];
    const int N = static_cast<int>(batch.group_begin[g + 1] - r0);
    const auto hist = batch.group_history(g);
    const int L = static_cast<int>(hist.size()), L8 = round_up8(L);
    const Eigen::Index a1 = s.C.rows();
    MatF AH(a1, L);
    for (int l = 0; l < L; ++l) AH.col(l) = s.A_tab.col(static_cast<Eigen::Index>(hist[l]) + 1);
    const int per_block = std::max(1, kPairCols / L8);
    MatF X, Z, Z2;
    VecF bt(a1);
    std::vector<float> logit(static_cast<size_t>(per_block) * L8), w(L);
    for (int j0 = 0; j0 < N; j0 += per_block) {
      const int nb = std::min(per_block, N - j0);
      const Eigen::Index P = static_cast<Eigen::Index>(nb) * L8;
      X.setZero(d, P);
      for (int j = 0; j < nb; ++j) {
        const auto t = s.E.col(static_cast<Eigen::Index>(batch.items[r0 + j0 + j]) + 1);
        if (simd) {
          din_simd::pair_products(H.data(), d, L, t.data(), X.col(j * L8).data());
          continue;
        }
        for (int l = 0; l < L; ++l) X.col(j * L8 + l) = H.col(l).cwiseProduct(t);
      }
      // a1 x P: the pairwise part C (h * t), the stage's largest product. Column-major Z = C X is
      // row-major Z^T = X^T C^T, which the SIMD kernel computes when a1 is a multiple of 16.
      if (a1 % 16 == 0) {
        Z.resize(a1, P);
        nn::best_gemm()(X.data(), static_cast<size_t>(P), static_cast<size_t>(d),
                        static_cast<size_t>(d), s.C.data(), static_cast<size_t>(a1), Z.data());
      } else {
        Z.noalias() = s.C * X;
      }
      for (int j = 0; j < nb; ++j) {
        bt = s.B_tab.col(static_cast<Eigen::Index>(batch.items[r0 + j0 + j]) + 1);
        if (simd) {  // the same floats as the Eigen loop (din_simd.h)
          din_simd::add_pair_terms(Z.col(j * L8).data(), static_cast<int>(a1), L, AH.data(),
                                   bt.data());
          continue;
        }
        for (int l = 0; l < L; ++l) Z.col(j * L8 + l) += AH.col(l) + bt;
      }
      bias_prelu(Z, nullptr, s.att_slope0, simd);
      for (size_t k = 0; k < s.att_W.size(); ++k) {
        multiply(s.att_W[k], Z, Z2);
        bias_prelu(Z2, &s.att_b[k], s.att_slope[k], simd);
        Z.swap(Z2);
      }
      for (Eigen::Index p = 0; p < P; ++p)
        logit[p] = dot_col(s.att_out_w, Z.col(p).data(), s.att_out_b, simd);
      // Weights over the unmasked history (sequential loops: exact whatever the masking).
      for (int j = 0; j < nb; ++j) {
        const ItemId own = batch.items[r0 + j0 + j];
        const float* lg = logit.data() + static_cast<size_t>(j) * L8;
        if (s.softmax) {
          float mx = -std::numeric_limits<float>::infinity();
          for (int l = 0; l < L; ++l) {
            if (hist[l] != own) mx = std::max(mx, lg[l]);
          }
          if (mx == -std::numeric_limits<float>::infinity()) continue;  // fully masked: zero
          float sum = 0;
          for (int l = 0; l < L; ++l) {
            w[l] = hist[l] == own ? 0.0f : std::exp(lg[l] - mx);
            sum += w[l];
          }
          for (int l = 0; l < L; ++l) w[l] /= sum;
        } else {
          for (int l = 0; l < L; ++l) w[l] = hist[l] == own ? 0.0f : lg[l];
        }
        if (weights) std::copy(w.begin(), w.end(), weights + static_cast<size_t>(j0 + j) * L);
        auto col = pooled.col(j0 + j);
        for (int l = 0; l < L; ++l) {
          if (hist[l] == own) continue;
          if (simd)
            din_simd::add_scaled(col.data(), H.col(l).data(), w[l], d);
          else
            col += w[l] * H.col(l);
        }
      }
    }
  }

  std::vector<float> torch_forward(const RankBatch& batch) const override {
    const std::vector<float> dn = norm_.apply_batch(batch);
    const std::vector<uint32_t> rg = row_groups(batch);
    std::vector<uint32_t> rows(batch.rows());
    std::iota(rows.begin(), rows.end(), 0u);
    const TorchInputs in = make_inputs(batch, dn, norm_.out_dim(), rows, rg);
    // forward() is not const; the module is read, not changed.
    return nn::to_vector(
        net_.ptr()->forward(in.hist, in.row.target, in.row.cats, in.row.dense, true));
  }

  DinConfig cfg_;
  DinNet net_{nullptr};
  Serving sv_;

  friend std::vector<std::vector<float>> din::torch_attention(const Ranker& model,
                                                              const RankBatch& batch);
};

}  // namespace

std::vector<float> din::torch_scores(const Ranker& model, const RankBatch& batch) {
  return NeuralRanker::torch_scores(model, kKind, batch);
}

std::vector<std::vector<float>> din::torch_attention(const Ranker& model, const RankBatch& batch) {
  const auto* m = dynamic_cast<const DinRanker*>(&model);
  CASCADE_CHECK(m != nullptr,
                fmt::format("din::torch_attention: '{}' is not a din ranker", model.kind()));
  // torch_scores runs the same checks (fitted, schema, eval mode) on the same batch.
  (void)NeuralRanker::torch_scores(model, kKind, batch);
  const std::vector<float> dn = m->norm_.apply_batch(batch);
  const std::vector<uint32_t> rg = row_groups(batch);
  std::vector<uint32_t> rows(batch.rows());
  std::iota(rows.begin(), rows.end(), 0u);
  const TorchInputs in = make_inputs(batch, dn, m->norm_.out_dim(), rows, rg);
  torch::NoGradGuard no_grad;
  DinNetImpl& net = *m->net_.ptr();
  const auto H = net.item(in.hist);
  const auto t = net.item(in.row.target);
  const std::vector<float> w = nn::to_vector(net.pooling_weights(in.hist, H, t, true).contiguous());
  const size_t L = static_cast<size_t>(in.hist.size(1));
  std::vector<std::vector<float>> out(batch.rows());
  for (size_t r = 0; r < batch.rows(); ++r) {
    const size_t len = batch.group_history(rg[r]).size();
    out[r].assign(w.begin() + static_cast<std::ptrdiff_t>(r * L),
                  w.begin() + static_cast<std::ptrdiff_t>(r * L + len));
  }
  return out;
}

CASCADE_REGISTER_RANKER(DinRanker, "din");

}  // namespace cascade
