// Synthetic interaction logs (include/cascade/data/synth.h).
//
// Model: item i has popularity weight 1 / rank(i)^s, the ranks a seeded shuffle of the ids;
// every item has 1-3 genres. User u makes c_u interactions, c_u proportional to a log-normal
// draw (sigma = activity_sigma) and scaled so the total is exactly `interactions`, with
// every user at >= min(5, interactions / users) and <= the per-user cap (no user sees an item
// twice). Each interaction comes, with probability `taste`, from one of the user's 1-3
// preferred genres (popularity-weighted inside the genre), else from the whole catalogue;
// rejected if already seen. Ratings 1-5 lean higher when the item shares a genre with the
// user's taste (~55% of ratings >= 4 overall with the defaults). Timestamps increase per user.
//
// All randomness comes from one std::mt19937_64 stream consumed in a fixed order, and only
// hand-written transforms of its raw output are used (no std::*_distribution, whose output
// differs across standard libraries), so a seed gives the same log on every platform.
// synth_log and synth_write_csv share the generator, so the CSV equals the in-memory log.
#include "cascade/data/synth.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <numbers>
#include <numeric>
#include <random>
#include <span>

#include <unistd.h>

#include "cascade/core/error.h"
#include "synth_random.h"

namespace fs = std::filesystem;

namespace cascade {

namespace {

using synth_detail::below;
using synth_detail::normal;
using synth_detail::Rng;
using synth_detail::uniform01;

/// Walker/Vose alias table over `weights` (O(1) sampling from one 64-bit draw: the high 32
/// bits pick the slot, the low 32 bits the coin). Each slot holds its threshold and both
/// candidate ids, so a draw touches one 16-byte slot.
class AliasTable {
 public:
  AliasTable() = default;
  AliasTable(const std::vector<double>& weights, const std::vector<uint32_t>& ids) {
    const size_t n = weights.size();
    const double total = std::accumulate(weights.begin(), weights.end(), 0.0);
    if (n == 0 || !(total > 0)) return;
    std::vector<double> prob(n, 1.0), scaled(n);
    std::vector<uint32_t> alias(n);
    std::iota(alias.begin(), alias.end(), 0u);
    std::vector<uint32_t> small, large;
    for (size_t i = 0; i < n; ++i) {
      scaled[i] = weights[i] * static_cast<double>(n) / total;
      (scaled[i] < 1.0 ? small : large).push_back(static_cast<uint32_t>(i));
    }
    while (!small.empty() && !large.empty()) {
      const uint32_t sm = small.back(), l = large.back();
      small.pop_back();
      prob[sm] = scaled[sm];
      alias[sm] = l;
      scaled[l] -= 1.0 - scaled[sm];
      if (scaled[l] < 1.0) {
        large.pop_back();
        small.push_back(l);
      }
    }
    // Leftovers in either list are 1 up to rounding: prob stays 1.
    slots_.resize(n);
    for (size_t k = 0; k < n; ++k) {
      slots_[k].threshold = static_cast<uint64_t>(std::llround(prob[k] * 4294967296.0));
      slots_[k].keep = ids[k];
      slots_[k].other = ids[alias[k]];
    }
  }
  bool empty() const { return slots_.empty(); }
  uint32_t sample(uint64_t x) const {
    const Slot& s = slots_[((x >> 32) * slots_.size()) >> 32];
    return (x & 0xffffffffu) < s.threshold ? s.keep : s.other;
  }

 private:
  struct Slot {
    uint64_t threshold;  // P(keep) * 2^32
    uint32_t keep, other;
  };
  std::vector<Slot> slots_;
};

/// The high / low 32 bits of a draw as a uniform double in [0, 1), and an integer in [0, n).
double hi_unit(uint64_t x) { return static_cast<double>(x >> 32) * 0x1.0p-32; }
uint32_t lo_below(uint64_t x, uint32_t n) { return static_cast<uint32_t>(((x & 0xffffffffu) * n) >> 32); }

constexpr int64_t kStartTime = 978300000;            // 2001-01-01
constexpr int64_t kStartSpan = 3LL * 365 * 86400;    // users start within three years
constexpr uint64_t kMaxGap = 6 * 3600;               // seconds between a user's interactions
constexpr int kMaxRejections = 32;                   // then fall back to a linear probe

// P(rating = 1..5): items sharing a genre with the user's taste vs the rest.
constexpr double kRatingMatch[5] = {0.04, 0.08, 0.24, 0.38, 0.26};
constexpr double kRatingOther[5] = {0.10, 0.16, 0.32, 0.28, 0.14};

const char* const kOccupations[] = {"student", "engineer", "educator", "artist", "writer",
                                    "programmer", "scientist", "retired", "other"};

class Generator {
 public:
  explicit Generator(const SynthOptions& o) : opt_(o), rng_(o.seed) {
    CASCADE_CHECK(o.users >= 1 && o.items >= 1, "synth: users and items must be >= 1");
    CASCADE_CHECK(o.interactions >= o.users,
                  fmt::format("synth: {} interactions cannot give each of {} users one", o.interactions, o.users));
    CASCADE_CHECK(o.genres <= 65535, "synth: at most 65535 genres");
    CASCADE_CHECK(std::isfinite(o.zipf_exponent) && o.zipf_exponent >= 0, "synth: zipf_exponent must be >= 0");
    CASCADE_CHECK(std::isfinite(o.activity_sigma) && o.activity_sigma >= 0 && o.activity_sigma <= 10,
                  "synth: activity_sigma must be in [0, 10]");
    CASCADE_CHECK(o.taste >= 0 && o.taste <= 1, "synth: taste must be in [0, 1]");
    CASCADE_CHECK(o.interactions <= static_cast<uint64_t>(o.users) * o.items,
                  fmt::format("synth: {} interactions exceed users x items = {} (no user sees an item twice)",
                              o.interactions, static_cast<uint64_t>(o.users) * o.items));
    build_items();
    build_activity();
    build_users();
  }

  const std::vector<uint32_t>& counts() const { return count_; }
  /// Genres of item i, ascending.
  std::span<const uint16_t> item_genres(uint32_t i) const {
    return {genre_list_.data() + genre_off_[i], genre_list_.data() + genre_off_[i + 1]};
  }
  const std::vector<int32_t>& item_years() const { return item_year_; }
  const std::vector<std::vector<uint16_t>>& user_genres() const { return user_genres_; }
  std::string genre_name(uint32_t g) const { return fmt::format("genre_{}", g); }
  std::string user_key(uint32_t u) const { return std::to_string(u + 1); }
  std::string item_key(uint32_t i) const { return std::to_string(i + 1); }
  UserInfo user_info(uint32_t u) const {
    UserInfo info;
    info.gender = user_gender_[u];
    info.age = user_age_[u];
    info.age_bucket = age_bucket(info.age);
    info.occupation = kOccupations[user_occ_[u]];
    return info;
  }

  /// Calls emit(user, item, rating 1-5, timestamp) for every interaction, user by user.
  /// Three draws per interaction: source + genre, item, rating + time gap.
  template <class Emit>
  void run(Emit emit) {
    std::vector<uint32_t> seen(opt_.items, 0);  // seen[i] == u + 1: user u already has item i
    std::vector<char> liked(opt_.genres, 0);    // only when genres > 64 (no bit masks)
    const bool masks = !item_mask_.empty();
    for (uint32_t u = 0; u < opt_.users; ++u) {
      const uint32_t stamp = u + 1;
      const auto& prefs = user_genres_[u];
      uint64_t user_mask = 0;
      for (uint16_t g : prefs) {
        if (masks) {
          user_mask |= uint64_t{1} << g;
        } else {
          liked[g] = 1;
        }
      }
      int64_t t = kStartTime + static_cast<int64_t>(below(rng_, kStartSpan));
      for (uint32_t k = 0; k < count_[u]; ++k) {
        uint32_t item = 0;
        bool found = false;
        for (int attempt = 0; attempt < kMaxRejections && !found; ++attempt) {
          const uint64_t x = rng_();
          const AliasTable* table = &global_alias_;
          if (!prefs.empty() && hi_unit(x) < opt_.taste) {
            const AliasTable& gt = genre_alias_[prefs[lo_below(x, static_cast<uint32_t>(prefs.size()))]];
            if (!gt.empty()) table = &gt;
          }
          item = table->sample(rng_());
          found = seen[item] != stamp;
        }
        if (!found) {  // popular items exhausted: take the next unseen item from a random start
          item = static_cast<uint32_t>(below(rng_, opt_.items));
          while (seen[item] == stamp) item = item + 1 == opt_.items ? 0 : item + 1;
        }
        seen[item] = stamp;
        bool match = false;
        if (masks) {
          match = (item_mask_[item] & user_mask) != 0;
        } else {
          for (uint32_t j = genre_off_[item]; j < genre_off_[item + 1]; ++j) match |= liked[genre_list_[j]] != 0;
        }
        const double* probs = match ? kRatingMatch : kRatingOther;
        const uint64_t y = rng_();
        double r = hi_unit(y);
        int rating = 1;
        while (rating < 5 && r >= probs[rating - 1]) r -= probs[rating++ - 1];
        t += 1 + static_cast<int64_t>(lo_below(y, static_cast<uint32_t>(kMaxGap)));
        emit(u, item, rating, t);
      }
      if (!masks) {
        for (uint16_t g : prefs) liked[g] = 0;
      }
    }
  }

 private:
  void build_items() {
    const uint32_t n = opt_.items;
    std::vector<uint32_t> rank(n);
    std::iota(rank.begin(), rank.end(), 0u);
    for (uint32_t i = n; i > 1; --i) std::swap(rank[i - 1], rank[below(rng_, i)]);  // Fisher-Yates
    std::vector<double> w(n);
    for (uint32_t i = 0; i < n; ++i) w[i] = std::pow(static_cast<double>(rank[i]) + 1.0, -opt_.zipf_exponent);
    std::vector<uint32_t> ids(n);
    std::iota(ids.begin(), ids.end(), 0u);
    global_alias_ = AliasTable(w, ids);

    item_year_.resize(n);
    const uint32_t G = opt_.genres;
    std::vector<std::vector<uint32_t>> members(G);
    genre_off_.assign(static_cast<size_t>(n) + 1, 0);
    genre_list_.reserve(static_cast<size_t>(n) * 2);
    if (G > 0 && G <= 64) item_mask_.assign(n, 0);
    std::vector<uint16_t> gs;
    for (uint32_t i = 0; i < n; ++i) {
      if (G > 0) {
        const uint32_t k = 1 + static_cast<uint32_t>(below(rng_, std::min<uint32_t>(3, G)));
        gs.clear();
        while (gs.size() < k) {
          const auto g = static_cast<uint16_t>(below(rng_, G));
          if (std::find(gs.begin(), gs.end(), g) == gs.end()) gs.push_back(g);
        }
        std::sort(gs.begin(), gs.end());
        for (uint16_t g : gs) {
          members[g].push_back(i);
          genre_list_.push_back(g);
          if (!item_mask_.empty()) item_mask_[i] |= uint64_t{1} << g;
        }
      }
      genre_off_[i + 1] = static_cast<uint32_t>(genre_list_.size());
      item_year_[i] = 1950 + static_cast<int32_t>(below(rng_, 71));
    }
    genre_alias_.resize(G);
    for (uint32_t g = 0; g < G; ++g) {
      std::vector<double> gw;
      gw.reserve(members[g].size());
      for (uint32_t i : members[g]) gw.push_back(w[i]);
      if (!members[g].empty()) genre_alias_[g] = AliasTable(gw, members[g]);
    }
  }

  /// Exact total via water-filling: users whose proportional share would exceed the cap are
  /// fixed at it and the rest re-shared; then floors plus largest remainders.
  void build_activity() {
    const uint32_t U = opt_.users;
    const uint64_t T = opt_.interactions;
    const uint64_t lo = std::min<uint64_t>({5, T / U, opt_.items});
    uint64_t cap = std::max<uint64_t>(lo, opt_.items / 2);  // keep heavy users below half the catalogue
    if (cap * U < T) cap = opt_.items;                       // unless the total needs more
    std::vector<double> w(U);
    for (uint32_t u = 0; u < U; ++u) w[u] = std::exp(opt_.activity_sigma * normal(rng_));
    count_.assign(U, static_cast<uint32_t>(lo));
    const uint64_t room = cap - lo;
    double rest = static_cast<double>(T - lo * U);
    std::vector<char> capped(U, 0);
    for (bool changed = true; changed;) {
      changed = false;
      double W = 0;
      for (uint32_t u = 0; u < U; ++u) W += capped[u] ? 0.0 : w[u];
      if (W <= 0) break;
      for (uint32_t u = 0; u < U; ++u) {
        if (!capped[u] && rest * w[u] / W >= static_cast<double>(room)) {
          capped[u] = 1;
          rest -= static_cast<double>(room);
          changed = true;
        }
      }
    }
    double W = 0;
    for (uint32_t u = 0; u < U; ++u) W += capped[u] ? 0.0 : w[u];
    uint64_t assigned = 0;
    std::vector<std::pair<double, uint32_t>> frac;
    frac.reserve(U);
    for (uint32_t u = 0; u < U; ++u) {
      if (capped[u]) {
        count_[u] = static_cast<uint32_t>(cap);
      } else if (W > 0) {
        const double share = std::max(0.0, rest * w[u] / W);
        const auto whole = std::min<uint64_t>(room, static_cast<uint64_t>(share));
        count_[u] = static_cast<uint32_t>(lo + whole);
        frac.emplace_back(share - static_cast<double>(whole), u);
      }
      assigned += count_[u];
    }
    std::sort(frac.begin(), frac.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    // Hand out what floors left (also absorbs any floating-point drift), largest remainder first.
    for (size_t k = 0; assigned < T; k = (k + 1) % std::max<size_t>(1, frac.size())) {
      CASCADE_CHECK(!frac.empty(), "synth: cannot distribute interactions (internal error)");
      const uint32_t u = frac[k].second;
      if (count_[u] < cap) {
        ++count_[u];
        ++assigned;
      }
    }
    for (uint32_t u = 0; assigned > T; u = (u + 1) % U) {  // drift the other way (rare)
      if (count_[u] > lo) {
        --count_[u];
        --assigned;
      }
    }
  }

  void build_users() {
    const uint32_t U = opt_.users, G = opt_.genres;
    user_genres_.assign(U, {});
    user_gender_.resize(U);
    user_age_.resize(U);
    user_occ_.resize(U);
    for (uint32_t u = 0; u < U; ++u) {
      if (G > 0) {
        const uint32_t k = 1 + static_cast<uint32_t>(below(rng_, std::min<uint32_t>(3, G)));
        auto& gs = user_genres_[u];
        while (gs.size() < k) {
          const auto g = static_cast<uint16_t>(below(rng_, G));
          if (std::find(gs.begin(), gs.end(), g) == gs.end()) gs.push_back(g);
        }
        std::sort(gs.begin(), gs.end());
      }
      user_gender_[u] = uniform01(rng_) < 0.7 ? 'M' : 'F';
      user_age_[u] = 15 + static_cast<int32_t>(below(rng_, 50));
      user_occ_[u] = static_cast<uint8_t>(below(rng_, std::size(kOccupations)));
    }
  }

  SynthOptions opt_;
  Rng rng_;
  AliasTable global_alias_;
  std::vector<AliasTable> genre_alias_;
  std::vector<uint32_t> genre_off_;    // item -> range in genre_list_ (size items + 1)
  std::vector<uint16_t> genre_list_;   // genres of every item, ascending per item
  std::vector<uint64_t> item_mask_;    // genre bit set per item when genres <= 64, else empty
  std::vector<int32_t> item_year_;
  std::vector<uint32_t> count_;
  std::vector<std::vector<uint16_t>> user_genres_;
  std::vector<char> user_gender_;
  std::vector<int32_t> user_age_;
  std::vector<uint8_t> user_occ_;
};

/// Buffered writer to "<path>.tmp.<pid>", renamed over `path` by commit(). Lines are built in
/// a fixed 1 MiB buffer (numbers formatted in place with std::to_chars) and flushed whole.
class CsvOut {
 public:
  explicit CsvOut(fs::path path) : path_(std::move(path)), buf_(kFlush + kSlack) {
    if (path_.has_parent_path()) fs::create_directories(path_.parent_path());
    tmp_ = path_;
    tmp_ += fmt::format(".tmp.{}", ::getpid());
    f_ = std::fopen(tmp_.c_str(), "wb");
    if (f_ == nullptr) throw Error(fmt::format("cannot write {}: {}", tmp_.string(), std::strerror(errno)));
  }
  ~CsvOut() {
    if (f_ != nullptr) {
      std::fclose(f_);
      std::remove(tmp_.c_str());
    }
  }
  CsvOut(const CsvOut&) = delete;
  CsvOut& operator=(const CsvOut&) = delete;

  /// Short strings only (a line must fit in kSlack bytes past the flush mark).
  void str(std::string_view s) {
    CASCADE_CHECK(s.size() < kSlack / 2, "synth: CSV field too long");
    std::memcpy(buf_.data() + len_, s.data(), s.size());
    len_ += s.size();
  }
  void chr(char c) { buf_[len_++] = c; }
  template <class T>
  void num(T v) {
    auto [p, ec] = std::to_chars(buf_.data() + len_, buf_.data() + buf_.size(), v);
    len_ = static_cast<size_t>(p - buf_.data());
  }
  void end_line() {
    buf_[len_++] = '\n';
    if (len_ >= kFlush) flush();
  }
  void commit() {
    flush();
    const bool ok = std::fflush(f_) == 0 && ::fsync(::fileno(f_)) == 0;
    const int e = errno;
    std::fclose(f_);
    f_ = nullptr;
    if (!ok || std::rename(tmp_.c_str(), path_.c_str()) != 0) {
      const int e2 = ok ? errno : e;
      std::remove(tmp_.c_str());
      throw Error(fmt::format("cannot write {}: {}", path_.string(), std::strerror(e2)));
    }
  }

 private:
  static constexpr size_t kFlush = 1 << 20;
  static constexpr size_t kSlack = 4096;
  void flush() {
    if (len_ > 0 && std::fwrite(buf_.data(), 1, len_, f_) != len_) {
      throw Error(fmt::format("cannot write {}: {}", tmp_.string(), std::strerror(errno)));
    }
    len_ = 0;
  }
  fs::path path_, tmp_;
  std::FILE* f_ = nullptr;
  std::vector<char> buf_;
  size_t len_ = 0;
};

}  // namespace

RawLog synth_log(const SynthOptions& opt) {
  Generator gen(opt);
  RawLog log;
  log.source = fmt::format("synth(users={},items={},interactions={},genres={},zipf={},sigma={},taste={},seed={})",
                           opt.users, opt.items, opt.interactions, opt.genres, opt.zipf_exponent,
                           opt.activity_sigma, opt.taste, opt.seed);
  log.user_keys.reserve(opt.users);
  for (uint32_t u = 0; u < opt.users; ++u) log.user_keys.push_back(gen.user_key(u));
  log.item_keys.reserve(opt.items);
  for (uint32_t i = 0; i < opt.items; ++i) log.item_keys.push_back(gen.item_key(i));
  // Exact reservations: the log is 20 bytes per row and never reallocates.
  log.user.reserve(opt.interactions);
  log.item.reserve(opt.interactions);
  log.rating.reserve(opt.interactions);
  log.timestamp.reserve(opt.interactions);
  gen.run([&](uint32_t u, uint32_t i, int r, int64_t t) {
    log.user.push_back(u);
    log.item.push_back(i);
    log.rating.push_back(static_cast<float>(r));
    log.timestamp.push_back(t);
  });
  for (uint32_t g = 0; g < opt.genres; ++g) log.genre_names.push_back(gen.genre_name(g));
  log.item_meta.reserve(opt.items);
  for (uint32_t i = 0; i < opt.items; ++i) {
    ItemInfo info;
    info.title = fmt::format("Item {}", i + 1);
    info.year = gen.item_years()[i];
    const auto g = gen.item_genres(i);
    info.genres.assign(g.begin(), g.end());
    log.item_meta.emplace(log.item_keys[i], std::move(info));
  }
  log.user_meta.reserve(opt.users);
  for (uint32_t u = 0; u < opt.users; ++u) log.user_meta.emplace(log.user_keys[u], gen.user_info(u));
  return log;
}

uint64_t synth_write_csv(const SynthOptions& opt, const std::string& path) {
  Generator gen(opt);
  uint64_t rows = 0;
  {
    CsvOut out{fs::path(path)};
    out.str("user,item,rating,timestamp");
    out.end_line();
    gen.run([&](uint32_t u, uint32_t i, int r, int64_t t) {
      out.num(u + 1);
      out.chr(',');
      out.num(i + 1);
      out.chr(',');
      out.num(r);
      out.chr(',');
      out.num(t);
      out.end_line();
      ++rows;
    });
    out.commit();
  }
  const fs::path items = fs::path(path).parent_path() / "items.csv";
  CsvOut out{items};
  out.str("item,genres");
  out.end_line();
  for (uint32_t i = 0; i < opt.items; ++i) {
    out.num(i + 1);
    out.chr(',');
    const auto gs = gen.item_genres(i);
    for (size_t k = 0; k < gs.size(); ++k) {
      if (k > 0) out.chr('|');
      out.str(gen.genre_name(gs[k]));
    }
    out.end_line();
  }
  out.commit();
  return rows;
}

Dataset synth_dataset(const SynthOptions& opt, const PrepareOptions& prep) {
  RawLog log = synth_log(opt);
  return prepare_dataset(log, "synth", prep);
}

}  // namespace cascade
