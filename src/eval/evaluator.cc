// Full-catalogue evaluator (SYSTEM.md "Protocols", seed-loo step 4): score every item, mask
// the user's training items only, rank, and compute every metric at every K per user.
//
// Determinism: each user's values are written to its own slot (index in `users`), and the
// catalogue-level coverage is merged from per-thread "best rank per item" arrays with min(),
// so results do not depend on the thread count or on the scheduling.
//
// On MPI (inside a dist::Collective scope of several ranks): each rank evaluates a contiguous
// block of the evaluated users; an all-gather of the per-user values and an all-reduce (min)
// of the best rank per item give every rank the same result as one process, coverage included.
#include "cascade/eval/evaluator.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string_view>

#include "cascade/core/error.h"
#include "cascade/dist/world.h"
#include "cascade/eval/metrics.h"
#include "cascade/io/artifact.h"
#include "cascade/util/parallel.h"
#include "cascade/util/progress.h"
#include "cascade/util/stopwatch.h"
#include "eval/metrics_internal.h"

namespace cascade {

namespace {


// Metric families in the order their per-user columns are laid out.
enum Family { kRecall, kHitRate, kNdcg, kMrr, kNovelty, kIls, kFamilies };
constexpr const char* kFamilyNames[kFamilies] = {"recall", "hitrate", "ndcg", "mrr", "novelty", "ils"};

std::string metric_name(int family, size_t k) { return fmt::format("{}@{}", kFamilyNames[family], k); }

/// Sorted, de-duplicated, validated cut-offs.
std::vector<size_t> normalize_ks(const std::vector<size_t>& ks) {
  CASCADE_CHECK(!ks.empty(), "evaluate: no cut-offs K given (EvalOptions::ks is empty)");
  std::vector<size_t> out = ks;
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  CASCADE_CHECK(out.front() > 0, "evaluate: cut-off K must be positive");
  return out;
}

/// Users (rows) with at least one held-out item, ascending.
std::vector<UserId> heldout_users(const Interactions& heldout) {
  std::vector<UserId> users;
  for (uint32_t u = 0; u < heldout.n_rows; ++u)
    if (heldout.row_size(u) > 0) users.push_back(u);
  return users;
}

/// item_users[i] = distinct training users of item i (repeated events of a user count once).
std::vector<uint32_t> item_popularity(const Interactions& train, uint32_t n_items) {
  std::vector<uint32_t> count(n_items, 0);
  std::vector<uint32_t> last_user(n_items, kUnknownUser);
  for (uint32_t u = 0; u < train.n_rows; ++u) {
    for (ItemId i : train.row(u)) {
      CASCADE_CHECK(i < n_items, fmt::format("evaluate: training item {} of user {} is outside the "
                                             "catalogue ({} items)", i, u, n_items));
      if (last_user[i] == u) continue;
      last_user[i] = u;
      ++count[i];
    }
  }
  return count;
}

/// Runs the per-user loop. `fill_list(index, user, thread, list)` writes user's ranked list
/// (best first, at most max K items) into `list`.
template <class FillList>
EvalResult run(const Interactions& train, const Interactions& heldout, uint32_t n_items,
               const EvalOptions& opt, FillList&& fill_list) {
  const Stopwatch watch;
  CASCADE_CHECK(n_items > 0, "evaluate: the catalogue is empty");
  const std::vector<size_t> ks = normalize_ks(opt.ks);
  const size_t max_k = ks.back();
  const size_t nk = ks.size();
  const ItemVectorsView vec = opt.ils_vectors;
  const bool with_ils = vec.data != nullptr;
  if (with_ils) {
    CASCADE_CHECK(vec.dim > 0, "evaluate: ILS item vectors have dimension 0");
    CASCADE_CHECK(vec.rows >= n_items, fmt::format("evaluate: ILS item vectors have {} rows for {} "
                                                   "items", vec.rows, n_items));
  }
  // Novelty needs a training population; an empty train matrix still gives finite values.
  const uint32_t n_train_users = std::max<uint32_t>(1, train.n_rows);
  const std::vector<uint32_t> popularity = item_popularity(train, n_items);

  EvalResult res;
  res.users = heldout_users(heldout);
  const size_t n_eval = res.users.size();
  const int n_families = with_ils ? kFamilies : kIls;
  // columns[family * nk + j][user index]
  std::vector<std::vector<double>> columns(static_cast<size_t>(n_families) * nk,
                                           std::vector<double>(n_eval, 0.0));

  struct ThreadState {
    std::vector<ItemId> list;
    eval_detail::RelevantSet rel;
    std::vector<eval_detail::RankingAtK> ranking;
    std::vector<double> ils_sum;
    std::vector<uint32_t> best_rank;  // n_items: 0-based best rank seen, or max = never
  };
  const int threads = resolve_threads(opt.threads);
  std::vector<ThreadState> states(static_cast<size_t>(threads));

  // This process's users: all of them, or its block on MPI.
  const bool spread = dist::collective_active();
  const std::vector<size_t> blocks = dist::block_offsets(n_eval, spread ? dist::world().size : 1);
  const size_t first = spread ? blocks[static_cast<size_t>(dist::world().rank)] : 0;
  const size_t last = spread ? blocks[static_cast<size_t>(dist::world().rank) + 1] : n_eval;

  Progress progress("evaluate", last - first, "users");
  parallel_for_dynamic(last - first, threads, 16, [&](size_t k, int t) {
    progress.add();
    const size_t idx = first + k;
    ThreadState& st = states[static_cast<size_t>(t)];
    if (st.best_rank.empty()) {
      st.best_rank.assign(n_items, std::numeric_limits<uint32_t>::max());
      st.ranking.resize(nk);
      st.list.reserve(max_k);
    }
    const UserId u = res.users[idx];
    st.list.clear();
    fill_list(idx, u, t, st.list);
    if (st.list.size() > max_k) st.list.resize(max_k);
    const std::span<const ItemId> ranked(st.list);
    for (size_t p = 0; p < ranked.size(); ++p) {
      const ItemId item = ranked[p];
      CASCADE_CHECK(item < n_items, fmt::format("evaluate: ranked item {} for user {} is outside "
                                                "the catalogue ({} items)", item, u, n_items));
      st.best_rank[item] = std::min<uint32_t>(st.best_rank[item], static_cast<uint32_t>(p));
    }
    st.rel.assign(heldout.row(u));
    eval_detail::ranking_metrics(ranked, st.rel, ks, st.ranking.data());
    for (size_t j = 0; j < nk; ++j) {
      columns[kRecall * nk + j][idx] = st.ranking[j].recall;
      columns[kHitRate * nk + j][idx] = st.ranking[j].hit_rate;
      columns[kNdcg * nk + j][idx] = st.ranking[j].ndcg;
      columns[kMrr * nk + j][idx] = st.ranking[j].mrr;
      columns[kNovelty * nk + j][idx] = novelty_at(ranked, popularity, n_train_users, ks[j]);
      if (with_ils)
        columns[kIls * nk + j][idx] = eval_detail::ils_normalized(ranked, vec.data, vec.dim, ks[j],
                                                                  st.ils_sum);
    }
  });

  if (spread) {
    // One all-gather of the per-user rows (user index x column), then back into the columns.
    const size_t n_cols = columns.size();
    std::vector<double> rows(n_eval * n_cols);
    for (size_t idx = first; idx < last; ++idx)
      for (size_t c = 0; c < n_cols; ++c) rows[idx * n_cols + c] = columns[c][idx];
    dist::allgather_rows(rows.data(), blocks, n_cols);
    for (size_t idx = 0; idx < n_eval; ++idx)
      for (size_t c = 0; c < n_cols; ++c) columns[c][idx] = rows[idx * n_cols + c];
  }

  // Coverage@K: an item is covered at K when its best rank over all users is below K.
  std::vector<uint32_t> best(n_items, std::numeric_limits<uint32_t>::max());
  for (const ThreadState& st : states) {
    if (st.best_rank.empty()) continue;
    for (uint32_t i = 0; i < n_items; ++i) best[i] = std::min(best[i], st.best_rank[i]);
  }
  if (spread) dist::allreduce_min(best);  // over every rank's users: exactly one process's
  for (size_t j = 0; j < nk; ++j) {
    size_t covered = 0;
    for (uint32_t r : best) covered += (r < ks[j]) ? 1 : 0;
    res.summary[fmt::format("coverage@{}", ks[j])] =
        static_cast<double>(covered) / static_cast<double>(n_items);
  }
  for (int f = 0; f < n_families; ++f) {
    for (size_t j = 0; j < nk; ++j) {
      std::vector<double>& col = columns[static_cast<size_t>(f) * nk + j];
      double sum = 0;
      for (double v : col) sum += v;  // fixed order: deterministic
      const std::string name = metric_name(f, ks[j]);
      res.summary[name] = n_eval == 0 ? 0.0 : sum / static_cast<double>(n_eval);
      res.per_user[name] = std::move(col);
    }
  }
  res.seconds = watch.seconds();
  return res;
}

}  // namespace

EvalResult evaluate(const Recaller& model, const Interactions& train, const Interactions& heldout,
                    const EvalOptions& opt) {
  const uint32_t n_items = model.n_items();
  const std::vector<size_t> ks = normalize_ks(opt.ks);
  const size_t max_k = ks.back();
  return run(train, heldout, n_items, opt,
             [&](size_t, UserId u, int, std::vector<ItemId>& list) {
               UserQuery q;
               q.user = u;
               q.past_fit = !opt.fitted_rows;
               if (u < train.n_rows) {  // a user absent from train is queried cold
                 q.history = train.row(u);
                 q.values = train.row_values(u);
               }
               // top_n masks the whole history, i.e. exactly the training items (and the
               // request's known seen items).
               std::span<const ItemId> skip;
               thread_local std::vector<ItemId> context;  // history + seen events, by time
               if (opt.exclude != nullptr && u < opt.exclude->n_rows) {
                 skip = opt.exclude->row(u);
                 if (!skip.empty() && u < train.n_rows) {
                   merge_by_time(q.history, train.row_times(u), skip, opt.exclude->row_times(u),
                                 context);
                   q.context = context;
                 }
               }
               for (const ScoredItem& s : model.top_n(q, max_k, skip)) list.push_back(s.item);
             });
}

EvalResult evaluate_lists(const std::vector<std::vector<ItemId>>& lists, const Interactions& train,
                          const Interactions& heldout, uint32_t n_items, const EvalOptions& opt) {
  return run(train, heldout, n_items, opt, [&](size_t, UserId u, int, std::vector<ItemId>& list) {
    CASCADE_CHECK(u < lists.size(), fmt::format("evaluate_lists: user {} has held-out items but no "
                                                "list ({} lists given)", u, lists.size()));
    const std::vector<ItemId>& src = lists[u];
    list.assign(src.begin(), src.end());
  });
}

// ---------------------------------------------------------------------------------------
// Per-user CSV

void save_per_user_csv(const EvalResult& r, const std::string& path) {
  std::string out = "user";
  for (const auto& [name, values] : r.per_user) {
    CASCADE_CHECK(name.find_first_of(",\r\n\"") == std::string::npos && !name.empty(),
                  fmt::format("save_per_user_csv: metric name '{}' cannot be a CSV column", name));
    CASCADE_CHECK(values.size() == r.users.size(),
                  fmt::format("save_per_user_csv: metric '{}' has {} values for {} users", name,
                              values.size(), r.users.size()));
    out += ',';
    out += name;
  }
  out += '\n';
  char buf[64];
  for (size_t i = 0; i < r.users.size(); ++i) {
    out += std::to_string(r.users[i]);
    for (const auto& [name, values] : r.per_user) {
      // %.17g round-trips every double exactly.
      std::snprintf(buf, sizeof(buf), ",%.17g", values[i]);
      out += buf;
    }
    out += '\n';
  }
  write_file_atomic(path, out);
}

namespace {

std::vector<std::string_view> split_commas(std::string_view line) {
  std::vector<std::string_view> out;
  size_t b = 0;
  for (;;) {
    size_t e = line.find(',', b);
    if (e == std::string_view::npos) {
      out.push_back(line.substr(b));
      return out;
    }
    out.push_back(line.substr(b, e - b));
    b = e + 1;
  }
}

double parse_double(std::string_view s, const std::string& path, size_t line, const std::string& field) {
  // strtod needs a terminated string; fields are short.
  std::string text(s);
  if (text.empty()) throw DataError(path, line, field, "empty value");
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size())
    throw DataError(path, line, field, fmt::format("'{}' is not a number", text));
  // Underflow (ERANGE with a tiny value) is fine; overflow gives +-inf, which was written as "inf".
  return v;
}

}  // namespace

EvalResult load_per_user_csv(const std::string& path) {
  const std::string text = read_file(path);
  EvalResult r;
  std::vector<std::string> names;
  std::vector<std::vector<double>> cols;
  size_t line_no = 0;
  bool have_header = false;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string_view line(text.data() + pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    std::vector<std::string_view> fields = split_commas(line);
    if (!have_header) {
      if (fields[0] != "user")
        throw DataError(path, line_no, "user", "header must start with 'user'");
      for (size_t c = 1; c < fields.size(); ++c) {
        std::string name(fields[c]);
        if (name.empty()) throw DataError(path, line_no, "", fmt::format("column {} has no name", c + 1));
        if (std::find(names.begin(), names.end(), name) != names.end())
          throw DataError(path, line_no, name, "duplicate column");
        names.push_back(std::move(name));
      }
      cols.resize(names.size());
      have_header = true;
      continue;
    }
    if (fields.size() != names.size() + 1)
      throw DataError(path, line_no, "", fmt::format("expected {} fields, found {}", names.size() + 1,
                                                     fields.size()));
    uint32_t user = 0;
    auto [p, ec] = std::from_chars(fields[0].data(), fields[0].data() + fields[0].size(), user);
    if (ec != std::errc() || p != fields[0].data() + fields[0].size())
      throw DataError(path, line_no, "user", fmt::format("'{}' is not a user id", fields[0]));
    if (!r.users.empty() && user <= r.users.back())
      throw DataError(path, line_no, "user",
                      fmt::format("user {} is not after user {} (rows must be in ascending user order)",
                                  user, r.users.back()));
    r.users.push_back(user);
    for (size_t c = 0; c < names.size(); ++c)
      cols[c].push_back(parse_double(fields[c + 1], path, line_no, names[c]));
  }
  if (!have_header) throw DataError(path, line_no == 0 ? 1 : line_no, "", "missing header line");
  for (size_t c = 0; c < names.size(); ++c) {
    double sum = 0;
    for (double v : cols[c]) sum += v;
    r.summary[names[c]] = r.users.empty() ? 0.0 : sum / static_cast<double>(r.users.size());
    r.per_user[names[c]] = std::move(cols[c]);
  }
  return r;
}

}  // namespace cascade
