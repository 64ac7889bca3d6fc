#include "cascade/pipeline/recommender.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "cascade/ann/ann_index.h"
#include "cascade/core/error.h"
#include "cascade/pipeline/funnel_eval.h"
#include "cascade/pipeline/rank_job.h"
#include "cascade/util/topk.h"

namespace cascade {
namespace {

using Clock = std::chrono::steady_clock;

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// Explanations look at this many of the newest history items.
constexpr size_t kReasonWindow = 20;

}  // namespace

Recommender::Recommender(std::shared_ptr<const Bundle> bundle) : bundle_(std::move(bundle)) {
  CASCADE_CHECK(bundle_ != nullptr, "Recommender: no bundle");
  const Bundle& b = *bundle_;
  // `rerank.vectors` picks the channel; the rest of the group is RerankOptions.
  YAML::Node group =
      b.config()["rerank"] ? YAML::Clone(b.config()["rerank"]) : YAML::Node(YAML::NodeType::Map);
  vectors_name_ = "ials";
  if (group.IsMap() && group["vectors"]) {
    vectors_name_ = group["vectors"].as<std::string>();
    group.remove("vectors");
  }
  rerank_ = RerankOptions::from_yaml(group);
  vectors_channel_ = b.channel_index(vectors_name_);
  const uint32_t n_items = b.data().n_items;
  RerankItems side;
  side.n_items = n_items;
  side.catalog = &b.data().catalog;
  if (vectors_channel_ >= 0) {
    ItemVectorsView v;
    try {
      v = b.channels()[vectors_channel_]->item_vectors();
    } catch (const NotSupported&) {
      throw Error(fmt::format(
          "rerank.vectors: channel {} has no item vectors; name a vector channel (ials, "
          "two_tower, sasrec, content)",
          vectors_name_));
    }
    CASCADE_CHECK(v.rows == n_items,
                  "rerank.vectors: the channel's item vectors do not cover the catalogue");
    side.vectors = v.data;  // the Reranker keeps the unit-normalised copy; cosine() reads it too
    side.dim = v.dim;
  } else if (vectors_name_ != "none") {
    throw Error(fmt::format("rerank.vectors: channel {} is not in the bundle (channels: {})",
                            vectors_name_, fmt::join(b.channel_names(), ", ")));
  }
  counts_.assign(n_items, 0.0f);
  for (uint32_t item : b.fit_matrix().indices) counts_[item] += 1.0f;
  side.counts = counts_;
  reranker_ = std::make_unique<Reranker>(side);
}

float Recommender::cosine(ItemId a, ItemId b) const {
  const uint32_t dim = reranker_->dim();
  const float* x = reranker_->unit_vectors().data() + static_cast<size_t>(a) * dim;
  const float* y = reranker_->unit_vectors().data() + static_cast<size_t>(b) * dim;
  float s = 0;
  for (uint32_t d = 0; d < dim; ++d) s += x[d] * y[d];
  return s;
}

RecommendResponse Recommender::recommend(const RecommendRequest& req) const {
  const auto t0 = Clock::now();
  CASCADE_CHECK(req.k >= 1, "k must be at least 1");
  const double diversity = req.diversity < 0 ? rerank_.diversity : req.diversity;
  CASCADE_CHECK(diversity >= 0 && diversity <= 1, "diversity must be in [0, 1]");
  const Bundle& b = *bundle_;
  const Dataset& ds = b.data();
  RecommendResponse resp;

  // History: the training row, then the live events that name a known item.
  const int64_t dense_user = ds.find_user(req.user);
  resp.known_user = dense_user >= 0;
  std::vector<ItemId> history;
  std::vector<int64_t> times;
  if (resp.known_user) {
    const auto u = static_cast<uint32_t>(dense_user);
    const auto row = ds.train.row(u);
    const auto row_t = ds.train.row_times(u);
    history.assign(row.begin(), row.end());
    times.assign(row_t.begin(), row_t.end());
  }
  int64_t now = b.log_clock();
  for (const LiveEvent& e : req.events) {
    const int64_t item = ds.find_item(e.item);
    if (item < 0) continue;  // an item the bundle does not know cannot be recommended from
    history.push_back(static_cast<ItemId>(item));
    times.push_back(e.timestamp);
    now = std::max(now, e.timestamp);
    ++resp.live_events;
  }
  resp.history = history.size();
  if (!times.empty()) now = std::max(now, times.back());
  if (req.now != 0) now = req.now;

  // Recall: trained ids only when the history is exactly what the channels were fitted on.
  UserQuery q;
  q.user =
      resp.known_user && resp.live_events == 0 ? static_cast<UserId>(dense_user) : kUnknownUser;
  q.history = history;
  // Only the top pool_depth of the fusion reach the rankers; fused scores do not depend on the
  // cut, so fusing straight to that depth gives the same pool for less work.
  FusionOptions fopt = b.fusion();
  fopt.pool_size = std::min(fopt.pool_size, b.pool_depth());
  const std::vector<FusedCandidate> pool = fuse_channels(b.channels(), q, fopt);
  const auto t1 = Clock::now();
  resp.latency.recall_ms = ms_between(t0, t1);
  if (pool.empty()) {
    resp.latency.total_ms = ms_between(t0, Clock::now());
    return resp;
  }

  // Rank: features, pre-ranker over the pool, fine-ranker over its best.
  const FeatureBuilder& fb = b.features();
  RankBatch batch = fb.empty_batch();
  const UserId rank_user = resp.known_user ? static_cast<UserId>(dense_user) : kUnknownUser;
  fb.add_pool(RankRequest{rank_user, history, times, now}, pool, batch);
  const auto t2 = Clock::now();
  std::vector<float> pre(batch.rows());
  b.pre_ranker().score(batch, pre);
  const size_t pre_keep = std::max(req.pre_keep ? req.pre_keep : b.pre_keep(), req.k);
  const std::vector<uint32_t> kept = funnel_order(pre, pre_keep, pre, pre_keep);
  const auto t3 = Clock::now();
  const RankBatch sub = batch.take_rows(kept);
  std::vector<float> fine(sub.rows());
  b.fine_ranker().score(sub, fine);
  std::vector<uint32_t> fine_order = order_by(fine);
  const size_t fine_keep =
      std::min(fine_order.size(), std::max(req.fine_keep ? req.fine_keep : b.fine_keep(), req.k));
  fine_order.resize(fine_keep);
  const auto t4 = Clock::now();

  // Re-rank the fine-ranker's best.
  std::vector<ItemId> cand(fine_keep);
  std::vector<float> cand_scores(fine_keep);
  for (size_t i = 0; i < fine_keep; ++i) {
    cand[i] = pool[kept[fine_order[i]]].item;
    cand_scores[i] = fine[fine_order[i]];
  }
  std::vector<ItemId> watched = history;
  std::sort(watched.begin(), watched.end());
  watched.erase(std::unique(watched.begin(), watched.end()), watched.end());
  RerankOptions ro = rerank_;
  ro.diversity = diversity;
  const auto picked = reranker_->rerank(cand, cand_scores, watched, req.k, ro);
  const auto t5 = Clock::now();

  resp.items.reserve(picked.size());
  for (const RerankedItem& p : picked) {
    const uint32_t fine_row = fine_order[p.input_rank];
    const uint32_t pool_row = kept[fine_row];
    RecommendedItem it;
    it.item = p.item;
    it.score = p.final_score;
    it.fused = pool[pool_row].score;
    it.pre_rank = pre[pool_row];
    it.fine_rank = fine[fine_row];
    it.channels = pool[pool_row].channels;
    it.relaxed = p.relaxed;
    if (req.explain && !unit_vectors().empty()) {
      float best = 0;
      const size_t from = history.size() > kReasonWindow ? history.size() - kReasonWindow : 0;
      for (size_t h = from; h < history.size(); ++h) {
        const float c = cosine(history[h], p.item);
        if (c > best) best = c, it.because = history[h];
      }
    }
    resp.items.push_back(std::move(it));
  }
  resp.latency.features_ms = ms_between(t1, t2);
  resp.latency.pre_rank_ms = ms_between(t2, t3);
  resp.latency.fine_rank_ms = ms_between(t3, t4);
  resp.latency.rerank_ms = ms_between(t4, t5);
  resp.latency.total_ms = ms_between(t0, Clock::now());
  return resp;
}

std::vector<ScoredItem> Recommender::similar(ItemId item, size_t k) const {
  const uint32_t n = bundle_->data().n_items;
  CASCADE_CHECK(item < n, "similar: item out of range");
  CASCADE_CHECK(!unit_vectors().empty(), "similar: the bundle has no item vectors (rerank.vectors)");
  const Recaller& ch = *bundle_->channels()[vectors_channel_];
  const ItemId self[1] = {item};
  if (const AnnIndex* index = ch.index()) {
    const ItemVectorsView v = ch.item_vectors();
    return index->search({v.data + static_cast<size_t>(item) * v.dim, v.dim}, k, self);
  }
  std::vector<float> s(n);
  for (uint32_t j = 0; j < n; ++j) s[j] = cosine(item, j);
  s[item] = -INFINITY;  // never the item itself: top_k skips non-finite scores
  return top_k(s, k);
}

}  // namespace cascade
