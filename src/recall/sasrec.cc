// SASRec recall channel: Kang & McAuley 2018, "Self-Attentive Sequential Recommendation"
// (ICDM), trained by default with full-softmax cross-entropy as in Klenitskiy & Vasilev 2023,
// "Turning Dross Into Gold Loss: is BERT4Rec really better than SASRec?" (RecSys).
//
// Model (libtorch, CPU): item embedding E (n_items + 1 rows, row 0 = padding, kept at zero)
// scaled by sqrt(dim), plus learned positional embeddings (max_len rows), dropout, then
// `blocks` pre-LayerNorm transformer blocks (causal multi-head self-attention with `heads`
// heads, FFN dim -> dim -> dim with ReLU as in the paper, dropout on attention weights and
// on both residual branches), then a final LayerNorm. The output h_t at position t scores
// item i by h_t . E[i + 1] (the embedding table is shared between input and output).
//
// Masks: training sequences are left-padded to max_len; a query may attend to earlier
// non-padded keys and ALWAYS to itself, so padded rows never see an all -inf softmax row
// (no NaN); their outputs are excluded from the loss.
//
// Training data: per user, the whole training row in time order (oldest first); inputs
// seq[:-1], targets seq[1:], cut from the newest end into non-overlapping windows of max_len
// positions (`windows` = how many per user, 0 = cover the whole history); the oldest window
// is left-padded; padded positions are encoded but never enter a loss (sasrec_loss.h:
// target_rows). Losses (`loss`, src/recall/sasrec_loss.cc):
//   ce       full softmax cross-entropy over the whole catalogue (default)
//   auto     ce while the catalogue has at most `full_softmax_items` items, else sampled.
//            The full softmax's logits cost n_items * dim multiply-adds per position
//            against ~54K for the 2-block encoder: on the 1M-row ML-1M-shaped log (3,706
//            items) the loss and its backward were 95% of an epoch (CPU 115-120 s per epoch,
//            forward 4%), sampled softmax took CPU 9.6-10.7 s per epoch. NOT the default:
//            on that log's VALIDATION items sampled softmax lost Recall@10 (ce 0.0388 /
//            0.0391 / 0.0393 at epochs 1-3; sampled, uniform_mix 1: 0.0361 / 0.0320 /
//            0.0323; uniform_mix 0.5: 0.0381 / 0.0358), seed 42, one run each.
//   sampled  sampled softmax against `negatives` negatives shared by the batch, drawn from
//            Q = uniform_mix * uniform + (1 - uniform_mix) * the items' share of training
//            targets, logQ-corrected (every logit - log(negatives * Q(i))); accidental hits
//            masked. Popular items hold most of the softmax's mass: drawn uniformly they
//            were rarely negatives (the uniform_mix 1 figures above).
//   bpr      per-position BPR, one uniform negative (the reference system's "parity" loss)
// Each epoch logs its seconds, CPU seconds, sequences/s and the split forward / loss /
// backward / optimiser step; an epoch longer than 20 s logs a progress line with ETA.
// Optimiser AdamW (lr, weight_decay). When FitInput::valid is given and eval_every > 0,
// Recall@10 on the validation items is computed every eval_every epochs through score()
// (heldout_recall, the evaluator's recall@10: training items masked; the test split is never
// seen) and the weights
// of the best evaluation are kept; `patience` evaluations without improvement stop early.
//
// Serving: score() ALWAYS encodes q.history (its last max_len items, placed at the LAST
// positions as in training; q.user is ignored), so fresh events change the output without
// retraining. The serving encoder is a single-threaded Eigen re-implementation of the
// eval-mode forward over cached weights (no libtorch at serving time); only the last
// position is computed in the final block. The item table
// (without the padding row) is cached as a float array and the catalogue product is one
// Eigen matrix-vector product, so score == item_vectors() . user_vector() exactly.
// An EMPTY history gives a zero user vector, hence all scores 0. History items >= n_items
// throw cascade::Error. score() is thread-safe (read-only cached weights, no
// shared mutable state).
//
// Determinism: the shuffling RNG and the dropout masks (nn::FastDropout: libtorch's own
// Bernoulli draws were a quarter of an epoch at 1M rows) are seeded from `seed`, the
// negatives use libtorch's global generator seeded by nn::TorchSession; same seed + same
// torch_threads -> identical model.
// Two fits must not run concurrently in one process (libtorch's generator is global).
//
// Parameters ("sasrec:dim=64,max_len=20,...", all optional; defaults in brackets):
//   dim           embedding / model width (multiple of heads)          [64]    1..1024
//   blocks        transformer blocks                                   [2]     1..16
//   heads         attention heads                                      [1]     1..64
//   max_len       sequence length (positions)                          [20]    1..1024
//   dropout       dropout rate (embeddings, attention, residuals)      [0.2]   0..0.9
//   loss          ce | auto | sampled | bpr                            [ce]
//   full_softmax_items  loss=auto: ce up to this many items, sampled above [2048] 0..2^32-1
//   negatives     shared negatives per batch for loss=sampled          [256]   1..1e6
//   uniform_mix   loss=sampled: uniform share of the proposal Q        [0.5]   0..1
//   epochs        maximum training epochs                              [12]    1..10000
//   batch         sequences per batch                                  [128]   1..65536
//   lr            AdamW learning rate                                  [0.003] 1e-6..1
//   weight_decay  AdamW decoupled weight decay                         [0]     0..1
//   windows       max_len windows per user, newest first (0 = all)     [0]     0..100000
//   eval_every    epochs between validation evaluations (0 = never)    [2]     0..10000
//   patience      evaluations without improvement before stopping
//                 (0 = never stop early; best weights are still kept)  [0]     0..10000
//   seed          -1 = FitInput::seed                                  [-1]
//   threads       0 = FitInput::threads (0 there = hardware): threads of the
//                 validation evaluation                                [0]     0..1024
//   torch_threads libtorch intra-op threads while training (0 = threads) [0]  0..1024
//                 The full softmax splits its GEMMs between these threads itself and OpenBLAS
//                 is held at one thread (its pool spins between calls): on the 1M log an epoch
//                 took a median 16.7 s with 2 threads vs 21.3 s with 1 (BENCHMARKS.md). Was 1
//                 when libgomp's spin-waiting made 2 threads 6x slower on a loaded machine;
//                 `cascade` now starts with OMP_WAIT_POLICY=PASSIVE unless it is set (main.cc).
//                 Results depend on torch_threads only
//                 (same seed + same torch_threads -> identical model).
//
// Defaults were chosen on the ML-100K seed-loo VALIDATION items (Recall@10 logged by the fit;
// test items unused), max_len 20, batch 128, --threads 2, one seed:
//   lr 0.001: 0.139 @ epoch 5, 0.164 @ 10, best 0.178 @ 14 of 15
//   lr 0.003: 0.153 @ 5, 0.176 @ 10, 0.184 @ 11, best 0.187 @ 14 of 15 (0.180-0.187 from
//             epoch 8 on: a plateau within one standard error, ~0.012)
// so lr 0.003 and 12 epochs (about 5.5 CPU-seconds per epoch on this machine; OpenBLAS runs
// its SSE3 "Prescott" kernels here), evaluating every 2 epochs and keeping the best.
// max_len 50 vs 20, heads, dropout and batch were NOT compared on validation (time).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <limits>
#include <memory>
#include <numeric>
#include <random>
#include <vector>

#include "cascade/core/error.h"
#include "cascade/core/registry.h"
#include "cascade/io/artifact.h"
#include "cascade/recall/recaller.h"
#include "cascade/util/parallel.h"
#include "cascade/util/stopwatch.h"
#include "nn/fast_dropout.h"
#include "nn/fused_adamw.h"
#include "nn/simd_gemm.h"
#include "nn/train_loop.h"
#include "recall/channel_training.h"
#include "recall/configured_recaller.h"
#include "recall/sasrec_loss.h"
#include "recall/sasrec_reference.h"
#include "recall/validation_recall.h"
#include "recall/vector_scores.h"

namespace cascade {

namespace {

constexpr const char* kKind = "sasrec";
constexpr int kFormatVersion = 1;

struct SasrecConfig {
  int dim = 64;
  int blocks = 2;
  int heads = 1;
  int max_len = 20;
  double dropout = 0.2;
  std::string loss = "ce";
  int negatives = 256;
  int64_t full_softmax_items = 2048;
  double uniform_mix = 0.5;
  int windows = 0;
  ChannelTraining run;

  static SasrecConfig read(Params& p) {
    SasrecConfig c;
    c.dim = static_cast<int>(p.get_int("dim", 64, 1, 1024));
    c.blocks = static_cast<int>(p.get_int("blocks", 2, 1, 16));
    c.heads = static_cast<int>(p.get_int("heads", 1, 1, 64));
    c.max_len = static_cast<int>(p.get_int("max_len", 20, 1, 1024));
    c.dropout = p.get_double("dropout", 0.2, 0.0, 0.9);
    c.loss = p.get_string("loss", "ce", {"ce", "auto", "sampled", "bpr"});
    c.negatives = static_cast<int>(p.get_int("negatives", 256, 1, 1000000));
    c.full_softmax_items =
        p.get_int("full_softmax_items", 2048, 0, std::numeric_limits<uint32_t>::max());
    c.uniform_mix = p.get_double("uniform_mix", 0.5, 0.0, 1.0);
    c.windows = static_cast<int>(p.get_int("windows", 0, 0, 100000));
    c.run = ChannelTraining::read(p, {.patience = 0,
                                      .batch = 128,
                                      .max_batch = 65536,
                                      .lr = 3e-3,
                                      .min_lr = 1e-6,
                                      .max_lr = 1.0,
                                      .weight_decay = 0.0,
                                      .max_weight_decay = 1.0,
                                      .torch_threads = 0});
    CASCADE_CHECK(c.dim % c.heads == 0,
                  fmt::format("sasrec: dim {} is not a multiple of heads {}", c.dim, c.heads));
    return c;
  }

  // auto: the full softmax while the catalogue has at most full_softmax_items items, sampled
  // softmax above (its logits cost n_items * dim per position against the encoder's ~54K).
  std::string resolved_loss(uint32_t n_items) const {
    if (loss != "auto") return loss;
    return static_cast<int64_t>(n_items) <= full_softmax_items ? "ce" : "sampled";
  }
};

// One pre-LayerNorm transformer block.
struct BlockImpl : torch::nn::Module {
  BlockImpl(int dim, int heads, std::shared_ptr<nn::FastDropout> dropout)
      : dim_(dim), heads_(heads), drop_(std::move(dropout)) {
    ln1 = register_module("ln1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
    qkv = register_module("qkv", torch::nn::Linear(dim, 3 * dim));
    proj = register_module("proj", torch::nn::Linear(dim, dim));
    ln2 = register_module("ln2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
    ff1 = register_module("ff1", torch::nn::Linear(dim, dim));
    ff2 = register_module("ff2", torch::nn::Linear(dim, dim));
  }

  // x: [B, L, dim]; blocked: bool, broadcastable to [B, heads, L, L], true = may not attend
  // (undefined = no mask). last_only: only the last query row is computed and returned
  // ([B, 1, dim]), for serving.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& blocked, bool last_only) {
    const int64_t B = x.size(0), L = x.size(1), dh = dim_ / heads_;
    auto h = ln1(x);
    // [B, L, 3, H, dh] -> [3, B, H, L, dh]
    auto t = qkv(h).view({B, L, 3, heads_, dh}).permute({2, 0, 3, 1, 4});
    auto q = t[0], k = t[1], v = t[2];
    torch::Tensor res = x;
    if (last_only) {
      q = q.narrow(2, L - 1, 1);  // the last query sees every key: no mask needed
      res = x.narrow(1, L - 1, 1);
    }
    auto att = torch::matmul(q, k.transpose(-2, -1)) * (1.0 / std::sqrt(static_cast<double>(dh)));
    if (blocked.defined() && !last_only) {
      att = att.masked_fill(blocked, -std::numeric_limits<float>::infinity());
    }
    const bool training = is_training();
    auto drop = [&](const torch::Tensor& a) { return (*drop_)(a, training); };
    att = drop(torch::softmax(att, -1));
    const int64_t Lq = q.size(2);
    auto ctx = torch::matmul(att, v).permute({0, 2, 1, 3}).reshape({B, Lq, dim_});
    auto y = res + drop(proj(ctx));
    return y + drop(ff2(drop(torch::relu(ff1(ln2(y))))));
  }

  int dim_, heads_;
  torch::nn::LayerNorm ln1{nullptr}, ln2{nullptr};
  torch::nn::Linear qkv{nullptr}, proj{nullptr}, ff1{nullptr}, ff2{nullptr};
  std::shared_ptr<nn::FastDropout> drop_;  // the net's one mask stream (fast_dropout.h)
};
TORCH_MODULE(Block);

struct SasrecNetImpl : torch::nn::Module {
  // dropout_seed: the training masks' stream (irrelevant for a net that is loaded to score).
  SasrecNetImpl(int64_t n_items, const SasrecConfig& c, uint64_t dropout_seed = 0)
      : dim_(c.dim),
        max_len_(c.max_len),
        drop_(std::make_shared<nn::FastDropout>(c.dropout, dropout_seed)) {
    item = register_module(
        "item",
        torch::nn::Embedding(torch::nn::EmbeddingOptions(n_items + 1, c.dim).padding_idx(0)));
    pos = register_module("pos", torch::nn::Embedding(c.max_len, c.dim));
    for (int b = 0; b < c.blocks; ++b) {
      blocks.push_back(register_module(fmt::format("block{}", b), Block(c.dim, c.heads, drop_)));
    }
    final_ln =
        register_module("final_ln", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.dim})));
    // Xavier-normal weights and zero biases (as the reference PyTorch port of the paper);
    // LayerNorms keep (1, 0). Runs under the fit's seeded generator.
    torch::NoGradGuard ng;
    for (auto& p : named_parameters(true)) {
      const std::string& name = p.key();
      if (name.find("ln") != std::string::npos) continue;
      if (p.value().dim() >= 2) {
        torch::nn::init::xavier_normal_(p.value());
      } else {
        p.value().zero_();
      }
    }
    item->weight[0].zero_();
  }

  // ids: [B, L] int64 item ids + 1 (0 = padding) occupying positions [pos0, pos0 + L);
  // blocked as in BlockImpl. Returns [B, L, dim] (or [B, 1, dim] when last_only).
  torch::Tensor forward(const torch::Tensor& ids, int64_t pos0, const torch::Tensor& blocked,
                        bool last_only) {
    const int64_t L = ids.size(1);
    auto positions = torch::arange(pos0, pos0 + L, torch::kInt64);
    auto x = item(ids) * std::sqrt(static_cast<double>(dim_)) + pos(positions).unsqueeze(0);
    x = (*drop_)(x, is_training());
    for (size_t b = 0; b < blocks.size(); ++b) {
      x = blocks[b]->forward(x, blocked, last_only && b + 1 == blocks.size());
    }
    return final_ln(x);
  }

  int dim_, max_len_;
  torch::nn::Embedding item{nullptr}, pos{nullptr};
  std::shared_ptr<nn::FastDropout> drop_;
  std::vector<Block> blocks;
  torch::nn::LayerNorm final_ln{nullptr};
};
TORCH_MODULE(SasrecNet);

// The attention mask of left-padded sequences ids [B, L] (0 = padding), as BlockImpl takes it
// ([B, 1, L, L], true = may not attend): a query sees earlier non-padded keys and always
// itself, so a padded row never has an all -inf softmax row.
torch::Tensor sequence_mask(const torch::Tensor& ids) {
  const int64_t B = ids.size(0), L = ids.size(1);
  const auto causal = torch::ones({L, L}, torch::kBool).triu(1);
  const auto diag = torch::eye(L, torch::kBool);
  return (causal.unsqueeze(0) | ids.eq(0).view({B, 1, L}))
      .logical_and(diag.logical_not())
      .unsqueeze(1);
}

// Where an epoch's time goes, and a progress line with rate and ETA every kEvery seconds of a
// long epoch. Wall time per stage (forward, loss, backward, optimiser step); process CPU time
// beside the wall time, because on a shared machine the wall time says more about the load.
class EpochClock {
 public:
  enum Stage { kBatch, kForward, kLoss, kBackward, kStep, kStages };
  static constexpr double kEvery = 20.0;

  EpochClock(int epoch, int64_t windows) : epoch_(epoch), windows_(windows), cpu0_(std::clock()) {}

  void lap(Stage s) { ms_[s] += lap_.lap_ms(); }

  void done(int64_t windows_done) {
    const double s = watch_.seconds();
    if (s < next_ || windows_done >= windows_) return;
    next_ = s + kEvery;
    const double rate = static_cast<double>(windows_done) / s;
    spdlog::info("sasrec: epoch {} {}/{} sequences ({:.0f}%), {:.0f} sequences/s, ETA {:.0f}s",
                 epoch_, windows_done, windows_,
                 100.0 * static_cast<double>(windows_done) / static_cast<double>(windows_), rate,
                 static_cast<double>(windows_ - windows_done) / rate);
  }

  void finish(int64_t positions) const {
    const double s = watch_.seconds(), total_ms = std::max(1e-9, s * 1000.0);
    const double cpu = static_cast<double>(std::clock() - cpu0_) / CLOCKS_PER_SEC;
    auto pct = [&](Stage st) { return 100.0 * ms_[st] / total_ms; };
    spdlog::info(
        "sasrec: epoch {} trained in {:.1f}s (CPU {:.1f}s), {:.0f} sequences/s, {:.0f} "
        "positions/s; "
        "batching {:.0f}%, forward {:.0f}%, loss {:.0f}%, backward {:.0f}%, step {:.0f}%",
        epoch_, s, cpu, static_cast<double>(windows_) / s, static_cast<double>(positions) / s,
        pct(kBatch), pct(kForward), pct(kLoss), pct(kBackward), pct(kStep));
  }

 private:
  int epoch_;
  int64_t windows_;
  std::clock_t cpu0_;
  Stopwatch watch_, lap_;
  double next_ = kEvery;
  double ms_[kStages] = {};
};

// Training windows: inputs[s * L + j] / targets[s * L + j] (item id + 1, 0 = padding).
struct Windows {
  int64_t count = 0;
  std::vector<int64_t> inputs, targets;
};

Windows make_windows(const Interactions& R, int L, int max_windows) {
  Windows w;
  for (uint32_t u = 0; u < R.n_rows; ++u) {
    const auto row = R.row(u);
    const int64_t n = static_cast<int64_t>(row.size()) - 1;  // (input, target) pairs
    int taken = 0;
    for (int64_t end = n; end > 0 && (max_windows == 0 || taken < max_windows); end -= L, ++taken) {
      const int64_t begin = std::max<int64_t>(0, end - L);
      const int64_t pad = L - (end - begin);
      w.inputs.resize(w.inputs.size() + L, 0);
      w.targets.resize(w.targets.size() + L, 0);
      int64_t* in = w.inputs.data() + w.count * L;
      int64_t* tg = w.targets.data() + w.count * L;
      for (int64_t j = begin; j < end; ++j) {
        in[pad + j - begin] = static_cast<int64_t>(row[j]) + 1;
        tg[pad + j - begin] = static_cast<int64_t>(row[j + 1]) + 1;
      }
      ++w.count;
    }
  }
  return w;
}

using RowMatF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// W^T of a torch Linear weight W [out, in] (row-major): [in, out].
std::vector<float> transposed(const std::vector<float>& w, size_t out, size_t in) {
  std::vector<float> t(w.size());
  for (size_t j = 0; j < out; ++j)
    for (size_t k = 0; k < in; ++k) t[k * out + j] = w[j * in + k];
  return t;
}

// a * W^T for the serving encoder. For two rows or more Eigen's GEMM adds each element's
// products in order, multiply then add; the unfused AVX-512 kernel does the same (the same
// floats, several times faster than Eigen's SSE2 GEMM in this build, which was 7% of a
// request). One row is Eigen's gemv, another order: left to Eigen, as are widths the kernel
// does not take and CPUs with neither AVX-512 nor AVX2 (the AVX2 kernel, same floats, took
// SASRec's top-n from 87 to 60 us on a 2-core EPYC host without AVX-512).
RowMatF linear_rows(const RowMatF& a, const std::vector<float>& w, const std::vector<float>& wt,
                    int out) {
  static const nn::GemmFn exact = nn::gemm_kernel("unfused");
  const auto in = static_cast<size_t>(a.cols());
  if (exact && a.rows() >= 2 && out % 16 == 0 && wt.size() == w.size()) {
    RowMatF r(a.rows(), out);
    exact(a.data(), static_cast<size_t>(a.rows()), in, in, wt.data(), static_cast<size_t>(out),
          r.data());
    return r;
  }
  return a * Eigen::Map<const RowMatF>(w.data(), out, static_cast<Eigen::Index>(in)).transpose();
}

class SasrecRecaller final : public ConfiguredRecaller<SasrecConfig> {
 public:
  explicit SasrecRecaller(Params params) : ConfiguredRecaller(kKind, std::move(params)) {}

  uint32_t n_items() const override { return n_items_; }

  void fit(const FitInput& in) override {
    const Interactions& R = in.train;
    R.validate();
    const uint32_t n_items =
        std::max<uint32_t>(R.n_cols, static_cast<uint32_t>(in.catalog.items.size()));
    CASCADE_CHECK(n_items > 0, "sasrec: fit() on an empty catalogue");
    const int threads = cfg_.run.fit_threads(in.threads);
    const uint64_t seed = cfg_.run.fit_seed(in.seed);
    const int L = cfg_.max_len, d = cfg_.dim;
    const Stopwatch watch;
    auto seconds = [&] { return watch.seconds(); };

    fitted_ = false;
    const int torch_threads = cfg_.run.fit_torch_threads(threads);
    nn::TorchSession session(torch_threads, seed);
    // The loss splits its GEMMs between libtorch's threads itself (sasrec_loss.cc); OpenBLAS's
    // own pool would put a second layer of (spinning) threads under them.
    const nn::BlasThreads single_blas(1);
    const Windows win = make_windows(R, L, cfg_.windows);
    const std::string loss_kind = cfg_.resolved_loss(n_items);
    std::unique_ptr<sasrec::NegativeSampler> sampler;
    if (loss_kind == "sampled") {
      std::vector<double> counts(n_items, 0.0);
      for (int64_t tg : win.targets) {
        if (tg > 0) counts[static_cast<size_t>(tg - 1)] += 1.0;
      }
      sampler = std::make_unique<sasrec::NegativeSampler>(counts, cfg_.uniform_mix, cfg_.negatives);
    }
    CASCADE_CHECK(win.count > 0, "sasrec: no user has two or more training items to learn from");
    n_items_ = n_items;
    net_ = SasrecNet(static_cast<int64_t>(n_items), cfg_, seed);
    // One pass per parameter (fused_adamw.h): the item table is updated densely every batch.
    nn::FusedAdamW opt(net_->parameters(),
                       {.lr = cfg_.run.lr, .weight_decay = cfg_.run.weight_decay});
    std::mt19937_64 rng(seed ^ 0x5a5a5a5a5a5a5a5aULL);
    std::vector<int64_t> order(static_cast<size_t>(win.count));
    std::iota(order.begin(), order.end(), 0);
    std::vector<int64_t> bin(static_cast<size_t>(cfg_.run.batch) * L), btg(bin.size());
    nn::LossWorkspace loss_ws;  // the full softmax's logits, reused by every batch
    auto train_epoch = [&](int epoch) {
      std::shuffle(order.begin(), order.end(), rng);
      double loss_sum = 0;
      int64_t loss_n = 0;
      EpochClock clock(epoch, win.count);
      for (int64_t b0 = 0; b0 < win.count; b0 += cfg_.run.batch) {
        const int64_t B = std::min<int64_t>(cfg_.run.batch, win.count - b0);
        for (int64_t s = 0; s < B; ++s) {
          const int64_t w = order[b0 + s];
          std::copy_n(win.inputs.data() + w * L, L, bin.data() + s * L);
          std::copy_n(win.targets.data() + w * L, L, btg.data() + s * L);
        }
        auto ids = nn::from_ids({bin.data(), static_cast<size_t>(B * L)}, {B, L});
        auto tgt = nn::from_ids({btg.data(), static_cast<size_t>(B * L)}, {B * L});
        clock.lap(EpochClock::kBatch);
        auto H = net_->forward(ids, 0, sequence_mask(ids), false).reshape({B * L, d});
        clock.lap(EpochClock::kForward);
        int64_t P = 0;
        auto loss =
            sasrec::batch_loss(H, tgt, net_->item->weight, loss_kind, sampler.get(), &P, &loss_ws);
        clock.lap(EpochClock::kLoss);
        loss.backward();
        clock.lap(EpochClock::kBackward);
        opt.step();  // also releases the gradients for the next backward
        loss_sum += loss.item<double>() * static_cast<double>(P);
        loss_n += P;
        clock.lap(EpochClock::kStep);
        clock.done(b0 + B);
      }
      clock.finish(loss_n);
      return loss_sum / static_cast<double>(std::max<int64_t>(1, loss_n));
    };
    std::function<double(int, double)> validate;
    if (in.valid != nullptr && in.valid->nnz() > 0) {
      validate = [&](int, double) {
        finish_model();
        const double recall =
            heldout_recall(*this, R, *in.valid, ChannelTraining::kValidK, threads);
        fitted_ = false;
        return recall;
      };
    }
    const nn::EpochsRun run = nn::run_epochs(*net_, cfg_.run.plan(kKind), train_epoch, validate);
    finish_model();
    dataset_hash_ = in.dataset_hash;
    fit_seed_ = seed;
    best_epoch_ = run.best_epoch;
    spdlog::info(
        "sasrec: {} users, {} items, {} windows of {}, loss {}, {} threads ({} intra-op): {:.1f}s",
        R.n_rows, n_items, win.count, L, loss_kind, threads, torch_threads, seconds());
  }

  void score(const UserQuery& q, std::span<float> out) const override {
    score_by_vectors(*this, fitted_, q, item_vecs_.data(), n_items_, cfg_.dim, out);
  }

  // The encoder's output at the last history position (zero for an empty history).
  bool user_vector(const UserQuery& q, std::span<float> out) const override {
    check_user_query(*this, fitted_, q, out, cfg_.dim, n_items_);
    if (q.history.empty()) {
      std::fill(out.begin(), out.end(), 0.f);
      return true;
    }
    const size_t n = std::min<size_t>(q.history.size(), static_cast<size_t>(cfg_.max_len));
    encode(q.history.subspan(q.history.size() - n), out.data());
    return true;
  }

  ItemVectorsView item_vectors() const override {
    CASCADE_CHECK(fitted_, "sasrec: item_vectors() before fit() or load()");
    return {item_vecs_.data(), n_items_, static_cast<uint32_t>(cfg_.dim)};
  }

  void save(const std::filesystem::path& dir) const override {
    CASCADE_CHECK(fitted_, "sasrec: save() before fit()");
    ArtifactWriter w = model_writer(dir, kKind, kFormatVersion, params_.resolved(), dataset_hash_);
    w.meta()["n_items"] = n_items_;
    w.meta()["dim"] = cfg_.dim;
    w.meta()["blocks"] = cfg_.blocks;
    w.meta()["heads"] = cfg_.heads;
    w.meta()["max_len"] = cfg_.max_len;
    w.meta()["fit_seed"] = fit_seed_;
    w.meta()["best_epoch"] = best_epoch_;
    nn::save_module(w, *net_);
    w.finish();
  }

  void load(const std::filesystem::path& dir) override {
    const ModelReader r(dir, kKind, kFormatVersion);
    Params p(r.params());
    const auto n_items = r.field<uint32_t>("n_items");
    SasrecConfig cfg = SasrecConfig::read(p);
    p.check_unused(kKind);
    CASCADE_CHECK(n_items > 0, fmt::format("{}: sasrec manifest has n_items 0", dir.string()));
    SasrecNet net(static_cast<int64_t>(n_items), cfg);
    try {
      nn::load_module(r, *net);
    } catch (const Error& e) {
      throw Error(fmt::format("{}: {}", dir.string(), e.what()));
    }
    params_ = std::move(p);
    cfg_ = cfg;
    n_items_ = n_items;
    net_ = net;
    dataset_hash_ = r.dataset_hash();
    fit_seed_ = r.field_or<uint64_t>("fit_seed", 0);
    best_epoch_ = r.field_or<int>("best_epoch", 0);
    finish_model();
  }

 private:
  // Eval mode + the cached item table (padding row dropped), ready for score().
  void finish_model() {
    net_->eval();
    item_vecs_ = nn::to_vector(net_->item->weight.narrow(0, 1, n_items_));
    pos_ = nn::to_vector(net_->pos->weight);
    blocks_.clear();
    for (const auto& b : net_->blocks) {
      BlockWeights w;
      w.ln1_w = nn::to_vector(b->ln1->weight);
      w.ln1_b = nn::to_vector(b->ln1->bias);
      w.qkv_w = nn::to_vector(b->qkv->weight);
      w.qkv_b = nn::to_vector(b->qkv->bias);
      w.proj_w = nn::to_vector(b->proj->weight);
      w.proj_b = nn::to_vector(b->proj->bias);
      w.ln2_w = nn::to_vector(b->ln2->weight);
      w.ln2_b = nn::to_vector(b->ln2->bias);
      w.ff1_w = nn::to_vector(b->ff1->weight);
      w.ff1_b = nn::to_vector(b->ff1->bias);
      w.ff2_w = nn::to_vector(b->ff2->weight);
      w.ff2_b = nn::to_vector(b->ff2->bias);
      const auto d = static_cast<size_t>(cfg_.dim);
      w.qkv_t = transposed(w.qkv_w, 3 * d, d);
      w.proj_t = transposed(w.proj_w, d, d);
      w.ff1_t = transposed(w.ff1_w, d, d);
      w.ff2_t = transposed(w.ff2_w, d, d);
      blocks_.push_back(std::move(w));
    }
    final_w_ = nn::to_vector(net_->final_ln->weight);
    final_b_ = nn::to_vector(net_->final_ln->bias);
    fitted_ = true;
  }

  // Serving encoder: the eval-mode forward of SasrecNet for ONE sequence, in Eigen on the
  // cached weights (single-threaded, no libtorch: libtorch/OpenBLAS thread pools made a
  // 1 ms encode take ~10 ms of wall time on a loaded machine). items: the last n <= max_len
  // history items, placed at positions [max_len - n, max_len); writes the final-LayerNorm
  // output of the last position (dim floats) to out.
  void encode(std::span<const ItemId> items, float* out) const {
    using MatF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    using VecMap = Eigen::Map<const Eigen::RowVectorXf>;
    const int d = cfg_.dim, H = cfg_.heads, dh = d / H;
    const int n = static_cast<int>(items.size());
    const float scale = std::sqrt(static_cast<float>(d));
    MatF x(n, d);
    for (int j = 0; j < n; ++j) {
      x.row(j) = VecMap(item_vecs_.data() + static_cast<size_t>(items[j]) * d, d) * scale +
                 VecMap(pos_.data() + static_cast<size_t>(cfg_.max_len - n + j) * d, d);
    }
    auto layer_norm = [d](const MatF& a, const std::vector<float>& w, const std::vector<float>& b) {
      MatF o(a.rows(), d);
      for (Eigen::Index r = 0; r < a.rows(); ++r) {
        const float mean = a.row(r).mean();
        const float var = (a.row(r).array() - mean).square().mean();
        const float inv = 1.0f / std::sqrt(var + 1e-5f);
        o.row(r) = ((a.row(r).array() - mean) * inv * VecMap(w.data(), d).array() +
                    VecMap(b.data(), d).array())
                       .matrix();
      }
      return o;
    };
    const float att_scale = 1.0f / std::sqrt(static_cast<float>(dh));
    for (size_t bi = 0; bi < blocks_.size(); ++bi) {
      const BlockWeights& w = blocks_[bi];
      const bool last = bi + 1 == blocks_.size();
      const MatF h = layer_norm(x, w.ln1_w, w.ln1_b);
      // [n, 3d]: columns [q | k | v], each [head][dh] (the view of BlockImpl::forward).
      MatF qkv = linear_rows(h, w.qkv_w, w.qkv_t, 3 * d);
      qkv.rowwise() += VecMap(w.qkv_b.data(), 3 * d);
      const int q0 = last ? n - 1 : 0, nq = n - q0;
      MatF ctx(nq, d);
      for (int hh = 0; hh < H; ++hh) {
        const auto K = qkv.block(0, d + hh * dh, n, dh);
        const auto V = qkv.block(0, 2 * d + hh * dh, n, dh);
        for (int i = q0; i < n; ++i) {  // causal: query i sees keys 0..i
          Eigen::RowVectorXf sc = qkv.block(i, hh * dh, 1, dh) * K.topRows(i + 1).transpose();
          sc *= att_scale;
          const float mx = sc.maxCoeff();
          sc = (sc.array() - mx).exp().matrix();
          sc /= sc.sum();
          ctx.block(i - q0, hh * dh, 1, dh) = sc * V.topRows(i + 1);
        }
      }
      MatF y = x.bottomRows(nq) + linear_rows(ctx, w.proj_w, w.proj_t, d);
      y.rowwise() += VecMap(w.proj_b.data(), d);
      MatF f = linear_rows(layer_norm(y, w.ln2_w, w.ln2_b), w.ff1_w, w.ff1_t, d);
      f.rowwise() += VecMap(w.ff1_b.data(), d);
      f = f.cwiseMax(0.0f);
      MatF g = linear_rows(f, w.ff2_w, w.ff2_t, d);
      g.rowwise() += VecMap(w.ff2_b.data(), d);
      x = y + g;
    }
    const MatF o = layer_norm(x.bottomRows(1), final_w_, final_b_);
    std::copy_n(o.data(), d, out);
  }

  friend std::vector<float> sasrec::torch_user_vector(const Recaller&, std::span<const ItemId>);

  // The training-path forward (padded to max_len, causal + padding masks) of one history.
  std::vector<float> torch_encode(std::span<const ItemId> history) const {
    CASCADE_CHECK(fitted_ && !history.empty(),
                  "sasrec: torch_encode() needs a fitted model and a history");
    const int64_t L = cfg_.max_len;
    const size_t n = std::min<size_t>(history.size(), static_cast<size_t>(L));
    std::vector<int64_t> ids(static_cast<size_t>(L), 0);
    for (size_t j = 0; j < n; ++j)
      ids[L - n + j] = static_cast<int64_t>(history[history.size() - n + j]) + 1;
    torch::NoGradGuard no_grad;
    const auto net = net_.ptr();  // forward() is not const; the module is read, not changed
    CASCADE_CHECK(!net->is_training(), "sasrec: torch_encode() on a module in training mode");
    auto t = nn::from_ids(ids, {1, L});
    auto H = net->forward(t, 0, sequence_mask(t), false);  // [1, L, d]
    return nn::to_vector(H[0][L - 1]);
  }

  uint32_t n_items_ = 0;
  SasrecNet net_{nullptr};
  std::vector<float> item_vecs_;  // n_items x dim, row-major: E without the padding row
  // Serving copies of the encoder weights (torch Linear layout: [out, in] row-major).
  struct BlockWeights {
    std::vector<float> ln1_w, ln1_b, qkv_w, qkv_b, proj_w, proj_b, ln2_w, ln2_b, ff1_w, ff1_b,
        ff2_w, ff2_b;
    std::vector<float> qkv_t, proj_t, ff1_t, ff2_t;  // the Linear weights transposed: [in, out]
  };
  std::vector<float> pos_;  // max_len x dim
  std::vector<BlockWeights> blocks_;
  std::vector<float> final_w_, final_b_;
  std::string dataset_hash_;
  uint64_t fit_seed_ = 0;
  int best_epoch_ = 0;
  bool fitted_ = false;
};

}  // namespace

std::vector<float> sasrec::torch_user_vector(const Recaller& model,
                                             std::span<const ItemId> history) {
  const auto* m = dynamic_cast<const SasrecRecaller*>(&model);
  CASCADE_CHECK(m != nullptr,
                fmt::format("torch_user_vector: '{}' is not a sasrec channel", model.kind()));
  return m->torch_encode(history);
}

CASCADE_REGISTER_RECALLER(SasrecRecaller, "sasrec");

}  // namespace cascade
