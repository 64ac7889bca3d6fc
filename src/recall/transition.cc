// Item-transition recall channel; see transition.h.
#include "recall/transition.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "cascade/core/error.h"
#include "cascade/core/registry.h"
#include "cascade/io/artifact.h"
#include "cascade/util/parallel.h"

namespace cascade {

TransitionRecaller::TransitionRecaller(Params params) {
  read_params(std::move(params));
}

void TransitionRecaller::read_params(Params p) {
  window_ = static_cast<uint32_t>(p.get_int("window", 10, 1, 1000));
  recency_decay_ = p.get_double("recency_decay", 0.8, 1e-6, 1.0);
  max_lag_ = static_cast<uint32_t>(p.get_int("max_lag", 3, 1, 100));
  lag_decay_ = p.get_double("lag_decay", 1.0, 1e-6, 1.0);
  alpha_ = p.get_double("alpha", 0.5, 0.0, 2.0);
  beta_ = p.get_double("beta", 0.0, 0.0, 2.0);
  max_neighbours_ = static_cast<uint32_t>(p.get_int("max_neighbours", 500, 1, 1000000));
  prior_ = p.get_double("prior", 0.0, 0.0, 1e6);
  threads_ = static_cast<int>(p.get_int("threads", 0, 0, 1024));
  p.check_unused(kKind);
  params_ = std::move(p);
}

void TransitionRecaller::fit(const FitInput& in) {
  const Interactions& train = in.train;
  train.validate();
  CASCADE_CHECK(in.catalog.items.empty() || in.catalog.items.size() == train.n_cols,
                fmt::format("transition: catalogue has {} items but the training matrix {} columns",
                            in.catalog.items.size(), train.n_cols));
  const uint32_t n = train.n_cols;
  const uint32_t sentinel = n;  // ends every user's row in `seq`
  // Every row followed by the sentinel, so a walk forward from any position stops at the
  // end of its user without looking up the row.
  // With a context (keep_seen) the rows hold seen events too: antecedents, never targets (a
  // request wants the next positive; a seen event is masked from its lists anyway).
  const Interactions* ctx = in.context;
  if (ctx != nullptr) {
    ctx->validate();
    CASCADE_CHECK(ctx->n_rows == train.n_rows && ctx->n_cols == n,
                  fmt::format("transition: context is {} x {}, the training matrix {} x {}",
                              ctx->n_rows, ctx->n_cols, train.n_rows, n));
  }
  const Interactions& rows_in = ctx != nullptr ? *ctx : train;
  std::vector<uint32_t> seq;
  std::vector<uint8_t> target;  // seq[p] may be the `b` of a pair
  seq.reserve(rows_in.nnz() + rows_in.n_rows);
  target.reserve(rows_in.nnz() + rows_in.n_rows);
  for (uint32_t u = 0; u < rows_in.n_rows; ++u) {
    const auto r = rows_in.row(u);
    const auto v = rows_in.row_values(u);
    for (size_t k = 0; k < r.size(); ++k) {
      seq.push_back(r[k]);
      target.push_back(ctx == nullptr || v[k] != 0.f ? 1 : 0);
    }
    seq.push_back(sentinel);
    target.push_back(0);
  }
  std::vector<float> lag_weight(max_lag_ + 1);
  for (uint32_t l = 1; l <= max_lag_; ++l)
    lag_weight[l] = static_cast<float>(std::pow(lag_decay_, l - 1));

  // Positions of every item in `seq` (a counting sort), and the weight entering each item.
  std::vector<uint64_t> first(static_cast<size_t>(n) + 1, 0);
  std::vector<double> in_weight(n, 0.0);
  std::vector<uint64_t> positives(n, 0);  // the item's rows of `train`: its popularity
  for (size_t p = 0; p < seq.size(); ++p) {
    if (seq[p] == sentinel) continue;
    ++first[seq[p] + 1];
    positives[seq[p]] += target[p];
    for (uint32_t l = 1; l <= max_lag_ && seq[p + l] != sentinel; ++l)
      if (seq[p + l] != seq[p] && target[p + l]) in_weight[seq[p + l]] += lag_weight[l];
  }
  for (uint32_t i = 0; i < n; ++i) first[i + 1] += first[i];
  std::vector<uint64_t> positions(first[n]);
  {
    std::vector<uint64_t> fill(first.begin(), first.end() - 1);
    for (size_t p = 0; p < seq.size(); ++p)
      if (seq[p] != sentinel) positions[fill[seq[p]]++] = p;
  }
  std::vector<float> in_scale(n, 0.f);  // in(b)^-beta, 0 for items nothing leads to
  for (uint32_t b = 0; b < n; ++b)
    if (in_weight[b] > 0) in_scale[b] = static_cast<float>(std::pow(in_weight[b], -beta_));

  // Each item's successors, accumulated densely per thread, cut to the heaviest
  // max_neighbours by W (ties: lower id), written to per-item lists then packed.
  std::vector<std::vector<std::pair<uint32_t, float>>> rows(n);
  const int threads = resolve_threads(threads_ > 0 ? threads_ : in.threads);
  std::vector<std::vector<double>> acc(threads, std::vector<double>(n, 0.0));
  std::vector<std::vector<uint32_t>> touched(threads);
  parallel_for_dynamic(n, threads, 64, [&](size_t a_index, int t) {
    const auto a = static_cast<uint32_t>(a_index);
    std::vector<double>& c = acc[t];
    std::vector<uint32_t>& seen = touched[t];
    seen.clear();
    double out_weight = 0;
    for (uint64_t k = first[a]; k < first[a + 1]; ++k) {
      const uint64_t p = positions[k];
      for (uint32_t l = 1; l <= max_lag_ && seq[p + l] != sentinel; ++l) {
        const uint32_t b = seq[p + l];
        if (b == a || !target[p + l]) continue;
        if (c[b] == 0) seen.push_back(b);
        c[b] += lag_weight[l];
        out_weight += lag_weight[l];
      }
    }
    if (seen.empty()) return;
    const double out_scale = std::pow(out_weight, -alpha_);
    std::vector<std::pair<uint32_t, float>>& row = rows[a];
    row.reserve(seen.size());
    for (uint32_t b : seen) {
      row.emplace_back(b, static_cast<float>(c[b] * out_scale * in_scale[b]));
      c[b] = 0;
    }
    const auto heavier = [](const auto& x, const auto& y) {
      return x.second != y.second ? x.second > y.second : x.first < y.first;
    };
    if (row.size() > max_neighbours_) {
      std::nth_element(row.begin(), row.begin() + max_neighbours_, row.end(), heavier);
      row.resize(max_neighbours_);
    }
    std::sort(row.begin(), row.end(), heavier);
  });

  n_items_ = n;
  popularity_.assign(n, 0.f);
  uint64_t top = 0;
  for (uint32_t i = 0; i < n; ++i) top = std::max(top, positives[i]);
  for (uint32_t i = 0; i < n && top > 0; ++i)
    popularity_[i] =
        static_cast<float>(static_cast<double>(positives[i]) / static_cast<double>(top));
  indptr_.assign(1, 0);
  next_.clear();
  weight_.clear();
  for (uint32_t a = 0; a < n; ++a) {
    for (const auto& [b, w] : rows[a]) {
      next_.push_back(b);
      weight_.push_back(w);
    }
    indptr_.push_back(next_.size());
  }
  dataset_hash_ = in.dataset_hash;
}

std::span<const uint32_t> TransitionRecaller::successors(ItemId a) const {
  CASCADE_CHECK(a < n_items_,
                fmt::format("transition: item {} out of range ({} items)", a, n_items_));
  return {next_.data() + indptr_[a], next_.data() + indptr_[a + 1]};
}

std::span<const float> TransitionRecaller::successor_weights(ItemId a) const {
  CASCADE_CHECK(a < n_items_,
                fmt::format("transition: item {} out of range ({} items)", a, n_items_));
  return {weight_.data() + indptr_[a], weight_.data() + indptr_[a + 1]};
}

void TransitionRecaller::score(const UserQuery& q, std::span<float> out) const {
  CASCADE_CHECK(out.size() == n_items_,
                fmt::format("transition: score buffer has {} entries for {} items (fitted?)",
                            out.size(), n_items_));
  if (prior_ > 0) {
    const auto p = static_cast<float>(prior_);
    for (uint32_t b = 0; b < n_items_; ++b) out[b] = p * popularity_[b];
  } else {
    std::fill(out.begin(), out.end(), 0.f);
  }
  float w = 1.f;
  size_t used = 0;
  // Newest first; items the model does not know (ids past the fit's catalogue) are skipped
  // without using up the window.
  // The window of recent events: with seen events (UserQuery::context) they count too.
  const std::span<const ItemId> events = q.context.empty() ? q.history : q.context;
  for (size_t j = events.size(); j-- > 0 && used < window_;) {
    const ItemId a = events[j];
    if (a >= n_items_) continue;
    const uint64_t b0 = indptr_[a], b1 = indptr_[a + 1];
    for (uint64_t k = b0; k < b1; ++k) out[next_[k]] += w * weight_[k];
    w *= static_cast<float>(recency_decay_);
    ++used;
  }
}

void TransitionRecaller::check_model() const {
  CASCADE_CHECK(indptr_.size() == static_cast<size_t>(n_items_) + 1 && indptr_.front() == 0 &&
                    indptr_.back() == next_.size() && next_.size() == weight_.size() &&
                    popularity_.size() == n_items_,
                "transition: inconsistent model arrays");
  for (uint32_t a = 0; a < n_items_; ++a)
    CASCADE_CHECK(indptr_[a] <= indptr_[a + 1],
                  fmt::format("transition: indptr decreases at item {}", a));
  for (uint32_t b : next_)
    CASCADE_CHECK(b < n_items_,
                  fmt::format("transition: successor id {} out of range ({} items)", b, n_items_));
  for (float w : weight_)
    CASCADE_CHECK(std::isfinite(w), "transition: a successor weight is not finite");
  for (float p : popularity_)
    CASCADE_CHECK(std::isfinite(p) && p >= 0, "transition: a popularity is not finite and >= 0");
}

void TransitionRecaller::save(const std::filesystem::path& dir) const {
  ArtifactWriter w = model_writer(dir, kKind, kFormatVersion, params_.resolved(), dataset_hash_);
  w.meta()["n_items"] = n_items_;
  w.add_array<uint64_t>("indptr.u64", indptr_);
  w.add_array<uint32_t>("next.u32", next_);
  w.add_array<float>("weight.f32", weight_);
  w.add_array<float>("popularity.f32", popularity_);
  w.finish();
}

void TransitionRecaller::load(const std::filesystem::path& dir) {
  const ModelReader r(dir, kKind, kFormatVersion);
  std::map<std::string, std::string> values = r.params();
  TransitionRecaller loaded{Params(values)};  // throws on bad params before we change anything
  loaded.n_items_ = r.field<uint32_t>("n_items");
  loaded.indptr_ = r.array<uint64_t>("indptr.u64");
  loaded.next_ = r.array<uint32_t>("next.u32");
  loaded.weight_ = r.array<float>("weight.f32");
  loaded.popularity_ = r.array<float>("popularity.f32");
  try {
    loaded.check_model();
  } catch (const Error& e) {
    r.bad(e.what());
  }
  // Member by member: the Recaller base (an attached index) is not the loaded model's.
  read_params(Params(std::move(values)));
  n_items_ = loaded.n_items_;
  indptr_ = std::move(loaded.indptr_);
  next_ = std::move(loaded.next_);
  weight_ = std::move(loaded.weight_);
  popularity_ = std::move(loaded.popularity_);
  dataset_hash_ = r.dataset_hash();
}

CASCADE_REGISTER_RECALLER(TransitionRecaller, "transition");

}  // namespace cascade
