// Two-Tower recall channel (libtorch, CPU).
//
// Covington, Adams & Sargin 2016, "Deep Neural Networks for YouTube Recommendations" (RecSys):
// the user tower pools the user's watched items. Yi et al. 2019, "Sampling-Bias-Corrected
// Neural Modeling for Large Corpus Item Recommendations" (RecSys): in-batch softmax with the
// logQ correction. Yang et al. 2020, "Mixed Negative Sampling for Learning Two-tower Neural
// Networks in Recommendations" (WWW): in-batch negatives plus a shared set of uniform ones.
// Rendle et al. 2009, "BPR: Bayesian Personalized Ranking from Implicit Feedback" (UAI):
// the `bpr` loss (the reference system's "parity" option).
//
// Towers (each: concatenation -> MLP with ReLU between layers -> `dim`; mlp=0 = one linear
// projection; then optionally L2-normalised):
//   user: [user id embedding (dim) | mean of the history embeddings (dim) | gender, age bucket,
//          occupation embeddings (feat_dim each, slot 0 = unknown)]
//   item: [item id embedding (dim) | mean genre embedding (feat_dim) | year bucket embedding
//          (feat_dim)]; no genres / unknown year use an "unknown" slot.
// Ids: users without training rows (and queries with q.user out of range or kUnknownUser) use
// the "unknown user" slot (row n_users), trained through `user_id_dropout` (each training
// sample's id replaced by it with that probability), so fresh users are served from their
// history and the unknown slot. Items never seen in training use the "unknown item" slot
// (row n_items), trained only as a uniform negative: brand-new items are scored by content.
//
// LEAKAGE: when training on the positive (u, i) the pooled history of u EXCLUDES i (all its
// occurrences): mean = (sum over u's history - occurrences * H[i]) / (n - occurrences)
// (two_tower_model.h, build_history_batch). At inference the history is q.history, all of it.
// Measured caveat: leave-one-out pooling still leaks a little. Per user the full sum S_u is
// fixed, so a model that can recognise the user (its id embedding, or the nearly constant
// pooled vector itself) can read "-H_i / (n-1)", the removed target, off the deviation.
// On ML-100K the training loss then keeps falling (5.0 -> 2.5 in 10 epochs at batch 512)
// while validation Recall@10 collapses (0.14 -> 0.06). history_dropout (a fresh random
// subset of the history per batch, target still removed) hides the removed item among many
// removed ones; early stopping on the validation item keeps the epoch before the collapse.
//
// Losses:
//   softmax  logits s(u, j) = <u, v_j> / temperature over the batch's positives (in-batch
//            negatives) plus `negatives` uniform items shared by the batch; with logq=true
//            each column j subtracts log E[count of j among the sampled columns] =
//            log(B * p_j + N / n_items), p_j = training frequency of j / nnz (the mixture
//            proposal of in-batch and uniform sampling, Yang et al. 2020). With
//            mask_history=true a column whose item is one of the row user's training items
//            (including duplicates of the row's own positive) is masked out of the row.
//   bpr      -log sigmoid((<u, v_i> - <u, v_j>) / temperature), one uniform negative j per
//            positive (not rejected against the user's items, as in the reference system).
//
// Scoring: score(q) = V u' with V the cached item-tower outputs (n_items x dim, item_vectors())
// and u' = user tower / temperature (user_vector(); the temperature is folded into the user
// vector so that score == item_vectors . user_vector exactly). The inference towers are plain
// C++ loops over weights copied out of libtorch (deterministic, thread-safe, no torch calls
// per query), the catalogue product one Eigen mat-vec.
//
// Early stopping: with FitInput::valid and eval_every > 0, Recall@10 on the validation items
// is computed every eval_every epochs (heldout_recall on this model: the evaluator's recall@10);
// the best epoch's weights are kept, training stops after `patience` evaluations without
// improvement (0 = never stop early). Never looks at the test split.
//
// Training throughput (issue 14; the 1M-row log: 889K rows, batch 512, 256 negatives, one
// libtorch thread). In libtorch's profiler the old step spent ~22% in embedding_bag's backward
// (it sorts the ~36K bag indices of every batch to build the dense history gradient), ~21% in
// log_softmax's forward and backward, ~9% in the masks' masked_fill and the logits' divide /
// subtract, ~8% in the host-side history bags and masks, ~11% in the GEMMs. Without the
// embedding_bag, the B x M passes of addmm / log_softmax / nll_loss (each a fresh buffer,
// nll_loss's zero-filled) took ~55%. Now:
//   - the pooling is one autograd op with plain-loop forward and backward (two_tower_pool.h;
//     same values and gradient as the embedding_bag form, tested);
//   - logQ and the masks are one host-built bias (two_tower_batch.h), and the loss is one op
//     (bias + u v^T / temperature, softmax cross-entropy, its gradient) over a B x M
//     workspace reused across batches (two_tower_loss.h);
//   - subnormals are flushed to zero while training (nn::FlushDenormals);
//   - with >= 2 threads the next batch (shuffle, dropout draws, history bags, negatives, bias)
//     is built on a second thread while libtorch trains on the current one. BatchMaker draws
//     from the random stream in the old loop's order, so the batches depend on the seed only
//     (1 and 2 threads give the same model: test TwoTowerBatch.PrefetchingGivesTheSameModel).
// Each epoch logs its training seconds and rows/s, and long epochs a progress line with ETA.
//
// Determinism: same seed and same threads -> bit-identical weights and scores (libtorch's
// generator is seeded by nn::TorchSession; batching/negatives/dropout use a splitmix64 stream).
//
// Parameters ("two_tower:dim=64,...", all optional; defaults in brackets):
//   dim              output dim, also id / history embedding size      [64]     1..1024
//   feat_dim         side-feature embedding size                       [16]     1..256
//   mlp              hidden sizes "256-128", 0 = linear projection     [0]
//   loss             softmax | bpr                                     [softmax]
//   negatives        extra uniform negatives per batch (softmax)       [256]    0..1000000
//   logq             logQ correction (softmax)                         [true]
//   mask_history     mask the row user's own items (softmax)           [true]
//   temperature      logits = dot / temperature                        [0.1]    1e-4..100
//   normalize        L2-normalise both towers' outputs                 [true]
//   epochs           maximum epochs                                    [12]     1..10000
//   batch            positives per batch                               [512]    1..1000000
//   lr               AdamW learning rate                               [0.002]  0..10
//   weight_decay     AdamW decoupled weight decay                      [0.0001] 0..10
//   init_std         embedding init N(0, init_std)                     [0.05]   0..10
//   history_dropout  drop each history entry with this prob (train)    [0.5]    0..0.95
//   history_cap      pool at most this many kept entries per user and   [0]      0..1000000
//                    batch, a uniform sample (train; 0 = all)
//   user_id_dropout  replace the user id by the unknown slot (train)   [0.1]    0..1
//   use_user_id      user id embedding                                 [false]
//   use_history      pooled history embedding                          [true]
//   user_features    gender / age bucket / occupation                  [true]
//   use_item_id      item id embedding                                 [true]
//   item_genres      mean genre embedding                              [true]
//   item_year        year bucket embedding                             [true]
//   eval_every       validation Recall@10 every N epochs (0 = never)   [2]      0..10000
//   patience         evaluations without gain before stopping (0=off)  [2]      0..10000
//   seed             -1 = FitInput::seed                               [-1]
//   threads          0 = FitInput::threads (0 there = hardware)        [0]      0..1024
//                    (validation scoring, the item-tower pass; >= 2: the next batch is built
//                    on a second thread)
//   torch_threads    libtorch intra-op threads while training, 0 = `threads` [1] 0..1024
//                    The training ops are small (batch x dim x (batch + negatives) GEMMs),
//                    and with 2 threads on a shared 2-core machine (load ~6) the OpenMP
//                    fork/join barriers made an ML-100K epoch (batch 1024) ~5x SLOWER than
//                    1 thread (31 s vs 6 s).
//
// Defaults: chosen on the ML-100K seed-loo VALIDATION item (best-epoch Recall@10, one seed,
// --threads 2; SE ~0.011): batch 1024 + 512 negatives 0.147 (epoch 8) but ~2x the cost per
// epoch of batch 512 + 256 negatives (0.140); with the user id and no history dropout the
// model collapses after its best epoch (0.140 -> 0.057 by epoch 20, the leak above); with
// history_dropout 0.5: user id on 0.146 (best at epoch 10), off 0.144 (best at epoch 4),
// equal within noise, so the id is off by default: 2.5x fewer epochs to the best, inside the
// 90 s training budget on a shared 2-core machine. dim 32 gave 0.143.
//
// The reference system's "parity" Two-Tower (SYSTEM.md) is these overrides:
//   loss=bpr,use_user_id=true,use_history=false,user_features=false,item_year=false,mlp=0,
//   normalize=false,temperature=1,epochs=80,batch=2048,lr=0.001,weight_decay=0.01,
//   eval_every=0,user_id_dropout=0,history_dropout=0
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <Eigen/Core>
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <future>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "cascade/core/error.h"
#include "cascade/core/registry.h"
#include "cascade/io/artifact.h"
#include "cascade/recall/recaller.h"
#include "recall/configured_recaller.h"
#include "cascade/util/parallel.h"
#include "cascade/util/stopwatch.h"
#include "nn/fused_adamw.h"
#include "nn/train_loop.h"
#include "recall/channel_training.h"
#include "recall/two_tower_batch.h"
#include "recall/two_tower_loss.h"
#include "recall/two_tower_model.h"
#include "recall/two_tower_pool.h"
#include "recall/validation_recall.h"
#include "recall/vector_scores.h"

namespace cascade {

namespace {

constexpr const char* kKind = "two_tower";
constexpr int kFormatVersion = 1;
constexpr int kUserFeatures = 3;  // gender, age bucket, occupation
constexpr int64_t kGenderSlots = 3;  // unknown, M, F
constexpr int64_t kAgeSlots = 8;     // unknown, buckets 0..6
constexpr int64_t kYearSlots = 6;    // unknown, buckets 0..4

struct TwoTowerConfig {
  int dim = 64;
  int feat_dim = 16;
  std::string mlp_text = "0";
  std::vector<int> mlp;
  bool bpr = false;
  int negatives = 256;
  bool logq = true;
  bool mask_history = true;
  double temperature = 0.1;
  bool normalize = true;
  double init_std = 0.05;
  double history_dropout = 0.5;
  int history_cap = 0;
  double user_id_dropout = 0.1;
  bool use_user_id = false;
  bool use_history = true;
  bool user_features = true;
  bool use_item_id = true;
  bool item_genres = true;
  bool item_year = true;
  ChannelTraining run;

  static TwoTowerConfig read(Params& p) {
    TwoTowerConfig c;
    c.dim = static_cast<int>(p.get_int("dim", 64, 1, 1024));
    c.feat_dim = static_cast<int>(p.get_int("feat_dim", 16, 1, 256));
    c.mlp_text = p.get_string("mlp", "0");
    c.mlp = two_tower::parse_mlp(c.mlp_text);
    c.bpr = p.get_string("loss", "softmax", {"softmax", "bpr"}) == "bpr";
    c.negatives = static_cast<int>(p.get_int("negatives", 256, 0, 1000000));
    c.logq = p.get_bool("logq", true);
    c.mask_history = p.get_bool("mask_history", true);
    c.temperature = p.get_double("temperature", 0.1, 1e-4, 100.0);
    c.normalize = p.get_bool("normalize", true);
    c.init_std = p.get_double("init_std", 0.05, 0.0, 10.0);
    c.history_dropout = p.get_double("history_dropout", 0.5, 0.0, 0.95);
    c.history_cap = static_cast<int>(p.get_int("history_cap", 0, 0, 1000000));
    c.user_id_dropout = p.get_double("user_id_dropout", 0.1, 0.0, 1.0);
    c.use_user_id = p.get_bool("use_user_id", false);
    c.use_history = p.get_bool("use_history", true);
    c.user_features = p.get_bool("user_features", true);
    c.use_item_id = p.get_bool("use_item_id", true);
    c.item_genres = p.get_bool("item_genres", true);
    c.item_year = p.get_bool("item_year", true);
    c.run = ChannelTraining::read(p, {.patience = 2, .batch = 512, .max_batch = 1000000, .lr = 0.002, .min_lr = 0.0,
                                      .max_lr = 10.0, .weight_decay = 1e-4, .max_weight_decay = 10.0});
    if (!c.use_user_id && !c.use_history && !c.user_features) {
      throw Error("two_tower: the user tower needs at least one of use_user_id, use_history, user_features");
    }
    if (!c.use_item_id && !c.item_genres && !c.item_year) {
      throw Error("two_tower: the item tower needs at least one of use_item_id, item_genres, item_year");
    }
    return c;
  }

  int64_t user_in() const {
    return (use_user_id ? dim : 0) + (use_history ? dim : 0) + (user_features ? kUserFeatures * feat_dim : 0);
  }
  int64_t item_in() const {
    return (use_item_id ? dim : 0) + (item_genres ? feat_dim : 0) + (item_year ? feat_dim : 0);
  }
};

// Sizes of the embedding tables (slot counts include the "unknown" slot).
struct Shapes {
  int64_t n_users = 0;        // user id table has n_users + 1 rows
  int64_t n_items = 0;        // item id table n_items + 1 rows; history table n_items rows
  int64_t n_genres = 1;       // genre slots: unknown + catalogue genres
  int64_t n_occupations = 1;  // occupation slots: unknown + distinct occupations
};

// ---------------------------------------------------------------- the libtorch model

struct MlpImpl : torch::nn::Module {
  MlpImpl(int64_t in, const std::vector<int>& hidden, int64_t out) {
    int64_t prev = in;
    for (size_t l = 0; l <= hidden.size(); ++l) {
      const int64_t o = l < hidden.size() ? hidden[l] : out;
      fc.push_back(register_module("fc" + std::to_string(l), torch::nn::Linear(prev, o)));
      prev = o;
    }
  }
  torch::Tensor forward(torch::Tensor x) {
    for (size_t l = 0; l < fc.size(); ++l) {
      x = fc[l]->forward(x);
      if (l + 1 < fc.size()) x = torch::relu(x);
    }
    return x;
  }
  std::vector<torch::nn::Linear> fc;
};
TORCH_MODULE(Mlp);

struct NetImpl : torch::nn::Module {
  NetImpl(const TwoTowerConfig& c, const Shapes& s) {
    auto emb = [&](const std::string& name, int64_t rows, int64_t d) {
      auto e = register_module(name, torch::nn::Embedding(rows, d));
      torch::NoGradGuard g;
      e->weight.normal_(0.0, c.init_std);
      return e;
    };
    if (c.use_user_id) user_id = emb("user_id", s.n_users + 1, c.dim);
    if (c.use_history) history = emb("history", s.n_items, c.dim);
    if (c.user_features) {
      gender = emb("gender", kGenderSlots, c.feat_dim);
      age = emb("age", kAgeSlots, c.feat_dim);
      occupation = emb("occupation", s.n_occupations, c.feat_dim);
    }
    if (c.use_item_id) item_id = emb("item_id", s.n_items + 1, c.dim);
    if (c.item_genres) genre = emb("genre", s.n_genres, c.feat_dim);
    if (c.item_year) year = emb("year", kYearSlots, c.feat_dim);
    user_mlp = register_module("user_mlp", Mlp(c.user_in(), c.mlp, c.dim));
    item_mlp = register_module("item_mlp", Mlp(c.item_in(), c.mlp, c.dim));
  }
  torch::nn::Embedding user_id{nullptr}, history{nullptr}, gender{nullptr}, age{nullptr},
      occupation{nullptr}, item_id{nullptr}, genre{nullptr}, year{nullptr};
  Mlp user_mlp{nullptr}, item_mlp{nullptr};
};
TORCH_MODULE(Net);

std::vector<float> weight_of(const torch::nn::Embedding& e) {
  return e ? nn::to_vector(e->weight) : std::vector<float>{};
}

two_tower::DenseMlp dense_of(const Mlp& m) {
  two_tower::DenseMlp d;
  for (const auto& l : m->fc) {
    two_tower::DenseLayer L;
    L.out = static_cast<int>(l->weight.size(0));
    L.in = static_cast<int>(l->weight.size(1));
    L.w = nn::to_vector(l->weight);
    L.b = nn::to_vector(l->bias);
    d.layers.push_back(std::move(L));
  }
  return d;
}

// ---------------------------------------------------------------- the channel

class TwoTowerRecaller final : public ConfiguredRecaller<TwoTowerConfig> {
 public:
  explicit TwoTowerRecaller(Params params) : ConfiguredRecaller(kKind, std::move(params)) {}

  uint32_t n_items() const override { return static_cast<uint32_t>(shapes_.n_items); }

  void fit(const FitInput& in) override {
    const Stopwatch watch;
    const Interactions& R = in.train;
    R.validate();
    CASCADE_CHECK(R.nnz() > 0, "two_tower: the training split has no interactions");
    fitted_ = false;
    const int threads = cfg_.run.fit_threads(in.threads);
    const uint64_t seed = cfg_.run.fit_seed(in.seed);
    // libtorch's intra-op threads for the training steps (see `torch_threads` above).
    nn::TorchSession session(cfg_.run.fit_torch_threads(threads), seed);

    Shapes s;
    s.n_users = R.n_rows;
    s.n_items = std::max<int64_t>(R.n_cols, static_cast<int64_t>(in.catalog.items.size()));
    build_features(in, s);
    shapes_ = s;
    dataset_hash_ = in.dataset_hash;
    fit_seed_ = seed;
    net_ = Net(cfg_, s);

    const uint64_t nnz = R.nnz();
    const int64_t n_items = s.n_items;

    // Item-side input tensors (all items): id slot, genre mixing weights, year slot.
    std::vector<int64_t> item_slot(static_cast<size_t>(n_items)), year_slot(static_cast<size_t>(n_items));
    std::vector<float> genre_mix(static_cast<size_t>(n_items * s.n_genres), 0.f);
    for (int64_t i = 0; i < n_items; ++i) {
      item_slot[i] = item_trained_[i] ? i : n_items;
      year_slot[i] = item_year_[i];
      const int32_t b = item_genre_indptr_[i], e = item_genre_indptr_[i + 1];
      for (int32_t k = b; k < e; ++k) genre_mix[i * s.n_genres + item_genre_ids_[k]] += 1.f / static_cast<float>(e - b);
    }
    const torch::Tensor item_slot_t = nn::from_ids(item_slot, {n_items});
    const torch::Tensor year_slot_t = nn::from_ids(year_slot, {n_items});
    const torch::Tensor genre_mix_t = nn::from_vector(genre_mix, {n_items, s.n_genres});
    std::vector<int64_t> user_feat64(user_feat_.begin(), user_feat_.end());
    const torch::Tensor user_feat_t = nn::from_ids(user_feat64, {s.n_users, kUserFeatures});

    auto item_tower = [&](const torch::Tensor& items) {
      std::vector<torch::Tensor> parts;
      if (cfg_.use_item_id) parts.push_back(net_->item_id(item_slot_t.index_select(0, items)));
      if (cfg_.item_genres) parts.push_back(genre_mix_t.index_select(0, items).mm(net_->genre->weight));
      if (cfg_.item_year) parts.push_back(net_->year(year_slot_t.index_select(0, items)));
      torch::Tensor y = net_->item_mlp(torch::cat(parts, 1));
      if (cfg_.normalize) y = two_tower::l2_normalize_rows(y);
      return y;
    };

    // One pass per parameter instead of torch::optim::AdamW's eight (fused_adamw.h): the
    // embedding tables are updated densely every batch, and at 27K items that traffic dominated.
    nn::FusedAdamW opt(net_->parameters(), {.lr = cfg_.run.lr, .weight_decay = cfg_.run.weight_decay});
    two_tower::BatchMaker maker(R,
                                {.batch = cfg_.run.batch,
                                 .n_items = n_items,
                                 .user_id_dropout = cfg_.user_id_dropout,
                                 .use_history = cfg_.use_history,
                                 .history_dropout = cfg_.history_dropout,
                                 .history_cap = static_cast<uint32_t>(cfg_.history_cap),
                                 .bpr = cfg_.bpr,
                                 .negatives = cfg_.negatives,
                                 .logq = cfg_.logq,
                                 .mask_history = cfg_.mask_history},
                                seed ^ 0x7477746f776572ULL);  // "twotower"
    // With a second thread the next batch is built while libtorch trains on this one.
    const bool prefetch = threads > 1;
    const bool use_valid = in.valid != nullptr && cfg_.run.eval_every > 0;
    if (use_valid) {
      CASCADE_CHECK(in.valid->n_rows <= R.n_rows,
                    "two_tower: the validation split has more users than the training split");
    }
    valid_log_ = nlohmann::json::array();
    spdlog::info("two_tower: {} users x {} items, {} entries, dim {}, mlp {}, loss {}, {} epochs, "
                 "batch {}, {} threads ({} libtorch)", s.n_users, n_items, nnz, cfg_.dim, cfg_.mlp_text,
                 cfg_.bpr ? "bpr" : "softmax", cfg_.run.epochs, cfg_.run.batch, threads, session.threads());

    nn::LossWorkspace softmax_ws;
    // One optimisation step on a prepared batch; returns the batch's loss times its size.
    auto train_step = [&](const two_tower::HostBatch& hb) {
      const int64_t B = hb.size;
      const int64_t M = static_cast<int64_t>(hb.columns.size());
      const torch::Tensor cols_t = nn::from_ids(hb.columns, {M});
      const torch::Tensor targets_t = cols_t.slice(0, 0, B);

      // User tower.
      std::vector<torch::Tensor> parts;
      if (cfg_.use_user_id) parts.push_back(net_->user_id(nn::from_ids(hb.user_slots, {B})));
      if (cfg_.use_history) parts.push_back(pool_history(net_->history->weight, hb.history, targets_t));
      if (cfg_.user_features) {
        const torch::Tensor f = user_feat_t.index_select(0, nn::from_ids(hb.user_ids, {B}));
        parts.push_back(net_->gender(f.select(1, 0)));
        parts.push_back(net_->age(f.select(1, 1)));
        parts.push_back(net_->occupation(f.select(1, 2)));
      }
      torch::Tensor u = net_->user_mlp(torch::cat(parts, 1));
      if (cfg_.normalize) u = two_tower::l2_normalize_rows(u);

      // Item tower, once for all the batch's columns (positives and shared negatives).
      const torch::Tensor v = item_tower(cols_t);
      torch::Tensor loss;
      if (cfg_.bpr) {
        const torch::Tensor diff = (u * (v.slice(0, 0, B) - v.slice(0, B, 2 * B))).sum(1) / cfg_.temperature;
        loss = torch::nn::functional::softplus(-diff).mean();
      } else {
        // cross_entropy(bias + u v^T / temperature) in one op with a reused B x M workspace
        // (bias: -logQ and the masks, two_tower_batch.h; the op: two_tower_loss.h). The bias
        // buffer outlives the step, so no copy is needed.
        const torch::Tensor bias =
            torch::from_blob(const_cast<float*>(hb.logit_bias.data()), {B, M}, torch::kFloat32);
        loss = two_tower::softmax_loss(u, v, bias, 1.0 / cfg_.temperature, softmax_ws);
      }
      loss.backward();
      opt.step();  // also releases the gradients for the next backward
      return loss.item<double>() * static_cast<double>(B);
    };

    auto train_epoch = [&](int epoch) {
      // Only while training: freeze() (at fit and at load) must compute the same item vectors.
      const nn::FlushDenormals ftz;
      maker.shuffle();
      const uint64_t n_batches = maker.batches();
      std::array<two_tower::HostBatch, 2> buf;
      nn::EpochProgress progress(kKind, epoch, nnz);
      double loss_sum = 0.0;
      uint64_t done = 0;
      maker.make(0, buf[0]);
      for (uint64_t k = 0; k < n_batches; ++k) {
        const bool more = k + 1 < n_batches;
        two_tower::HostBatch& next_buf = buf[(k + 1) % 2];
        std::future<void> next;
        if (more && prefetch) next = std::async(std::launch::async, [&, k] { maker.make(k + 1, next_buf); });
        loss_sum += train_step(buf[k % 2]);
        done += static_cast<uint64_t>(buf[k % 2].size);
        if (more) {
          if (prefetch) next.get();
          else maker.make(k + 1, next_buf);
        }
        progress.update(done);
      }
      return loss_sum / static_cast<double>(nnz);
    };
    std::function<double(int, double)> validate;
    if (use_valid) {
      validate = [&](int epoch, double loss) {
        freeze(threads);
        const double recall = heldout_recall(*this, R, *in.valid, ChannelTraining::kValidK, threads);
        valid_log_.push_back({{"epoch", epoch}, {"loss", loss}, {"valid_recall_at_10", recall}});
        return recall;
      };
    }
    const nn::EpochsRun run = nn::run_epochs(*net_, cfg_.run.plan(kKind), nnz, train_epoch, validate);
    best_epoch_ = run.kept_best ? run.best_epoch : run.epochs_run;
    net_->eval();
    freeze(threads);
    spdlog::info("two_tower: fitted in {:.2f}s ({} epochs run) on {} threads", watch.seconds(),
                 run.epochs_run, threads);
  }

  void score(const UserQuery& q, std::span<float> out) const override {
    score_by_vectors(*this, fitted_, q, item_matrix_.data(), static_cast<uint32_t>(shapes_.n_items), cfg_.dim, out);
  }

  // The user tower output divided by the temperature (so score == item_vectors . this).
  bool user_vector(const UserQuery& q, std::span<float> out) const override {
    check_user_query(*this, fitted_, q, out, cfg_.dim, static_cast<uint32_t>(shapes_.n_items));
    const size_t d = static_cast<size_t>(cfg_.dim), fd = static_cast<size_t>(cfg_.feat_dim);
    // Demographics follow the user id; the trained id embedding only a history that is the
    // fitted row (past_fit: the unknown slot, as for a new user).
    const bool in_range = q.user < shapes_.n_users;
    const bool known = in_range && user_fitted_[q.user] && !q.past_fit;
    std::vector<float> x(static_cast<size_t>(cfg_.user_in()), 0.f);
    std::vector<float> work(2 * static_cast<size_t>(user_mlp_.max_width()));
    float* p = x.data();
    if (cfg_.use_user_id) {
      const size_t slot = known ? q.user : static_cast<size_t>(shapes_.n_users);
      std::copy_n(user_id_w_.data() + slot * d, d, p);
      p += d;
    }
    if (cfg_.use_history) {
      for (ItemId i : q.history) {
        const float* h = history_w_.data() + static_cast<size_t>(i) * d;
        for (size_t j = 0; j < d; ++j) p[j] += h[j];
      }
      if (!q.history.empty()) {
        const float inv = 1.f / static_cast<float>(q.history.size());
        for (size_t j = 0; j < d; ++j) p[j] *= inv;
      }
      p += d;
    }
    if (cfg_.user_features) {
      const int32_t* f = in_range ? user_feat_.data() + static_cast<size_t>(q.user) * kUserFeatures : nullptr;
      const std::vector<float>* tables[kUserFeatures] = {&gender_w_, &age_w_, &occupation_w_};
      for (int k = 0; k < kUserFeatures; ++k) {
        const size_t slot = f ? static_cast<size_t>(f[k]) : 0;
        std::copy_n(tables[k]->data() + slot * fd, fd, p);
        p += fd;
      }
    }
    user_mlp_.forward(x.data(), out.data(), work.data());
    if (cfg_.normalize) two_tower::normalize_row(out.data(), out.data(), cfg_.dim);
    const float inv_t = static_cast<float>(1.0 / cfg_.temperature);
    for (float& v : out) v *= inv_t;
    return true;
  }

  ItemVectorsView item_vectors() const override {
    CASCADE_CHECK(fitted_, "two_tower: item_vectors() before fit() or load()");
    return {item_matrix_.data(), static_cast<uint32_t>(shapes_.n_items), static_cast<uint32_t>(cfg_.dim)};
  }

  void save(const std::filesystem::path& dir) const override {
    CASCADE_CHECK(fitted_, "two_tower: save() before fit()");
    ArtifactWriter w = model_writer(dir, kKind, kFormatVersion, params_.resolved(), dataset_hash_);
    w.meta()["n_users"] = shapes_.n_users;
    w.meta()["n_items"] = shapes_.n_items;
    w.meta()["n_genres"] = shapes_.n_genres;
    w.meta()["n_occupations"] = shapes_.n_occupations;
    w.meta()["dim"] = cfg_.dim;
    w.meta()["fit_seed"] = fit_seed_;
    w.meta()["best_epoch"] = best_epoch_;
    w.meta()["validation"] = valid_log_;
    nn::save_module(w, *net_, "net.");
    w.add_array("user_feat.i32", user_feat_);
    w.add_array("user_fitted.u8", user_fitted_);
    w.add_array("item_trained.u8", item_trained_);
    w.add_array("item_genre_indptr.i32", item_genre_indptr_);
    w.add_array("item_genre_ids.i32", item_genre_ids_);
    w.add_array("item_year.i32", item_year_);
    w.finish();
  }

  void load(const std::filesystem::path& dir) override {
    const ModelReader r(dir, kKind, kFormatVersion);
    Params p(r.params());
    Shapes s;
    s.n_users = r.field<int64_t>("n_users");
    s.n_items = r.field<int64_t>("n_items");
    s.n_genres = r.field<int64_t>("n_genres");
    s.n_occupations = r.field<int64_t>("n_occupations");
    const TwoTowerConfig cfg = TwoTowerConfig::read(p);
    p.check_unused(kKind);
    CASCADE_CHECK(s.n_users >= 0 && s.n_users < (int64_t{1} << 31) && s.n_items > 0 &&
                      s.n_items < (int64_t{1} << 31) && s.n_genres >= 1 && s.n_genres < 65537 &&
                      s.n_occupations >= 1 && s.n_occupations < (int64_t{1} << 20),
                  fmt::format("{}: two_tower manifest sizes out of range", dir.string()));
    auto user_feat = r.array<int32_t>("user_feat.i32");
    auto user_fitted = r.array<uint8_t>("user_fitted.u8");
    auto item_trained = r.array<uint8_t>("item_trained.u8");
    auto gptr = r.array<int32_t>("item_genre_indptr.i32");
    auto gids = r.array<int32_t>("item_genre_ids.i32");
    auto year = r.array<int32_t>("item_year.i32");
    const size_t nu = static_cast<size_t>(s.n_users), ni = static_cast<size_t>(s.n_items);
    bool ok = user_feat.size() == nu * kUserFeatures && user_fitted.size() == nu &&
              item_trained.size() == ni && gptr.size() == ni + 1 && year.size() == ni &&
              !gptr.empty() && gptr[0] == 0 && static_cast<size_t>(gptr[ni]) == gids.size();
    for (size_t i = 0; ok && i < ni; ++i) ok = gptr[i] < gptr[i + 1] && year[i] >= 0 && year[i] < kYearSlots;
    for (size_t k = 0; ok && k < gids.size(); ++k) ok = gids[k] >= 0 && gids[k] < s.n_genres;
    const int64_t slots[kUserFeatures] = {kGenderSlots, kAgeSlots, s.n_occupations};
    for (size_t k = 0; ok && k < user_feat.size(); ++k) ok = user_feat[k] >= 0 && user_feat[k] < slots[k % kUserFeatures];
    CASCADE_CHECK(ok, fmt::format("{}: two_tower feature arrays are inconsistent with the manifest", dir.string()));

    Net net(cfg, s);
    try {
      nn::load_module(r, *net, "net.");
    } catch (const Error& e) {
      throw Error(fmt::format("{}: {}", dir.string(), e.what()));
    }
    net->eval();
    params_ = std::move(p);
    cfg_ = cfg;
    shapes_ = s;
    net_ = net;
    user_feat_ = std::move(user_feat);
    user_fitted_ = std::move(user_fitted);
    item_trained_ = std::move(item_trained);
    item_genre_indptr_ = std::move(gptr);
    item_genre_ids_ = std::move(gids);
    item_year_ = std::move(year);
    dataset_hash_ = r.dataset_hash();
    fit_seed_ = r.field_or<uint64_t>("fit_seed", 0);
    best_epoch_ = r.field_or<int>("best_epoch", 0);
    valid_log_ = r.field_or<nlohmann::json>("validation", nlohmann::json::array());
    freeze(cfg_.run.threads);
  }

 private:
  // Side-feature slots of users and items (slot 0 = unknown everywhere).
  void build_features(const FitInput& in, Shapes& s) {
    const Catalog& cat = in.catalog;
    const Interactions& R = in.train;
    std::set<std::string> occs;
    for (const auto& u : cat.users)
      if (!u.occupation.empty()) occs.insert(u.occupation);
    const std::vector<std::string> occ_list(occs.begin(), occs.end());
    s.n_occupations = static_cast<int64_t>(occ_list.size()) + 1;
    s.n_genres = static_cast<int64_t>(cat.genre_names.size()) + 1;
    user_feat_.assign(static_cast<size_t>(s.n_users) * kUserFeatures, 0);
    user_fitted_.assign(static_cast<size_t>(s.n_users), 0);
    for (uint32_t u = 0; u < s.n_users; ++u) {
      user_fitted_[u] = R.row_size(u) > 0 ? 1 : 0;
      if (u >= cat.users.size()) continue;
      const UserInfo& info = cat.users[u];
      int32_t* f = user_feat_.data() + static_cast<size_t>(u) * kUserFeatures;
      f[0] = info.gender == 'M' ? 1 : info.gender == 'F' ? 2 : 0;
      f[1] = info.age_bucket >= 0 && info.age_bucket < kAgeSlots - 1 ? info.age_bucket + 1 : 0;
      if (!info.occupation.empty()) {
        f[2] = 1 + static_cast<int32_t>(std::lower_bound(occ_list.begin(), occ_list.end(), info.occupation) -
                                        occ_list.begin());
      }
    }
    const size_t ni = static_cast<size_t>(s.n_items);
    item_trained_.assign(ni, 0);
    for (uint32_t i : R.indices) item_trained_[i] = 1;
    item_genre_indptr_.assign(1, 0);
    item_genre_ids_.clear();
    item_year_.assign(ni, 0);
    for (size_t i = 0; i < ni; ++i) {
      const ItemInfo* info = i < cat.items.size() ? &cat.items[i] : nullptr;
      const size_t before = item_genre_ids_.size();
      if (info) {
        for (uint16_t g : info->genres)
          if (static_cast<int64_t>(g) + 1 < s.n_genres) item_genre_ids_.push_back(static_cast<int32_t>(g) + 1);
        const int32_t yb = year_bucket(info->year);
        item_year_[i] = yb >= 0 && yb < kYearSlots - 1 ? yb + 1 : 0;
      }
      if (item_genre_ids_.size() == before) item_genre_ids_.push_back(0);  // unknown genre
      item_genre_indptr_.push_back(static_cast<int32_t>(item_genre_ids_.size()));
    }
  }

  // Copies the weights out of libtorch and recomputes the item-tower outputs (plain loops, so
  // a loaded model reproduces the fitted one bit for bit). Marks the model usable.
  void freeze(int threads) {
    torch::NoGradGuard g;
    user_id_w_ = weight_of(net_->user_id);
    history_w_ = weight_of(net_->history);
    gender_w_ = weight_of(net_->gender);
    age_w_ = weight_of(net_->age);
    occupation_w_ = weight_of(net_->occupation);
    item_id_w_ = weight_of(net_->item_id);
    genre_w_ = weight_of(net_->genre);
    year_w_ = weight_of(net_->year);
    user_mlp_ = dense_of(net_->user_mlp);
    item_mlp_ = dense_of(net_->item_mlp);

    const size_t ni = static_cast<size_t>(shapes_.n_items), d = static_cast<size_t>(cfg_.dim),
                 fd = static_cast<size_t>(cfg_.feat_dim);
    item_matrix_.assign(ni * d, 0.f);
    parallel_for(ni, resolve_threads(threads), [&](size_t b, size_t e, int) {
      std::vector<float> x(static_cast<size_t>(cfg_.item_in()));
      std::vector<float> work(2 * static_cast<size_t>(item_mlp_.max_width()));
      for (size_t i = b; i < e; ++i) {
        std::fill(x.begin(), x.end(), 0.f);
        float* p = x.data();
        if (cfg_.use_item_id) {
          const size_t slot = item_trained_[i] ? i : ni;
          std::copy_n(item_id_w_.data() + slot * d, d, p);
          p += d;
        }
        if (cfg_.item_genres) {
          const int32_t gb = item_genre_indptr_[i], ge = item_genre_indptr_[i + 1];
          const float w = 1.f / static_cast<float>(ge - gb);
          for (int32_t k = gb; k < ge; ++k) {
            const float* gv = genre_w_.data() + static_cast<size_t>(item_genre_ids_[k]) * fd;
            for (size_t j = 0; j < fd; ++j) p[j] += w * gv[j];
          }
          p += fd;
        }
        if (cfg_.item_year) {
          std::copy_n(year_w_.data() + static_cast<size_t>(item_year_[i]) * fd, fd, p);
          p += fd;
        }
        float* y = item_matrix_.data() + i * d;
        item_mlp_.forward(x.data(), y, work.data());
        if (cfg_.normalize) two_tower::normalize_row(y, y, cfg_.dim);
      }
    });
    fitted_ = true;
  }

  Shapes shapes_;
  Net net_{nullptr};
  // Side information (see build_features): user_feat_ n_users x 3 slots; item genres as CSR
  // of genre slots (every item has >= 1 entry; slot 0 = no genre); item_year_ year slots.
  std::vector<int32_t> user_feat_;
  std::vector<uint8_t> user_fitted_;   // n_users: 1 if the user had training entries
  std::vector<uint8_t> item_trained_;  // n_items: 1 if the item had training entries
  std::vector<int32_t> item_genre_indptr_, item_genre_ids_, item_year_;
  // Frozen inference weights (row-major copies of the torch tensors; empty when switched off).
  std::vector<float> user_id_w_, history_w_, gender_w_, age_w_, occupation_w_, item_id_w_, genre_w_, year_w_;
  two_tower::DenseMlp user_mlp_, item_mlp_;
  std::vector<float> item_matrix_;  // n_items x dim: item tower outputs (item_vectors())
  std::string dataset_hash_;
  uint64_t fit_seed_ = 0;
  int best_epoch_ = 0;
  nlohmann::json valid_log_ = nlohmann::json::array();
  bool fitted_ = false;
};

}  // namespace

CASCADE_REGISTER_RECALLER(TwoTowerRecaller, "two_tower");

}  // namespace cascade
