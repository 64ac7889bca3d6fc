// XGBoost's trees evaluated in-process, for the per-request prediction of the GBDT ranker.
//
// XGBoost's own predict() builds a DMatrix (a sparse page) for every call and walks each tree
// through its generic predictor: for the 100 rows of one request that overhead, not the trees,
// dominated the serving profile. This reads the booster's model (UBJSON, exactly as XGBoost
// saved it: float32 thresholds and leaf values) into flat node arrays and walks them itself.
//
// The result is bit-identical to XGBoost 1.6/1.7's CPU predictor: a row's margin starts at
// the objective's base margin and adds the trees' leaf values one tree at a time in float, in
// tree order; a split sends a missing value (NaN) to its default child and a present value
// left when value < threshold; binary:logistic and reg:logistic apply XGBoost's sigmoid.
// Models this does not cover (other boosters, multi-class, vector leaves, categorical splits,
// other objectives) are refused by compile(), and the caller keeps using XGBoost.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cascade {

class GbdtForest {
 public:
  /// How predict() walks the trees. kBest: the AVX-512 walk on CPUs that have it, else the
  /// AVX2 walk, else the complete-tree layout when every tree is at most kMaxCompleteDepth
  /// deep, else the general one. The others force one walk (for tests and benchmarks); every
  /// walk gives the same bits.
  enum class Walk { kBest, kGeneral, kComplete, kAvx512, kAvx2 };

  /// The forest of a model saved as UBJSON by XGBoosterSaveModelToBuffer; nullptr (with the
  /// reason in `why`) when the model is outside what this evaluator reproduces exactly, or
  /// when the forced `walk` cannot run here (kAvx512 or kAvx2 on a CPU without it, kComplete
  /// on trees deeper than kMaxCompleteDepth, the vector walks on trees deeper than
  /// kMaxUniformDepth).
  static std::unique_ptr<GbdtForest> compile(std::string_view ubj, size_t cols, std::string* why,
                                             Walk walk = Walk::kBest);

  /// out[r] = the model's prediction for row r of x (rows x cols, row-major, NaN = missing).
  void predict(std::span<const float> x, size_t rows, std::span<float> out) const;

  size_t n_trees() const { return roots_.size(); }
  /// The walk predict() uses (never kBest).
  Walk walk() const { return walk_; }

 private:
  // A node: `feature` (its top bit: missing values go left) and `threshold`; a leaf has
  // both children pointing at itself and its value in `threshold`, so a walk of a fixed
  // number of steps (the tree's depth) ends on the leaf without a branch per row.
  struct Node {
    uint32_t feature = 0;
    float threshold = 0;
    int32_t child[2] = {0, 0};  // [0] = right (value >= threshold), [1] = left
  };
  static constexpr uint32_t kDefaultLeft = 0x80000000u;

  // The same trees as complete binary trees of their depth (every forest whose trees are at
  // most kMaxCompleteDepth deep): node i's children are 2i+1 and 2i+2, so a node is 8 bytes
  // with no child indices and a walk is D steps of index arithmetic; a leaf shallower than D
  // fills its whole subtree (the splits above it there lead to the same value either way).
  struct CompleteNode {
    float threshold = 0;
    uint32_t feature = 0;  // top bit: missing values go left
  };
  static constexpr uint32_t kMaxCompleteDepth = 10;
  // The vector walks lay every tree out at the forest's depth, so 16 (AVX-512) or 8 (AVX2) rows
  // x several trees step together; deeper forests than this would make that layout large.
  static constexpr uint32_t kMaxUniformDepth = 8;
  // uniform_depth 0: each tree at its own depth; otherwise every tree at that depth.
  void build_complete(uint32_t uniform_depth);
  void predict_complete(const float* x, size_t rows, float* out) const;
  void predict_general(const float* x, size_t rows, float* out) const;
  void predict_avx512(const float* x, size_t rows, float* out) const;
  void predict_avx2(const float* x, size_t rows, float* out) const;

  std::vector<Node> nodes_;
  std::vector<uint32_t> roots_;   // first node of each tree
  std::vector<uint32_t> depths_;  // steps from the root to the deepest leaf
  Walk walk_ = Walk::kGeneral;
  uint32_t uniform_depth_ = 0;     // the complete layout's depth of every tree (vector walks)
  std::vector<float> uthreshold_;  // vector walks: the nodes as two arrays (cnodes_ then
                                   // released), padded by 32
  std::vector<uint32_t> ufeature_;
  std::vector<CompleteNode> cnodes_;
  std::vector<float> cleaves_;
  std::vector<uint32_t> cnode0_, cleaf0_;  // per tree: first node, first leaf
  size_t cols_ = 0;
  float base_margin_ = 0;
  bool sigmoid_ = false;
};

}  // namespace cascade
