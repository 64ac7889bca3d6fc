// DeepFM ranker: Guo, Tang, Ye, Li, He 2017, "DeepFM: A Factorization-Machine based Neural
// Network for CTR Prediction" (IJCAI). Used as the pre-rank stage (1000 -> 100 candidates).
//
// Inputs (one RankBatch row = one (user, candidate) pair):
//  - categorical fields f = 1..F (user, item, gender, age, ...), value c in [0, card_f);
//    each has an embedding V_f[c] (dim) and a first-order weight w_f[c];
//  - dense columns, normalised by DenseNormalizer (standardised, clipped to [-5, 5], NaN -> 0,
//    plus a 0/1 present-indicator per column that had NaNs in training): x (Dn values).
//    The dense inputs enter the FM as ONE extra "dense field" whose embedding is a linear
//    projection P x (dim, no bias), and the first-order part as a linear term w_x . x + b.
//    (One embedding per dense column scaled by its value would cost Dn x dim per row at
//    serving time for little gain on ~100 mostly-redundant score columns.)
// Model: logit = FM + deep, where
//   FM   = b + sum_f w_f[c_f] + w_x . x + sum_{i<j} <e_i, e_j>,  e = (V_1[c_1], ..., V_F[c_F], P x)
//          (second order computed as 0.5 (|sum e|^2 - sum |e|^2), as in Rendle 2010)
//   deep = MLP([V_1[c_1], ..., V_F[c_F], x]) with hidden layers `hidden`, ReLU, dropout after
//          each hidden layer in training, and a final linear layer to one output.
//   The embeddings are shared by the FM and the deep part, as in the paper.
// Losses (`loss`):
//   bce       binary cross-entropy with logits over rows (rows shuffled, `batch` rows a step)
//   listwise  softmax cross-entropy over each group: -mean_{positives p} log softmax(s)_p,
//             averaged over the groups that have a positive and a negative; a step takes
//             whole shuffled groups until it holds >= `batch` rows. Groups without a
//             positive or without a negative are skipped (no gradient from them).
//   Default: listwise. On the synthetic in-group ranking set of tests/rank/test_deepfm.cc
//   (300 groups x 30 rows, positives = top 4 per group of a gender x dense interaction plus
//   an item effect), held-out grouped AUC, 8 epochs, seeds 1/2/3:
//     hidden 128-64: listwise 0.960 0.961 0.961   bce 0.959 0.958 0.958
//     hidden 64-32:  listwise 0.957 0.960 0.961   bce 0.941 0.942 0.946
//   (only the order inside a group matters to a ranker, which is what listwise optimises).
// Optimiser AdamW (lr, weight_decay). Field embeddings start N(0, 0.05^2), first-order
// weights at 0, Linear layers at libtorch's default. When RankFitOptions::valid is given,
// grouped_auc on it is computed every epoch through score() and the best epoch's weights are
// kept (nn::BestEpoch); `patience` epochs without a gain stop early (0 = never).
//
// Serving (score(), no libtorch): weights are copied into plain arrays at the end of fit()
// and on load(); the forward is single-threaded, const and thread-safe: the matrix products
// run in small AVX-512 / AVX2+FMA kernels picked at run time (the default build gives Eigen
// only SSE2, ~3x slower here), else in Eigen with the calling thread's OpenMP thread count
// set to 1 for the call so that Eigen's GEMM does not fork; the rest is Eigen.
// Per group of rows:
//  - a precomputed table per categorical value holds [V_f[c] W1_f^T (H1) | V_f[c] | w_f[c]]
//    plus |V_f[c]|^2, where W1_f is the block of the first MLP layer that reads field f;
//    so the first layer, the FM sum and the first-order term of a field are one row lookup;
//  - fields whose value is the SAME on every row of the group (checked per group and per
//    field on the values, no assumption from field names: in the real pipeline that is
//    user, gender, age, occupation) are looked up once and added to a group constant;
//    the other fields (item, year, popularity, ...) are gathered per row;
//  - the dense part of the first layer, the dense-field embedding and the dense linear term
//    are ONE matrix product X [n, Dn] x Wd [Dn, H1 + dim + 1];
//  - the remaining layers are batched Eigen products over the group's rows.
// A group's scores depend only on that group's rows (so scoring a group alone or inside a
// bigger batch is bit-identical). The serving forward equals the libtorch eval forward to
// float rounding (deepfm::torch_scores, deepfm_reference.h). A loaded model scores
// bit-identically to the fitted one (the same copy code runs on the same weights).
// Requires >= 1 categorical field and >= 1 dense column.
//
// Determinism: shuffling is seeded from `seed`, dropout and initialisation use libtorch's
// global generator seeded by nn::TorchSession, which also pins OpenBLAS's threads to
// torch_threads (before it did, a fit depended on OMP_NUM_THREADS / the core count): same
// seed + same torch_threads -> identical model. Two fits must not run concurrently in one process.
//
// Parameters ("deepfm:dim=16,hidden=64-32,...", all optional; defaults in brackets):
//   dim           field embedding size                                 [16]      1..256
//   hidden        MLP hidden sizes, '-'-separated, 1..8 layers         [64-32]   each 1..4096
//   dropout       dropout after each hidden layer (training only)      [0.1]     0..0.9
//   loss          bce | listwise                                       [listwise]
//   epochs        maximum training epochs                              [10]      1..10000
//   batch         rows per optimiser step (whole groups for listwise)  [512]     1..1048576
//   lr            AdamW learning rate                                  [0.001]   1e-6..1
//   weight_decay  AdamW decoupled weight decay                         [0.0001]  0..1
//   patience      epochs without validation gain before stopping
//                 (0 = never stop early; best weights are still kept)  [3]       0..10000
//   seed          -1 = RankFitOptions::seed                            [-1]
//   torch_threads libtorch intra-op threads while training
//                 (0 = RankFitOptions::threads, 0 there = hardware)    [1]       0..1024
//                 Default 1: two spin-waiting libtorch threads were ~5x slower than one on
//                 the shared 2-core development machine.
// Sizes: dim costs nothing at serving time (embeddings go through precomputed tables); the
// hidden sizes do (1000 rows x 90 dense inputs x H1, then H1 x H2 per row). hidden 64-32
// was chosen over 128-64 for the 1 ms pre-rank budget: same synthetic quality with listwise
// (above), score() of 1000 candidates of one user ~0.5 ms vs ~0.8 ms of CPU time with the
// AVX-512 kernel (bench/deepfm_bench.cc, the real pipeline's field sizes, 60 dense columns +
// 30 indicators; the numbers measured for both builds are in that file's header).
#include <fmt/format.h>

#include <Eigen/Core>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <numeric>
#include <memory>
#include <random>
#include <vector>

#include "cascade/core/error.h"
#include "cascade/core/registry.h"
#include "cascade/rank/ranker.h"
#include "nn/eigen_threads.h"
#include "nn/simd_gemm.h"
#include "nn/torch_util.h"
#include "rank/deepfm_reference.h"
#include "rank/neural_ranker.h"

namespace cascade {

namespace {

constexpr const char* kKind = "deepfm";
constexpr int kFormatVersion = 1;

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using CMap = Eigen::Map<const RowMat>;
using CVecMap = Eigen::Map<const Eigen::RowVectorXf>;

// ---- Serving GEMM: nn/simd_gemm.h (AVX-512 / AVX2+FMA kernels picked at run time, Eigen
// fallback). A process-wide choice so tests can force one kernel.
using GemmFn = nn::GemmFn;

std::atomic<GemmFn>& active_kernel() {
  static std::atomic<GemmFn> k{nn::gemm_kernel("auto")};
  return k;
}

size_t pad16(size_t m) { return (m + 15) / 16 * 16; }

// Shuffling generator salt (the libtorch generator gets the seed itself).
constexpr uint64_t kShuffleSalt = 0x9e3779b97f4a7c15ULL;

struct DeepfmConfig {
  int dim = 16;
  std::vector<int> hidden{64, 32};
  double dropout = 0.1;

  // The training parameters are NeuralRanker's (NeuralTrainParams).
  static DeepfmConfig read(Params& p, double dropout) {
    DeepfmConfig c;
    c.dim = static_cast<int>(p.get_int("dim", 16, 1, 256));
    c.hidden = p.get_layers("hidden", "64-32", {.min_width = 1, .max_width = 4096, .max_layers = 8, .none = ""});
    c.dropout = dropout;
    return c;
  }
};

struct DeepfmNetImpl : torch::nn::Module {
  // total_values: sum of the fields' cardinalities (one shared table, field f's values at
  // rows [offset_f, offset_f + card_f)); dense_dim: the normaliser's output width.
  DeepfmNetImpl(int64_t total_values, int64_t n_fields, int64_t dense_dim, const DeepfmConfig& c)
      : n_fields_(n_fields), dim_(c.dim) {
    emb = register_module("emb", torch::nn::Embedding(total_values, c.dim));
    first = register_module("first", torch::nn::Embedding(total_values, 1));
    dense_lin = register_module("dense_lin", torch::nn::Linear(dense_dim, 1));
    dense_proj = register_module("dense_proj",
                                 torch::nn::Linear(torch::nn::LinearOptions(dense_dim, c.dim).bias(false)));
    int64_t in = n_fields * c.dim + dense_dim;
    for (size_t l = 0; l < c.hidden.size(); ++l) {
      fc.push_back(register_module(fmt::format("fc{}", l), torch::nn::Linear(in, c.hidden[l])));
      in = c.hidden[l];
    }
    out = register_module("out", torch::nn::Linear(in, 1));
    drop = register_module("drop", torch::nn::Dropout(c.dropout));
    torch::NoGradGuard ng;
    emb->weight.normal_(0.0, 0.05);
    first->weight.zero_();
  }

  // ids: [N, F] int64 rows of the shared table; x: [N, Dn] normalised dense. Returns [N].
  torch::Tensor forward(const torch::Tensor& ids, const torch::Tensor& x) {
    const int64_t N = ids.size(0);
    auto E = emb(ids);                                       // [N, F, d]
    auto all = torch::cat({E, dense_proj(x).unsqueeze(1)}, 1);  // [N, F + 1, d]
    auto s = all.sum(1);                                     // [N, d]
    auto fm2 = 0.5 * (s.pow(2).sum(1) - all.pow(2).sum({1, 2}));
    auto lin = first(ids).sum({1, 2}) + dense_lin(x).squeeze(1);
    auto h = torch::cat({E.reshape({N, n_fields_ * dim_}), x}, 1);
    for (auto& layer : fc) h = drop(torch::relu(layer(h)));
    return lin + fm2 + out(h).squeeze(1);
  }

  int64_t n_fields_, dim_;
  torch::nn::Embedding emb{nullptr}, first{nullptr};
  torch::nn::Linear dense_lin{nullptr}, dense_proj{nullptr}, out{nullptr};
  std::vector<torch::nn::Linear> fc;
  torch::nn::Dropout drop{nullptr};
};
TORCH_MODULE(DeepfmNet);

class DeepfmRanker final : public NeuralRankerOf<DeepfmRanker> {
 public:
  explicit DeepfmRanker(Params params)
      : NeuralRankerOf(kKind, kFormatVersion, std::move(params), NeuralTrainParams::Defaults{512, 1 << 20}) {
    cfg_ = DeepfmConfig::read(params_, train_params().dropout);
    params_.check_unused(kKind);
  }

 private:
  void check_supported(const FeatureSchema& schema) const override {
    CASCADE_CHECK(schema.n_fields() >= 1, "deepfm: needs at least one categorical field");
    CASCADE_CHECK(schema.n_dense() >= 1, "deepfm: needs at least one dense column");
  }

  void build_net() override {
    set_offsets();
    net_ = DeepfmNet(offsets_.back(), static_cast<int64_t>(schema_.n_fields()),
                     static_cast<int64_t>(norm_.out_dim()), cfg_);
  }
  torch::nn::Module& module() const override { return *net_.ptr(); }

  // Rows (bce) or whole groups (listwise) in shuffled order; the listwise loss pads each
  // step's groups to [groups, longest] and takes log-softmax over each group's row.
  std::function<double()> epoch_trainer(const RankTrainSet& train, torch::optim::Optimizer& optim,
                                        uint64_t seed) override {
    const RankBatch& B = train.batch;
    const int64_t N = static_cast<int64_t>(B.rows()), F = static_cast<int64_t>(schema_.n_fields());
    const int64_t Dn = static_cast<int64_t>(norm_.out_dim());
    const std::vector<float> X = norm_.apply_batch(B);
    const auto Xt = nn::from_vector(X, {N, Dn});
    const auto It = nn::from_ids(table_ids(B), {N, F});
    const auto Yt = nn::from_vector(train.labels, {N});

    std::mt19937_64 rng(seed ^ kShuffleSalt);
    const bool listwise = train_params().listwise();
    const int64_t batch = train_params().batch;
    // Units of shuffling: rows (bce) or groups with a positive and a negative (listwise).
    std::vector<int64_t> units;
    if (listwise) {
      for (size_t g = 0; g < B.groups(); ++g) {
        bool pos = false, neg = false;
        for (size_t r = B.group_begin[g]; r < B.group_begin[g + 1]; ++r) (train.labels[r] > 0.5f ? pos : neg) = true;
        if (pos && neg) units.push_back(static_cast<int64_t>(g));
      }
      CASCADE_CHECK(!units.empty(), "deepfm: loss=listwise needs a group with a positive and a negative");
    } else {
      units.resize(static_cast<size_t>(N));
      std::iota(units.begin(), units.end(), 0);
    }
    return [this, &train, &optim, Xt, It, Yt, rng, listwise, batch, units]() mutable {
      const RankBatch& B = train.batch;
      std::vector<int64_t> rows, pad, pos_flat;
      std::vector<float> pos_w;
      std::shuffle(units.begin(), units.end(), rng);
      double loss_sum = 0;
      int64_t steps = 0;
      for (size_t u0 = 0; u0 < units.size();) {
        torch::Tensor loss;
        if (!listwise) {
          const size_t u1 = std::min(units.size(), u0 + static_cast<size_t>(batch));
          rows.assign(units.begin() + static_cast<std::ptrdiff_t>(u0), units.begin() + static_cast<std::ptrdiff_t>(u1));
          u0 = u1;
          auto idx = nn::from_ids(rows, {static_cast<int64_t>(rows.size())});
          auto logits = net_->forward(It.index_select(0, idx), Xt.index_select(0, idx));
          loss = torch::nn::functional::binary_cross_entropy_with_logits(logits, Yt.index_select(0, idx));
        } else {
          // Whole groups until the step holds >= batch rows.
          rows.clear();
          std::vector<std::pair<int64_t, int64_t>> spans;  // (first local row, size) per group
          while (u0 < units.size() && static_cast<int64_t>(rows.size()) < batch) {
            const size_t g = static_cast<size_t>(units[u0++]);
            spans.emplace_back(static_cast<int64_t>(rows.size()), B.group_begin[g + 1] - B.group_begin[g]);
            for (size_t r = B.group_begin[g]; r < B.group_begin[g + 1]; ++r) rows.push_back(static_cast<int64_t>(r));
          }
          const int64_t R = static_cast<int64_t>(rows.size()), G = static_cast<int64_t>(spans.size());
          int64_t L = 0;
          for (const auto& s : spans) L = std::max(L, s.second);
          // [G, L] positions into [logits, -inf]; position R is the padding value.
          pad.assign(static_cast<size_t>(G * L), R);
          pos_flat.clear();
          pos_w.clear();
          for (int64_t g = 0; g < G; ++g) {
            const auto [first, size] = spans[static_cast<size_t>(g)];
            int64_t n_pos = 0;
            for (int64_t j = 0; j < size; ++j) n_pos += train.labels[static_cast<size_t>(rows[first + j])] > 0.5f;
            for (int64_t j = 0; j < size; ++j) {
              pad[static_cast<size_t>(g * L + j)] = first + j;
              if (train.labels[static_cast<size_t>(rows[first + j])] > 0.5f) {
                pos_flat.push_back(g * L + j);
                pos_w.push_back(1.0f / static_cast<float>(n_pos * G));
              }
            }
          }
          auto idx = nn::from_ids(rows, {R});
          auto logits = net_->forward(It.index_select(0, idx), Xt.index_select(0, idx));
          auto ext = torch::cat({logits, torch::full({1}, -std::numeric_limits<float>::infinity())});
          auto P = ext.index_select(0, nn::from_ids(pad, {G * L})).view({G, L});
          auto logp = torch::log_softmax(P, 1).view({G * L});
          auto picked = logp.index_select(0, nn::from_ids(pos_flat, {static_cast<int64_t>(pos_flat.size())}));
          loss = -(picked * nn::from_vector(pos_w, {static_cast<int64_t>(pos_w.size())})).sum();
        }
        optim.zero_grad();
        loss.backward();
        optim.step();
        loss_sum += loss.item<double>();
        ++steps;
      }
      return loss_sum / static_cast<double>(std::max<int64_t>(1, steps));
    };
  }

  void score_group(const RankBatch& batch, size_t g, std::span<float> out) const override {
    const size_t r0 = batch.group_begin[g], r1 = batch.group_begin[g + 1];
    if (r1 > r0) score_rows(batch, r0, r1 - r0, out.data() + r0, active_kernel().load());
  }

  // The normaliser's output width, to check against the network's at load.
  void save_extra(ArtifactWriter& w) const override { w.meta()["dense_dim"] = norm_.out_dim(); }
  void check_extra(const ModelReader& r) const override {
    const auto dense_dim = r.field<size_t>("dense_dim");
    CASCADE_CHECK(norm_.out_dim() == dense_dim,
                  fmt::format("deepfm normaliser has {} -> {} columns, the manifest says {} -> {}", norm_.in_dim(),
                              norm_.out_dim(), schema_.n_dense(), dense_dim));
  }


  void set_offsets() {
    offsets_.assign(1, 0);
    for (const auto& f : schema_.fields) offsets_.push_back(offsets_.back() + static_cast<int64_t>(f.cardinality));
  }

  // Row ids into the shared embedding table: [rows, F].
  std::vector<int64_t> table_ids(const RankBatch& b) const {
    const size_t F = schema_.n_fields();
    std::vector<int64_t> ids(b.rows() * F);
    for (size_t r = 0; r < b.rows(); ++r) {
      for (size_t f = 0; f < F; ++f) ids[r * F + f] = offsets_[f] + static_cast<int64_t>(b.cats[r * F + f]);
    }
    return ids;
  }

  // Eval mode + the serving arrays (see the header comment). Column counts are padded to a
  // multiple of 16 with zeros for the kernels: K = pad16(H1 + dim + 1).
  void copy_serving() override {
    nn::SingleThreadedEigen one;
    const int64_t d = cfg_.dim, H1 = cfg_.hidden[0];
    const int64_t K = static_cast<int64_t>(pad16(static_cast<size_t>(H1 + d + 1)));
    const int64_t F = static_cast<int64_t>(schema_.n_fields()), total = offsets_.back();
    const int64_t Dn = static_cast<int64_t>(norm_.out_dim()), in = F * d + Dn;
    const std::vector<float> E = nn::to_vector(net_->emb->weight);      // [total, d]
    const std::vector<float> w1 = nn::to_vector(net_->first->weight);   // [total, 1]
    const std::vector<float> W1 = nn::to_vector(net_->fc[0]->weight);   // [H1, in]
    const std::vector<float> b1 = nn::to_vector(net_->fc[0]->bias);     // [H1]
    const std::vector<float> wl = nn::to_vector(net_->dense_lin->weight);  // [1, Dn]
    const std::vector<float> P = nn::to_vector(net_->dense_proj->weight);  // [d, Dn]
    const CMap W1m(W1.data(), H1, in);
    tab_.assign(static_cast<size_t>(total * K), 0.f);
    tab_sq_.assign(static_cast<size_t>(total), 0.f);
    Eigen::Map<RowMat> T(tab_.data(), total, K);
    const CMap Em(E.data(), total, d);
    for (int64_t f = 0; f < F; ++f) {
      const int64_t o = offsets_[f], c = offsets_[f + 1] - o;
      T.block(o, 0, c, H1).noalias() = Em.middleRows(o, c) * W1m.middleCols(f * d, d).transpose();
    }
    T.middleCols(H1, d) = Em;
    for (int64_t v = 0; v < total; ++v) {
      T(v, H1 + d) = w1[static_cast<size_t>(v)];
      tab_sq_[static_cast<size_t>(v)] = Em.row(v).squaredNorm();
    }
    wd_.assign(static_cast<size_t>(Dn * K), 0.f);
    Eigen::Map<RowMat> Wd(wd_.data(), Dn, K);
    Wd.leftCols(H1) = W1m.rightCols(Dn).transpose();
    Wd.middleCols(H1, d) = CMap(P.data(), d, Dn).transpose();
    Wd.col(H1 + d) = CVecMap(wl.data(), Dn).transpose();
    const_.assign(static_cast<size_t>(K), 0.f);
    std::copy(b1.begin(), b1.end(), const_.begin());
    layer_wt_.clear();
    layer_b_.clear();
    for (size_t l = 1; l < net_->fc.size(); ++l) {
      const int64_t Hp = cfg_.hidden[l - 1], H = cfg_.hidden[l], Hpad = static_cast<int64_t>(pad16(static_cast<size_t>(H)));
      const std::vector<float> w = nn::to_vector(net_->fc[l]->weight);  // [H, Hp]
      std::vector<float> wt(static_cast<size_t>(Hp * Hpad), 0.f);         // [Hp, Hpad]
      Eigen::Map<RowMat>(wt.data(), Hp, Hpad).leftCols(H) = CMap(w.data(), H, Hp).transpose();
      std::vector<float> b = nn::to_vector(net_->fc[l]->bias);
      b.resize(static_cast<size_t>(Hpad), 0.f);
      layer_wt_.push_back(std::move(wt));
      layer_b_.push_back(std::move(b));
    }
    out_w_ = nn::to_vector(net_->out->weight);
    bias_ = nn::to_vector(net_->dense_lin->bias)[0] + nn::to_vector(net_->out->bias)[0];
  }

  // The forward for rows [r0, r0 + n) of one group; writes n logits to out.
  void score_rows(const RankBatch& b, size_t r0, size_t n, float* out, GemmFn gemm) const {
    const size_t d = static_cast<size_t>(cfg_.dim), H1 = static_cast<size_t>(cfg_.hidden[0]);
    const size_t K = pad16(H1 + d + 1), F = schema_.n_fields(), nd = schema_.n_dense();
    const size_t Dn = norm_.out_dim();
    Eigen::VectorXf X(static_cast<Eigen::Index>(n * Dn));  // uninitialised: every value is written
    for (size_t i = 0; i < n; ++i) norm_.apply_row(b.dense.data() + (r0 + i) * nd, X.data() + i * Dn);
    // Per row: [first-layer pre-activation (H1) | FM sum of embeddings (d) | first-order sum | pad].
    Eigen::VectorXf G(static_cast<Eigen::Index>(n * K));
    gemm(X.data(), n, Dn, Dn, wd_.data(), K, G.data());
    Eigen::Map<RowMat> Gm(G.data(), static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(K));
    // Sum of squared embedding norms per row, starting with the dense field's.
    Eigen::VectorXf sq = Gm.middleCols(static_cast<Eigen::Index>(H1), static_cast<Eigen::Index>(d)).rowwise().squaredNorm();

    const uint32_t* cats = b.cats.data() + r0 * F;
    Eigen::RowVectorXf base = CVecMap(const_.data(), static_cast<Eigen::Index>(K));
    float base_sq = 0.f;
    std::vector<size_t> varying;  // fields whose value differs between the group's rows
    for (size_t f = 0; f < F; ++f) {
      const uint32_t v0 = cats[f];
      bool same = true;
      for (size_t i = 1; i < n && same; ++i) same = cats[i * F + f] == v0;
      if (same) {
        const size_t v = static_cast<size_t>(offsets_[f]) + v0;
        base += CVecMap(tab_.data() + v * K, static_cast<Eigen::Index>(K));
        base_sq += tab_sq_[v];
      } else {
        varying.push_back(f);
      }
    }
    Gm.rowwise() += base;
    sq.array() += base_sq;
    for (size_t i = 0; i < n; ++i) {
      Eigen::Map<Eigen::RowVectorXf> g(G.data() + i * K, static_cast<Eigen::Index>(K));
      for (size_t f : varying) {
        const size_t v = static_cast<size_t>(offsets_[f]) + cats[i * F + f];
        g += CVecMap(tab_.data() + v * K, static_cast<Eigen::Index>(K));
        sq[static_cast<Eigen::Index>(i)] += tab_sq_[v];
      }
    }
    Eigen::VectorXf fm_lin(static_cast<Eigen::Index>(n));
    for (size_t i = 0; i < n; ++i) {
      const float* g = G.data() + i * K;
      const float s2 = Eigen::Map<const Eigen::VectorXf>(g + H1, static_cast<Eigen::Index>(d)).squaredNorm();
      fm_lin[static_cast<Eigen::Index>(i)] = g[H1 + d] + 0.5f * (s2 - sq[static_cast<Eigen::Index>(i)]);
    }
    // Hidden layers: ReLU in place, then the next layer's product (A = the previous activations
    // with their row stride).
    Gm.leftCols(static_cast<Eigen::Index>(H1)) = Gm.leftCols(static_cast<Eigen::Index>(H1)).cwiseMax(0.f);
    const float* h = G.data();
    size_t ld = K, width = H1;
    Eigen::VectorXf bufs[2];
    for (size_t l = 0; l < layer_wt_.size(); ++l) {
      const size_t H = static_cast<size_t>(cfg_.hidden[l + 1]), Hpad = pad16(H);
      Eigen::VectorXf& z = bufs[l % 2];
      z.resize(static_cast<Eigen::Index>(n * Hpad));
      gemm(h, n, ld, width, layer_wt_[l].data(), Hpad, z.data());
      Eigen::Map<RowMat> Z(z.data(), static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(Hpad));
      Z = (Z.rowwise() + CVecMap(layer_b_[l].data(), static_cast<Eigen::Index>(Hpad))).cwiseMax(0.f);
      h = z.data();
      ld = Hpad;
      width = H;
    }
    const Eigen::Map<const Eigen::VectorXf> wo(out_w_.data(), static_cast<Eigen::Index>(width));
    for (size_t i = 0; i < n; ++i) {
      const float deep = Eigen::Map<const Eigen::RowVectorXf>(h + i * ld, static_cast<Eigen::Index>(width)).dot(wo);
      out[i] = fm_lin[static_cast<Eigen::Index>(i)] + deep + bias_;
    }
  }

  std::vector<float> torch_forward(const RankBatch& batch) const override {
    const int64_t N = static_cast<int64_t>(batch.rows());
    const auto X = norm_.apply_batch(batch);
    // forward() is not const; the module is read, not changed.
    auto logits = net_.ptr()->forward(nn::from_ids(table_ids(batch), {N, static_cast<int64_t>(schema_.n_fields())}),
                                      nn::from_vector(X, {N, static_cast<int64_t>(norm_.out_dim())}));
    return nn::to_vector(logits);
  }

  DeepfmConfig cfg_;
  std::vector<int64_t> offsets_{0};  // F + 1: field f's values are table rows [offsets_[f], offsets_[f+1])
  DeepfmNet net_{nullptr};
  // Serving arrays (row-major). K = pad16(H1 + dim + 1).
  std::vector<float> tab_;     // [total values, K]: [V W1_f^T | V | w] per categorical value
  std::vector<float> tab_sq_;  // [total values]: |V|^2
  std::vector<float> wd_;      // [Dn, K]: [W1_dense^T | P^T | w_x | 0]
  std::vector<float> const_;   // [K]: [b1 | 0 | 0 | 0]
  // Hidden layers 2..L, transposed and padded: [H_{l-1}, pad16(H_l)] and [pad16(H_l)].
  std::vector<std::vector<float>> layer_wt_, layer_b_;
  std::vector<float> out_w_;   // [H_L]
  float bias_ = 0.f;           // dense_lin bias + output bias
};

}  // namespace

bool deepfm::set_kernel_for_testing(const std::string& name) {
  const GemmFn k = nn::gemm_kernel(name);
  if (k == nullptr) return false;
  active_kernel().store(k);
  return true;
}

std::vector<float> deepfm::torch_scores(const Ranker& model, const RankBatch& batch) {
  return NeuralRanker::torch_scores(model, kKind, batch);
}

CASCADE_REGISTER_RANKER(DeepfmRanker, "deepfm");

}  // namespace cascade
