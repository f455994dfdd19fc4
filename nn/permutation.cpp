#include "nn/permutation.h"

#include <string>
#include <utility>

#include "core/errors.h"

namespace wrsec::nn {

namespace {

std::size_t perm_index(std::int64_t i) {
  return static_cast<std::size_t>(i);
}

// Rows of a [rows, cols] tensor (or entries of a vector): new row k = old row perm[k].
void permute_rows(Tensor& t, const std::vector<std::int64_t>& perm) {
  const std::int64_t cols = t.rank() == 2 ? t.shape[1] : 1;
  AlignedVector<float> out(t.data.size());
  for (std::size_t k = 0; k < perm.size(); ++k)
    for (std::int64_t c = 0; c < cols; ++c)
      out[k * perm_index(cols) + perm_index(c)] = t.data[perm_index(perm[k] * cols + c)];
  t.data = std::move(out);
}

// Columns of a [rows, cols] tensor: new column k = old column perm[k].
void permute_cols(Tensor& t, const std::vector<std::int64_t>& perm) {
  const std::int64_t rows = t.shape[0], cols = t.shape[1];
  AlignedVector<float> out(t.data.size());
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* src = t.data.data() + r * cols;
    float* dst = out.data() + r * cols;
    for (std::size_t k = 0; k < perm.size(); ++k) dst[k] = src[perm[k]];
  }
  t.data = std::move(out);
}

void check_permutation(const std::vector<std::int64_t>& perm, std::int64_t n) {
  if (static_cast<std::int64_t>(perm.size()) != n)
    throw InvalidArgument("permute: permutation has " + std::to_string(perm.size()) +
                          " entries, the layer has " + std::to_string(n) + " units");
  std::vector<bool> seen(perm_index(n), false);
  for (const std::int64_t p : perm) {
    if (p < 0 || p >= n || seen[perm_index(p)])
      throw InvalidArgument("permute: not a permutation of [0, " + std::to_string(n) + ")");
    seen[perm_index(p)] = true;
  }
}

}  // namespace

std::vector<std::int64_t> random_permutation(std::int64_t n, Rng& rng) {
  std::vector<std::int64_t> p(perm_index(n));
  for (std::int64_t i = 0; i < n; ++i) p[perm_index(i)] = i;
  for (std::int64_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(i + 1)));
    std::swap(p[perm_index(i)], p[perm_index(j)]);
  }
  return p;
}

void permute_hidden_units(Model& model, std::size_t layer, const std::vector<std::int64_t>& perm) {
  if (model.arch.kind == Architecture::Kind::swiglu) {
    if (layer != 0) throw InvalidArgument("permute: a swiglu block has one hidden layer (0)");
    check_permutation(perm, model.arch.sizes[1]);
    permute_rows(model.tensors.at("mlp.gate_proj.weight"), perm);
    permute_rows(model.tensors.at("mlp.up_proj.weight"), perm);
    permute_cols(model.tensors.at("mlp.down_proj.weight"), perm);
    return;
  }
  if (layer + 2 >= model.arch.sizes.size())
    throw InvalidArgument("permute: the mlp has no hidden layer " + std::to_string(layer));
  check_permutation(perm, model.arch.sizes[layer + 1]);
  const std::string l = "layers." + std::to_string(layer) + ".";
  const std::string next = "layers." + std::to_string(layer + 1) + ".";
  permute_rows(model.tensors.at(l + "weight"), perm);
  permute_rows(model.tensors.at(l + "bias"), perm);
  permute_cols(model.tensors.at(next + "weight"), perm);
}

}  // namespace wrsec::nn
