#include "nn/llama.h"

#include <array>
#include <cmath>
#include <map>
#include <optional>
#include <set>

#include "core/errors.h"

namespace wrsec::nn {
namespace {

constexpr std::array<const char*, 3> kProjections = {"gate", "up", "down"};

std::string shape_text(const std::vector<std::int64_t>& shape) {
  Tensor t;
  t.shape = shape;
  return t.shape_string();
}

// Checks gate = up = [hidden, d_model] and down = [d_model, hidden].
void check_shapes(int layer, const std::string& source, const std::vector<std::int64_t>& gate,
                  const std::vector<std::int64_t>& up, const std::vector<std::int64_t>& down) {
  const std::string where = "llama layer " + std::to_string(layer) + " in " + source + ": ";
  if (gate.size() != 2)
    throw InvalidArgument(where + "gate_proj.weight has shape " + shape_text(gate) +
                          ", expected a matrix [hidden, d_model]");
  if (up != gate)
    throw InvalidArgument(where + "up_proj.weight has shape " + shape_text(up) +
                          " but gate_proj.weight has shape " + shape_text(gate));
  const std::vector<std::int64_t> expected = {gate[1], gate[0]};
  if (down != expected)
    throw InvalidArgument(where + "down_proj.weight has shape " + shape_text(down) + ", expected " +
                          shape_text(expected) + " (the transpose of gate_proj.weight)");
}

void check_layer_index(int layer) {
  if (layer < 0) throw InvalidArgument("llama layer index " + std::to_string(layer) + " < 0");
}

// Layer index of "model.layers.{i}.mlp.{gate,up,down}_proj.weight", else nullopt.
std::optional<std::pair<int, std::string>> parse_mlp_name(const std::string& name) {
  static const std::string kPrefix = "model.layers.";
  if (name.rfind(kPrefix, 0) != 0) return std::nullopt;
  std::size_t pos = kPrefix.size();
  long long layer = 0;
  const std::size_t digits_begin = pos;
  while (pos < name.size() && name[pos] >= '0' && name[pos] <= '9') {
    layer = layer * 10 + (name[pos] - '0');
    if (layer > 1'000'000'000) return std::nullopt;
    ++pos;
  }
  if (pos == digits_begin) return std::nullopt;
  if (name[digits_begin] == '0' && pos - digits_begin > 1) return std::nullopt;  // "007"
  const std::string rest = name.substr(pos);
  for (const char* proj : kProjections)
    if (rest == std::string(".mlp.") + proj + "_proj.weight")
      return std::pair(static_cast<int>(layer), std::string(proj));
  return std::nullopt;
}

std::vector<int> complete_layers(const std::vector<std::string>& names) {
  std::map<int, std::set<std::string>> found;
  for (const auto& name : names)
    if (auto parsed = parse_mlp_name(name)) found[parsed->first].insert(parsed->second);
  std::vector<int> layers;
  for (const auto& [layer, projs] : found)
    if (projs.size() == kProjections.size()) layers.push_back(layer);
  return layers;
}

}  // namespace

std::string llama_mlp_name(int layer, const std::string& proj) {
  return "model.layers." + std::to_string(layer) + ".mlp." + proj + "_proj.weight";
}

TensorMap llama_mlp_block(const SafetensorsView& view, int layer) {
  check_layer_index(layer);
  const std::string source = "'" + view.path().string() + "'";
  std::array<const TensorInfo*, 3> infos{};
  for (std::size_t i = 0; i < kProjections.size(); ++i) {
    const std::string name = llama_mlp_name(layer, kProjections[i]);
    if (!view.contains(name))
      throw InvalidArgument("llama layer " + std::to_string(layer) + " in " + source +
                            ": missing tensor '" + name + "'");
    infos[i] = &view.info(name);
  }
  check_shapes(layer, source, infos[0]->shape, infos[1]->shape, infos[2]->shape);
  TensorMap out;
  for (const char* proj : kProjections)
    out.emplace(std::string("mlp.") + proj + "_proj.weight",
                view.load(llama_mlp_name(layer, proj)));
  return out;
}

TensorMap llama_mlp_block(const TensorMap& tensors, int layer) {
  check_layer_index(layer);
  std::array<const Tensor*, 3> found{};
  for (std::size_t i = 0; i < kProjections.size(); ++i) {
    const std::string name = llama_mlp_name(layer, kProjections[i]);
    const auto it = tensors.find(name);
    if (it == tensors.end())
      throw InvalidArgument("llama layer " + std::to_string(layer) +
                            " in tensor map: missing tensor '" + name + "'");
    found[i] = &it->second;
  }
  check_shapes(layer, "tensor map", found[0]->shape, found[1]->shape, found[2]->shape);
  TensorMap out;
  for (std::size_t i = 0; i < kProjections.size(); ++i)
    out.emplace(std::string("mlp.") + kProjections[i] + "_proj.weight", *found[i]);
  return out;
}

std::vector<int> llama_layers(const SafetensorsView& view) {
  return complete_layers(view.names());
}

std::vector<int> llama_layers(const TensorMap& tensors) {
  std::vector<std::string> names;
  names.reserve(tensors.size());
  for (const auto& [name, tensor] : tensors) names.push_back(name);
  return complete_layers(names);
}

Model synthetic_llama_block(std::int64_t d_model, std::int64_t d_hidden, Rng& rng,
                            Activation activation) {
  const Architecture arch{Architecture::Kind::swiglu, {d_model, d_hidden}, activation};
  arch.validate();
  Model m;
  m.arch = arch;
  const auto fill = [&](const std::string& name, std::vector<std::int64_t> shape, bool row_scale) {
    Tensor t(std::move(shape));
    const std::int64_t rows = t.shape[0], cols = t.shape[1];
    const Rng matrix_rng = rng.derive(name);
#pragma omp parallel for schedule(static)
    for (std::int64_t r = 0; r < rows; ++r) {
      Rng row_rng = matrix_rng.derive(static_cast<std::uint64_t>(r));
      const double scale = 0.02 * (row_scale ? std::exp(0.25 * row_rng.normal()) : 1.0);
      float* row = t.data.data() + r * cols;
      for (std::int64_t c = 0; c < cols; ++c) row[c] = static_cast<float>(scale * row_rng.normal());
    }
    m.tensors.emplace(name, std::move(t));
  };
  fill("mlp.gate_proj.weight", {d_hidden, d_model}, true);
  fill("mlp.up_proj.weight", {d_hidden, d_model}, false);
  fill("mlp.down_proj.weight", {d_model, d_hidden}, false);
  return m;
}

}  // namespace wrsec::nn
