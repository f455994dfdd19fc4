#include "nn/layers.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/errors.h"
#include "nn/gemm.h"

namespace wrsec::nn {
namespace {

// Output tiles of at most kTileRows rows. A destination whose MaxRowsAtCompileTime is <= 32 makes
// Eigen skip its own GEMM threading, so each tile is computed serially in a fixed way.
constexpr Eigen::Index kTileRows = 32;
template <class T>
using Tile =
    Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor, kTileRows, Eigen::Dynamic>;

// Runs product(r0, n, tile) for every row tile of an rows x cols result and copies the tiles.
template <class T, class F>
MatrixT<T> tiled(Eigen::Index rows, Eigen::Index cols, Eigen::Index depth, F product) {
  MatrixT<T> c(rows, cols);
  const Eigen::Index tiles = (rows + kTileRows - 1) / kTileRows;
  const bool big =
      static_cast<double>(rows) * static_cast<double>(cols) * static_cast<double>(depth) > 2.0e5;
#pragma omp parallel for schedule(static) if (big && tiles > 1)
  for (Eigen::Index t = 0; t < tiles; ++t) {
    const Eigen::Index r0 = t * kTileRows;
    const Eigen::Index n = std::min(kTileRows, rows - r0);
    Tile<T> tile(n, cols);
    product(r0, n, tile);
    c.middleRows(r0, n) = tile;
  }
  return c;
}

template <class T>
T sigmoid(T z) {
  if (z >= T(0)) return T(1) / (T(1) + std::exp(-z));
  const T e = std::exp(z);
  return e / (T(1) + e);
}

template <class T>
constexpr T kSqrt2OverPi = static_cast<T>(0.79788456080286535587989211986876);  // √(2/π)
template <class T>
constexpr T kGeluTanhC = static_cast<T>(0.044715);

template <class T, class F>
MatrixT<T> elementwise(MatRef<T> z, F f) {
  MatrixT<T> out(z.rows(), z.cols());
  const Eigen::Index rows = z.rows();
#pragma omp parallel for schedule(static) if (z.size() > 65536)
  for (Eigen::Index r = 0; r < rows; ++r)
    for (Eigen::Index c = 0; c < z.cols(); ++c) out(r, c) = f(r, c);
  return out;
}

// relu(z) = z > 0 ? z : 0 and dy·relu′(z) = dy·(z > 0 ? 1 : 0), elementwise over one row; the
// float versions are branch-free AVX2 (the mask is data-dependent) with the same results.
template <class T>
void relu_row(const T* z, T* out, Eigen::Index n) {
  for (Eigen::Index c = 0; c < n; ++c) out[c] = z[c] > T(0) ? z[c] : T(0);
}
template <class T>
void relu_backward_row(const T* z, const T* dy, T* out, Eigen::Index n) {
  for (Eigen::Index c = 0; c < n; ++c) out[c] = dy[c] * (z[c] > T(0) ? T(1) : T(0));
}
template <>
void relu_row<float>(const float* z, float* out, Eigen::Index n) {
  const __m256 zero = _mm256_setzero_ps();
  Eigen::Index c = 0;
  for (; c + 8 <= n; c += 8) {
    const __m256 v = _mm256_loadu_ps(z + c);
    _mm256_storeu_ps(out + c, _mm256_and_ps(_mm256_cmp_ps(v, zero, _CMP_GT_OQ), v));
  }
  for (; c < n; ++c) out[c] = z[c] > 0.0f ? z[c] : 0.0f;
}
template <>
void relu_backward_row<float>(const float* z, const float* dy, float* out, Eigen::Index n) {
  const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
  Eigen::Index c = 0;
  for (; c + 8 <= n; c += 8) {
    const __m256 mask = _mm256_and_ps(_mm256_cmp_ps(_mm256_loadu_ps(z + c), zero, _CMP_GT_OQ), one);
    _mm256_storeu_ps(out + c, _mm256_mul_ps(_mm256_loadu_ps(dy + c), mask));
  }
  for (; c < n; ++c) out[c] = dy[c] * (z[c] > 0.0f ? 1.0f : 0.0f);
}

}  // namespace

std::string to_string(Activation a) {
  switch (a) {
    case Activation::relu:
      return "relu";
    case Activation::gelu:
      return "gelu";
    case Activation::silu:
      return "silu";
    case Activation::gelu_tanh:
      return "gelu_tanh";
  }
  WRSEC_CHECK(false, "unknown Activation value");
  return {};
}

Activation activation_from_string(std::string_view name) {
  if (name == "relu") return Activation::relu;
  if (name == "gelu") return Activation::gelu;
  if (name == "silu") return Activation::silu;
  if (name == "gelu_tanh") return Activation::gelu_tanh;
  throw InvalidArgument("unknown activation '" + std::string(name) +
                        "' (expected relu, gelu, silu or gelu_tanh)");
}

template <class T>
T activate(Activation a, T z) {
  switch (a) {
    case Activation::relu:
      return z > T(0) ? z : T(0);
    case Activation::gelu:
      return T(0.5) * z * (T(1) + std::erf(z * T(std::numbers::sqrt2 / 2)));
    case Activation::silu:
      return z * sigmoid(z);
    case Activation::gelu_tanh:
      return T(0.5) * z * (T(1) + std::tanh(kSqrt2OverPi<T> * (z + kGeluTanhC<T> * z * z * z)));
  }
  WRSEC_CHECK(false, "unknown Activation value");
  return z;
}

template <class T>
T activate_derivative(Activation a, T z) {
  switch (a) {
    case Activation::relu:
      return z > T(0) ? T(1) : T(0);
    case Activation::gelu: {
      const T cdf = T(0.5) * (T(1) + std::erf(z * T(std::numbers::sqrt2 / 2)));
      const T pdf = std::exp(T(-0.5) * z * z) * T(std::numbers::inv_sqrtpi / std::numbers::sqrt2);
      return cdf + z * pdf;
    }
    case Activation::silu: {
      const T s = sigmoid(z);
      return s + z * s * (T(1) - s);
    }
    case Activation::gelu_tanh: {
      const T u = kSqrt2OverPi<T> * (z + kGeluTanhC<T> * z * z * z);
      const T t = std::tanh(u);
      const T du = kSqrt2OverPi<T> * (T(1) + T(3) * kGeluTanhC<T> * z * z);
      return T(0.5) * (T(1) + t) + T(0.5) * z * (T(1) - t * t) * du;
    }
  }
  WRSEC_CHECK(false, "unknown Activation value");
  return z;
}

template <class T>
MatrixT<T> activation_forward(Activation a, MatRef<T> z) {
  if (a == Activation::relu) {
    MatrixT<T> out(z.rows(), z.cols());
    for (Eigen::Index r = 0; r < z.rows(); ++r)
      relu_row(z.row(r).data(), out.row(r).data(), z.cols());
    return out;
  }
  return elementwise<T>(z, [&](Eigen::Index r, Eigen::Index c) { return activate(a, z(r, c)); });
}

template <class T>
MatrixT<T> activation_backward(Activation a, MatRef<T> z, MatRef<T> dy) {
  if (z.rows() != dy.rows() || z.cols() != dy.cols())
    throw InvalidArgument("activation_backward: gradient shape differs from input shape");
  if (a == Activation::relu) {
    MatrixT<T> out(z.rows(), z.cols());
    for (Eigen::Index r = 0; r < z.rows(); ++r)
      relu_backward_row(z.row(r).data(), dy.row(r).data(), out.row(r).data(), z.cols());
    return out;
  }
  return elementwise<T>(z, [&](Eigen::Index r, Eigen::Index c) {
    return dy(r, c) * activate_derivative(a, z(r, c));
  });
}

template <class T>
MatrixT<T> matmul(MatRef<T> a, MatRef<T> b) {
  if (a.cols() != b.rows()) throw InvalidArgument("matmul: inner dimensions differ");
  if constexpr (std::is_same_v<T, float>) {
    MatrixT<T> c(a.rows(), b.cols());
    gemm_nn(a.rows(), b.cols(), a.cols(), a.data(), a.outerStride(), b.data(), b.outerStride(),
            c.data(), c.cols());
    return c;
  }
  return tiled<T>(a.rows(), b.cols(), a.cols(), [&](Eigen::Index r0, Eigen::Index n, Tile<T>& t) {
    t.noalias() = a.middleRows(r0, n) * b;
  });
}

template <class T>
MatrixT<T> matmul_nt(MatRef<T> a, MatRef<T> b) {
  if (a.cols() != b.cols()) throw InvalidArgument("matmul_nt: inner dimensions differ");
  if constexpr (std::is_same_v<T, float>) {
    MatrixT<T> c(a.rows(), b.rows());
    gemm_nt(a.rows(), b.rows(), a.cols(), a.data(), a.outerStride(), b.data(), b.outerStride(),
            c.data(), c.cols());
    return c;
  }
  return tiled<T>(a.rows(), b.rows(), a.cols(), [&](Eigen::Index r0, Eigen::Index n, Tile<T>& t) {
    t.noalias() = a.middleRows(r0, n) * b.transpose();
  });
}

template <class T>
MatrixT<T> matmul_tn(MatRef<T> a, MatRef<T> b) {
  if (a.rows() != b.rows()) throw InvalidArgument("matmul_tn: inner dimensions differ");
  if constexpr (std::is_same_v<T, float>) {
    MatrixT<T> c(a.cols(), b.cols());
    gemm_tn(a.cols(), b.cols(), a.rows(), a.data(), a.outerStride(), b.data(), b.outerStride(),
            c.data(), c.cols());
    return c;
  }
  return tiled<T>(a.cols(), b.cols(), a.rows(), [&](Eigen::Index r0, Eigen::Index n, Tile<T>& t) {
    t.noalias() = a.middleCols(r0, n).transpose() * b;
  });
}

template <class T>
MatrixT<T> linear_forward(MatRef<T> x, MatRef<T> w) {
  if (x.cols() != w.cols())
    throw InvalidArgument("linear: input has " + std::to_string(x.cols()) +
                          " features but the weight expects " + std::to_string(w.cols()));
  return matmul_nt<T>(x, w);
}

template <class T>
MatrixT<T> linear_forward(MatRef<T> x, MatRef<T> w, VecRef<T> b) {
  if (b.size() != w.rows()) throw InvalidArgument("linear: bias size differs from output size");
  if constexpr (std::is_same_v<T, float>) {
    if (x.cols() != w.cols()) return linear_forward<T>(x, w);  // throws the shape error
    MatrixT<T> y(x.rows(), w.rows());
    gemm_nt(x.rows(), w.rows(), x.cols(), x.data(), x.outerStride(), w.data(), w.outerStride(),
            y.data(), y.cols(), b.data());
    return y;
  }
  MatrixT<T> y = linear_forward<T>(x, w);
  y.rowwise() += b.transpose();
  return y;
}

template <class T>
LinearGrad<T> linear_backward(MatRef<T> x, MatRef<T> w, MatRef<T> dy, bool need_dx) {
  if (dy.rows() != x.rows() || dy.cols() != w.rows() || x.cols() != w.cols())
    throw InvalidArgument("linear_backward: inconsistent shapes");
  LinearGrad<T> g;
  g.dw = matmul_tn<T>(dy, x);
  g.db = dy.colwise().sum().transpose();
  if (need_dx) g.dx = matmul<T>(dy, w);
  return g;
}

template <class T>
MatrixT<T> swiglu_forward(MatRef<T> x, MatRef<T> w_gate, MatRef<T> w_up, MatRef<T> w_down,
                          SwigluTrace<T>* trace, Activation act) {
  if (w_gate.rows() != w_up.rows() || w_gate.cols() != w_up.cols() ||
      w_down.cols() != w_gate.rows() || w_down.rows() != w_gate.cols())
    throw InvalidArgument("swiglu: inconsistent weight shapes");
  SwigluTrace<T> local;
  SwigluTrace<T>& tr = trace ? *trace : local;
  tr.gate = linear_forward<T>(x, w_gate);
  tr.up = linear_forward<T>(x, w_up);
  tr.hidden = activation_forward<T>(act, tr.gate).cwiseProduct(tr.up);
  return linear_forward<T>(tr.hidden, w_down);
}

template <class T>
SwigluGrad<T> swiglu_backward(MatRef<T> x, MatRef<T> w_gate, MatRef<T> w_up, MatRef<T> w_down,
                              const SwigluTrace<T>& trace, MatRef<T> dy, bool need_dx,
                              Activation act) {
  SwigluGrad<T> g;
  g.dw_down = matmul_tn<T>(dy, trace.hidden);
  const MatrixT<T> dhidden = matmul<T>(dy, w_down);
  const MatrixT<T> dgate = activation_backward<T>(act, trace.gate, dhidden.cwiseProduct(trace.up));
  const MatrixT<T> dup = dhidden.cwiseProduct(activation_forward<T>(act, trace.gate));
  g.dw_gate = matmul_tn<T>(dgate, x);
  g.dw_up = matmul_tn<T>(dup, x);
  if (need_dx) g.dx = matmul<T>(dgate, w_gate) + matmul<T>(dup, w_up);
  return g;
}

#define WRSEC_NN_INSTANTIATE_LAYERS(T)                                                  \
  template T activate<T>(Activation, T);                                                \
  template T activate_derivative<T>(Activation, T);                                     \
  template MatrixT<T> activation_forward<T>(Activation, MatRef<T>);                     \
  template MatrixT<T> activation_backward<T>(Activation, MatRef<T>, MatRef<T>);         \
  template MatrixT<T> matmul<T>(MatRef<T>, MatRef<T>);                                  \
  template MatrixT<T> matmul_nt<T>(MatRef<T>, MatRef<T>);                               \
  template MatrixT<T> matmul_tn<T>(MatRef<T>, MatRef<T>);                               \
  template MatrixT<T> linear_forward<T>(MatRef<T>, MatRef<T>);                          \
  template MatrixT<T> linear_forward<T>(MatRef<T>, MatRef<T>, VecRef<T>);               \
  template LinearGrad<T> linear_backward<T>(MatRef<T>, MatRef<T>, MatRef<T>, bool);     \
  template MatrixT<T> swiglu_forward<T>(MatRef<T>, MatRef<T>, MatRef<T>, MatRef<T>,     \
                                        SwigluTrace<T>*, Activation);                   \
  template SwigluGrad<T> swiglu_backward<T>(MatRef<T>, MatRef<T>, MatRef<T>, MatRef<T>, \
                                            const SwigluTrace<T>&, MatRef<T>, bool, Activation);

WRSEC_NN_INSTANTIATE_LAYERS(float)
WRSEC_NN_INSTANTIATE_LAYERS(double)

}  // namespace wrsec::nn
