#pragma once
// Architectures and models: a model is an Architecture plus a TensorMap of float32 weights.
//   mlp:    sizes = [in, h1, ..., out]; layer i maps sizes[i] -> sizes[i+1]; the activation
//           follows every layer but the last, which returns logits.
//           Tensors "layers.{i}.weight" [sizes[i+1], sizes[i]], "layers.{i}.bias" [sizes[i+1]].
//   swiglu: sizes = [d_model, d_hidden]; out = W_down·(f(W_gate·x) ⊙ (W_up·x)); f = silu (SwiGLU,
//           Llama) or gelu / gelu_tanh (GeGLU).
//           Tensors "mlp.gate_proj.weight" [hidden, d], "mlp.up_proj.weight" [hidden, d],
//           "mlp.down_proj.weight" [d, hidden].
// Schemes and attacks address tensors by these names.
#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/rng.h"
#include "nn/layers.h"
#include "nn/tensor.h"

namespace wrsec::nn {

class SafetensorsView;  // nn/safetensors.h

struct Architecture {
  enum class Kind { mlp, swiglu };
  Kind kind = Kind::mlp;
  std::vector<std::int64_t> sizes;
  Activation activation = Activation::relu;

  // InvalidArgument unless sizes fit the kind (mlp: >= 2 entries; swiglu: exactly 2), all sizes
  // are positive, and a swiglu block uses a smooth activation (not relu).
  void validate() const;
  [[nodiscard]] std::int64_t input_size() const { return sizes.front(); }
  [[nodiscard]] std::int64_t output_size() const;
  // Multiply-accumulates of one forward pass per example (matrix products only):
  // mlp Σ_i sizes[i]·sizes[i+1]; swiglu 3·d·h.
  [[nodiscard]] double macs_per_example() const;
  // Tensor names and shapes in a fixed order.
  [[nodiscard]] std::vector<std::pair<std::string, std::vector<std::int64_t>>> tensor_shapes()
      const;
  // {"kind": "mlp", "sizes": [...], "activation": "relu"}; from_json validates.
  [[nodiscard]] nlohmann::json to_json() const;
  static Architecture from_json(const nlohmann::json& j);
  // Compact text form "kind:size,size,...:activation", e.g. "mlp:784,64,10:silu",
  // "swiglu:4096,14336:silu"; parse validates and names the text on error.
  [[nodiscard]] std::string to_spec() const;
  static Architecture parse(std::string_view spec);
  friend bool operator==(const Architecture&, const Architecture&) = default;
};

[[nodiscard]] std::string to_string(Architecture::Kind kind);
[[nodiscard]] Architecture::Kind architecture_kind_from_string(std::string_view name);

// Values kept by a forward pass for the backward pass.
struct ForwardTrace {
  std::vector<Matrix> inputs;  // mlp: input of layer i
  std::vector<Matrix> pre;     // mlp: pre-activation of layer i (x·Wᵀ + b)
  SwigluTrace<float> swiglu;   // swiglu only
  Matrix x;                    // swiglu only
};

class Model {
 public:
  Architecture arch;
  TensorMap tensors;

  Model() = default;
  Model(Architecture a, TensorMap t) : arch(std::move(a)), tensors(std::move(t)) {}

  // Kaiming-uniform init: weights ~ U(-b, b) with b = √(6/fan_in) for layers followed by a
  // nonlinearity and √(3/fan_in) for the output layer / down projection; biases ~ U(-1/√fan_in,
  // ..).
  static Model init(const Architecture& arch, Rng& rng);

  // Rows are examples; the mlp returns logits.
  [[nodiscard]] Matrix forward(const Matrix& x) const;
  [[nodiscard]] Matrix forward(const Matrix& x, ForwardTrace* trace) const;
  // The same network evaluated in double precision (weights converted).
  [[nodiscard]] MatrixD forward(const MatrixD& x) const;

  // Given dL/d(output) for the trace's forward pass, adds dL/dθ into grads (entries created with
  // the tensor's shape when missing) and returns dL/dx when need_dx.
  Matrix backward(const ForwardTrace& trace, const Matrix& dout, TensorMap& grads,
                  bool need_dx = false) const;

  // InvalidArgument naming the tensor if one is missing, has the wrong shape or a non-finite
  // value, or if an unexpected tensor is present.
  void validate() const;

  // safetensors with metadata "wrsec.architecture" = arch.to_json().dump() (plus `metadata`).
  void to_safetensors(const std::filesystem::path& path,
                      const std::map<std::string, std::string>& metadata = {}) const;
  static Model from_safetensors(const std::filesystem::path& path);
  static Model from_safetensors(const std::filesystem::path& path,
                                std::map<std::string, std::string>* metadata);
  // The same from an open view (a mapped file or bytes in memory).
  static Model from_safetensors(const SafetensorsView& view,
                                std::map<std::string, std::string>* metadata = nullptr);
};

}  // namespace wrsec::nn
