// nn/low_precision: rounding to bf16/f16 and the official code's arithmetic in those types. The
// bit-for-bit comparison with PyTorch itself is tests/attacks/taylor_official_fixtures_test.cpp.
#include "nn/low_precision.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/errors.h"
#include "nn/taylor.h"

namespace wrsec::nn {
namespace {

TEST(LowPrecision, RoundsToNearestEven) {
  using L = LowPrecision;
  EXPECT_EQ(round_to(L::bf16, 1.0f + std::ldexp(1.0f, -8)), 1.0f);  // tie: to even
  EXPECT_EQ(round_to(L::bf16, 1.0f + 3 * std::ldexp(1.0f, -8)), 1.0f + std::ldexp(1.0f, -6));
  EXPECT_EQ(round_to(L::bf16, 1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)),
            1.0f + std::ldexp(1.0f, -7));
  EXPECT_EQ(round_to(L::f16, 1.0f + std::ldexp(1.0f, -11)), 1.0f);
  EXPECT_EQ(round_to(L::f16, 65504.0f), 65504.0f);
  EXPECT_TRUE(std::isinf(round_to(L::f16, 65520.0f)));  // past the largest f16, to infinity
  EXPECT_EQ(round_to(L::f16, std::ldexp(1.0f, -24)), std::ldexp(1.0f, -24));  // subnormal
  EXPECT_EQ(parse_low_precision("bf16"), L::bf16);
  EXPECT_EQ(to_string(L::f16), "f16");
  EXPECT_THROW((void)parse_low_precision("fp16"), InvalidArgument);
}

// Values PyTorch 1.13 (Debian) returned for torch.nn.functional.silu / torch.sigmoid on bf16
// tensors; the single-rounding silu would give −0.1421 and −0.1450.
TEST(LowPrecision, SiluAndSigmoidMatchPyTorchBf16) {
  EXPECT_EQ(lowp_silu(LowPrecision::bf16, -3.0f), -0.1416015625f);
  EXPECT_EQ(lowp_silu(LowPrecision::bf16, -2.96875f), -0.14453125f);
  EXPECT_EQ(lowp_sigmoid(LowPrecision::bf16, 0.0f), 0.5f);
  EXPECT_EQ(lowp_silu(LowPrecision::bf16, 0.0f), 0.0f);
}

// The bf16 recurrence approximates the true derivatives (a wrong recurrence term fails this),
// and its values are all of the type.
TEST(LowPrecision, OfficialSiluDerivativesApproximateTheTrueOnes) {
  for (const LowPrecision t : {LowPrecision::bf16, LowPrecision::f16}) {
    const double tol = t == LowPrecision::bf16 ? 0.06 : 0.01;
    for (const float x : {-2.5f, -1.0f, -0.25f, 0.0f, 0.5f, 1.5f, 3.0f}) {
      const std::vector<float> g = official_silu_derivatives(t, x, 6);
      ASSERT_EQ(g.size(), 6U);
      for (int n = 1; n <= 6; ++n) {
        const float got = g[static_cast<std::size_t>(n - 1)];
        EXPECT_EQ(round_to(t, got), got);
        const double want = activation_derivative(Activation::silu, x, n);
        EXPECT_NEAR(got, want, tol * std::max(std::abs(want), 0.05))
            << to_string(t) << " x=" << x << " n=" << n;
      }
    }
  }
}

TEST(LowPrecision, OfficialSiluDerivativesRejectBadInput) {
  EXPECT_THROW((void)official_silu_derivatives(LowPrecision::bf16, 0.5f, 0), InvalidArgument);
  EXPECT_THROW((void)official_silu_derivatives(LowPrecision::bf16, 0.5f, 33), InvalidArgument);
  EXPECT_THROW((void)official_silu_derivatives(LowPrecision::bf16, 0.1f, 4), InvalidArgument);
  EXPECT_THROW((void)official_silu_derivatives(LowPrecision::f16, NAN, 4), InvalidArgument);
  EXPECT_NO_THROW((void)official_silu_derivatives(LowPrecision::bf16, 0.5f, 32));
}

}  // namespace
}  // namespace wrsec::nn
