#include "nn/layers.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/errors.h"
#include "core/rng.h"
#include "nn/train.h"
#include "tests/nn/grad_check.h"

namespace wrsec::nn {
namespace {

using testing::expect_grad_near;
using testing::numeric_grad;
using testing::random_matrix;

const Activation kAll[] = {Activation::relu, Activation::gelu, Activation::silu,
                           Activation::gelu_tanh};

TEST(Activation, StringRoundTrip) {
  for (Activation a : kAll) EXPECT_EQ(activation_from_string(to_string(a)), a);
  EXPECT_EQ(to_string(Activation::gelu_tanh), "gelu_tanh");
  try {
    (void)activation_from_string("swish");
    FAIL() << "no exception";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("swish"), std::string::npos);
  }
}

TEST(Activation, KnownValues) {
  EXPECT_EQ(activate(Activation::relu, -1.5), 0.0);
  EXPECT_EQ(activate(Activation::relu, 2.5), 2.5);
  EXPECT_NEAR(activate(Activation::gelu, 1.0), 0.8413447460685429, 1e-15);
  EXPECT_NEAR(activate(Activation::gelu, -2.0), -0.04550026389635842, 1e-15);
  EXPECT_NEAR(activate(Activation::silu, 1.0), 0.7310585786300049, 1e-15);
  EXPECT_NEAR(activate(Activation::silu, -800.0), 0.0, 1e-300);
  EXPECT_NEAR(activate(Activation::gelu_tanh, 1.0), 0.8411919906082768, 1e-15);
  EXPECT_NEAR(activate(Activation::gelu_tanh, -2.0), -0.04540230591222494, 1e-14);
}

TEST(Activation, DerivativeMatchesFiniteDifferences) {
  for (Activation a : kAll) {
    for (double z = -6.05; z < 6.0; z += 0.1) {
      const double h = 1e-6;
      const double numeric = (activate(a, z + h) - activate(a, z - h)) / (2 * h);
      EXPECT_NEAR(activate_derivative(a, z), numeric, 1e-8) << to_string(a) << " at " << z;
    }
  }
}

TEST(Activation, MatrixBackwardMatchesFiniteDifferences) {
  Rng rng(1, 2, 3);
  for (Activation a : kAll) {
    MatrixD z = random_matrix(5, 7, rng, 2.0);
    const MatrixD r = random_matrix(5, 7, rng);
    const auto loss = [&] { return activation_forward<double>(a, z).cwiseProduct(r).sum(); };
    const MatrixD analytic = activation_backward<double>(a, z, r);
    expect_grad_near(analytic, numeric_grad(z, loss), 1e-6, 1e-8, to_string(a));
  }
}

TEST(Activation, FloatAgreesWithDouble) {
  for (Activation a : kAll)
    for (float z = -5.0f; z < 5.0f; z += 0.37f) {
      EXPECT_NEAR(activate(a, z), activate(a, static_cast<double>(z)), 2e-6);
      EXPECT_NEAR(activate_derivative(a, z), activate_derivative(a, static_cast<double>(z)), 2e-6);
    }
}

TEST(Linear, ForwardIsXWTransposePlusB) {
  MatrixD x(2, 3), w(2, 3);
  x << 1, 2, 3, -1, 0, 1;
  w << 1, 0, -1, 0.5, 0.5, 0.5;
  VectorT<double> b(2);
  b << 10, 20;
  const MatrixD y = linear_forward<double>(x, w, b);
  EXPECT_DOUBLE_EQ(y(0, 0), 1 - 3 + 10);
  EXPECT_DOUBLE_EQ(y(0, 1), 3 + 20);
  EXPECT_DOUBLE_EQ(y(1, 0), -1 - 1 + 10);
  EXPECT_DOUBLE_EQ(y(1, 1), 0 + 20);
  EXPECT_THROW((void)linear_forward<double>(w.leftCols(2), w), InvalidArgument);
}

TEST(Linear, BackwardMatchesFiniteDifferences) {
  Rng rng(4, 5, 6);
  MatrixD x = random_matrix(4, 6, rng);
  MatrixD w = random_matrix(3, 6, rng);
  MatrixD b = random_matrix(3, 1, rng);
  const MatrixD r = random_matrix(4, 3, rng);
  const auto loss = [&] {
    return linear_forward<double>(x, w, VectorT<double>(b.col(0))).cwiseProduct(r).sum();
  };
  const LinearGrad<double> g = linear_backward<double>(x, w, r, true);
  expect_grad_near(g.dw, numeric_grad(w, loss), 1e-7, 1e-8, "dW");
  expect_grad_near(g.db, numeric_grad(b, loss), 1e-7, 1e-8, "db");
  expect_grad_near(g.dx, numeric_grad(x, loss), 1e-7, 1e-8, "dx");
}

TEST(Matmul, TiledProductsEqualEigenProducts) {
  Rng rng(7, 7, 7);
  const MatrixD a = random_matrix(70, 45, rng);
  const MatrixD b = random_matrix(45, 33, rng);
  const MatrixD c = random_matrix(33, 45, rng);
  const MatrixD d = random_matrix(70, 20, rng);
  EXPECT_LT((matmul<double>(a, b) - a * b).norm(), 1e-10);
  EXPECT_LT((matmul_nt<double>(a, c) - a * c.transpose()).norm(), 1e-10);
  EXPECT_LT((matmul_tn<double>(a, d) - a.transpose() * d).norm(), 1e-10);
}

TEST(Swiglu, ForwardMatchesDirectFormula) {
  Rng rng(8, 8, 8);
  const MatrixD x = random_matrix(3, 4, rng);
  const MatrixD wg = random_matrix(5, 4, rng), wu = random_matrix(5, 4, rng);
  const MatrixD wd = random_matrix(4, 5, rng);
  const MatrixD y = swiglu_forward<double>(x, wg, wu, wd);
  ASSERT_EQ(y.rows(), 3);
  ASSERT_EQ(y.cols(), 4);
  for (int n = 0; n < 3; ++n)
    for (int o = 0; o < 4; ++o) {
      double expected = 0;
      for (int h = 0; h < 5; ++h) {
        double g = 0, u = 0;
        for (int i = 0; i < 4; ++i) {
          g += wg(h, i) * x(n, i);
          u += wu(h, i) * x(n, i);
        }
        expected += wd(o, h) * (g / (1 + std::exp(-g))) * u;
      }
      EXPECT_NEAR(y(n, o), expected, 1e-12);
    }
}

TEST(Swiglu, BackwardMatchesFiniteDifferences) {
  Rng rng(9, 9, 9);
  MatrixD x = random_matrix(3, 4, rng);
  MatrixD wg = random_matrix(6, 4, rng), wu = random_matrix(6, 4, rng);
  MatrixD wd = random_matrix(4, 6, rng);
  const MatrixD r = random_matrix(3, 4, rng);
  const auto loss = [&] { return swiglu_forward<double>(x, wg, wu, wd).cwiseProduct(r).sum(); };
  SwigluTrace<double> trace;
  (void)swiglu_forward<double>(x, wg, wu, wd, &trace);
  const SwigluGrad<double> g = swiglu_backward<double>(x, wg, wu, wd, trace, r, true);
  expect_grad_near(g.dw_gate, numeric_grad(wg, loss), 1e-6, 1e-8, "dW_gate");
  expect_grad_near(g.dw_up, numeric_grad(wu, loss), 1e-6, 1e-8, "dW_up");
  expect_grad_near(g.dw_down, numeric_grad(wd, loss), 1e-6, 1e-8, "dW_down");
  expect_grad_near(g.dx, numeric_grad(x, loss), 1e-6, 1e-8, "dx");
}

TEST(CrossEntropy, GradientMatchesFiniteDifferences) {
  Rng rng(10, 10, 10);
  MatrixD logits = random_matrix(5, 4, rng, 3.0);
  const Labels labels = {0, 3, 1, 1, 2};
  MatrixD grad;
  (void)softmax_cross_entropy<double>(logits, labels, &grad);
  const auto loss = [&] { return softmax_cross_entropy<double>(logits, labels); };
  expect_grad_near(grad, numeric_grad(logits, loss), 1e-6, 1e-9, "dlogits");
}

TEST(CrossEntropy, ValueAndStability) {
  MatrixD logits(2, 3);
  logits << 0, 0, 0, 1000, 0, -1000;
  const double loss = softmax_cross_entropy<double>(logits, {1, 0});
  EXPECT_NEAR(loss, (std::log(3.0) + 0.0) / 2, 1e-12);
  MatrixD big(1, 2);
  big << -1000, 1000;
  EXPECT_NEAR(softmax_cross_entropy<double>(big, {0}), 2000.0, 1e-9);
  Matrix f(1, 2);
  f << 1e30f, -1e30f;
  EXPECT_TRUE(std::isfinite(softmax_cross_entropy<float>(f, {1})));
  EXPECT_THROW((void)softmax_cross_entropy<double>(logits, {0, 3}), InvalidArgument);
  EXPECT_THROW((void)softmax_cross_entropy<double>(logits, {0}), InvalidArgument);
}

}  // namespace
}  // namespace wrsec::nn
