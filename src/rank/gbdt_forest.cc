#include "rank/gbdt_forest.h"

#include <fmt/format.h>
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "cascade/core/error.h"
#include "cascade/util/blas_core.h"
#include "nn/avx512_ops.h"

namespace cascade {
namespace {

using Json = nlohmann::json;

// XGBoost's common::Sigmoid (1.7; equal to 1.6's 1 / (1 + exp(-x)) wherever exp(-x) is
// finite: the 1e-16 vanishes next to 1 in float).
float xgb_sigmoid(float x) {
  constexpr float kEps = 1e-16f;
  x = std::min(-x, 88.7f);
  const float denom = std::exp(x) + 1.0f + kEps;
  return 1.0f / denom;
}

// A JSON number array as T (XGBoost writes typed UBJSON arrays; bools for default_left in
// some versions).
template <class T>
std::vector<T> numbers(const Json& tree, const char* key) {
  const Json& a = tree.at(key);
  CASCADE_CHECK(a.is_array(), fmt::format("gbdt model: tree field '{}' is not an array", key));
  std::vector<T> out;
  out.reserve(a.size());
  for (const Json& v : a)
    out.push_back(v.is_boolean() ? static_cast<T>(v.get<bool>()) : v.get<T>());
  return out;
}

}  // namespace

std::unique_ptr<GbdtForest> GbdtForest::compile(std::string_view ubj, size_t cols, std::string* why,
                                                Walk walk) {
  auto refuse = [&](std::string reason) {
    if (why) *why = std::move(reason);
    return std::unique_ptr<GbdtForest>();
  };
  if (cols == 0) return refuse("no feature columns");
  try {
    const Json j = Json::from_ubjson(ubj);
    const Json& learner = j.at("learner");
    const Json& mp = learner.at("learner_model_param");
    const std::string objective = learner.at("objective").at("name").get<std::string>();
    const Json& booster = learner.at("gradient_booster");
    if (booster.at("name").get<std::string>() != "gbtree")
      return refuse("booster " + booster.at("name").get<std::string>());
    const Json& model = booster.at("model");
    const Json& gp = model.at("gbtree_model_param");
    if (std::atoi(gp.at("num_parallel_tree").get<std::string>().c_str()) != 1)
      return refuse("num_parallel_tree != 1");
    if (std::atoi(gp.at("size_leaf_vector").get<std::string>().c_str()) != 0)
      return refuse("vector leaves");
    if (mp.contains("num_class") && std::atoi(mp.at("num_class").get<std::string>().c_str()) > 1)
      return refuse("multi-class");
    if (mp.contains("num_target") && std::atoi(mp.at("num_target").get<std::string>().c_str()) > 1)
      return refuse("multi-target");
    if (std::atoll(mp.at("num_feature").get<std::string>().c_str()) != static_cast<long long>(cols))
      return refuse("feature count differs");

    auto f = std::unique_ptr<GbdtForest>(new GbdtForest());
    f->cols_ = cols;
    // The base margin: LearnerModelParam's base_score through the objective's ProbToMargin.
    const float base_score = std::strtof(mp.at("base_score").get<std::string>().c_str(), nullptr);
    if (objective == "binary:logistic" || objective == "reg:logistic") {
      f->base_margin_ = -std::log(1.0f / base_score - 1.0f);
      f->sigmoid_ = true;
    } else if (objective == "binary:logitraw") {
      f->base_margin_ = -std::log(1.0f / base_score - 1.0f);
    } else if (objective.rfind("rank:", 0) == 0 || objective == "reg:squarederror") {
      f->base_margin_ = base_score;
    } else {
      return refuse("objective " + objective);
    }

    const Json& trees = model.at("trees");
    const auto tree_info = numbers<int32_t>(model, "tree_info");
    CASCADE_CHECK(tree_info.size() == trees.size(),
                  "gbdt model: tree_info and trees differ in size");
    for (size_t t = 0; t < trees.size(); ++t) {
      const Json& tr = trees[t];
      if (tree_info[t] != 0) return refuse("a tree of another output group");
      const auto left = numbers<int32_t>(tr, "left_children");
      const auto right = numbers<int32_t>(tr, "right_children");
      const auto feat = numbers<int64_t>(tr, "split_indices");
      const auto cond = numbers<float>(tr, "split_conditions");
      const auto dleft = numbers<int32_t>(tr, "default_left");
      const size_t n = left.size();
      CASCADE_CHECK(
          n > 0 && right.size() == n && feat.size() == n && cond.size() == n && dleft.size() == n,
          fmt::format("gbdt model: tree {} has node arrays of different sizes", t));
      if (tr.contains("split_type")) {
        for (int32_t s : numbers<int32_t>(tr, "split_type"))
          if (s != 0) return refuse("categorical splits");
      }
      const auto base = static_cast<int32_t>(f->nodes_.size());
      f->roots_.push_back(static_cast<uint32_t>(base));
      f->nodes_.resize(f->nodes_.size() + n);
      // Depth by walking from the root (deleted nodes are unreachable and stay self-loops).
      std::vector<uint32_t> depth(n, 0);
      std::vector<int32_t> stack{0};
      uint32_t max_depth = 0;
      for (size_t i = 0; i < n; ++i) {
        Node& nd = f->nodes_[base + i];
        nd.child[0] = nd.child[1] = base + static_cast<int32_t>(i);
      }
      while (!stack.empty()) {
        const int32_t i = stack.back();
        stack.pop_back();
        Node& nd = f->nodes_[static_cast<size_t>(base + i)];
        if (left[i] < 0) {  // a leaf: its value, children = itself
          nd.feature = 0;
          nd.threshold = cond[i];
          max_depth = std::max(max_depth, depth[i]);
          continue;
        }
        CASCADE_CHECK(left[i] < static_cast<int32_t>(n) && right[i] >= 0 &&
                          right[i] < static_cast<int32_t>(n),
                      fmt::format("gbdt model: tree {} node {} has a child out of range", t, i));
        if (feat[i] < 0 || static_cast<size_t>(feat[i]) >= cols)
          return refuse("a split on an unknown feature");
        nd.feature = static_cast<uint32_t>(feat[i]) | (dleft[i] ? kDefaultLeft : 0u);
        nd.threshold = cond[i];
        nd.child[1] = base + left[i];
        nd.child[0] = base + right[i];
        depth[left[i]] = depth[right[i]] = depth[i] + 1;
        CASCADE_CHECK(depth[i] + 1 <= n, fmt::format("gbdt model: tree {} has a cycle", t));
        stack.push_back(left[i]);
        stack.push_back(right[i]);
      }
      f->depths_.push_back(max_depth);
    }
    const uint32_t depth =
        f->depths_.empty() ? 0 : *std::max_element(f->depths_.begin(), f->depths_.end());
    const CpuVectorSupport cpu = cpu_vector_support();
    const bool has512 = cpu.avx512f;
    const bool has256 = cpu.avx2;
    // Row offsets are int32 lanes in the vector walks.
    const bool fits = depth <= kMaxUniformDepth && cols < (size_t{1} << 20) &&
                      (f->roots_.size() << (kMaxUniformDepth + 2)) < (size_t{1} << 31);
    if (walk == Walk::kAvx512 && !(has512 && fits))
      return refuse(has512 ? "trees too deep or too many columns for the AVX-512 walk"
                           : "this CPU has no AVX-512");
    if (walk == Walk::kAvx2 && !(has256 && fits))
      return refuse(has256 ? "trees too deep or too many columns for the AVX2 walk"
                           : "this CPU has no AVX2");
    if (walk == Walk::kComplete && depth > kMaxCompleteDepth)
      return refuse("trees too deep for the complete layout");
    if (walk == Walk::kBest)
      walk = has512 && fits               ? Walk::kAvx512
             : has256 && fits             ? Walk::kAvx2
             : depth <= kMaxCompleteDepth ? Walk::kComplete
                                          : Walk::kGeneral;
    f->walk_ = walk;
    if (walk == Walk::kComplete) f->build_complete(0);
    if (walk == Walk::kAvx512 || walk == Walk::kAvx2) {
      f->build_complete(std::max<uint32_t>(depth, 1));
      // The same nodes as two arrays (thresholds, features), padded so that a level's
      // two 16-wide loads never read past the end.
      for (const CompleteNode& nd : f->cnodes_) {
        f->uthreshold_.push_back(nd.threshold);
        f->ufeature_.push_back(nd.feature);
      }
      f->uthreshold_.resize(f->uthreshold_.size() + 32, 0.0f);
      f->ufeature_.resize(f->ufeature_.size() + 32, 0u);
      f->cnodes_ = {};  // the walk reads the two arrays only (cnode0_ indexes both alike)
    }
    return f;
  } catch (const std::exception& e) {
    return refuse(std::string("unreadable model: ") + e.what());
  }
}

void GbdtForest::build_complete(uint32_t uniform_depth) {
  uniform_depth_ = uniform_depth;
  for (size_t t = 0; t < roots_.size(); ++t) {
    const uint32_t D = uniform_depth ? uniform_depth : depths_[t];
    const size_t n_internal = (size_t{1} << D) - 1;
    cnode0_.push_back(static_cast<uint32_t>(cnodes_.size()));
    cleaf0_.push_back(static_cast<uint32_t>(cleaves_.size()));
    cnodes_.resize(cnodes_.size() + n_internal);
    cleaves_.resize(cleaves_.size() + (size_t{1} << D));
    CompleteNode* cn = cnodes_.data() + cnode0_.back();
    float* leaves = cleaves_.data() + cleaf0_.back();
    // (general node, complete position, level)
    struct Item {
      uint32_t node;
      size_t pos;
      uint32_t level;
    };
    std::vector<Item> stack{{roots_[t], 0, 0}};
    while (!stack.empty()) {
      const Item it = stack.back();
      stack.pop_back();
      const Node& nd = nodes_[it.node];
      const bool leaf = nd.child[0] == static_cast<int32_t>(it.node) &&
                        nd.child[1] == static_cast<int32_t>(it.node);
      if (it.level == D) {  // only leaves are this deep
        leaves[it.pos - n_internal] = nd.threshold;
        continue;
      }
      if (leaf) {
        cn[it.pos] = CompleteNode{};  // either way below leads to this leaf's value
        stack.push_back({it.node, 2 * it.pos + 1, it.level + 1});
        stack.push_back({it.node, 2 * it.pos + 2, it.level + 1});
      } else {
        cn[it.pos] = CompleteNode{nd.threshold, nd.feature};
        stack.push_back({static_cast<uint32_t>(nd.child[1]), 2 * it.pos + 1, it.level + 1});
        stack.push_back({static_cast<uint32_t>(nd.child[0]), 2 * it.pos + 2, it.level + 1});
      }
    }
  }
}

void GbdtForest::predict(std::span<const float> x, size_t rows, std::span<float> out) const {
  CASCADE_CHECK(
      x.size() == rows * cols_,
      fmt::format("gbdt: {} feature values for {} rows x {} columns", x.size(), rows, cols_));
  CASCADE_CHECK(out.size() == rows, "gbdt: one output per row");
  // XGBoost refuses infinite inputs (its DMatrix check); so does this, to fail alike.
  for (size_t k = 0; k < x.size(); ++k) {
    if (std::isinf(x[k]))
      throw Error(
          fmt::format("gbdt: feature value of row {} column {} is infinite", k / cols_, k % cols_));
  }
  std::fill(out.begin(), out.end(), base_margin_);
  switch (walk_) {
    case Walk::kAvx512:
      predict_avx512(x.data(), rows, out.data());
      break;
    case Walk::kAvx2:
      predict_avx2(x.data(), rows, out.data());
      break;
    case Walk::kComplete:
      predict_complete(x.data(), rows, out.data());
      break;
    default:
      predict_general(x.data(), rows, out.data());
  }
  if (sigmoid_)
    for (float& v : out) v = xgb_sigmoid(v);
}

// Trees outer, rows inner (the request's rows stay in L1 while each tree is read once), in
// blocks of kLanes rows walked together: their walks are independent chains of loads, so the
// CPU overlaps them. Each row still adds the trees in tree order, as XGBoost does.
constexpr size_t kLanes = 8;

void GbdtForest::predict_complete(const float* x, size_t rows, float* out) const {
  for (size_t t = 0; t < cnode0_.size(); ++t) {
    const CompleteNode* cn = cnodes_.data() + cnode0_[t];
    const float* leaves = cleaves_.data() + cleaf0_[t];
    const uint32_t steps = depths_[t];
    const uint32_t n_internal = (1u << steps) - 1;
    for (size_t r0 = 0; r0 < rows; r0 += kLanes) {
      const size_t nb = std::min(kLanes, rows - r0);
      const float* xr[kLanes];
      uint32_t at[kLanes];
      for (size_t b = 0; b < kLanes; ++b) {
        xr[b] = x + (r0 + (b < nb ? b : 0)) * cols_;  // spare lanes repeat row r0
        at[b] = 0;
      }
      for (uint32_t s = 0; s < steps; ++s) {
        for (size_t b = 0; b < kLanes; ++b) {
          const CompleteNode nd = cn[at[b]];
          const float v = xr[b][nd.feature & ~kDefaultLeft];
          const unsigned go_left = static_cast<unsigned>(v < nd.threshold) |
                                   (static_cast<unsigned>(std::isnan(v)) & (nd.feature >> 31));
          at[b] = 2 * at[b] + 2 - go_left;
        }
      }
      for (size_t b = 0; b < nb; ++b) out[r0 + b] += leaves[at[b] - n_internal];
    }
  }
}

void GbdtForest::predict_general(const float* x, size_t rows, float* out) const {
  const Node* nodes = nodes_.data();
  for (size_t t = 0; t < roots_.size(); ++t) {
    const uint32_t root = roots_[t], steps = depths_[t];
    for (size_t r0 = 0; r0 < rows; r0 += kLanes) {
      const size_t nb = std::min(kLanes, rows - r0);
      const float* xr[kLanes];
      uint32_t at[kLanes];
      for (size_t b = 0; b < kLanes; ++b) {
        xr[b] = x + (r0 + (b < nb ? b : 0)) * cols_;  // spare lanes repeat row r0
        at[b] = root;
      }
      for (uint32_t s = 0; s < steps; ++s) {
        for (size_t b = 0; b < kLanes; ++b) {
          const Node& nd = nodes[at[b]];
          const float v = xr[b][nd.feature & ~kDefaultLeft];
          const unsigned go_left = static_cast<unsigned>(v < nd.threshold) |
                                   (static_cast<unsigned>(std::isnan(v)) & (nd.feature >> 31));
          at[b] = static_cast<uint32_t>(nd.child[go_left]);
        }
      }
      for (size_t b = 0; b < nb; ++b) out[r0 + b] += nodes[at[b]].threshold;
    }
  }
}

// 16 rows in the lanes of one vector and kTrees trees walked side by side (independent chains,
// so their latencies overlap), every tree at the forest's depth (uniform layout). A level of at
// most 32 nodes (the first six levels) is looked up in registers: its thresholds and features
// are two loads each and a two-register permute by the lanes' positions in the level; deeper
// levels are gathered. The row's value is gathered from x. Per row the margin still adds the
// trees' leaves one at a time in tree order, in float: the same bits as the scalar walks and
// XGBoost.
__attribute__((target("avx512f"))) void GbdtForest::predict_avx512(const float* x, size_t rows,
                                                                   float* out) const {
  constexpr size_t kTrees = 4;
  constexpr uint32_t kPermuteLevels = 6;  // levels 0..5: at most 32 nodes
  const uint32_t D = uniform_depth_;
  const int n_internal = (1 << D) - 1;
  const size_t n_trees = cnode0_.size();
  const float* thr_all = uthreshold_.data();
  const int* feat_all = reinterpret_cast<const int*>(ufeature_.data());
  const __m512i one = _mm512_set1_epi32(1), two = _mm512_set1_epi32(2);
  const __m512i feature_bits = _mm512_set1_epi32(static_cast<int>(~kDefaultLeft));
  const __m512i default_left = _mm512_set1_epi32(static_cast<int>(kDefaultLeft));
  for (size_t r0 = 0; r0 < rows; r0 += 16) {
    const auto nb = static_cast<int>(std::min<size_t>(16, rows - r0));
    const auto valid = static_cast<__mmask16>((1u << nb) - 1);
    // Spare lanes repeat the block's last row (its reads stay inside x).
    alignas(64) int offsets[16];
    for (int b = 0; b < 16; ++b) offsets[b] = std::min(b, nb - 1) * static_cast<int>(cols_);
    const __m512i row_off = _mm512_load_si512(offsets);
    const float* xb = x + r0 * cols_;
    __m512 acc = _mm512_maskz_loadu_ps(valid, out + r0);
    for (size_t t0 = 0; t0 < n_trees; t0 += kTrees) {
      const size_t nt = std::min(kTrees, n_trees - t0);
      __m512i at[kTrees];
      uint32_t base[kTrees];  // first node of each tree (a spare slot walks tree t0, unused)
      for (size_t k = 0; k < kTrees; ++k) {
        at[k] = _mm512_setzero_si512();
        base[k] = cnode0_[t0 + (k < nt ? k : 0)];
      }
      for (uint32_t s = 0; s < D; ++s) {
        const int level0 = (1 << s) - 1;
        for (size_t k = 0; k < kTrees; ++k) {
          __m512 thr;
          __m512i feat;
          if (s < kPermuteLevels) {
            const __m512i pos = _mm512_sub_epi32(at[k], _mm512_set1_epi32(level0));
            const float* tl = thr_all + base[k] + level0;
            const int* fl = feat_all + base[k] + level0;
            thr = _mm512_permutex2var_ps(_mm512_loadu_ps(tl), pos, _mm512_loadu_ps(tl + 16));
            feat =
                _mm512_permutex2var_epi32(_mm512_loadu_si512(fl), pos, _mm512_loadu_si512(fl + 16));
          } else {
            const __m512i node =
                _mm512_add_epi32(at[k], _mm512_set1_epi32(static_cast<int>(base[k])));
            thr = nn::gather16(node, thr_all);
            feat = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), 0xFFFF, node, feat_all, 4);
          }
          const __m512i xi = _mm512_add_epi32(row_off, _mm512_and_si512(feat, feature_bits));
          const __m512 v = nn::gather16(xi, xb);
          const __mmask16 left =
              _mm512_cmp_ps_mask(v, thr, _CMP_LT_OQ) |
              (_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q) & _mm512_test_epi32_mask(feat, default_left));
          // at = 2 at + 2 - left
          const __m512i next = _mm512_add_epi32(_mm512_add_epi32(at[k], at[k]), two);
          at[k] = _mm512_mask_sub_epi32(next, left, next, one);
        }
      }
      for (size_t k = 0; k < nt; ++k) {
        const __m512i leaf = _mm512_add_epi32(
            _mm512_set1_epi32(static_cast<int>(cleaf0_[t0 + k]) - n_internal), at[k]);
        acc = _mm512_add_ps(acc, nn::gather16(leaf, cleaves_.data()));
      }
    }
    _mm512_mask_storeu_ps(out + r0, valid, acc);
  }
}

// The AVX-512 walk with 8 lanes, for CPUs without AVX-512. A level of at most 32 nodes (the
// first six levels) is looked up in registers: each 8-node chunk permuted by the lanes'
// positions, the chunks blended by the positions' bits 3 and 4 (a gather costs several times
// that on the AMD cores measured). Deeper levels, the row's value and the leaves are gathered.
// The same adds in the same order as the scalar walks: the same bits.
namespace {

// Lane i: level[pos_i] for a level of n <= 32 nodes (8-float chunks loaded from level; the
// node arrays are padded, so a short level's chunk may read past it).
__attribute__((target("avx2"))) inline __m256 level_lookup(const float* level, int n, __m256i pos) {
  const int chunks = std::max(1, n / 8);
  __m256 chunk[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                     _mm256_setzero_ps()};  // GCC cannot see that `chunks` covers the ones read
  for (int c = 0; c < chunks; ++c)
    chunk[c] = _mm256_permutevar8x32_ps(_mm256_loadu_ps(level + 8 * c), pos);
  if (chunks == 1) return chunk[0];
  const __m256 bit3 = _mm256_castsi256_ps(_mm256_slli_epi32(pos, 28));  // bit 3 -> sign
  const __m256 lo = _mm256_blendv_ps(chunk[0], chunk[1], bit3);
  if (chunks == 2) return lo;
  const __m256 hi = _mm256_blendv_ps(chunk[2], chunk[3], bit3);
  return _mm256_blendv_ps(lo, hi, _mm256_castsi256_ps(_mm256_slli_epi32(pos, 27)));
}

}  // namespace

__attribute__((target("avx2"))) void GbdtForest::predict_avx2(const float* x, size_t rows,
                                                              float* out) const {
  constexpr size_t kTrees = 4;
  constexpr uint32_t kPermuteLevels = 6;  // levels 0..5: at most 32 nodes
  const uint32_t D = uniform_depth_;
  const int n_internal = (1 << D) - 1;
  const size_t n_trees = cnode0_.size();
  const float* thr_all = uthreshold_.data();
  const int* feat_all = reinterpret_cast<const int*>(ufeature_.data());
  const __m256i two = _mm256_set1_epi32(2), all = _mm256_set1_epi32(-1);
  const __m256i feature_bits = _mm256_set1_epi32(static_cast<int>(~kDefaultLeft));
  const __m256i default_left = _mm256_set1_epi32(static_cast<int>(kDefaultLeft));
  const __m256i zero = _mm256_setzero_si256();
  for (size_t r0 = 0; r0 < rows; r0 += 8) {
    const auto nb = static_cast<int>(std::min<size_t>(8, rows - r0));
    // Spare lanes repeat the block's last row (its reads stay inside x).
    alignas(32) int offsets[8];
    for (int b = 0; b < 8; ++b) offsets[b] = std::min(b, nb - 1) * static_cast<int>(cols_);
    const __m256i row_off = _mm256_load_si256(reinterpret_cast<const __m256i*>(offsets));
    const float* xb = x + r0 * cols_;
    alignas(32) float margin[8] = {};
    std::copy_n(out + r0, nb, margin);
    __m256 acc = _mm256_load_ps(margin);
    for (size_t t0 = 0; t0 < n_trees; t0 += kTrees) {
      const size_t nt = std::min(kTrees, n_trees - t0);
      __m256i at[kTrees];
      uint32_t base[kTrees];  // first node of each tree (a spare slot walks tree t0, unused)
      for (size_t k = 0; k < kTrees; ++k) {
        at[k] = zero;
        base[k] = cnode0_[t0 + (k < nt ? k : 0)];
      }
      for (uint32_t s = 0; s < D; ++s) {
        const int level0 = (1 << s) - 1;
        for (size_t k = 0; k < kTrees; ++k) {
          __m256 thr;
          __m256i feat;
          if (s < kPermuteLevels) {
            const __m256i pos = _mm256_sub_epi32(at[k], _mm256_set1_epi32(level0));
            thr = level_lookup(thr_all + base[k] + level0, 1 << s, pos);
            feat = _mm256_castps_si256(level_lookup(
                reinterpret_cast<const float*>(feat_all + base[k] + level0), 1 << s, pos));
          } else {
            const __m256i node =
                _mm256_add_epi32(at[k], _mm256_set1_epi32(static_cast<int>(base[k])));
            thr = _mm256_mask_i32gather_ps(_mm256_setzero_ps(), thr_all, node,
                                           _mm256_castsi256_ps(all), 4);
            feat = _mm256_mask_i32gather_epi32(zero, feat_all, node, all, 4);
          }
          const __m256i xi = _mm256_add_epi32(row_off, _mm256_and_si256(feat, feature_bits));
          const __m256 v =
              _mm256_mask_i32gather_ps(_mm256_setzero_ps(), xb, xi, _mm256_castsi256_ps(all), 4);
          const __m256 missing_left =
              _mm256_and_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q),
                            _mm256_castsi256_ps(_mm256_cmpeq_epi32(
                                _mm256_and_si256(feat, default_left), default_left)));
          const __m256i left =
              _mm256_castps_si256(_mm256_or_ps(_mm256_cmp_ps(v, thr, _CMP_LT_OQ), missing_left));
          // at = 2 at + 2 - left, with left = -1 (all bits) or 0
          at[k] = _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(at[k], at[k]), two), left);
        }
      }
      for (size_t k = 0; k < nt; ++k) {
        const __m256i leaf = _mm256_add_epi32(
            _mm256_set1_epi32(static_cast<int>(cleaf0_[t0 + k]) - n_internal), at[k]);
        acc = _mm256_add_ps(acc, _mm256_mask_i32gather_ps(_mm256_setzero_ps(), cleaves_.data(),
                                                          leaf, _mm256_castsi256_ps(all), 4));
      }
    }
    _mm256_store_ps(margin, acc);
    std::copy_n(margin, nb, out + r0);
  }
}

}  // namespace cascade
