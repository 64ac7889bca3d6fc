#include "recall/sasrec_loss.h"

#include <algorithm>
#include <unordered_map>
#include <vector>

#include "cascade/core/error.h"

namespace cascade::sasrec {

torch::Tensor target_rows(const torch::Tensor& targets) {
  return targets.gt(0).nonzero().squeeze(1);
}

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// The full softmax cross-entropy as one op over a reused [P, n] workspace. Autograd's
// cross_entropy allocated and first-touched five [P, n] buffers per batch (the logits,
// log_softmax's output, nll_loss's zero-filled gradient, log_softmax's backward, the matmul's
// gradient input), ~34 MB each for a batch of 128 x 20 positions at 3,706 items: fresh
// mappings zeroed by the kernel at every batch, and passes over memory that cost as much as
// the GEMMs. Here the logits are written once into the workspace, turned into log-softmax in
// place (row by row, while each row is in cache), the positives' log-probabilities read, and
// the rows exponentiated into G = softmax - onehot, which the backward GEMMs read.
//
// With libtorch's intra-op threads > 1 the rows (forward, gradient of h) and the items (gradient
// of E) are split between them, each piece one single-threaded GEMM: OpenBLAS's own threads
// spin between calls and made 2 threads slower than 1 here (18.5 s vs 14.9 s per epoch on the
// 1M log, 16 s of system time). Each row's and item's result is computed by one GEMM call as
// before, only the calls differ.
struct FullSoftmaxFn : torch::autograd::Function<FullSoftmaxFn> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& h, const torch::Tensor& E,
                               const torch::Tensor& cols, torch::Tensor work) {
    torch::NoGradGuard no_grad;
    const int64_t n = E.size(0) - 1, P = h.size(0);
    const torch::Tensor items_t = E.narrow(0, 1, n).t();
    at::parallel_for(0, P, grain(P), [&](int64_t r0, int64_t r1) {
      torch::NoGradGuard worker_no_grad;  // grad mode is per thread
      torch::Tensor w = work.narrow(0, r0, r1 - r0);
      torch::mm_out(w, h.narrow(0, r0, r1 - r0), items_t);
      at::_log_softmax_out(w, w, 1, /*half_to_float=*/false);
    });
    const torch::Tensor loss = -work.gather(1, cols).mean();
    at::parallel_for(0, P, grain(P), [&](int64_t r0, int64_t r1) {
      torch::NoGradGuard worker_no_grad;
      work.narrow(0, r0, r1 - r0).exp_();
    });
    work.scatter_add_(1, cols, torch::full({cols.size(0), 1}, -1.f, work.options()));
    ctx->save_for_backward({h, E, work});
    return loss;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &h = saved[0], &E = saved[1], &G = saved[2];
    const int64_t n = E.size(0) - 1, P = h.size(0);
    const torch::Tensor items = E.narrow(0, 1, n);
    // d mean / d logits = G / P; the scalar upstream gradient joins the same factor.
    const float scale = grads[0].item<float>() / static_cast<float>(P);
    torch::Tensor gh = torch::empty_like(h);
    torch::Tensor gE = torch::zeros_like(E);  // row 0, the padding, is never a class
    at::parallel_for(0, P, grain(P), [&](int64_t r0, int64_t r1) {
      torch::NoGradGuard worker_no_grad;
      torch::Tensor out = gh.narrow(0, r0, r1 - r0);
      torch::mm_out(out, G.narrow(0, r0, r1 - r0), items);
      out.mul_(scale);
    });
    at::parallel_for(0, n, grain(n), [&](int64_t i0, int64_t i1) {
      torch::NoGradGuard worker_no_grad;
      torch::Tensor out = gE.narrow(0, 1 + i0, i1 - i0);
      torch::mm_out(out, G.narrow(1, i0, i1 - i0).t(), h);
      out.mul_(scale);
    });
    return {gh, gE, torch::Tensor(), torch::Tensor()};
  }

  // One piece per intra-op thread.
  static int64_t grain(int64_t total) {
    const int64_t t = std::max(1, at::get_num_threads());
    return std::max<int64_t>(1, (total + t - 1) / t);
  }
};

}  // namespace

torch::Tensor full_softmax_loss(const torch::Tensor& h, const torch::Tensor& t,
                                const torch::Tensor& E, nn::LossWorkspace* ws) {
  const int64_t n = E.size(0) - 1, P = h.size(0);
  nn::LossWorkspace local;
  if (ws == nullptr) ws = &local;
  const torch::Tensor work = ws->matrix(P, n, h.options());
  return FullSoftmaxFn::apply(h, E, (t - 1).unsqueeze(1), work);
}

// A masked logit: exp() of it is 0, yet finite, so a row whose every negative is a hit gets a
// zero gradient rather than the NaN of logsumexp over an all -inf row.
constexpr float kMasked = -1e30f;

// Written for speed at K ~ 1000 shared negatives, where the [P, K] logits and every pass over
// them cost as much as the encoder: the logQ correction rides in the GEMM as one extra column
// ([h, 1] . [E_neg, -log_kq]^T), the accidental hits (rare: a few per row at most) are found on
// the host and set to kMasked in place of a [P, K] comparison, and the positive joins the
// negatives' logsumexp through logaddexp instead of a concatenated [P, K + 1] copy.
torch::Tensor sampled_softmax_loss(const torch::Tensor& h, const torch::Tensor& t,
                                   const torch::Tensor& E, const torch::Tensor& neg,
                                   const torch::Tensor& log_kq) {
  auto pos = (h * E.index_select(0, t)).sum(-1);  // [P]
  torch::Tensor negs;                              // [P, K]
  if (log_kq.defined()) {
    pos = pos - log_kq.index_select(0, t);
    const auto ones = torch::ones({h.size(0), 1}, h.options());
    const auto shift = -log_kq.index_select(0, neg).unsqueeze(1);
    negs = torch::matmul(torch::cat({h, ones}, 1), torch::cat({E.index_select(0, neg), shift}, 1).t());
  } else {
    negs = torch::matmul(h, E.index_select(0, neg).t());
  }
  // Accidental hits: row r's target drawn as negative column c.
  const auto tc = t.contiguous(), nc = neg.contiguous();
  const int64_t* tp = tc.data_ptr<int64_t>();
  const int64_t* np = nc.data_ptr<int64_t>();
  const int64_t P = tc.size(0), K = nc.size(0);
  std::unordered_map<int64_t, std::vector<int64_t>> columns;
  for (int64_t c = 0; c < K; ++c) columns[np[c]].push_back(c);
  std::vector<int64_t> hit_rows, hit_cols;
  for (int64_t r = 0; r < P; ++r) {
    const auto it = columns.find(tp[r]);
    if (it == columns.end()) continue;
    for (int64_t c : it->second) {
      hit_rows.push_back(r);
      hit_cols.push_back(c);
    }
  }
  if (!hit_rows.empty()) {
    const auto n = static_cast<int64_t>(hit_rows.size());
    negs = negs.index_put({torch::from_blob(hit_rows.data(), {n}, torch::kInt64).clone(),
                           torch::from_blob(hit_cols.data(), {n}, torch::kInt64).clone()},
                          torch::full({}, kMasked, negs.options()));
  }
  // -log softmax of the positive among {positive, negatives}.
  return (torch::logaddexp(pos, torch::logsumexp(negs, 1)) - pos).mean();
}

NegativeSampler::NegativeSampler(const std::vector<double>& counts, double mix, int64_t k)
    : negatives(k) {
  const auto n = static_cast<int64_t>(counts.size());
  double total = 0;
  for (double c : counts) total += c;
  std::vector<float> p(static_cast<size_t>(n) + 1, 0.f);
  const double uniform = total > 0 ? mix : 1.0;
  for (int64_t i = 0; i < n; ++i) {
    p[static_cast<size_t>(i) + 1] = static_cast<float>(
        uniform / static_cast<double>(n) +
        (total > 0 ? (1.0 - mix) * counts[static_cast<size_t>(i)] / total : 0.0));
  }
  probs = torch::tensor(p);
  log_kq = torch::log(probs * static_cast<float>(k));
}

torch::Tensor NegativeSampler::draw() const {
  return torch::multinomial(probs, negatives, /*replacement=*/true);
}

torch::Tensor bpr_loss(const torch::Tensor& h, const torch::Tensor& t, const torch::Tensor& E,
                       const torch::Tensor& neg) {
  auto pos = (h * E.index_select(0, t)).sum(-1);
  auto negs = (h * E.index_select(0, neg)).sum(-1);
  return -torch::nn::functional::logsigmoid(pos - negs).mean();
}

torch::Tensor batch_loss(const torch::Tensor& H, const torch::Tensor& targets,
                         const torch::Tensor& E, const std::string& kind,
                         const NegativeSampler* sampler, int64_t* positions, nn::LossWorkspace* ws) {
  const auto rows = target_rows(targets);
  const auto h = H.index_select(0, rows);        // [P, d]
  const auto t = targets.index_select(0, rows);  // [P]
  *positions = rows.size(0);
  const int64_t n = E.size(0) - 1;
  if (kind == "ce") return full_softmax_loss(h, t, E, ws);
  if (kind == "bpr") return bpr_loss(h, t, E, torch::randint(1, n + 1, {t.size(0)}, torch::kInt64));
  CASCADE_CHECK(kind == "sampled", "sasrec: unknown loss '" + kind + "'");
  CASCADE_CHECK(sampler != nullptr, "sasrec: loss 'sampled' without a negative sampler");
  return sampled_softmax_loss(h, t, E, sampler->draw(), sampler->log_kq);
}

}  // namespace cascade::sasrec
