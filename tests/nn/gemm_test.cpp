#include "nn/gemm.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/errors.h"
#include "core/rng.h"

namespace wrsec::nn {
namespace {

using Index = std::int64_t;

// Values spread over several binades, so that the order of a sum changes its rounding.
std::vector<float> random_values(Index count, std::uint64_t seed) {
  Rng rng(seed, stable_hash("gemm_test"), 0);
  std::vector<float> v(static_cast<std::size_t>(count));
  for (float& x : v)
    x = static_cast<float>((2.0 * rng.uniform() - 1.0) *
                           std::exp2(std::floor(8.0 * rng.uniform())));
  return v;
}

bool same_bits(const std::vector<float>& x, const std::vector<float>& y) {
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

enum class Form { nn, tn, nt };

// Runs one product (kernel or reference) on operands with padded leading dimensions; the padding
// of C is filled with a sentinel that must survive.
std::vector<float> run(Form form, bool reference, Index m, Index n, Index k, bool with_bias,
                       std::uint64_t seed) {
  const Index pad = 3;
  const Index a_rows = form == Form::tn ? k : m, a_cols = form == Form::tn ? m : k;
  const Index b_rows = form == Form::nt ? n : k, b_cols = form == Form::nt ? k : n;
  const Index lda = a_cols + pad, ldb = b_cols + pad, ldc = n + pad;
  const auto a = random_values(std::max<Index>(1, a_rows * lda), seed);
  const auto b = random_values(std::max<Index>(1, b_rows * ldb), seed + 1);
  const auto bias = random_values(std::max<Index>(1, n), seed + 2);
  std::vector<float> c(static_cast<std::size_t>(std::max<Index>(1, m * ldc)), -7.25f);
  const float* bp = with_bias ? bias.data() : nullptr;
  switch (form) {
    case Form::nn:
      (reference ? reference_gemm_nn : gemm_nn)(m, n, k, a.data(), lda, b.data(), ldb, c.data(),
                                                ldc);
      break;
    case Form::tn:
      (reference ? reference_gemm_tn : gemm_tn)(m, n, k, a.data(), lda, b.data(), ldb, c.data(),
                                                ldc);
      break;
    case Form::nt:
      (reference ? reference_gemm_nt : gemm_nt)(m, n, k, a.data(), lda, b.data(), ldb, c.data(),
                                                ldc, bp);
      break;
  }
  for (Index i = 0; i < m; ++i)
    for (Index j = n; j < ldc; ++j)
      EXPECT_EQ(c[static_cast<std::size_t>(i * ldc + j)], -7.25f) << "wrote past column " << n;
  return c;
}

struct Shape {
  Index m, n, k;
};
// Every tail of the tiles (rows mod 6 and 4, columns mod 16 and 3, depth mod 8), empty operands,
// and the shapes of the 784-256-256-10 training step.
const Shape kShapes[] = {{1, 1, 1},       {0, 5, 3},      {5, 0, 3},       {4, 7, 0},
                         {1, 17, 9},      {7, 16, 8},     {13, 33, 15},    {6, 31, 64},
                         {23, 10, 257},   {2, 3, 5},      {128, 256, 784}, {128, 10, 256},
                         {256, 784, 128}, {10, 256, 128}, {128, 256, 10},  {37, 50, 200}};

TEST(Gemm, KernelsEqualTheScalarDefinitionBitForBit) {
  std::uint64_t seed = 1;
  for (const Shape& s : kShapes)
    for (Form f : {Form::nn, Form::tn, Form::nt})
      for (bool bias : {false, true}) {
        if (bias && f != Form::nt) continue;
        const auto kernel = run(f, false, s.m, s.n, s.k, bias, seed);
        const auto ref = run(f, true, s.m, s.n, s.k, bias, seed);
        EXPECT_TRUE(same_bits(kernel, ref)) << "form " << static_cast<int>(f) << " shape " << s.m
                                            << "x" << s.n << "x" << s.k << " bias " << bias;
        seed += 10;
      }
}

TEST(Gemm, TheDefinitionFixesTheOrderOfTheSum) {
  // a = (1, t, t, 0, …, 0, t) with t = 2⁻²⁴ (half an ulp of 1), b = ones. The chain adds t to 1
  // three times and each add rounds back to 1 (ties to even). The lane form holds 1, 2t, t in
  // lanes 0, 1, 2: (1 + 2t) + t is a tie between 1 + 2t and 1 + 4t and rounds to the even 1 + 4t.
  const float tiny = std::ldexp(1.0f, -24);
  const std::vector<float> a = {1.0f, tiny, tiny, 0, 0, 0, 0, 0, 0, tiny};
  const std::vector<float> ones(10, 1.0f);
  float chain = 0, lanes = 0;
  gemm_nn(1, 1, 10, a.data(), 10, ones.data(), 1, &chain, 1);
  gemm_nt(1, 1, 10, a.data(), 10, ones.data(), 10, &lanes, 1);
  EXPECT_EQ(chain, 1.0f);
  EXPECT_EQ(lanes, 1.0f + 4 * tiny);
}

TEST(Gemm, ResultsDoNotDependOnTheThreadCount) {
  const int saved = omp_get_max_threads();
  for (Form f : {Form::nn, Form::tn, Form::nt}) {
    omp_set_num_threads(1);
    const auto one = run(f, false, 130, 260, 300, f == Form::nt, 99);
    omp_set_num_threads(3);
    const auto three = run(f, false, 130, 260, 300, f == Form::nt, 99);
    EXPECT_TRUE(same_bits(one, three)) << "form " << static_cast<int>(f);
  }
  omp_set_num_threads(saved);
}

TEST(Gemm, ARowOfTheResultDoesNotDependOnTheOtherRows) {
  // x·Wᵀ of a batch equals the products of its rows taken one at a time (batch-1 inference gives
  // the same logits as batched evaluation).
  const Index m = 9, n = 20, k = 50;
  const auto x = random_values(m * k, 5), w = random_values(n * k, 6), bias = random_values(n, 7);
  std::vector<float> batch(static_cast<std::size_t>(m * n)), row(static_cast<std::size_t>(n));
  gemm_nt(m, n, k, x.data(), k, w.data(), k, batch.data(), n, bias.data());
  for (Index i = 0; i < m; ++i) {
    gemm_nt(1, n, k, x.data() + i * k, k, w.data(), k, row.data(), n, bias.data());
    EXPECT_EQ(0, std::memcmp(row.data(), batch.data() + i * n, sizeof(float) * n)) << "row " << i;
  }
}

TEST(Gemm, NonFiniteValuesPropagate) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> a = {1.0f, inf, 2.0f, 3.0f}, b = {1.0f, 1.0f, 0.0f, 1.0f};
  std::vector<float> c(4);
  gemm_nn(2, 2, 2, a.data(), 2, b.data(), 2, c.data(), 2);  // c[0][0] = 1 + inf·0
  EXPECT_TRUE(std::isnan(c[0]));
  EXPECT_TRUE(std::isinf(c[1]));
  EXPECT_EQ(c[2], 2.0f);
  EXPECT_EQ(c[3], 5.0f);
}

TEST(Gemm, NegativeDimensionsAreRejected) {
  float x = 0;
  EXPECT_THROW(gemm_nn(-1, 1, 1, &x, 1, &x, 1, &x, 1), InvalidArgument);
  EXPECT_THROW(gemm_nt(1, 1, -1, &x, 1, &x, 1, &x, 1), InvalidArgument);
}

}  // namespace
}  // namespace wrsec::nn
