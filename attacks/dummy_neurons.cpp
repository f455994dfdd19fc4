#include "attacks/dummy_neurons.h"

#include <cmath>
#include <vector>

#include "attacks/permute.h"
#include "core/errors.h"

namespace wrsec::attacks {

namespace {

std::size_t at(std::int64_t i) {
  return static_cast<std::size_t>(i);
}

// One hidden layer: the tensors whose rows are its units, its bias (mlp only) and the tensor
// whose columns are its units.
struct HiddenLayer {
  std::vector<nn::Tensor*> incoming;
  std::vector<double> sigma_in;  // per incoming tensor
  nn::Tensor* bias = nullptr;
  nn::Tensor* outgoing = nullptr;
  double sigma_out = 0.0;
};

// Appends k zero rows to a [n, c] matrix or k zeros to a vector.
void grow_rows(nn::Tensor& t, std::int64_t k) {
  t.shape[0] += k;
  t.data.resize(at(nn::checked_numel(t.shape)), 0.0f);
}

// Appends k zero columns to a [m, n] matrix.
void grow_cols(nn::Tensor& t, std::int64_t k) {
  const std::int64_t m = t.shape[0], n = t.shape[1];
  AlignedVector<float> out(at(m * (n + k)), 0.0f);
  for (std::int64_t r = 0; r < m; ++r)
    for (std::int64_t c = 0; c < n; ++c) out[at(r * (n + k) + c)] = t.data[at(r * n + c)];
  t.shape[1] = n + k;
  t.data = std::move(out);
}

// Adds k units after the n existing ones (before the permutation).
void add_units(HiddenLayer& layer, std::int64_t n, std::int64_t k, bool clique, double jitter,
               Rng& coins) {
  for (nn::Tensor* t : layer.incoming) grow_rows(*t, k);
  if (layer.bias != nullptr) grow_rows(*layer.bias, k);
  grow_cols(*layer.outgoing, k);
  Rng units = coins.derive("units");
  Rng values = coins.derive("values");
  Rng noise = coins.derive("jitter");
  nn::Tensor& out = *layer.outgoing;
  const std::int64_t m = out.shape[0], width = n + k;
  const auto out_at = [&](std::int64_t r, std::int64_t c) -> float& {
    return out.data[at(r * width + c)];
  };
  if (!clique) {
    for (std::int64_t j = 0; j < k; ++j) {
      const auto i = static_cast<std::int64_t>(units.below(static_cast<std::uint64_t>(n)));
      for (std::size_t s = 0; s < layer.incoming.size(); ++s) {
        nn::Tensor* t = layer.incoming[s];
        const std::int64_t cols = t->shape[1];
        for (std::int64_t c = 0; c < cols; ++c) {
          float v = t->data[at(i * cols + c)];
          if (jitter > 0) v += static_cast<float>(jitter * layer.sigma_in[s] * noise.normal());
          t->data[at((n + j) * cols + c)] = v;
        }
      }
      if (layer.bias != nullptr) layer.bias->data[at(n + j)] = layer.bias->data[at(i)];
      for (std::int64_t r = 0; r < m; ++r) {
        const auto share = static_cast<float>(layer.sigma_out * values.normal());
        out_at(r, n + j) = share;
        out_at(r, i) -= share;
      }
    }
    return;
  }
  for (std::size_t s = 0; s < layer.incoming.size(); ++s) {
    nn::Tensor& t = *layer.incoming[s];
    const std::int64_t cols = t.shape[1];
    for (std::int64_t c = 0; c < cols; ++c) {
      const auto v = static_cast<float>(layer.sigma_in[s] * values.normal());
      for (std::int64_t j = 0; j < k; ++j) t.data[at((n + j) * cols + c)] = v;
    }
  }
  for (std::int64_t r = 0; r < m; ++r) {
    double sum = 0.0;
    for (std::int64_t j = 0; j + 1 < k; ++j) {
      const auto v = static_cast<float>(layer.sigma_out * values.normal());
      out_at(r, n + j) = v;
      sum += double(v);
    }
    out_at(r, n + k - 1) = static_cast<float>(-sum);
  }
}

}  // namespace

DummyNeuronsParams DummyNeuronsParams::from(const definitions::Params& params) {
  DummyNeuronsParams p;
  p.kind = params.get_string("kind", p.kind);
  p.count = params.get_int("count", p.count);
  p.jitter = params.get_double("jitter", p.jitter);
  p.validate();
  return p;
}

void DummyNeuronsParams::validate() const {
  if (kind != "split" && kind != "clique")
    throw InvalidArgument("dummy_neurons: kind must be split or clique, got '" + kind + "'");
  if (count < 1 || count > 100000)
    throw InvalidArgument("dummy_neurons: count must lie in [1, 100000]");
  if (kind == "clique" && count < 2)
    throw InvalidArgument("dummy_neurons: count must be >= 2 for kind=clique");
  if (!(jitter >= 0.0 && jitter <= 10.0))
    throw InvalidArgument("dummy_neurons: jitter must lie in [0, 10]");
  if (jitter > 0.0 && kind != "split")
    throw InvalidArgument("dummy_neurons: jitter applies to kind=split only");
}

nn::Model DummyNeurons::remove(const nn::Model& marked,
                               const definitions::RemovalContext& /*context*/, Rng& coins) const {
  marked.validate();
  nn::Model out = marked;
  const bool clique = params_.kind == "clique";
  const std::int64_t k = params_.count;
  const auto sigma = [&](const std::string& name) {
    return nn::population_std(marked.tensors.at(name).data);
  };
  if (out.arch.kind == nn::Architecture::Kind::swiglu) {
    const std::string gate = "mlp.gate_proj.weight", up = "mlp.up_proj.weight",
                      down = "mlp.down_proj.weight";
    HiddenLayer layer;
    layer.incoming = {&out.tensors.at(gate), &out.tensors.at(up)};
    layer.sigma_in = {sigma(gate), sigma(up)};
    layer.outgoing = &out.tensors.at(down);
    layer.sigma_out = sigma(down);
    Rng r = coins.derive("hidden");
    const std::int64_t n = out.arch.sizes[1];
    add_units(layer, n, k, clique, params_.jitter, r);
    out.arch.sizes[1] = n + k;
    Rng perm = r.derive("permutation");
    permute_hidden_units(out, 0, random_permutation(n + k, perm));
  } else {
    for (std::size_t l = 0; l + 2 < out.arch.sizes.size(); ++l) {
      const std::string w = "layers." + std::to_string(l) + ".weight";
      const std::string b = "layers." + std::to_string(l) + ".bias";
      const std::string next = "layers." + std::to_string(l + 1) + ".weight";
      HiddenLayer layer;
      layer.incoming = {&out.tensors.at(w)};
      layer.sigma_in = {sigma(w)};
      layer.bias = &out.tensors.at(b);
      layer.outgoing = &out.tensors.at(next);
      layer.sigma_out = sigma(next);
      Rng r = coins.derive("layers." + std::to_string(l));
      const std::int64_t n = out.arch.sizes[l + 1];
      add_units(layer, n, k, clique, params_.jitter, r);
      out.arch.sizes[l + 1] = n + k;
      Rng perm = r.derive("permutation");
      permute_hidden_units(out, l, random_permutation(n + k, perm));
    }
  }
  out.arch.validate();
  out.validate();
  return out;
}

}  // namespace wrsec::attacks
