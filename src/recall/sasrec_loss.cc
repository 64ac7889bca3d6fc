#include "recall/sasrec_loss.h"

#include <limits>

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

torch::Tensor sampled_softmax_loss(const torch::Tensor& h, const torch::Tensor& t,
                                   const torch::Tensor& E, const torch::Tensor& neg,
                                   const torch::Tensor& log_kq) {
  auto pos = (h * E.index_select(0, t)).sum(-1, /*keepdim=*/true);  // [P, 1]
  auto negs = torch::matmul(h, E.index_select(0, neg).t());         // [P, K]
  if (log_kq.defined()) {
    pos = pos - log_kq.index_select(0, t).unsqueeze(1);
    negs = negs - log_kq.index_select(0, neg).unsqueeze(0);
  }
  negs = negs.masked_fill(t.unsqueeze(1).eq(neg.unsqueeze(0)),
                          -std::numeric_limits<float>::infinity());
  // Column 0 is the positive: -log softmax(row)[0].
  return (torch::logsumexp(torch::cat({pos, negs}, 1), 1) - pos.squeeze(1)).mean();
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
