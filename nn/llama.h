#pragma once
// Llama checkpoint names -> wrsec's SwiGLU MLP block.
//   model.layers.{i}.mlp.gate_proj.weight  [hidden, d_model]  -> mlp.gate_proj.weight
//   model.layers.{i}.mlp.up_proj.weight    [hidden, d_model]  -> mlp.up_proj.weight
//   model.layers.{i}.mlp.down_proj.weight  [d_model, hidden]  -> mlp.down_proj.weight
// Shapes are checked before any data is loaded; a missing tensor or a mismatched shape throws
// InvalidArgument naming the layer.
#include <string>
#include <vector>

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

}  // namespace wrsec::nn
