#include "nn/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/errors.h"

namespace wrsec::nn {
namespace {

TEST(Metrics, Accuracy) {
  Matrix logits(4, 3);
  logits << 1, 2, 3, 3, 2, 1, 0, 5, 0, 1, 1, 0;
  EXPECT_DOUBLE_EQ(accuracy(logits, {2, 0, 1, 0}), 1.0);  // tie -> lowest index
  EXPECT_DOUBLE_EQ(accuracy(logits, {2, 1, 1, 1}), 0.5);
  EXPECT_THROW((void)accuracy(logits, {0}), InvalidArgument);
}

TEST(Metrics, KlDivergence) {
  Matrix p(2, 2), q(2, 2);
  p << 0, 0, 5, 1;
  q << std::log(3.0f), 0, 5, 1;
  const KlStats s = kl_divergence(p, q);
  const double expected = 0.5 * std::log(4.0 / 3.0);  // KL((1/2,1/2) ‖ (3/4,1/4))
  EXPECT_NEAR(s.max, expected, 1e-7);
  EXPECT_NEAR(s.mean, expected / 2, 1e-7);
  const KlStats same = kl_divergence(p, p);
  EXPECT_EQ(same.mean, 0.0);
  EXPECT_EQ(same.max, 0.0);
  Matrix extreme(1, 2), flat(1, 2);
  extreme << 200, -200;
  flat << 0, 0;
  EXPECT_NEAR(kl_divergence(extreme, flat).mean, std::log(2.0), 1e-9);
  EXPECT_TRUE(std::isfinite(kl_divergence(flat, extreme).mean));
  EXPECT_NEAR(kl_divergence(flat, extreme).mean, 0.5 * 400 - std::log(2.0), 1e-6);
  EXPECT_THROW((void)kl_divergence(p, Matrix(2, 3)), InvalidArgument);
}

TEST(Metrics, ArgmaxAgreement) {
  Matrix a(3, 2), b(3, 2);
  a << 1, 0, 0, 1, 2, 3;
  b << 5, 1, 1, 0, 0, 9;
  EXPECT_NEAR(argmax_agreement(a, b), 2.0 / 3.0, 1e-15);
}

TEST(Metrics, RelativeError) {
  TensorMap a, b;
  a["w"] = Tensor({2});
  a["w"].data = {3, 4};
  b["w"] = Tensor({2});
  b["w"].data = {3, 0};
  a["z"] = Tensor({1});
  b["z"] = Tensor({1});
  const auto e = relative_error(a, b);
  EXPECT_DOUBLE_EQ(e.at("w"), 4.0 / 3.0);
  EXPECT_EQ(e.at("z"), 0.0);
  a["z"].data[0] = 1;
  EXPECT_EQ(relative_error(a, b).at("z"), std::numeric_limits<double>::infinity());
  TensorMap c = b;
  c["w"] = Tensor({1, 2});
  EXPECT_THROW((void)relative_error(a, c), InvalidArgument);
  TensorMap d = b;
  d.erase("z");
  EXPECT_THROW((void)relative_error(a, d), InvalidArgument);
  EXPECT_THROW((void)relative_error(d, a), InvalidArgument);
}

}  // namespace
}  // namespace wrsec::nn
