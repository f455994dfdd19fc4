#pragma once
// Layers as pure functions on row-major Eigen matrices whose rows are examples; instantiated for
// float (training, inference) and double (gradient checks, accurate metrics).
//   Linear:      y = x·Wᵀ + b, W stored [out, in] (PyTorch nn.Linear).
//   Activations: relu(z) = max(z, 0); gelu(z) = z·Φ(z) = z/2·(1 + erf(z/√2));
//                silu(z) = z·σ(z); gelu_tanh(z) = z/2·(1 + tanh(√(2/π)·(z + 0.044715·z³))).
//   Gated MLP:   out = (f(x·W_gateᵀ) ⊙ (x·W_upᵀ))·W_downᵀ, no biases; f = silu is SwiGLU (Llama),
//                f = gelu / gelu_tanh is GeGLU (Gemma). Named swiglu after its common case.
// Each backward returns dL/d(inputs) given dL/d(outputs). Matrix products run through
// matmul_* below: on float, wrsec's kernels (nn/gemm.h), whose every element is a fixed chain of
// fused multiply-adds; on double, fixed output blocks on OpenMP threads, each computed by
// single-threaded Eigen. Either way results are bit-identical for any thread count.
#include <Eigen/Core>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "nn/tensor.h"

namespace wrsec::nn {

template <class T>
using MatrixT = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using VectorT = Eigen::Matrix<T, Eigen::Dynamic, 1>;
// Parameters are passed as Ref so that tensor views (ConstMatrixMap) bind without a copy;
// type_identity keeps T explicit at call sites (linear_forward<double>(...)).
template <class T>
using MatRef = Eigen::Ref<const MatrixT<std::type_identity_t<T>>>;
template <class T>
using VecRef = Eigen::Ref<const VectorT<std::type_identity_t<T>>>;

// Class labels, one per example (row), each in [0, number of classes).
using Labels = std::vector<std::int32_t>;

enum class Activation { relu, gelu, silu, gelu_tanh };

[[nodiscard]] std::string to_string(Activation a);
// Inverse of to_string ("relu", "gelu", "silu", "gelu_tanh"); InvalidArgument naming the input.
[[nodiscard]] Activation activation_from_string(std::string_view name);

// Scalar activation f(z) and derivative f'(z).
template <class T>
T activate(Activation a, T z);
template <class T>
T activate_derivative(Activation a, T z);

// Elementwise f(z) and dL/dz = dL/dy ⊙ f'(z).
template <class T>
MatrixT<T> activation_forward(Activation a, MatRef<T> z);
template <class T>
MatrixT<T> activation_backward(Activation a, MatRef<T> z, MatRef<T> dy);

// c = a·b, c = a·bᵀ, c = aᵀ·b with fixed-size output blocks (deterministic under OpenMP).
template <class T>
MatrixT<T> matmul(MatRef<T> a, MatRef<T> b);
template <class T>
MatrixT<T> matmul_nt(MatRef<T> a, MatRef<T> b);
template <class T>
MatrixT<T> matmul_tn(MatRef<T> a, MatRef<T> b);

template <class T>
MatrixT<T> linear_forward(MatRef<T> x, MatRef<T> w);
template <class T>
MatrixT<T> linear_forward(MatRef<T> x, MatRef<T> w, VecRef<T> b);

template <class T>
struct LinearGrad {
  MatrixT<T> dw;  // [out, in]
  VectorT<T> db;  // [out] (column sums of dy)
  MatrixT<T> dx;  // [batch, in]; empty unless requested
};
template <class T>
LinearGrad<T> linear_backward(MatRef<T> x, MatRef<T> w, MatRef<T> dy, bool need_dx);

// Intermediate values of a SwiGLU forward pass, kept for the backward pass.
template <class T>
struct SwigluTrace {
  MatrixT<T> gate;    // x·W_gateᵀ
  MatrixT<T> up;      // x·W_upᵀ
  MatrixT<T> hidden;  // f(gate) ⊙ up
};
template <class T>
MatrixT<T> swiglu_forward(MatRef<T> x, MatRef<T> w_gate, MatRef<T> w_up, MatRef<T> w_down,
                          SwigluTrace<T>* trace = nullptr, Activation act = Activation::silu);

template <class T>
struct SwigluGrad {
  MatrixT<T> dw_gate, dw_up, dw_down, dx;  // dx empty unless requested
};
template <class T>
SwigluGrad<T> swiglu_backward(MatRef<T> x, MatRef<T> w_gate, MatRef<T> w_up, MatRef<T> w_down,
                              const SwigluTrace<T>& trace, MatRef<T> dy, bool need_dx,
                              Activation act = Activation::silu);

}  // namespace wrsec::nn
