#pragma once
// Llama checkpoint names -> wrsec's SwiGLU MLP block.
//   model.layers.{i}.mlp.gate_proj.weight  [hidden, d_model]  -> mlp.gate_proj.weight
//   model.layers.{i}.mlp.up_proj.weight    [hidden, d_model]  -> mlp.up_proj.weight
//   model.layers.{i}.mlp.down_proj.weight  [d_model, hidden]  -> mlp.down_proj.weight
// Shapes are checked before any data is loaded; a missing tensor or a mismatched shape throws
// InvalidArgument naming the layer.
#include <string>
#include <vector>

#include "core/rng.h"
#include "nn/model.h"
#include "nn/safetensors.h"
#include "nn/tensor.h"

namespace wrsec::nn {

// "model.layers.{layer}.mlp.{proj}_proj.weight" for proj in {"gate", "up", "down"}.
std::string llama_mlp_name(int layer, const std::string& proj);

// The three MLP weights of `layer`, renamed to mlp.{gate,up,down}_proj.weight, as float32.
TensorMap llama_mlp_block(const SafetensorsView& view, int layer);
TensorMap llama_mlp_block(const TensorMap& tensors, int layer);

// Ascending layer indices whose three MLP weights are all present. A layer whose weights are
// split across shards is listed by none of them.
std::vector<int> llama_layers(const SafetensorsView& view);
std::vector<int> llama_layers(const TensorMap& tensors);

// A Llama-like gated MLP block [d, h] with realistic scales, drawn from rng (row r of each matrix
// from rng.derive(matrix, r), so the result is identical for any thread count):
//   W_up, W_down entries ~ N(0, 0.02²); W_gate row j ~ N(0, (0.02·e^{0.25·ξ_j})²), ξ_j ~ N(0, 1),
//   so per-unit pre-activation ranges vary as in trained models (selection by gap matters).
// On inputs x ~ N(0, 0.25²·I), the gate pre-activations of d = 4096 have std ≈ 0.3, whose range
// over a few hundred samples (≈ 2) matches the gaps the official TaylorMLP code reports for
// Llama-3-8B's early layers.
Model synthetic_llama_block(std::int64_t d_model, std::int64_t d_hidden, Rng& rng,
                            Activation activation = Activation::silu);

}  // namespace wrsec::nn
