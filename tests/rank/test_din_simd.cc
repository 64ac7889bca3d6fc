// rank/din_simd.h's kernels against the Eigen expressions they replace, bit for bit, on
// random columns and on the values where operand order shows (signed zeros, infinities):
// the dot's summation order at every height DIN uses, PReLU's max/min order, the adds.
#include <gtest/gtest.h>

#include <Eigen/Core>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "rank/din_simd.h"

namespace cascade {
namespace {

using MatF = Eigen::MatrixXf;
using VecF = Eigen::VectorXf;

uint32_t bits(float v) {
  uint32_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

class DinSimd : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!din_simd::cpu_has_avx2()) GTEST_SKIP() << "this CPU has no AVX2";
  }
  VecF random(int n) {
    VecF v(n);
    for (int i = 0; i < n; ++i) v[i] = dist_(gen_);
    return v;
  }
  std::mt19937 gen_{7};
  std::normal_distribution<float> dist_{0.0f, 3.0f};
};

TEST_F(DinSimd, DotSumsInEigensOrder) {
  if (Eigen::internal::packet_traits<float>::size != 4)
    GTEST_SKIP() << "Eigen's packets are not 4 wide in this build (DIN keeps its Eigen loops)";
  for (const int n : {8, 16, 24, 32, 64, 128}) {
    for (int trial = 0; trial < 200; ++trial) {
      const VecF w = random(n), x = random(n);
      const float bias = dist_(gen_);
      const float ref = bias + w.dot(Eigen::Map<const VecF>(x.data(), n));
      ASSERT_EQ(bits(din_simd::dot(w.data(), x.data(), n, bias)), bits(ref)) << "n " << n;
    }
  }
}

TEST_F(DinSimd, BiasPreluIsEigensExpressionIncludingSignedZerosAndInfinities) {
  const int rows = 16, cols = 5;
  MatF x(rows, cols);
  for (int c = 0; c < cols; ++c) x.col(c) = random(rows);
  const float inf = std::numeric_limits<float>::infinity();
  x(0, 0) = -0.0f;
  x(1, 0) = 0.0f;
  x(2, 0) = -inf;
  x(3, 0) = inf;
  x(4, 0) = -1e-40f;  // subnormal
  const VecF slope = random(rows), bias = random(rows);
  for (const bool with_bias : {false, true}) {
    MatF ref = x;
    if (with_bias) ref.colwise() += bias;
    ref.array() = ref.array().max(0.0f) + ref.array().min(0.0f).colwise() * slope.array();
    MatF got = x;
    din_simd::bias_prelu(got.data(), rows, cols, with_bias ? bias.data() : nullptr, slope.data());
    for (int c = 0; c < cols; ++c)
      for (int r = 0; r < rows; ++r)
        ASSERT_EQ(bits(got(r, c)), bits(ref(r, c))) << r << "," << c << " bias " << with_bias;
  }
}

TEST_F(DinSimd, PairLoopsAndAddsAreEigensExpressions) {
  const int d = 16, L = 7;
  const MatF H = MatF::Random(d, L) * 4, AH = MatF::Random(d, L) * 4;
  const VecF t = random(d), bt = random(d);
  MatF X(d, L), ref_x(d, L);
  din_simd::pair_products(H.data(), d, L, t.data(), X.data());
  for (int l = 0; l < L; ++l) ref_x.col(l) = H.col(l).cwiseProduct(t);
  MatF Z = MatF::Random(d, L), ref_z = Z;
  din_simd::add_pair_terms(Z.data(), d, L, AH.data(), bt.data());
  for (int l = 0; l < L; ++l) ref_z.col(l) += AH.col(l) + bt;
  VecF acc = random(d), ref_acc = acc, sum = random(d), ref_sum = sum;
  for (int l = 0; l < L; ++l) {
    din_simd::add_scaled(acc.data(), H.col(l).data(), 0.37f * static_cast<float>(l), d);
    ref_acc += 0.37f * static_cast<float>(l) * H.col(l);
  }
  std::vector<const float*> src;
  for (int l = 0; l < L; ++l) {
    src.push_back(AH.col(l).data());
    ref_sum += AH.col(l);
  }
  din_simd::add_columns(sum.data(), src.data(), L, d);
  for (int l = 0; l < L; ++l)
    for (int k = 0; k < d; ++k) {
      ASSERT_EQ(bits(X(k, l)), bits(ref_x(k, l)));
      ASSERT_EQ(bits(Z(k, l)), bits(ref_z(k, l)));
    }
  for (int k = 0; k < d; ++k) {
    ASSERT_EQ(bits(acc[k]), bits(ref_acc[k])) << k;
    ASSERT_EQ(bits(sum[k]), bits(ref_sum[k])) << k;
  }
}

}  // namespace
}  // namespace cascade
