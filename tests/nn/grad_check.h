#pragma once
// Central finite differences for gradient tests.
#include <gtest/gtest.h>

#include <cmath>

#include "nn/layers.h"

namespace wrsec::nn::testing {

// d f / d p by central differences, perturbing each entry of p in place (restored afterwards).
template <class F>
MatrixD numeric_grad(MatrixD& p, F f, double eps = 1e-6) {
  MatrixD g(p.rows(), p.cols());
  for (Eigen::Index i = 0; i < p.size(); ++i) {
    const double keep = p.data()[i];
    p.data()[i] = keep + eps;
    const double up = f();
    p.data()[i] = keep - eps;
    const double down = f();
    p.data()[i] = keep;
    g.data()[i] = (up - down) / (2 * eps);
  }
  return g;
}

inline MatrixD random_matrix(Eigen::Index rows, Eigen::Index cols, Rng& rng, double scale = 1.0) {
  MatrixD m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = scale * rng.normal();
  return m;
}

// Every entry agrees to |a - n| <= rel·|n| + abs.
inline void expect_grad_near(const MatrixD& analytic, const MatrixD& numeric, double rel,
                             double abs, const std::string& what) {
  ASSERT_EQ(analytic.rows(), numeric.rows()) << what;
  ASSERT_EQ(analytic.cols(), numeric.cols()) << what;
  for (Eigen::Index i = 0; i < analytic.size(); ++i)
    EXPECT_NEAR(analytic.data()[i], numeric.data()[i], rel * std::abs(numeric.data()[i]) + abs)
        << what << " entry " << i;
}

}  // namespace wrsec::nn::testing
