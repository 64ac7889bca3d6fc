#include "recall/sasrec_loss.h"

#include <unordered_map>
#include <vector>

#include "cascade/core/error.h"

namespace cascade::sasrec {

torch::Tensor target_rows(const torch::Tensor& targets) {
  return targets.gt(0).nonzero().squeeze(1);
}

torch::Tensor full_softmax_loss(const torch::Tensor& h, const torch::Tensor& t,
                                const torch::Tensor& E) {
  const int64_t n = E.size(0) - 1;
  auto logits = torch::matmul(h, E.narrow(0, 1, n).t());  // [P, n]
  return torch::nn::functional::cross_entropy(logits, t - 1);
}

// A masked logit: exp() of it is 0, yet finite, so a row whose every negative is a hit gets a
// zero gradient rather than the NaN of logsumexp over an all -inf row.
constexpr float kMasked = -1e30f;

// Written for speed at K ~ 1000 shared negatives, where the [P, K] logits and every pass over
// them cost as much as the encoder: the logQ correction rides in the GEMM as one extra column
// ([h, 1] . [E_neg, -log_kq]^T), the accidental hits (rare: a few per row at most) are found on
// the host and set to -inf in place of a [P, K] comparison, and the positive joins the
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
                         const NegativeSampler* sampler, int64_t* positions) {
  const auto rows = target_rows(targets);
  const auto h = H.index_select(0, rows);        // [P, d]
  const auto t = targets.index_select(0, rows);  // [P]
  *positions = rows.size(0);
  const int64_t n = E.size(0) - 1;
  if (kind == "ce") return full_softmax_loss(h, t, E);
  if (kind == "bpr") return bpr_loss(h, t, E, torch::randint(1, n + 1, {t.size(0)}, torch::kInt64));
  CASCADE_CHECK(kind == "sampled", "sasrec: unknown loss '" + kind + "'");
  CASCADE_CHECK(sampler != nullptr, "sasrec: loss 'sampled' without a negative sampler");
  return sampled_softmax_loss(h, t, E, sampler->draw(), sampler->log_kq);
}

}  // namespace cascade::sasrec
