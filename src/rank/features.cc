#include "cascade/rank/features.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <unordered_map>

#include "cascade/core/error.h"
#include "cascade/util/blas_core.h"
#include "cascade/util/fast_paths.h"
#include "cascade/util/strings.h"
#include "nn/avx512_ops.h"

namespace cascade {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
constexpr uint32_t kPopBuckets = 11;  // floor(log2(1 + count)) capped at 10

// log1p of a rank (the fused and channel ranks of every row): a table for the ranks a pool
// and a channel's quota reach, the same floats as std::log1p, which costs a call per value.
float log1p_rank(uint32_t rank) {
  constexpr uint32_t kTable = 4096;
  static const std::vector<float> table = [] {
    std::vector<float> t(kTable);
    for (uint32_t i = 0; i < kTable; ++i) t[i] = std::log1p(static_cast<float>(i));
    return t;
  }();
  return rank < kTable ? table[rank] : std::log1p(static_cast<float>(rank));
}

uint32_t scalar_u32(const YAML::Node& n, const std::string& key, uint32_t lo, uint32_t hi) {
  try {
    const auto v = n.as<int64_t>();
    if (v < lo || v > hi) throw Error("");
    return static_cast<uint32_t>(v);
  } catch (const std::exception&) {
    throw Error(fmt::format("rank.features.{}: expected an integer in [{}, {}]", key, lo, hi));
  }
}

// History lengths of one sequence-score channel: "1/5" (the command line's form), a YAML list
// [1, 5] or one number; each in [0, 10000] (0 = the whole history), no repeats; "none" or an
// empty list = none.
std::vector<uint32_t> sequence_lengths(const YAML::Node& n, const std::string& key) {
  std::vector<uint32_t> out;
  if (n.IsSequence()) {
    for (const auto& x : n) out.push_back(scalar_u32(x, key, 0, 10000));
  } else if (n.IsScalar()) {
    const std::string text = n.as<std::string>();
    if (text == "none" || text.empty()) return out;
    for (const std::string& part : split(text, '/'))  // empty parts kept: "1//2" is an error
      out.push_back(scalar_u32(YAML::Node(part), key, 0, 10000));
  } else if (!n.IsNull()) {
    throw Error(fmt::format("rank.features.{}: expected lengths joined by '/', e.g. 1/5", key));
  }
  std::set<uint32_t> seen;
  for (uint32_t l : out)
    CASCADE_CHECK(seen.insert(l).second,
                  fmt::format("rank.features.{}: length {} is listed twice", key, l));
  return out;
}

}  // namespace

FeatureConfig FeatureConfig::from_yaml(const YAML::Node& node) {
  FeatureConfig c;
  if (!node || node.IsNull()) return c;
  CASCADE_CHECK(node.IsMap(), "rank.features: expected a map");
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    if (key == "recent_items") {
      c.recent_items = scalar_u32(v, key, 1, 1000);
    } else if (key == "max_history") {
      c.max_history = scalar_u32(v, key, 0, 10000);
    } else if (key == "user_id" || key == "item_id" || key == "time" || key == "genres" ||
               key == "priors" || key == "session") {
      bool b = false;
      try {
        b = v.as<bool>();
      } catch (const std::exception&) {
        throw Error(fmt::format("rank.features.{}: expected true or false", key));
      }
      (key == "user_id"   ? c.user_id
       : key == "item_id" ? c.item_id
       : key == "time"    ? c.time
       : key == "genres"  ? c.genres
       : key == "priors"  ? c.priors
                          : c.session) = b;
    } else if (key == "similarity") {
      CASCADE_CHECK(v.IsMap() || v.IsNull(),
                    "rank.features.similarity: expected a map {channel: cosine|score}");
      c.similarity.clear();
      for (const auto& s : v) {
        const std::string name = s.first.as<std::string>();
        const std::string method = s.second.IsScalar() ? s.second.as<std::string>() : "";
        if (method == "none") continue;
        CASCADE_CHECK(
            method == "cosine" || method == "score",
            fmt::format("rank.features.similarity.{}: expected cosine, score or none", name));
        c.similarity[name] = method;
      }
    } else if (key == "sequence") {
      CASCADE_CHECK(v.IsMap() || v.IsNull(),
                    "rank.features.sequence: expected a map {channel: lengths}, e.g. "
                    "{sasrec: 1/5}");
      c.sequence.clear();
      for (const auto& s : v) {
        const std::string name = s.first.as<std::string>();
        c.sequence[name] = sequence_lengths(s.second, "sequence." + name);
      }
    } else {
      throw Error(
          fmt::format("rank.features: unknown key '{}' (known: recent_items, max_history, "
                      "similarity, user_id, item_id, time, genres, priors, session, sequence)",
                      key));
    }
  }
  return c;
}

namespace {

// dst[j * n + r] = <unit(recent[L-1-j]), unit(items[r])> for the j-th newest of `recent`.
// Each dot adds its products in dimension order, as a plain loop would, but kLanes candidates
// at a time (their vectors transposed into a small block), so the lanes' additions are
// independent and vectorise while every lane keeps its own exact order: the same floats as one
// dot at a time, several times faster than the serial chain of adds a single dot is.
void recent_cosines_portable(const float* unit, size_t dim, std::span<const ItemId> recent,
                             std::span<const ItemId> items, float* dst) {
  constexpr size_t kLanes = 16;
  const size_t n = items.size(), L = recent.size();
  thread_local std::vector<float> block;
  block.resize(dim * kLanes);
  for (size_t r0 = 0; r0 < n; r0 += kLanes) {
    const size_t nb = std::min(kLanes, n - r0);
    for (size_t b = 0; b < kLanes; ++b) {
      const float* cv = unit + static_cast<size_t>(items[r0 + (b < nb ? b : 0)]) * dim;
      for (size_t d = 0; d < dim; ++d) block[d * kLanes + b] = cv[d];
    }
    for (size_t j = 0; j < L; ++j) {
      const float* hv = unit + static_cast<size_t>(recent[L - 1 - j]) * dim;
      float acc[kLanes] = {};
      for (size_t d = 0; d < dim; ++d) {
        const float h = hv[d];
        const float* c = block.data() + d * kLanes;
        for (size_t b = 0; b < kLanes; ++b) acc[b] += h * c[b];
      }
      std::copy_n(acc, nb, dst + j * n + r0);
    }
  }
}

// The same sums with AVX-512: 16 candidates in the lanes of a vector, their d-th components
// gathered straight from the item rows (no transposed block), and up to kHist history items
// at once in independent accumulators that share each gather. Multiply then add, never fused
// (nn::mul_add_unfused): every lane adds in dimension order, bit for bit the portable loop's
// floats.
__attribute__((target("avx512f"))) void recent_cosines_avx512(const float* unit, size_t dim,
                                                              std::span<const ItemId> recent,
                                                              std::span<const ItemId> items,
                                                              float* dst) {
  constexpr size_t kHist = 8;
  const size_t n = items.size(), L = recent.size();
  for (size_t r0 = 0; r0 < n; r0 += 16) {
    const auto nb = static_cast<unsigned>(std::min<size_t>(16, n - r0));
    const auto valid = static_cast<__mmask16>((1u << nb) - 1);
    alignas(64) int rows[16];
    for (unsigned b = 0; b < 16; ++b)
      rows[b] = static_cast<int>(items[r0 + std::min(b, nb - 1)] * dim);
    const __m512i row = _mm512_load_si512(rows);
    for (size_t j0 = 0; j0 < L; j0 += kHist) {
      const size_t nj = std::min(kHist, L - j0);
      const float* hv[kHist];
      __m512 acc[kHist];
      for (size_t k = 0; k < kHist; ++k) {
        hv[k] = unit + static_cast<size_t>(recent[L - 1 - (j0 + std::min(k, nj - 1))]) * dim;
        acc[k] = _mm512_setzero_ps();
      }
      for (size_t d = 0; d < dim; ++d) {
        const __m512 c =
            nn::gather16(_mm512_add_epi32(row, _mm512_set1_epi32(static_cast<int>(d))), unit);
        for (size_t k = 0; k < kHist; ++k)
          acc[k] = nn::mul_add_unfused(_mm512_set1_ps(hv[k][d]), c, acc[k]);
      }
      for (size_t k = 0; k < nj; ++k) _mm512_mask_storeu_ps(dst + (j0 + k) * n + r0, valid, acc[k]);
    }
  }
}

// 8 x 8 transpose: r[k] lane b <- r[b] lane k.
__attribute__((target("avx2"))) inline void transpose8(__m256 r[8]) {
  __m256 t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
    r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
  }
}

// acc[k] (k < kHist, lanes = the 8 candidates `cand`) += hv[k][d] * cand[lane][d] for d = 0, 1,
// ..., dim - 1 in that order, multiply then add. Whole 8-dimension chunks of the candidates'
// rows are loaded as they lie and transposed in registers (one load per row and chunk, where a
// gather costs eight); the dimensions past the last whole chunk are gathered (`row`: the
// candidates' row offsets in `unit`).
template <size_t kHist>
__attribute__((target("avx2"))) void cosine_lanes(const float* unit, size_t dim,
                                                  const float* const cand[8], __m256i row,
                                                  const float* const hv[], __m256 acc[]) {
  for (size_t k = 0; k < kHist; ++k) acc[k] = _mm256_setzero_ps();
  size_t d = 0;
  for (; d + 8 <= dim; d += 8) {
    __m256 c[8];
    for (int b = 0; b < 8; ++b) c[b] = _mm256_loadu_ps(cand[b] + d);
    transpose8(c);
    for (int e = 0; e < 8; ++e)
      for (size_t k = 0; k < kHist; ++k)
        acc[k] = _mm256_add_ps(acc[k], _mm256_mul_ps(_mm256_set1_ps(hv[k][d + e]), c[e]));
  }
  const __m256 all = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
  for (; d < dim; ++d) {
    const __m256 c = _mm256_mask_i32gather_ps(
        _mm256_setzero_ps(), unit, _mm256_add_epi32(row, _mm256_set1_epi32(static_cast<int>(d))),
        all, 4);
    for (size_t k = 0; k < kHist; ++k)
      acc[k] = _mm256_add_ps(acc[k], _mm256_mul_ps(_mm256_set1_ps(hv[k][d]), c));
  }
}

// The AVX-512 loop with 8 lanes, for CPUs without AVX-512: 8 candidates in the lanes, each
// lane adding its products in dimension order, and as many accumulators as history items
// (up to 8 at a time: one instantiation per count, so no lane does wasted work). The target has
// no FMA, so GCC cannot fuse the multiply and the add: the portable loop's floats, bit for bit.
__attribute__((target("avx2"))) void recent_cosines_avx2(const float* unit, size_t dim,
                                                         std::span<const ItemId> recent,
                                                         std::span<const ItemId> items,
                                                         float* dst) {
  constexpr size_t kHist = 8;
  using Lanes = void (*)(const float*, size_t, const float* const[8], __m256i, const float* const[],
                         __m256[]);
  static constexpr Lanes kLanes[kHist + 1] = {nullptr,          &cosine_lanes<1>, &cosine_lanes<2>,
                                              &cosine_lanes<3>, &cosine_lanes<4>, &cosine_lanes<5>,
                                              &cosine_lanes<6>, &cosine_lanes<7>, &cosine_lanes<8>};
  const size_t n = items.size(), L = recent.size();
  for (size_t r0 = 0; r0 < n; r0 += 8) {
    const auto nb = static_cast<unsigned>(std::min<size_t>(8, n - r0));
    alignas(32) int rows[8];
    const float* cand[8];
    for (unsigned b = 0; b < 8; ++b) {
      const size_t item = items[r0 + std::min(b, nb - 1)];
      rows[b] = static_cast<int>(item * dim);
      cand[b] = unit + item * dim;
    }
    const __m256i row = _mm256_load_si256(reinterpret_cast<const __m256i*>(rows));
    for (size_t j0 = 0; j0 < L; j0 += kHist) {
      const size_t nj = std::min(kHist, L - j0);
      const float* hv[kHist];
      __m256 acc[kHist];
      for (size_t k = 0; k < nj; ++k)
        hv[k] = unit + static_cast<size_t>(recent[L - 1 - (j0 + k)]) * dim;
      kLanes[nj](unit, dim, cand, row, hv, acc);
      for (size_t k = 0; k < nj; ++k) {
        alignas(32) float lanes[8];
        _mm256_store_ps(lanes, acc[k]);
        std::copy_n(lanes, nb, dst + (j0 + k) * n + r0);
      }
    }
  }
}

}  // namespace

void FeatureBuilder::recent_cosines(const Source& src, std::span<const ItemId> recent,
                                    std::span<const ItemId> items, float* dst) {
  // Item offsets are int32 lanes in the gathers.
  const CpuVectorSupport cpu = cpu_vector_support();
  const bool has512 = cpu.avx512f;
  const bool has256 = cpu.avx2;
  const bool int32_offsets = src.unit.size() < (size_t{1} << 31);
  if (has512 && int32_offsets)
    recent_cosines_avx512(src.unit.data(), src.dim, recent, items, dst);
  else if (has256 && int32_offsets)
    recent_cosines_avx2(src.unit.data(), src.dim, recent, items, dst);
  else
    recent_cosines_portable(src.unit.data(), src.dim, recent, items, dst);
}

FeatureBuilder::FeatureBuilder(const Catalog& catalog, const Interactions& fit_matrix,
                               std::vector<const Recaller*> channels,
                               std::vector<std::string> names, const FeatureConfig& config)
    : catalog_(catalog), config_(config), channels_(std::move(channels)), names_(std::move(names)) {
  CASCADE_CHECK(channels_.size() == names_.size(), "FeatureBuilder: one name per channel");
  n_items_ = fit_matrix.n_cols;
  n_users_ = static_cast<uint32_t>(catalog.users.size());
  CASCADE_CHECK(catalog.items.size() == n_items_,
                fmt::format("FeatureBuilder: the catalogue has {} items, the fit matrix {}",
                            catalog.items.size(), n_items_));
  for (const auto* ch : channels_) {
    CASCADE_CHECK(ch && ch->n_items() == n_items_,
                  "FeatureBuilder: a channel was fitted on another catalogue");
  }

  // Item statistics of the fit matrix.
  std::vector<uint64_t> count(n_items_, 0);
  item_first_time_.assign(n_items_, kNever);
  for (uint64_t k = 0; k < fit_matrix.nnz(); ++k) {
    const ItemId i = fit_matrix.indices[k];
    ++count[i];
    item_first_time_[i] = std::min(item_first_time_[i], fit_matrix.times[k]);
  }
  item_log_count_.resize(n_items_);
  pop_bucket_.resize(n_items_);
  for (uint32_t i = 0; i < n_items_; ++i) {
    item_log_count_[i] = std::log1p(static_cast<float>(count[i]));
    const auto b =
        static_cast<uint32_t>(std::floor(std::log2(1.0 + static_cast<double>(count[i]))));
    pop_bucket_[i] = 1 + std::min(b, kPopBuckets - 1);
  }

  // Occupations: codes 1..k in name order.
  std::set<std::string> occupations;
  for (const auto& u : catalog.users)
    if (!u.occupation.empty()) occupations.insert(u.occupation);
  std::map<std::string, uint32_t> occ_code;
  for (const auto& o : occupations) occ_code.emplace(o, static_cast<uint32_t>(occ_code.size() + 1));
  occupation_code_.resize(n_users_, 0);
  for (uint32_t u = 0; u < n_users_; ++u) {
    const auto it = occ_code.find(catalog.users[u].occupation);
    occupation_code_[u] = it == occ_code.end() ? 0 : it->second;
  }
  n_genres_ = static_cast<uint32_t>(catalog.genre_names.size());

  // Similarity sources, in channel order.
  for (size_t c = 0; c < names_.size(); ++c) {
    const auto it = config_.similarity.find(names_[c]);
    if (it == config_.similarity.end()) continue;
    Source s;
    s.name = names_[c];
    s.channel = channels_[c];
    s.cosine = it->second == "cosine";
    if (s.cosine) {
      ItemVectorsView v;
      try {
        v = s.channel->item_vectors();
      } catch (const std::exception& e) {
        throw Error(
            fmt::format("rank.features.similarity.{}: cosine needs item vectors ({}); use score",
                        s.name, e.what()));
      }
      s.dim = v.dim;
      s.unit.assign(v.data, v.data + static_cast<size_t>(v.rows) * v.dim);
      for (uint32_t i = 0; i < v.rows; ++i) {
        float* row = s.unit.data() + static_cast<size_t>(i) * v.dim;
        double nrm = 0;
        for (uint32_t d = 0; d < v.dim; ++d) nrm += static_cast<double>(row[d]) * row[d];
        const float inv = nrm > 0 ? static_cast<float>(1.0 / std::sqrt(nrm)) : 0.0f;
        for (uint32_t d = 0; d < v.dim; ++d) row[d] *= inv;
      }
    }
    sources_.push_back(std::move(s));
  }

  // Sequence scores, in the config's channel order (a map: by name).
  for (const auto& [name, lengths] : config_.sequence) {
    if (lengths.empty()) continue;
    const auto at = std::find(names_.begin(), names_.end(), name);
    CASCADE_CHECK(at != names_.end(),
                  fmt::format("rank.features.sequence.{}: no recall channel of that name", name));
    const Recaller* ch = channels_[static_cast<size_t>(at - names_.begin())];
    ItemVectorsView v;
    try {
      v = ch->item_vectors();
    } catch (const std::exception& e) {
      throw Error(fmt::format(
          "rank.features.sequence.{}: sequence scores need item vectors and a user vector ({})",
          name, e.what()));
    }
    std::vector<float> probe(v.dim);
    UserQuery q;
    CASCADE_CHECK(v.data != nullptr && v.rows == n_items_ && ch->user_vector(q, probe),
                  fmt::format("rank.features.sequence.{}: the channel ({}) has no user vector; "
                              "sequence scores need one (sasrec, two_tower)",
                              name, ch->kind()));
    for (uint32_t l : lengths) sequence_.push_back({name, ch, l, v});
  }

  // Schema.
  auto& d = schema_.dense;
  c_hist_len_ = d.size(), d.push_back("hist_len");
  c_days_since_ = d.size(), d.push_back("days_since_last");
  c_pop_ = d.size(), d.push_back("pop");
  c_age_ = d.size(), d.push_back("age_days");
  c_year_ = d.size(), d.push_back("year");
  c_genre0_ = d.size();
  for (const auto& g : catalog.genre_names) d.push_back("genre_" + g);
  c_fused_score_ = d.size(), d.push_back("fused_score");
  c_fused_rank_ = d.size(), d.push_back("fused_rank");
  c_channel0_ = d.size();
  for (const auto& n : names_) {
    d.push_back("score_" + n);
    d.push_back("rank_" + n);
  }
  c_affinity_ = d.size(), d.push_back("genre_affinity");
  c_share_ = d.size(), d.push_back("genre_share");
  c_sim0_ = d.size();
  for (const auto& s : sources_) {
    d.push_back("sim_" + s.name + "_last");
    d.push_back("sim_" + s.name + "_max");
    d.push_back("sim_" + s.name + "_mean");
  }
  // The optional groups go last, so that with them off the schema is the one before they existed.
  c_priors0_ = d.size();
  if (config_.priors) d.insert(d.end(), {"user_pop_mean", "pop_vs_user", "year_vs_user"});
  c_session0_ = d.size();
  if (config_.session) d.insert(d.end(), {"session_len", "last_gap_hours"});
  c_sequence0_ = d.size();
  for (const auto& s : sequence_) d.push_back(fmt::format("seq_{}_{}", s.name, s.length));
  schema_.fields = {{"user", config_.user_id ? n_users_ + 1 : 1},
                    {"item", config_.item_id ? n_items_ + 1 : 1},
                    {"gender", 3},
                    {"age", 8},
                    {"occupation", static_cast<uint32_t>(occ_code.size() + 1)},
                    {"year", 6},
                    {"pop", kPopBuckets + 1}};
  schema_.n_items = n_items_;
  schema_.max_history = config_.max_history;
}

ItemTable FeatureBuilder::item_table(const std::string& name) const {
  std::vector<std::string> with;
  for (size_t c = 0; c < channels_.size(); ++c) {
    ItemVectorsView v;
    try {
      v = channels_[c]->item_vectors();
    } catch (const NotSupported&) {
      continue;  // a channel without item vectors (popularity, EASE)
    }
    if (v.data == nullptr) continue;
    if (names_[c] == name)
      return ItemTable{{v.data, static_cast<size_t>(v.rows) * v.dim}, v.rows, v.dim};
    with.push_back(names_[c]);
  }
  throw Error(
      fmt::format("item_init: no item vectors from a channel '{}'; the channels with them: {}",
                  name, with.empty() ? "none" : fmt::format("{}", fmt::join(with, ", "))));
}

RankBatch FeatureBuilder::empty_batch() const {
  RankBatch b;
  b.schema = schema_;
  return b;
}

void FeatureBuilder::add_pool(const RankRequest& req, std::span<const FusedCandidate> pool,
                              RankBatch& out) const {
  std::vector<const FusedCandidate*> entries(pool.size());
  std::vector<uint32_t> ranks(pool.size());
  std::vector<ItemId> items(pool.size());
  for (size_t i = 0; i < pool.size(); ++i) {
    entries[i] = &pool[i];
    ranks[i] = static_cast<uint32_t>(i + 1);
    items[i] = pool[i].item;
  }
  fill_rows(req, entries, ranks, items, out);
}

void FeatureBuilder::add_items(const RankRequest& req, std::span<const FusedCandidate> pool,
                               std::span<const ItemId> items, RankBatch& out) const {
  std::unordered_map<ItemId, uint32_t> pos;
  pos.reserve(pool.size() * 2);
  for (size_t i = 0; i < pool.size(); ++i) pos.emplace(pool[i].item, static_cast<uint32_t>(i));
  std::vector<const FusedCandidate*> entries(items.size(), nullptr);
  std::vector<uint32_t> ranks(items.size(), 0);
  for (size_t i = 0; i < items.size(); ++i) {
    const auto it = pos.find(items[i]);
    if (it == pos.end()) continue;
    entries[i] = &pool[it->second];
    ranks[i] = it->second + 1;
  }
  fill_rows(req, entries, ranks, items, out);
}

void FeatureBuilder::fill_rows(const RankRequest& req,
                               std::span<const FusedCandidate* const> entries,
                               std::span<const uint32_t> ranks, std::span<const ItemId> items,
                               RankBatch& out) const {
  CASCADE_CHECK(out.schema == schema_, "FeatureBuilder: the output batch has another schema");
  CASCADE_CHECK(req.times.empty() || req.times.size() == req.history.size(),
                "FeatureBuilder: history and times differ in length");
  for (ItemId h : req.history) {
    CASCADE_CHECK(h < n_items_,
                  fmt::format("FeatureBuilder: history item {} >= n_items {}", h, n_items_));
  }
  for (ItemId i : items) {
    CASCADE_CHECK(i < n_items_,
                  fmt::format("FeatureBuilder: candidate item {} >= n_items {}", i, n_items_));
  }
  const size_t n = items.size(), nd = schema_.n_dense(), nf = schema_.n_fields();
  const size_t H = req.history.size();

  // Group-level values.
  const float hist_len = std::log1p(static_cast<float>(H));
  const float days_since =
      req.times.empty() || !config_.time
          ? kNaN
          : static_cast<float>(static_cast<double>(req.now - req.times.back()) / 86400.0);
  std::vector<float> genre_frac(n_genres_, 0.0f);
  for (ItemId h : req.history)
    for (uint16_t g : catalog_.items[h].genres) genre_frac[g] += 1.0f;
  double genre_norm = 0;
  for (float& f : genre_frac) {
    genre_norm += static_cast<double>(f) * f;
    if (H) f /= static_cast<float>(H);
  }
  genre_norm = std::sqrt(genre_norm);
  // User priors: the history's mean log popularity and mean (known) year.
  float user_pop = kNaN, user_year = kNaN;
  if (config_.priors && H) {
    double pop = 0, year = 0, years = 0;
    for (ItemId h : req.history) {
      pop += item_log_count_[h];
      if (catalog_.items[h].year >= 0) year += catalog_.items[h].year, years += 1;
    }
    user_pop = static_cast<float>(pop / static_cast<double>(H));
    if (years > 0) user_year = static_cast<float>(year / years);
  }
  // Session: the newest events chained by gaps of at most 30 minutes, and the newest gap.
  float session_len = kNaN, last_gap = kNaN;
  if (config_.session && config_.time && !req.times.empty()) {
    constexpr int64_t kSessionGap = 30 * 60;
    size_t len = 1;
    while (len < H && req.times[H - len] - req.times[H - len - 1] <= kSessionGap) ++len;
    session_len = std::log1p(static_cast<float>(len));
    if (H >= 2)
      last_gap = std::log1p(static_cast<float>(
          static_cast<double>(std::max<int64_t>(0, req.times[H - 1] - req.times[H - 2])) / 3600.0));
  }

  // Recency similarities: sims[s][j * n + r] for the j-th newest history item.
  const size_t L = std::min<size_t>(config_.recent_items, H);
  std::vector<std::vector<float>> sims(sources_.size(), std::vector<float>(L * n));
  const bool fast = fast_paths();
  std::vector<float> full;
  for (size_t s = 0; s < sources_.size(); ++s) {
    const Source& src = sources_[s];
    if (src.cosine && fast) {
      recent_cosines(src, req.history.subspan(H - L), items, sims[s].data());
      continue;
    }
    for (size_t j = 0; j < L; ++j) {
      const ItemId h = req.history[H - 1 - j];
      float* dst = sims[s].data() + j * n;
      if (src.cosine) {  // the reference: one dot at a time
        const float* hv = src.unit.data() + static_cast<size_t>(h) * src.dim;
        for (size_t r = 0; r < n; ++r) {
          const float* cv = src.unit.data() + static_cast<size_t>(items[r]) * src.dim;
          float dot = 0;
          for (uint32_t d = 0; d < src.dim; ++d) dot += hv[d] * cv[d];
          dst[r] = dot;
        }
        continue;
      }
      UserQuery q;
      q.history = std::span<const ItemId>(&req.history[H - 1 - j], 1);
      if (fast) {  // only the candidates (EASE scores a few hundred columns, not the catalogue)
        src.channel->score_items(q, items, std::span<float>(dst, n));
      } else {  // the reference: the whole catalogue, then the candidates' entries
        full.resize(n_items_);
        src.channel->score(q, full);
        for (size_t r = 0; r < n; ++r) dst[r] = full[items[r]];
      }
    }
  }

  // Sequence scores: seq[k * n + r] for the k-th (channel, length). The user vector of the
  // newest `length` items; the dot in dimension order, the same loop offline and online.
  std::vector<float> seq(sequence_.size() * n, kNaN);
  std::vector<float> user;
  for (size_t k = 0; k < sequence_.size() && H > 0; ++k) {
    const SequenceScore& s = sequence_[k];
    const size_t len = s.length == 0 ? H : std::min<size_t>(s.length, H);
    UserQuery q;
    q.user = req.user;
    q.history = req.history.subspan(H - len);
    q.past_fit = true;  // a shortened history is never the row the channel was fitted on
    user.assign(s.vectors.dim, 0.0f);
    if (!s.channel->user_vector(q, user)) continue;
    for (size_t r = 0; r < n; ++r) {
      const float* iv = s.vectors.data + static_cast<size_t>(items[r]) * s.vectors.dim;
      float dot = 0;
      for (uint32_t d = 0; d < s.vectors.dim; ++d) dot += iv[d] * user[d];
      seq[k * n + r] = dot;
    }
  }

  const size_t row0 = out.rows();
  out.items.insert(out.items.end(), items.begin(), items.end());
  out.dense.resize((row0 + n) * nd, kNaN);
  out.cats.resize((row0 + n) * nf, 0);
  const bool known_user = req.user < n_users_;
  const UserInfo* ui = known_user ? &catalog_.users[req.user] : nullptr;
  for (size_t r = 0; r < n; ++r) {
    const ItemId it = items[r];
    const ItemInfo& info = catalog_.items[it];
    float* x = out.dense.data() + (row0 + r) * nd;
    x[c_hist_len_] = hist_len;
    x[c_days_since_] = days_since;
    x[c_pop_] = item_log_count_[it];
    x[c_age_] =
        item_first_time_[it] == kNever || !config_.time
            ? kNaN
            : static_cast<float>(static_cast<double>(req.now - item_first_time_[it]) / 86400.0);
    x[c_year_] = info.year >= 0 ? static_cast<float>(info.year) : kNaN;
    for (uint32_t g = 0; g < n_genres_; ++g) x[c_genre0_ + g] = 0.0f;
    for (uint16_t g : info.genres) x[c_genre0_ + g] = 1.0f;
    if (const FusedCandidate* e = entries[r]) {
      x[c_fused_score_] = e->score;
      x[c_fused_rank_] = log1p_rank(ranks[r]);
      for (size_t k = 0; k < e->channels.size(); ++k) {
        const size_t c = e->channels[k];
        CASCADE_CHECK(c < names_.size(), "FeatureBuilder: pool entry names an unknown channel");
        x[c_channel0_ + 2 * c] = e->channel_scores[k];
        x[c_channel0_ + 2 * c + 1] = log1p_rank(e->channel_ranks[k]);
      }
    }
    if (H && !info.genres.empty() && config_.genres) {
      double dot = 0, share = 0;
      for (uint16_t g : info.genres) {
        dot += genre_frac[g] * static_cast<double>(H);
        share += genre_frac[g];
      }
      x[c_affinity_] =
          genre_norm > 0
              ? static_cast<float>(
                    dot / (genre_norm * std::sqrt(static_cast<double>(info.genres.size()))))
              : 0.0f;
      x[c_share_] = static_cast<float>(share / static_cast<double>(info.genres.size()));
    }
    if (config_.priors) {
      x[c_priors0_] = user_pop;
      x[c_priors0_ + 1] = item_log_count_[it] - user_pop;
      x[c_priors0_ + 2] = info.year >= 0 ? static_cast<float>(info.year) - user_year : kNaN;
    }
    if (config_.session) {
      x[c_session0_] = session_len;
      x[c_session0_ + 1] = last_gap;
    }
    for (size_t k = 0; k < sequence_.size(); ++k) x[c_sequence0_ + k] = seq[k * n + r];
    for (size_t s = 0; s < sources_.size(); ++s) {
      float* y = x + c_sim0_ + 3 * s;
      if (L == 0) continue;
      float mx = -std::numeric_limits<float>::infinity();
      double sum = 0;
      for (size_t j = 0; j < L; ++j) {
        const float v = sims[s][j * n + r];
        mx = std::max(mx, v);
        sum += v;
      }
      y[0] = sims[s][r];
      y[1] = mx;
      y[2] = static_cast<float>(sum / static_cast<double>(L));
    }
    uint32_t* z = out.cats.data() + (row0 + r) * nf;
    z[0] = config_.user_id && known_user ? req.user + 1 : 0;
    z[1] = config_.item_id ? it + 1 : 0;
    z[2] = ui ? (ui->gender == 'M' ? 1u : ui->gender == 'F' ? 2u : 0u) : 0u;
    z[3] = ui && ui->age_bucket >= 0 ? static_cast<uint32_t>(ui->age_bucket) + 1 : 0;
    z[4] = known_user ? occupation_code_[req.user] : 0;
    const int32_t yb = year_bucket(info.year);
    z[5] = yb >= 0 ? static_cast<uint32_t>(yb) + 1 : 0;
    z[6] = pop_bucket_[it];
  }
  const size_t keep = std::min<size_t>(config_.max_history, H);
  out.history.insert(out.history.end(), req.history.end() - static_cast<std::ptrdiff_t>(keep),
                     req.history.end());
  out.group_begin.push_back(static_cast<uint32_t>(out.rows()));
  out.hist_begin.push_back(static_cast<uint32_t>(out.history.size()));
  out.group_user.push_back(known_user ? req.user : kUnknownUser);
}

}  // namespace cascade
