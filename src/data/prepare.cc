// prepare_dataset: filter, remap and split a raw log into a Dataset (SYSTEM.md "Protocols").
//
// Every step is a linear pass or a counting sort over the rows, plus one sort of the distinct
// raw ids and a per-user (or, for `time`, one global) stable sort by timestamp, so 10M-row
// logs prepare in about a second.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <numeric>

#include "cascade/core/error.h"
#include "cascade/data/dataset.h"
#include "cascade/data/snapshot.h"

namespace cascade {

Protocol parse_protocol(const std::string& name) {
  if (name == "seed-loo") return Protocol::kSeedLoo;
  if (name == "seed-oof") return Protocol::kSeedOof;
  if (name == "time") return Protocol::kTime;
  throw Error(fmt::format("unknown protocol '{}' (expected seed-loo, seed-oof or time)", name));
}

std::string protocol_name(Protocol p) {
  switch (p) {
    case Protocol::kSeedLoo: return "seed-loo";
    case Protocol::kSeedOof: return "seed-oof";
    case Protocol::kTime: return "time";
  }
  throw Error(fmt::format("invalid protocol value {}", static_cast<int>(p)));
}

namespace detail {

int64_t IdLookup::find(const std::vector<std::string>& ids, const std::string& raw) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto rebuild = [&] {
    auto m = std::make_unique<std::unordered_map<std::string, uint32_t>>();
    m->reserve(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) m->emplace(ids[i], static_cast<uint32_t>(i));
    map_ = std::move(m);
    built_size_ = ids.size();
  };
  if (!map_ || built_size_ != ids.size()) rebuild();
  auto it = map_->find(raw);
  if (it == map_->end()) return -1;
  if (it->second < ids.size() && ids[it->second] == raw) return it->second;
  // The ids were edited after the map was built: rebuild once and retry.
  rebuild();
  it = map_->find(raw);
  return it == map_->end() ? -1 : static_cast<int64_t>(it->second);
}

}  // namespace detail

Interactions Dataset::recall_slice() const {
  if (options.protocol != Protocol::kSeedOof) return train;
  CASCADE_CHECK(recall_rows.size() == train.n_rows,
                fmt::format("dataset {}: recall_rows has {} entries for {} users", name, recall_rows.size(),
                            train.n_rows));
  return train.slice_rows([](uint32_t) { return 0u; }, [this](uint32_t r) { return recall_rows[r]; });
}

std::span<const ItemId> Dataset::seen_before(uint32_t u, uint32_t positives) const {
  if (u >= seen.n_rows) return {};
  const auto row = seen.row(u);
  const auto after = std::span<const uint32_t>(seen_after).subspan(seen.indptr[u], row.size());
  // seen_after is non-decreasing along a row: the known entries are a prefix.
  const auto end = std::upper_bound(after.begin(), after.end(), positives);
  return row.first(static_cast<size_t>(end - after.begin()));
}

namespace {

// Every user's seen entries known at positive upto(u) but not at positive from(u) (from(u) < 0:
// all known ones), with their values and times: the one loop behind seen_known and
// seen_since_train.
template <class Upto, class From>
Interactions seen_rows(const Dataset& ds, Upto upto, From from) {
  Interactions m;
  m.n_cols = ds.n_items;
  for (uint32_t u = 0; u < ds.n_users; ++u) {
    const auto known = ds.seen_before(u, upto(u));
    const int64_t f = from(u);
    const size_t skip = f < 0 ? 0 : ds.seen_before(u, static_cast<uint32_t>(f)).size();
    const uint64_t b = (u < ds.seen.n_rows ? ds.seen.indptr[u] : 0) + skip;
    const size_t n = known.size() - skip;
    m.append_row(known.subspan(skip), std::span<const float>(ds.seen.values).subspan(b, n),
                 std::span<const int64_t>(ds.seen.times).subspan(b, n));
  }
  return m;
}

}  // namespace

Interactions Dataset::seen_known(std::span<const uint32_t> positives) const {
  CASCADE_CHECK(positives.size() == n_users,
                fmt::format("dataset {}: {} known-positive counts for {} users", name,
                            positives.size(), n_users));
  return seen_rows(
      *this, [&](uint32_t u) { return positives[u]; }, [](uint32_t) { return int64_t{-1}; });
}

Interactions Dataset::seen_at_valid() const {
  std::vector<uint32_t> known(n_users);
  for (uint32_t u = 0; u < n_users; ++u) known[u] = train.row_size(u);
  return seen_known(known);
}

Interactions Dataset::seen_at_test() const {
  std::vector<uint32_t> known(n_users);
  for (uint32_t u = 0; u < n_users; ++u)
    known[u] = train.row_size(u) + (u < valid.n_rows ? valid.row_size(u) : 0);
  return seen_known(known);
}

Interactions Dataset::with_seen(const Interactions& rows) const {
  CASCADE_CHECK(
      rows.n_rows == n_users,
      fmt::format("dataset {}: with_seen over {} rows for {} users", name, rows.n_rows, n_users));
  std::vector<uint32_t> known(n_users);
  for (uint32_t u = 0; u < n_users; ++u) known[u] = rows.row_size(u);
  const Interactions s = seen_known(known);
  Interactions m;
  m.n_cols = rows.n_cols;
  std::vector<uint32_t> items;
  std::vector<uint8_t> from_rows;
  std::vector<float> values;
  std::vector<int64_t> times;
  for (uint32_t u = 0; u < n_users; ++u) {
    merge_by_time(rows.row(u), rows.row_times(u), s.row(u), s.row_times(u), items, &from_rows);
    values.assign(from_rows.begin(), from_rows.end());
    times.clear();
    size_t a = 0, b = 0;
    for (uint8_t f : from_rows) times.push_back(f ? rows.row_times(u)[a++] : s.row_times(u)[b++]);
    m.append_row(items, values, times);
  }
  return m;
}

Interactions Dataset::seen_since_train() const {
  return seen_rows(
      *this,
      [&](uint32_t u) { return train.row_size(u) + (u < valid.n_rows ? valid.row_size(u) : 0); },
      [&](uint32_t u) { return int64_t{train.row_size(u)}; });
}

Interactions Dataset::seen_at_ranker_slice() const {
  CASCADE_CHECK(recall_rows.size() == n_users,
                fmt::format("dataset {}: the ranker slice exists only for seed-oof", name));
  return seen_known(recall_rows);
}

Interactions Dataset::ranker_slice() const {
  if (options.protocol != Protocol::kSeedOof) {
    throw Error(fmt::format("dataset {} was prepared with protocol {}: the ranker slice exists only for seed-oof",
                            name, protocol_name(options.protocol)));
  }
  CASCADE_CHECK(recall_rows.size() == train.n_rows,
                fmt::format("dataset {}: recall_rows has {} entries for {} users", name, recall_rows.size(),
                            train.n_rows));
  return train.slice_rows([this](uint32_t r) { return recall_rows[r]; },
                          [this](uint32_t r) { return train.row_size(r); });
}

void validate_prepare_options(const PrepareOptions& opt) {
  if (!std::isfinite(opt.min_rating)) throw Error("min_rating must be a finite number");
  if (opt.keep_seen && opt.protocol == Protocol::kTime) {
    throw Error(
        "keep_seen needs a seed protocol (seed-loo or seed-oof): under `time` a request's "
        "known seen events would depend on the global cut, which is not implemented");
  }
  switch (opt.protocol) {
    case Protocol::kSeedOof:
      if (!(opt.oof_fraction > 0.0 && opt.oof_fraction < 1.0)) {
        throw Error(fmt::format("oof_fraction must be in (0, 1), got {}", opt.oof_fraction));
      }
      [[fallthrough]];
    case Protocol::kSeedLoo:
      // Test and validation take one positive each; at least one must remain to train on.
      if (opt.min_positives < 3) {
        throw Error(fmt::format("min_positives must be >= 3 for protocol {} (one test, one validation and at "
                                "least one training positive per user), got {}",
                                protocol_name(opt.protocol), opt.min_positives));
      }
      break;
    case Protocol::kTime:
      if (!(opt.time_train > 0.0 && opt.time_train < 1.0)) {
        throw Error(fmt::format("time_train must be in (0, 1), got {}", opt.time_train));
      }
      if (!(opt.time_valid >= 0.0 && opt.time_valid < 1.0)) {
        throw Error(fmt::format("time_valid must be in [0, 1), got {}", opt.time_valid));
      }
      if (!(opt.time_train + opt.time_valid < 1.0)) {
        throw Error(fmt::format("time_train + time_valid must be < 1 to leave a test share, got {} + {}",
                                opt.time_train, opt.time_valid));
      }
      break;
    default:
      throw Error(fmt::format("invalid protocol value {}", static_cast<int>(opt.protocol)));
  }
}

namespace {

constexpr uint32_t kDropped = std::numeric_limits<uint32_t>::max();

bool parse_int64(const std::string& s, int64_t& out) {
  if (s.empty()) return false;
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, out);
  return ec == std::errc() && p == end;
}

/// Dense ids for the keys with used[k] != 0, in ascending raw-id order: numeric when every used
/// key parses as a 64-bit integer (ties such as "7" / "07" broken lexicographically), else
/// byte-wise lexicographic. Returns key -> dense id (kDropped for unused keys) and fills
/// `dense_to_key`.
std::vector<uint32_t> assign_dense_ids(const std::vector<std::string>& keys, const std::vector<char>& used,
                                       std::vector<uint32_t>& dense_to_key) {
  dense_to_key.clear();
  for (uint32_t k = 0; k < keys.size(); ++k) {
    if (used[k]) dense_to_key.push_back(k);
  }
  std::vector<int64_t> num(keys.size(), 0);
  bool numeric = true;
  for (uint32_t k : dense_to_key) {
    if (!parse_int64(keys[k], num[k])) {
      numeric = false;
      break;
    }
  }
  if (numeric) {
    std::sort(dense_to_key.begin(), dense_to_key.end(), [&](uint32_t a, uint32_t b) {
      if (num[a] != num[b]) return num[a] < num[b];
      return keys[a] < keys[b];
    });
  } else {
    // std::string compares through char_traits<char>, i.e. as unsigned bytes.
    std::sort(dense_to_key.begin(), dense_to_key.end(), [&](uint32_t a, uint32_t b) { return keys[a] < keys[b]; });
  }
  std::vector<uint32_t> key_to_dense(keys.size(), kDropped);
  for (uint32_t d = 0; d < dense_to_key.size(); ++d) key_to_dense[dense_to_key[d]] = d;
  return key_to_dense;
}

/// Groups `rows` (row numbers, already in the desired order) by dense user with a stable counting
/// sort and writes them as a CSR matrix of n_users rows.
Interactions build_csr(const std::vector<uint32_t>& rows, size_t begin, size_t end, const RawLog& log,
                       const std::vector<uint32_t>& user_dense, const std::vector<uint32_t>& item_dense,
                       uint32_t n_users, uint32_t n_items) {
  Interactions m;
  m.n_rows = n_users;
  m.n_cols = n_items;
  m.indptr.assign(static_cast<size_t>(n_users) + 1, 0);
  for (size_t j = begin; j < end; ++j) ++m.indptr[user_dense[log.user[rows[j]]] + 1];
  for (uint32_t u = 0; u < n_users; ++u) m.indptr[u + 1] += m.indptr[u];
  const size_t nnz = end - begin;
  m.indices.resize(nnz);
  m.values.resize(nnz);
  m.times.resize(nnz);
  std::vector<uint64_t> next(m.indptr.begin(), m.indptr.end() - 1);
  for (size_t j = begin; j < end; ++j) {
    const uint32_t r = rows[j];
    const uint64_t dst = next[user_dense[log.user[r]]]++;
    m.indices[dst] = item_dense[log.item[r]];
    m.values[dst] = log.has_rating ? log.rating[r] : 1.0f;
    m.times[dst] = log.timestamp.empty() ? static_cast<int64_t>(r) : log.timestamp[r];
  }
  return m;
}

/// `rows` (row numbers in file order) grouped by dense user with a stable counting sort, each
/// user's run then stably sorted by timestamp, so a run is in (timestamp, file order). Fills
/// `start` with the runs' bounds (n_users + 1 entries).
std::vector<uint32_t> group_by_user_in_time(const std::vector<uint32_t>& rows, const RawLog& log,
                                            const std::vector<uint32_t>& user_dense,
                                            uint32_t n_users, std::vector<uint64_t>& start) {
  start.assign(static_cast<size_t>(n_users) + 1, 0);
  for (uint32_t r : rows) ++start[user_dense[log.user[r]] + 1];
  for (uint32_t u = 0; u < n_users; ++u) start[u + 1] += start[u];
  std::vector<uint32_t> grouped(rows.size());
  {
    std::vector<uint64_t> next(start.begin(), start.end() - 1);
    for (uint32_t r : rows) grouped[next[user_dense[log.user[r]]]++] = r;
  }
  auto ts = [&](uint32_t r) {
    return log.timestamp.empty() ? static_cast<int64_t>(r) : log.timestamp[r];
  };
  auto by_time = [&](uint32_t a, uint32_t b) { return ts(a) < ts(b); };
  for (uint32_t u = 0; u < n_users; ++u) {
    auto b = grouped.begin() + static_cast<ptrdiff_t>(start[u]);
    auto e = grouped.begin() + static_cast<ptrdiff_t>(start[u + 1]);
    if (!std::is_sorted(b, e, by_time)) std::stable_sort(b, e, by_time);
  }
  return grouped;
}

}  // namespace

Dataset prepare_dataset(const RawLog& log, const std::string& name, const PrepareOptions& opt) {
  validate_prepare_options(opt);
  const std::string src = log.source.empty() ? std::string("(in-memory log)") : log.source;
  const size_t n = log.size();

  // --- 0. the log must be self-consistent (a loader bug must not become a crash here).
  // Without a rating / timestamp column the vector may be left empty (1.0 / row number implied).
  const bool rating_ok = log.rating.size() == n || (!log.has_rating && log.rating.empty());
  const bool time_ok = log.timestamp.size() == n || (!log.has_timestamp && log.timestamp.empty());
  if (log.item.size() != n || !rating_ok || !time_ok) {
    throw Error(fmt::format("{}: inconsistent raw log: {} users, {} items, {} ratings, {} timestamps per row", src,
                            log.user.size(), log.item.size(), log.rating.size(), log.timestamp.size()));
  }
  if (n >= std::numeric_limits<uint32_t>::max()) {
    throw Error(fmt::format("{}: {} rows; logs of 2^32 rows or more are not supported", src, n));
  }
  if (n == 0) throw Error(fmt::format("prepare {}: {} has no interaction rows", name, src));
  const size_t n_user_keys = log.user_keys.size(), n_item_keys = log.item_keys.size();

  // --- 1. rating filter and per-user positive counts.
  auto positive = [&](size_t i) { return !log.has_rating || log.rating[i] >= opt.min_rating; };
  std::vector<uint32_t> pos_count(n_user_keys, 0);
  std::vector<char> user_seen(n_user_keys, 0);
  size_t rating_dropped = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint32_t u = log.user[i], it = log.item[i];
    if (u >= n_user_keys || it >= n_item_keys) {
      throw Error(fmt::format("{}: raw log row {} refers to user key {} / item key {} beyond the {} / {} interned ids",
                              src, i, u, it, n_user_keys, n_item_keys));
    }
    user_seen[u] = 1;
    if (positive(i)) {
      ++pos_count[u];
    } else {
      ++rating_dropped;
    }
  }

  // --- 2. min_positives user filter.
  std::vector<char> user_kept(n_user_keys, 0);
  size_t users_in_log = 0, users_without_positives = 0, users_few = 0, rows_few = 0;
  for (size_t u = 0; u < n_user_keys; ++u) {
    if (!user_seen[u]) continue;
    ++users_in_log;
    if (pos_count[u] == 0) {
      ++users_without_positives;
    } else if (pos_count[u] < opt.min_positives) {
      ++users_few;
      rows_few += pos_count[u];
    } else {
      user_kept[u] = 1;
    }
  }
  std::vector<uint32_t> kept;  // row numbers of kept positives, file order
  kept.reserve(n - rating_dropped - rows_few);
  std::vector<char> item_used(n_item_keys, 0);
  for (size_t i = 0; i < n; ++i) {
    if (user_kept[log.user[i]] && positive(i)) {
      kept.push_back(static_cast<uint32_t>(i));
      item_used[log.item[i]] = 1;
    }
  }
  auto filter_report = [&] {
    std::string rating_part = log.has_rating
                                  ? fmt::format("min_rating {} dropped {} rows ({} users had no positive left)",
                                                opt.min_rating, rating_dropped, users_without_positives)
                                  : std::string("no rating column, every row is a positive");
    return fmt::format("{} rows / {} users read; {}; min_positives {} dropped {} users ({} positive rows); {} rows "
                       "/ {} users kept",
                       n, users_in_log, rating_part, opt.min_positives, users_few, rows_few, kept.size(),
                       users_in_log - users_without_positives - users_few);
  };
  if (kept.empty()) throw Error(fmt::format("prepare {} ({}): nothing left after filtering: {}", name, src, filter_report()));

  // --- 3. dense ids in ascending raw-id order; catalogue = items of kept positives.
  Dataset ds;
  ds.name = name;
  ds.source = log.source;
  ds.options = opt;
  std::vector<uint32_t> user_order, item_order;
  const std::vector<uint32_t> user_dense = assign_dense_ids(log.user_keys, user_kept, user_order);
  const std::vector<uint32_t> item_dense = assign_dense_ids(log.item_keys, item_used, item_order);
  ds.n_users = static_cast<uint32_t>(user_order.size());
  ds.n_items = static_cast<uint32_t>(item_order.size());
  ds.user_ids.reserve(ds.n_users);
  for (uint32_t k : user_order) ds.user_ids.push_back(log.user_keys[k]);
  ds.item_ids.reserve(ds.n_items);
  for (uint32_t k : item_order) ds.item_ids.push_back(log.item_keys[k]);

  auto ts = [&](uint32_t r) { return log.timestamp.empty() ? static_cast<int64_t>(r) : log.timestamp[r]; };
  auto by_time = [&](uint32_t a, uint32_t b) { return ts(a) < ts(b); };

  if (opt.protocol == Protocol::kTime) {
    // --- 4t. one global cut of the (timestamp, file order) sequence. `kept` is in file order,
    // so a stable sort by timestamp yields exactly that sequence.
    if (!std::is_sorted(kept.begin(), kept.end(), by_time)) std::stable_sort(kept.begin(), kept.end(), by_time);
    const size_t total = kept.size();
    // floor(share * N); the tiny epsilon keeps e.g. 0.29 * 100 = 28.999999999999996 at 29.
    auto cut = [&](double share) {
      return std::min(total, static_cast<size_t>(std::floor(share * static_cast<double>(total) + 1e-6)));
    };
    const size_t a = cut(opt.time_train), b = std::max(a, cut(opt.time_train + opt.time_valid));
    if (a == 0 || b == total) {
      throw Error(fmt::format("prepare {} ({}): the time split of {} rows at {} / {} leaves an empty {} part "
                              "(time_train {}, time_valid {}); {}",
                              name, src, total, a, b, a == 0 ? "train" : "test", opt.time_train, opt.time_valid,
                              filter_report()));
    }
    ds.train = build_csr(kept, 0, a, log, user_dense, item_dense, ds.n_users, ds.n_items);
    ds.valid = build_csr(kept, a, b, log, user_dense, item_dense, ds.n_users, ds.n_items);
    ds.test = build_csr(kept, b, total, log, user_dense, item_dense, ds.n_users, ds.n_items);
  } else {
    // --- 4s. per user in (timestamp, file order); the last row is the test item, the one
    // before it the validation item.
    const uint32_t nu = ds.n_users;
    std::vector<uint64_t> start;
    const std::vector<uint32_t> grouped = group_by_user_in_time(kept, log, user_dense, nu, start);
    std::vector<uint32_t>().swap(kept);
    auto init = [&](Interactions& m, size_t nnz) {
      m.n_rows = nu;
      m.n_cols = ds.n_items;
      m.indptr.assign(static_cast<size_t>(nu) + 1, 0);
      m.indices.resize(nnz);
      m.values.resize(nnz);
      m.times.resize(nnz);
    };
    const size_t n_train = grouped.size() - 2 * static_cast<size_t>(nu);
    init(ds.train, n_train);
    init(ds.valid, nu);
    init(ds.test, nu);
    auto put = [&](Interactions& m, uint64_t dst, uint32_t r) {
      m.indices[dst] = item_dense[log.item[r]];
      m.values[dst] = log.has_rating ? log.rating[r] : 1.0f;
      m.times[dst] = ts(r);
    };
    uint64_t t = 0;
    for (uint32_t u = 0; u < nu; ++u) {
      const uint64_t b = start[u], e = start[u + 1];  // e - b >= min_positives >= 3
      for (uint64_t j = b; j + 2 < e; ++j) put(ds.train, t++, grouped[j]);
      ds.train.indptr[u + 1] = t;
      put(ds.valid, u, grouped[e - 2]);
      ds.valid.indptr[u + 1] = u + 1;
      put(ds.test, u, grouped[e - 1]);
      ds.test.indptr[u + 1] = u + 1;
    }
    if (opt.keep_seen && log.has_rating) {
      // --- 4k. seen events: each kept user's rows below min_rating on catalogue items, in
      // (timestamp, file order), with the number of the user's positives before each.
      std::vector<uint32_t> low;
      for (size_t i = 0; i < n; ++i) {
        if (user_kept[log.user[i]] && !positive(i) && item_dense[log.item[i]] != kDropped)
          low.push_back(static_cast<uint32_t>(i));
      }
      std::vector<uint64_t> lstart;
      const std::vector<uint32_t> lgrouped =
          group_by_user_in_time(low, log, user_dense, nu, lstart);
      init(ds.seen, low.size());
      ds.seen_after.resize(low.size());
      // (timestamp, row) order: ties keep file order, as the positives' stable sort does.
      auto earlier = [&](uint32_t a, uint32_t b) { return ts(a) != ts(b) ? ts(a) < ts(b) : a < b; };
      for (uint32_t u = 0; u < nu; ++u) {
        uint64_t p = start[u];
        for (uint64_t j = lstart[u]; j < lstart[u + 1]; ++j) {
          const uint32_t r = lgrouped[j];
          while (p < start[u + 1] && earlier(grouped[p], r)) ++p;
          put(ds.seen, j, r);
          ds.seen_after[j] = static_cast<uint32_t>(p - start[u]);
        }
        ds.seen.indptr[u + 1] = lstart[u + 1];
      }
    }
    if (opt.protocol == Protocol::kSeedOof) {
      ds.recall_rows.resize(nu);
      for (uint32_t u = 0; u < nu; ++u) {
        const uint32_t nr = ds.train.row_size(u);
        const long ranker = std::max(1L, std::lround(opt.oof_fraction * static_cast<double>(nr)));
        ds.recall_rows[u] = nr - static_cast<uint32_t>(std::min<long>(ranker, nr));
      }
    }
  }

  // --- 5. catalogue: side information by raw id (unknown ids keep the defaults).
  ds.catalog.genre_names = log.genre_names;
  ds.catalog.tag_names = log.tag_names;
  ds.catalog.items.resize(ds.n_items);
  for (uint32_t d = 0; d < ds.n_items; ++d) {
    if (auto it = log.item_meta.find(ds.item_ids[d]); it != log.item_meta.end()) ds.catalog.items[d] = it->second;
  }
  ds.catalog.users.resize(ds.n_users);
  for (uint32_t d = 0; d < ds.n_users; ++d) {
    if (auto it = log.user_meta.find(ds.user_ids[d]); it != log.user_meta.end()) ds.catalog.users[d] = it->second;
  }

  ds.content_hash = dataset_content_hash(ds);
  return ds;
}

}  // namespace cascade
