#include "cascade/pipeline/recommender.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>

#include "cascade/ann/ann_index.h"
#include "cascade/core/error.h"
#include "cascade/core/registry.h"
#include "cascade/pipeline/rank_stage.h"
#include "cascade/pipeline/request_time.h"
#include "cascade/pipeline/rerank_stage.h"
#include "cascade/util/stopwatch.h"
#include "cascade/util/topk.h"

namespace cascade {
namespace {

// Explanations look at this many of the newest history items.
constexpr size_t kReasonWindow = 20;

}  // namespace

Recommender::Recommender(std::shared_ptr<const Bundle> bundle) : bundle_(std::move(bundle)) {
  CASCADE_CHECK(bundle_ != nullptr, "Recommender: no bundle");
  const Bundle& b = *bundle_;
  const RerankConfig rc = RerankConfig::from_yaml(b.config()["rerank"]);
  vectors_name_ = rc.vectors;
  vectors_channel_ = b.channel_index(vectors_name_);
  method_ = rc.make_method();
  rerank_ = method_->options();
  reranker_ =
      make_rerank_side(rc, b.channels(), b.channel_names(), b.fit_matrix(), b.data().catalog);
}

float Recommender::cosine(ItemId a, ItemId b) const {
  const uint32_t dim = reranker_->dim();
  const float* x = reranker_->unit_vectors().data() + static_cast<size_t>(a) * dim;
  const float* y = reranker_->unit_vectors().data() + static_cast<size_t>(b) * dim;
  float s = 0;
  for (uint32_t d = 0; d < dim; ++d) s += x[d] * y[d];
  return s;
}

UserQuery ResolvedRequest::query() const {
  UserQuery q;
  // A known user keeps the id (demographics); with live events the history is past the fit, so
  // no channel answers from state trained on the user's rows (recaller.h).
  q.user = known_user ? dense_user : kUnknownUser;
  q.past_fit = known_user && live_events > 0;
  q.history = history;
  q.values = values;  // as offline evaluation queries the channels (fused_pool.h)
  q.context = context;
  return q;
}

ResolvedRequest Recommender::resolve(const RecommendRequest& req) const {
  const Dataset& ds = bundle_->data();
  ResolvedRequest r;
  std::span<const int64_t> seen_times;  // of the bundle's seen events of the user
  // History: the training row, then the live events that name a known item.
  const int64_t dense_user = ds.find_user(req.user);
  r.known_user = dense_user >= 0;
  if (r.known_user) {
    const auto u = static_cast<uint32_t>(dense_user);
    r.dense_user = u;
    const auto row = ds.train.row(u);
    const auto row_t = ds.train.row_times(u);
    const auto row_v = ds.train.row_values(u);
    r.history.assign(row.begin(), row.end());
    r.times.assign(row_t.begin(), row_t.end());
    r.values.assign(row_v.begin(), row_v.end());  // the training row's values (ratings)
    const auto seen = ds.seen_before(u, ds.train.row_size(u));
    r.seen.assign(seen.begin(), seen.end());
    if (!seen.empty())  // only then has ds.seen a row for u (keep_seen)
      seen_times = std::span<const int64_t>(ds.seen.times).subspan(ds.seen.indptr[u], seen.size());
  }
  const size_t stored_seen = r.seen.size();
  for (const std::string& raw : req.seen) {
    const int64_t item = ds.find_item(raw);
    if (item >= 0) r.seen.push_back(static_cast<ItemId>(item));  // unknown: never listed anyway
  }
  for (const LiveEvent& e : req.events) {
    const int64_t item = ds.find_item(e.item);
    if (item < 0) continue;  // an item the bundle does not know cannot be recommended from
    r.history.push_back(static_cast<ItemId>(item));
    r.times.push_back(e.timestamp);
    r.values.push_back(1.0f);
    ++r.live_events;
  }
  if (!r.seen.empty()) {
    // The whole history (live events included) and the stored seen events by their times; the
    // request's seen items are the newest. Offline requests merge the same rows the same way.
    merge_by_time(r.history, r.times, std::span<const ItemId>(r.seen).first(stored_seen),
                  seen_times, r.context);
    r.context.insert(r.context.end(), r.seen.begin() + static_cast<std::ptrdiff_t>(stored_seen),
                     r.seen.end());
  }
  return r;
}

std::vector<FusedCandidate> Recommender::pool(const ResolvedRequest& r, size_t depth) const {
  // Only the top pool_depth of the fusion reach the rankers; fused scores do not depend on the
  // cut, so fusing straight to that depth gives the same pool for less work.
  FusionOptions fopt = bundle_->fusion();
  CASCADE_CHECK(
      depth <= fopt.pool_size,
      fmt::format("pool depth {} exceeds the bundle's fused pool of {}", depth, fopt.pool_size));
  fopt.pool_size = std::min(fopt.pool_size, depth ? depth : bundle_->pool_depth());
  return fuse_channels(bundle_->channels(), r.query(), fopt, r.seen);
}

RecommendResponse Recommender::recommend(const RecommendRequest& req) const {
  Stopwatch total;
  CASCADE_CHECK(req.k >= 1, "k must be at least 1");
  const double diversity = req.diversity < 0 ? rerank_.diversity : req.diversity;
  CASCADE_CHECK(diversity >= 0 && diversity <= 1, "diversity must be in [0, 1]");
  const Bundle& b = *bundle_;
  RecommendResponse resp;

  const ResolvedRequest rr = resolve(req);
  const std::vector<ItemId>& history = rr.history;
  const std::vector<int64_t>& times = rr.times;
  resp.known_user = rr.known_user;
  resp.live_events = rr.live_events;
  resp.history = history.size();
  const int64_t now = req.now != 0 ? req.now : serving_time(b.log_clock(), times);

  const std::vector<FusedCandidate> pool = this->pool(rr, req.pool_depth);
  resp.latency.recall_ms = total.lap_ms();
  for (size_t i = 0; i < std::min(req.pool_top, pool.size()); ++i)
    resp.pool_top.push_back(pool[i].item);
  if (pool.empty()) {
    resp.latency.total_ms = total.ms();
    return resp;
  }

  // Rank: the one ranking stage (rank_stage.h), never cutting below k.
  const UserId rank_user = rr.dense_user;  // kUnknownUser when not known
  RankCuts cuts;
  cuts.pre_keep = std::max(req.pre_keep ? req.pre_keep : b.pre_keep(), req.k);
  cuts.fine_keep = std::max(req.fine_keep ? req.fine_keep : b.fine_keep(), req.k);
  const RankStageResult ranked =
      run_rank_stage(b.features(), RankRequest{rank_user, history, times, now}, pool,
                     b.pre_ranker(), b.fine_ranker(), cuts, req.explain);
  total.lap_ms();

  // Re-rank the fine-ranker's best.
  const size_t n = ranked.size();
  std::vector<ItemId> cand(n);
  std::vector<float> cand_scores(n);
  for (size_t i = 0; i < n; ++i) {
    cand[i] = pool[ranked.pool_row(i)].item;
    cand_scores[i] = ranked.fine_score(i);
  }
  std::vector<ItemId> watched = history;
  std::sort(watched.begin(), watched.end());
  watched.erase(std::unique(watched.begin(), watched.end()), watched.end());
  const auto picked = method_->rerank(*reranker_, cand, cand_scores, watched, req.k, diversity);
  resp.latency.rerank_ms = total.lap_ms();

  // Attention (explain): the fine-ranker's when it attends, else the pre-ranker's.
  const HistoryAttention* att = nullptr;
  if (ranked.fine_attended) {
    att = &ranked.fine_attention;
    resp.attention_stage = "fine_rank";
    resp.attention_ranker = b.fine_ranker().kind();
  } else if (ranked.pre_attended) {
    att = &ranked.pre_attention;
    resp.attention_stage = "pre_rank";
    resp.attention_ranker = b.pre_ranker().kind();
  }
  if (att) {
    resp.attention_history = ranked.history;
    resp.attention_normalised = att->normalised;
  }

  resp.items.reserve(picked.size());
  for (const RerankedItem& p : picked) {
    const uint32_t pool_row = ranked.pool_row(p.input_rank);
    RecommendedItem it;
    it.item = p.item;
    it.score = p.final_score;
    it.fused = pool[pool_row].score;
    it.pre_rank = ranked.pre[pool_row];
    it.fine_rank = ranked.fine_score(p.input_rank);
    it.channels.assign(pool[pool_row].channels.begin(), pool[pool_row].channels.end());
    it.relaxed = p.relaxed;
    if (att) {
      // Fine weights are per kept row (input_rank indexes the kept order); pre per pool row.
      const size_t row = ranked.fine_attended ? ranked.order[p.input_rank] : pool_row;
      const auto w = att->row(row);
      it.attention.assign(w.begin(), w.end());
    }
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
  resp.latency.features_ms = ranked.features_ms;
  resp.latency.pre_rank_ms = ranked.pre_rank_ms;
  resp.latency.fine_rank_ms = ranked.fine_rank_ms;
  resp.latency.total_ms = total.ms();
  return resp;
}

std::vector<ScoredItem> Recommender::similar(ItemId item, size_t k) const {
  const uint32_t n = bundle_->data().n_items;
  CASCADE_CHECK(item < n, "similar: item out of range");
  CASCADE_CHECK(!unit_vectors().empty(),
                "similar: the bundle has no item vectors (rerank.vectors)");
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
