// Multi-channel fusion: min-max weighted sum and reciprocal-rank fusion
// (Cormack, Clarke & Buettcher, "Reciprocal Rank Fusion outperforms Condorcet and
// individual Rank Learning Methods", SIGIR 2009). See fusion.h for the contract.
#include "cascade/recall/fusion.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <unordered_map>
#include <unordered_set>

#include "cascade/core/error.h"
#include "cascade/core/registry.h"
#include "cascade/util/fast_paths.h"
#include "cascade/util/strings.h"
#include "cascade/util/topk.h"

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

std::unique_ptr<FusionMethod> make_fusion_method(const std::string& name) {
  return Registry<FusionMethod>::instance().create(name, Params());
}

std::vector<std::string> fusion_method_names() {
  return Registry<FusionMethod>::instance().names();
}

void validate_fusion_options(const FusionOptions& opt, size_t n_channels) {
  CASCADE_CHECK(Registry<FusionMethod>::instance().has(opt.method),
                fmt::format("fusion: method '{}' is not one of: {}", opt.method,
                            fmt::join(fusion_method_names(), ", ")));
  CASCADE_CHECK(n_channels <= size_t{std::numeric_limits<uint16_t>::max()} + 1,
                fmt::format("fusion: {} channels, at most 65536 are supported", n_channels));
  CASCADE_CHECK(opt.weights.empty() || opt.weights.size() == n_channels,
                fmt::format("fusion: {} weights given for {} channels (give none or one per "
                            "channel)",
                            opt.weights.size(), n_channels));
  CASCADE_CHECK(opt.quotas.empty() || opt.quotas.size() == n_channels,
                fmt::format("fusion: {} quotas given for {} channels (give none or one per "
                            "channel)",
                            opt.quotas.size(), n_channels));
  for (size_t c = 0; c < opt.weights.size(); ++c) {
    CASCADE_CHECK(
        std::isfinite(opt.weights[c]) && opt.weights[c] >= 0,
        fmt::format("fusion: weight {} of channel {} must be finite and >= 0", opt.weights[c], c));
  }
  CASCADE_CHECK(std::isfinite(opt.rrf_k) && opt.rrf_k >= 0,
                fmt::format("fusion: rrf_k = {} must be finite and >= 0", opt.rrf_k));
  CASCADE_CHECK(opt.pool_size >= 1, "fusion: pool_size must be >= 1");
}

std::vector<FusedCandidate> fuse(std::span<const ChannelCandidates> lists, const FusionOptions& opt,
                                 std::span<const ItemId> exclude) {
  validate_fusion_options(opt, lists.size());
  const std::unique_ptr<FusionMethod> method = make_fusion_method(opt.method);
  // Per-item slots in a flat array indexed by item id (reused across calls on this thread and
  // reset through the touched list), so a request costs no hashing: this runs per /recommend.
  ItemId max_item = 0;
  for (const ChannelCandidates& list : lists)
    for (const ScoredItem& s : list.items) max_item = std::max(max_item, s.item);
  for (ItemId e : exclude) max_item = std::max(max_item, e);
  constexpr int32_t kFree = -1, kExcluded = -2;
  thread_local std::vector<int32_t> slot;
  thread_local std::vector<ItemId> touched;
  if (slot.size() <= max_item) slot.resize(static_cast<size_t>(max_item) + 1, kFree);
  touched.clear();
  struct Reset {  // leaves the slots free again on every exit path (also when a check throws)
    ~Reset() {
      for (ItemId i : touched) slot[i] = kFree;
    }
  } reset;
  for (ItemId e : exclude) {
    if (slot[e] == kFree) touched.push_back(e);
    slot[e] = kExcluded;
  }

  // Pass 1: every channel's contribution (list without excluded items, cut to the quota,
  // scaled), summed per item in double and rounded once.
  struct Contribution {
    size_t begin = 0, end = 0;  // range in `kept`
  };
  std::vector<ScoredItem> kept;
  std::vector<Contribution> contrib(lists.size());
  std::vector<ItemId> items;  // pool items in first-seen order
  std::vector<double> fused;  // parallel to items
  std::vector<uint16_t> n_contrib;
  std::vector<uint32_t>
      seen_in;                // per item slot: last channel + 1 that listed it (duplicate check)
  std::vector<double> parts;  // one channel's contributions, parallel to its kept list
  // Per kept entry: its channel and the index of the same item's entry in an earlier channel
  // (-1: none); per item slot: its entry in the latest channel. Pass 3 walks these chains
  // instead of testing every kept entry against the pool (most are cut, at random: a
  // mispredicted branch each).
  std::vector<uint16_t> kept_channel;
  std::vector<int32_t> next_of, last_of;
  // Sized once for the most the lists can hold (about 3,000 entries per request), instead of
  // regrowing each vector a dozen times.
  size_t listed = 0;
  for (const ChannelCandidates& list : lists) listed += list.items.size();
  touched.reserve(touched.size() + listed);
  items.reserve(listed);
  seen_in.reserve(listed);
  fused.reserve(listed);
  n_contrib.reserve(listed);
  kept.reserve(listed);
  kept_channel.reserve(listed);
  next_of.reserve(listed);
  last_of.reserve(listed);
  for (size_t c = 0; c < lists.size(); ++c) {
    const ChannelCandidates& list = lists[c];
    // Input checks come first so that a bad list is reported even if its weight is 0.
    for (const ScoredItem& s : list.items) {
      CASCADE_CHECK(std::isfinite(s.score),
                    fmt::format("fusion: channel {} ('{}') gave item {} a non-finite score", c,
                                list.channel, s.item));
      int32_t& sl = slot[s.item];
      if (sl == kFree) {
        sl = static_cast<int32_t>(items.size());
        touched.push_back(s.item);
        items.push_back(s.item);
        fused.push_back(0.0);
        n_contrib.push_back(0);
        seen_in.push_back(0);
      }
      if (sl >= 0) {
        CASCADE_CHECK(
            seen_in[static_cast<size_t>(sl)] != c + 1,
            fmt::format("fusion: channel {} ('{}') lists item {} twice", c, list.channel, s.item));
        seen_in[static_cast<size_t>(sl)] = static_cast<uint32_t>(c + 1);
      }
    }
    // An excluded item listed twice is not detected above (it has no slot); check it the slow way.
    if (!exclude.empty()) {
      std::vector<ItemId> ex_listed;
      for (const ScoredItem& s : list.items)
        if (slot[s.item] == kExcluded) ex_listed.push_back(s.item);
      std::sort(ex_listed.begin(), ex_listed.end());
      const auto dup = std::adjacent_find(ex_listed.begin(), ex_listed.end());
      CASCADE_CHECK(dup == ex_listed.end(),
                    fmt::format("fusion: channel {} ('{}') lists item {} twice", c, list.channel,
                                dup == ex_listed.end() ? 0 : *dup));
    }
    const double w = weight_of(opt, c);
    if (w == 0) continue;

    const size_t quota = quota_of(opt, c);
    contrib[c].begin = kept.size();
    for (const ScoredItem& s : list.items) {
      if (quota != 0 && kept.size() - contrib[c].begin == quota) break;
      if (slot[s.item] != kExcluded) kept.push_back(s);
    }
    contrib[c].end = kept.size();
    if (contrib[c].end == contrib[c].begin) continue;
    kept_channel.resize(kept.size());
    next_of.resize(kept.size());
    last_of.resize(items.size(), -1);

    const std::span<const ScoredItem> list_kept(kept.data() + contrib[c].begin,
                                                contrib[c].end - contrib[c].begin);
    parts.resize(list_kept.size());
    method->contribute(list_kept, w, opt, parts);
    for (size_t r = 0; r < list_kept.size(); ++r) {
      const auto sl = static_cast<size_t>(slot[list_kept[r].item]);
      fused[sl] += parts[r];
      ++n_contrib[sl];
      // Chain the item's contributions, newest channel first, for pass 3.
      const size_t at = contrib[c].begin + r;
      kept_channel[at] = static_cast<uint16_t>(c);
      next_of[at] = last_of[sl];
      last_of[sl] = static_cast<int32_t>(at);
    }
  }

  // Pass 2: the best pool_size contributed items, on the float score the caller sees (so the
  // order and the scores always agree); ties by lower item id. Excluded items never got a slot.
  std::vector<uint32_t> order;
  order.reserve(items.size());
  std::vector<float> score(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    score[i] = static_cast<float>(fused[i]);
    if (n_contrib[i] > 0) order.push_back(static_cast<uint32_t>(i));
  }
  if (fast_paths()) {
    // The same order as `better` below through packed keys (score, then item) and a radix
    // sort: the comparator's partial sort was a tenth of the request's fusion.
    thread_local std::vector<uint64_t> keys;
    keys.clear();
    for (uint32_t i : order) keys.push_back(rank_key(score[i], items[i]));
    smallest_rank_keys(keys, opt.pool_size);
    order.resize(keys.size());
    for (size_t p = 0; p < order.size(); ++p)
      order[p] = static_cast<uint32_t>(slot[static_cast<ItemId>(keys[p] & 0xffffffffu)]);
  } else {
    auto better = [&](uint32_t a, uint32_t b) {
      if (score[a] != score[b]) return score[a] > score[b];
      return items[a] < items[b];
    };
    if (order.size() > opt.pool_size) {
      std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(opt.pool_size),
                        order.end(), better);
      order.resize(opt.pool_size);
    } else {
      std::sort(order.begin(), order.end(), better);
    }
  }

  // Pass 3: full entries for the kept items only, channels ascending (the chain runs from
  // the latest channel back, so it fills from the end).
  std::vector<FusedCandidate> pool(order.size());
  for (size_t p = 0; p < order.size(); ++p) {
    const uint32_t i = order[p];
    FusedCandidate& fc = pool[p];
    fc.item = items[i];
    fc.score = score[i];
    const size_t m = n_contrib[i];
    fc.channels.resize(m);
    fc.channel_scores.resize(m);
    fc.channel_ranks.resize(m);
    size_t j = m;
    for (int32_t r = last_of[i]; r >= 0; r = next_of[static_cast<size_t>(r)]) {
      const auto at = static_cast<size_t>(r);
      const uint16_t c = kept_channel[at];
      --j;
      fc.channels[j] = c;
      fc.channel_scores[j] = kept[at].score;
      fc.channel_ranks[j] = static_cast<uint32_t>(at - contrib[c].begin + 1);
    }
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
  opt.method = p.get_string("method", opt.method);
  Registry<FusionMethod>::instance().check(opt.method);
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
