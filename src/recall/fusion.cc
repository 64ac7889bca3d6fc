// Multi-channel fusion: min-max weighted sum and reciprocal-rank fusion
// (Cormack, Clarke & Buettcher, "Reciprocal Rank Fusion outperforms Condorcet and
// individual Rank Learning Methods", SIGIR 2009). See fusion.h for the contract.
#include "cascade/recall/fusion.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <unordered_map>
#include <unordered_set>

#include "cascade/core/error.h"
#include "cascade/util/strings.h"

namespace cascade {

namespace {

/// Splits "a:b:c" into trimmed parts; the empty string gives no parts.
std::vector<std::string> split_colon(const std::string& text) {
  std::vector<std::string> parts;
  if (trim(text).empty()) return parts;
  size_t start = 0;
  while (true) {
    size_t colon = text.find(':', start);
    if (colon == std::string::npos) {
      parts.push_back(trim(text.substr(start)));
      break;
    }
    parts.push_back(trim(text.substr(start, colon - start)));
    start = colon + 1;
  }
  return parts;
}

double weight_of(const FusionOptions& opt, size_t c) {
  return opt.weights.empty() ? 1.0 : opt.weights[c];
}

size_t quota_of(const FusionOptions& opt, size_t c) {
  return opt.quotas.empty() ? 0 : opt.quotas[c];
}

}  // namespace

void validate_fusion_options(const FusionOptions& opt, size_t n_channels) {
  CASCADE_CHECK(opt.method == "norm" || opt.method == "rrf",
                fmt::format("fusion: method '{}' is not one of: norm, rrf", opt.method));
  CASCADE_CHECK(n_channels <= size_t{std::numeric_limits<uint16_t>::max()} + 1,
                fmt::format("fusion: {} channels, at most 65536 are supported", n_channels));
  CASCADE_CHECK(opt.weights.empty() || opt.weights.size() == n_channels,
                fmt::format("fusion: {} weights given for {} channels (give none or one per "
                            "channel)", opt.weights.size(), n_channels));
  CASCADE_CHECK(opt.quotas.empty() || opt.quotas.size() == n_channels,
                fmt::format("fusion: {} quotas given for {} channels (give none or one per "
                            "channel)", opt.quotas.size(), n_channels));
  for (size_t c = 0; c < opt.weights.size(); ++c) {
    CASCADE_CHECK(std::isfinite(opt.weights[c]) && opt.weights[c] >= 0,
                  fmt::format("fusion: weight {} of channel {} must be finite and >= 0",
                              opt.weights[c], c));
  }
  CASCADE_CHECK(std::isfinite(opt.rrf_k) && opt.rrf_k >= 0,
                fmt::format("fusion: rrf_k = {} must be finite and >= 0", opt.rrf_k));
  CASCADE_CHECK(opt.pool_size >= 1, "fusion: pool_size must be >= 1");
}

std::vector<FusedCandidate> fuse(std::span<const ChannelCandidates> lists,
                                 const FusionOptions& opt, std::span<const ItemId> exclude) {
  validate_fusion_options(opt, lists.size());
  const bool rrf = opt.method == "rrf";
  const std::unordered_set<ItemId> excluded(exclude.begin(), exclude.end());

  std::vector<FusedCandidate> pool;
  std::vector<double> fused;  // parallel to pool: scores summed in double, rounded once
  std::unordered_map<ItemId, size_t> slot;  // item -> index in pool

  std::vector<ScoredItem> kept;
  std::unordered_set<ItemId> in_list;
  for (size_t c = 0; c < lists.size(); ++c) {
    const ChannelCandidates& list = lists[c];
    // Input checks come first so that a bad list is reported even if its weight is 0.
    in_list.clear();
    for (const ScoredItem& s : list.items) {
      CASCADE_CHECK(std::isfinite(s.score),
                    fmt::format("fusion: channel {} ('{}') gave item {} a non-finite score", c,
                                list.channel, s.item));
      CASCADE_CHECK(in_list.insert(s.item).second,
                    fmt::format("fusion: channel {} ('{}') lists item {} twice", c,
                                list.channel, s.item));
    }
    const double w = weight_of(opt, c);
    if (w == 0) continue;

    // The channel's contribution: its list without excluded items, cut to the quota.
    const size_t quota = quota_of(opt, c);
    kept.clear();
    for (const ScoredItem& s : list.items) {
      if (quota != 0 && kept.size() == quota) break;
      if (!excluded.count(s.item)) kept.push_back(s);
    }
    if (kept.empty()) continue;

    double lo = kept[0].score, hi = kept[0].score;
    for (const ScoredItem& s : kept) {
      lo = std::min<double>(lo, s.score);
      hi = std::max<double>(hi, s.score);
    }
    const double range = hi - lo;

    for (size_t r = 0; r < kept.size(); ++r) {
      const ScoredItem& s = kept[r];
      const uint32_t rank = static_cast<uint32_t>(r + 1);
      double part;
      if (rrf) {
        part = w / (opt.rrf_k + rank);
      } else {
        // Constant list: no spread to scale by, every item scales to 1 (see fusion.h).
        part = w * (range > 0 ? (s.score - lo) / range : 1.0);
      }
      auto [it, fresh] = slot.try_emplace(s.item, pool.size());
      if (fresh) {
        pool.push_back(FusedCandidate{s.item, 0.0f, {}, {}, {}});
        fused.push_back(0.0);
      }
      FusedCandidate& fc = pool[it->second];
      fused[it->second] += part;
      fc.channels.push_back(static_cast<uint16_t>(c));
      fc.channel_scores.push_back(s.score);
      fc.channel_ranks.push_back(rank);
    }
  }

  for (size_t i = 0; i < pool.size(); ++i) pool[i].score = static_cast<float>(fused[i]);
  // Filter again after fusion: nothing excluded may leave this function.
  std::erase_if(pool, [&](const FusedCandidate& fc) { return excluded.count(fc.item) != 0; });
  // Sort on the float score the caller sees, so the order and the scores always agree.
  auto better = [](const FusedCandidate& a, const FusedCandidate& b) {
    if (a.score != b.score) return a.score > b.score;
    return a.item < b.item;
  };
  if (pool.size() > opt.pool_size) {
    std::partial_sort(pool.begin(), pool.begin() + static_cast<std::ptrdiff_t>(opt.pool_size),
                      pool.end(), better);
    pool.resize(opt.pool_size);
  } else {
    std::sort(pool.begin(), pool.end(), better);
  }
  return pool;
}

std::vector<FusedCandidate> fuse_channels(std::span<const Recaller* const> channels,
                                          const UserQuery& q, const FusionOptions& opt,
                                          std::span<const ItemId> exclude) {
  validate_fusion_options(opt, channels.size());
  std::vector<ItemId> all_excluded(q.history.begin(), q.history.end());
  all_excluded.insert(all_excluded.end(), exclude.begin(), exclude.end());

  std::vector<ChannelCandidates> lists(channels.size());
  for (size_t c = 0; c < channels.size(); ++c) {
    CASCADE_CHECK(channels[c] != nullptr, fmt::format("fusion: channel {} is null", c));
    lists[c].channel = channels[c]->kind();
    if (weight_of(opt, c) == 0) continue;  // dropped: do not pay for scoring it
    const size_t quota = quota_of(opt, c);
    lists[c].items = channels[c]->top_n(q, quota != 0 ? quota : opt.pool_size, exclude);
  }
  return fuse(lists, opt, all_excluded);
}

FusionOptions fusion_options_from(Params& p) {
  FusionOptions opt;
  opt.method = p.get_string("method", opt.method, {"norm", "rrf"});
  opt.rrf_k = p.get_double("rrf_k", opt.rrf_k, 0.0, 1e12);
  opt.pool_size = static_cast<size_t>(
      p.get_int("pool_size", static_cast<int64_t>(opt.pool_size), 1, int64_t{1} << 40));

  for (const std::string& part : split_colon(p.get_string("weights", ""))) {
    char* end = nullptr;
    double v = std::strtod(part.c_str(), &end);
    if (part.empty() || end != part.c_str() + part.size() || !std::isfinite(v) || v < 0) {
      throw Error(fmt::format(
          "parameter 'weights': '{}' is not a finite number >= 0 (expected e.g. 1:1:0.5)", part));
    }
    opt.weights.push_back(v);
  }
  for (const std::string& part : split_colon(p.get_string("quotas", ""))) {
    uint64_t v = 0;
    auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (part.empty() || ec != std::errc() || ptr != part.data() + part.size()) {
      throw Error(fmt::format(
          "parameter 'quotas': '{}' is not a non-negative integer (expected e.g. 500:500)", part));
    }
    opt.quotas.push_back(static_cast<size_t>(v));
  }
  p.check_unused("fusion");
  return opt;
}

}  // namespace cascade
