#include "attacks/permute.h"

#include <utility>

#include "core/errors.h"

namespace wrsec::attacks {

namespace {

std::size_t at(std::int64_t i) {
  return static_cast<std::size_t>(i);
}

// Rows of a [rows, cols] tensor (or entries of a vector): new row k = old row perm[k].
void permute_rows(nn::Tensor& t, const std::vector<std::int64_t>& perm) {
  const std::int64_t cols = t.rank() == 2 ? t.shape[1] : 1;
  AlignedVector<float> out(t.data.size());
  for (std::size_t k = 0; k < perm.size(); ++k)
    for (std::int64_t c = 0; c < cols; ++c)
      out[k * at(cols) + at(c)] = t.data[at(perm[k] * cols + c)];
  t.data = std::move(out);
}

// Columns of a [rows, cols] tensor: new column k = old column perm[k].
void permute_cols(nn::Tensor& t, const std::vector<std::int64_t>& perm) {
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
  std::vector<bool> seen(at(n), false);
  for (const std::int64_t p : perm) {
    if (p < 0 || p >= n || seen[at(p)])
      throw InvalidArgument("permute: not a permutation of [0, " + std::to_string(n) + ")");
    seen[at(p)] = true;
  }
}

}  // namespace

std::vector<std::int64_t> random_permutation(std::int64_t n, Rng& rng) {
  std::vector<std::int64_t> p(at(n));
  for (std::int64_t i = 0; i < n; ++i) p[at(i)] = i;
  for (std::int64_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(i + 1)));
    std::swap(p[at(i)], p[at(j)]);
  }
  return p;
}

void permute_hidden_units(nn::Model& model, std::size_t layer,
                          const std::vector<std::int64_t>& perm) {
  if (model.arch.kind == nn::Architecture::Kind::swiglu) {
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

nn::Model Permute::remove(const nn::Model& marked, const definitions::RemovalContext& /*context*/,
                          Rng& coins) const {
  marked.validate();
  nn::Model out = marked;
  if (out.arch.kind == nn::Architecture::Kind::swiglu) {
    Rng r = coins.derive("hidden");
    permute_hidden_units(out, 0, random_permutation(out.arch.sizes[1], r));
  } else {
    for (std::size_t l = 0; l + 2 < out.arch.sizes.size(); ++l) {
      Rng r = coins.derive("layers." + std::to_string(l));
      permute_hidden_units(out, l, random_permutation(out.arch.sizes[l + 1], r));
    }
  }
  out.validate();
  return out;
}

}  // namespace wrsec::attacks
