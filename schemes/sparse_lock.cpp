#include "schemes/sparse_lock.h"

#include <algorithm>
#include <cmath>
#include <tuple>

#include "core/errors.h"
#include "definitions/artifact.h"
#include "definitions/sources.h"
#include "nn/layers.h"
#include "nn/model.h"
#include "nn/train.h"

namespace wrsec::schemes {
namespace {

using nn::Matrix;

std::string sparse_weight_name(std::int64_t i) {
  return "layers." + std::to_string(i) + ".weight";
}
std::string sparse_bias_name(std::int64_t i) {
  return "layers." + std::to_string(i) + ".bias";
}

// One changed weight: layer, row, column, and Δ = released − original.
struct SparseEntry {
  std::int64_t layer = 0;
  std::int64_t row = 0;
  std::int64_t col = 0;
  float delta = 0;
};

// ∂ mean CE(model(x), labels) / ∂ weights.
nn::TensorMap loss_gradient(const nn::Model& model, const Matrix& x, const nn::Labels& labels) {
  nn::ForwardTrace trace;
  const Matrix logits = model.forward(x, &trace);
  Matrix dlogits;
  (void)nn::softmax_cross_entropy<float>(logits, labels, &dlogits);
  nn::TensorMap grads;
  (void)model.backward(trace, dlogits, grads);
  return grads;
}

// The secret's entries, checked against the locked model's shapes.
std::vector<SparseEntry> read_entries(const definitions::OwnerSecret& secret,
                                      const nn::Model& locked) {
  if (locked.arch.kind != nn::Architecture::Kind::mlp)
    throw InvalidArgument("sparse_lock: the release is not an MLP (" + locked.arch.to_spec() + ")");
  const auto pos = secret.tensors.find("positions");
  const auto val = secret.tensors.find("original");
  if (pos == secret.tensors.end() || val == secret.tensors.end() || pos->second.rank() != 2 ||
      pos->second.shape[1] != 3 || val->second.numel() != pos->second.shape[0])
    throw InvalidArgument("sparse_lock: the secret holds no list of changed weights");
  const std::int64_t layers = static_cast<std::int64_t>(locked.arch.sizes.size()) - 1;
  std::vector<SparseEntry> entries(static_cast<std::size_t>(pos->second.shape[0]));
  for (std::size_t e = 0; e < entries.size(); ++e) {
    const auto field = [&](std::size_t f) {
      const float v = pos->second.data[3 * e + f];
      if (!(v >= 0) || v != std::floor(v) || v > 16'777'216.0F)
        throw InvalidArgument("sparse_lock: the secret's positions are malformed");
      return static_cast<std::int64_t>(v);
    };
    SparseEntry& s = entries[e];
    s.layer = field(0);
    s.row = field(1);
    s.col = field(2);
    if (s.layer >= layers || s.row >= locked.arch.sizes[static_cast<std::size_t>(s.layer) + 1] ||
        s.col >= locked.arch.sizes[static_cast<std::size_t>(s.layer)])
      throw InvalidArgument("sparse_lock: a secret position lies outside the model");
    const float released = locked.tensors.at(sparse_weight_name(s.layer)).matrix()(s.row, s.col);
    if (!std::isfinite(val->second.data[e]))
      throw InvalidArgument("sparse_lock: the secret holds a non-finite original value");
    s.delta = released - val->second.data[e];
  }
  std::vector<std::tuple<std::int64_t, std::int64_t, std::int64_t>> keys;
  for (const SparseEntry& s : entries) keys.emplace_back(s.layer, s.row, s.col);
  std::sort(keys.begin(), keys.end());
  if (std::adjacent_find(keys.begin(), keys.end()) != keys.end())
    throw InvalidArgument("sparse_lock: the secret lists a position twice");
  return entries;
}

class SparseLockTee final : public definitions::TeeDevice {
 public:
  SparseLockTee(nn::Model locked, std::vector<SparseEntry> entries)
      : locked_(std::move(locked)), entries_(std::move(entries)) {}

  Matrix host_view(const Matrix& x, Rng& coins) const override { return infer(x, coins); }

  Matrix infer(const Matrix& x, Rng& /*coins*/) const override {
    if (x.cols() != locked_.arch.input_size())
      throw InvalidArgument("sparse_lock TEE: input has " + std::to_string(x.cols()) +
                            " features, expected " + std::to_string(locked_.arch.input_size()));
    const auto layers = static_cast<std::int64_t>(locked_.arch.sizes.size()) - 1;
    Matrix a = x;
    Matrix z;
    for (std::int64_t i = 0; i < layers; ++i) {
      if (i > 0) a = nn::activation_forward<float>(locked_.arch.activation, z);
      z = nn::linear_forward<float>(a, locked_.tensors.at(sparse_weight_name(i)).matrix(),
                                    locked_.tensors.at(sparse_bias_name(i)).vector());
      for (const SparseEntry& e : entries_)  // the TEE's part: a·Δᵀ, k multiply-adds per row
        if (e.layer == i) z.col(e.row) -= e.delta * a.col(e.col);
    }
    return z;
  }

  double work_per_row() const override { return static_cast<double>(entries_.size()); }
  std::string mode() const override { return "sparse correction"; }

 private:
  nn::Model locked_;
  std::vector<SparseEntry> entries_;
};

}  // namespace

SparseLockParams SparseLockParams::from(const definitions::Params& params) {
  SparseLockParams p;
  p.k = params.get_int("k", p.k);
  p.rounds = params.get_int("rounds", p.rounds);
  p.samples = params.get_int("samples", p.samples);
  p.clamp = params.get_double("clamp", p.clamp);
  for (double v : params.get_doubles("layers", {})) {
    if (!(v >= 0) || v != std::floor(v) || v > 1e6)
      throw InvalidArgument("sparse_lock: layers must be layer indices >= 0");
    p.layers.push_back(static_cast<std::int64_t>(v));
  }
  p.validate();
  return p;
}

void SparseLockParams::validate() const {
  if (k < 1) throw InvalidArgument("sparse_lock: k must be >= 1");
  if (rounds < 1 || rounds > k) throw InvalidArgument("sparse_lock: rounds must lie in [1, k]");
  if (!(clamp > 0 && clamp <= 1)) throw InvalidArgument("sparse_lock: clamp must lie in (0, 1]");
  if (samples < 1 || samples > 100'000)
    throw InvalidArgument("sparse_lock: samples must lie in [1, 100000]");
  for (std::size_t i = 0; i < layers.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (layers[i] == layers[j]) throw InvalidArgument("sparse_lock: layers must not repeat");
}

SparseLock::SparseLock(SparseLockParams params) : params_(std::move(params)) {
  params_.validate();
}

definitions::Release SparseLock::release(const nn::Model& model, Rng& coins) const {
  if (model.arch.kind != nn::Architecture::Kind::mlp)
    throw InvalidArgument("sparse_lock: only MLP models are supported, got " +
                          model.arch.to_spec());
  model.validate();
  const auto n_layers = static_cast<std::int64_t>(model.arch.sizes.size()) - 1;
  std::vector<std::int64_t> layers = params_.layers;
  if (layers.empty())
    for (std::int64_t i = 0; i < n_layers; ++i) layers.push_back(i);
  std::sort(layers.begin(), layers.end());
  std::int64_t lockable = 0;
  for (std::int64_t l : layers) {
    if (l >= n_layers)
      throw InvalidArgument("sparse_lock: layer " + std::to_string(l) + " is out of range (" +
                            model.arch.to_spec() + " has " + std::to_string(n_layers) + ")");
    lockable += model.tensors.at(sparse_weight_name(l)).numel();
  }
  for (const std::int64_t width : model.arch.sizes)
    if (width > 16'777'216)  // positions are stored as float32, exact below 2^24
      throw InvalidArgument("sparse_lock: layers wider than 2^24 units are not supported");
  if (params_.k > lockable)
    throw InvalidArgument("sparse_lock: k = " + std::to_string(params_.k) + " exceeds the " +
                          std::to_string(lockable) + " lockable weights");

  // The owner's inputs, labelled by the model itself.
  Rng data_rng = coins.derive("data");
  const Matrix x = definitions::InputSource::default_for(model.arch, false)
                       .draw(params_.samples, model.arch.input_size(), data_rng);
  nn::Labels labels;
  {
    const Matrix logits = model.forward(x);
    labels.resize(static_cast<std::size_t>(logits.rows()));
    for (Eigen::Index r = 0; r < logits.rows(); ++r) {
      Eigen::Index best = 0;
      logits.row(r).maxCoeff(&best);
      labels[static_cast<std::size_t>(r)] = static_cast<std::int32_t>(best);
    }
  }
  std::vector<std::pair<float, float>> bounds;  // [lo, hi] per locked layer
  for (std::int64_t l : layers) {
    const auto w = model.tensors.at(sparse_weight_name(l)).matrix();
    const auto c = static_cast<float>(params_.clamp);
    bounds.emplace_back(c * w.minCoeff(), c * w.maxCoeff());
  }

  nn::Model locked = model;
  std::vector<std::tuple<std::int64_t, std::int64_t, std::int64_t>> chosen;  // (layer, row, col)
  std::vector<Eigen::Matrix<bool, Eigen::Dynamic, Eigen::Dynamic>> taken;
  for (std::int64_t l : layers) {
    const auto w = model.tensors.at(sparse_weight_name(l)).matrix();
    taken.emplace_back(
        Eigen::Matrix<bool, Eigen::Dynamic, Eigen::Dynamic>::Constant(w.rows(), w.cols(), false));
  }
  const auto target = [&](std::size_t li, float g) {
    return g > 0 ? bounds[li].second : bounds[li].first;
  };
  for (std::int64_t round = 0; round < params_.rounds; ++round) {
    const auto want = static_cast<std::size_t>(params_.k * (round + 1) / params_.rounds);
    const nn::TensorMap grads = loss_gradient(locked, x, labels);
    // (gain, layer ordinal, row, col): the largest gains first, ties in position order.
    std::vector<std::tuple<double, std::size_t, std::int64_t, std::int64_t>> gains;
    for (std::size_t li = 0; li < layers.size(); ++li) {
      const std::string name = sparse_weight_name(layers[li]);
      const auto g = grads.at(name).matrix();
      const auto w = locked.tensors.at(name).matrix();
      for (Eigen::Index c = 0; c < w.cols(); ++c)
        for (Eigen::Index r = 0; r < w.rows(); ++r)
          if (!taken[li](r, c)) {
            const double gain = static_cast<double>(g(r, c)) * (target(li, g(r, c)) - w(r, c));
            if (gain > 0) gains.emplace_back(-gain, li, r, c);
          }
    }
    const std::size_t need = std::min(want - chosen.size(), gains.size());
    std::partial_sort(gains.begin(), gains.begin() + static_cast<std::ptrdiff_t>(need),
                      gains.end());
    for (std::size_t e = 0; e < need; ++e) {
      const auto [neg_gain, li, r, c] = gains[e];
      const std::string name = sparse_weight_name(layers[li]);
      auto w = locked.tensors.at(name).matrix();
      w(r, c) = target(li, grads.at(name).matrix()(r, c));
      taken[li](r, c) = true;
      chosen.emplace_back(li, r, c);
    }
  }
  // Two passes of clamped ascent: each chosen weight moves to the bound its gradient favours.
  for (int pass = 0; pass < 2; ++pass) {
    const nn::TensorMap grads = loss_gradient(locked, x, labels);
    for (const auto& [li, r, c] : chosen) {
      const std::string name = sparse_weight_name(layers[static_cast<std::size_t>(li)]);
      const float g = grads.at(name).matrix()(r, c);
      if (g != 0) locked.tensors.at(name).matrix()(r, c) = target(static_cast<std::size_t>(li), g);
    }
  }
  // A weight the final passes moved back to its original value (an original extreme) changed
  // nothing: it leaves the secret, which lists exactly the changed weights.
  std::erase_if(chosen, [&](const auto& e) {
    const std::string name = sparse_weight_name(layers[std::get<0>(e)]);
    return locked.tensors.at(name).matrix()(std::get<1>(e), std::get<2>(e)) ==
           model.tensors.at(name).matrix()(std::get<1>(e), std::get<2>(e));
  });
  std::sort(chosen.begin(), chosen.end());
  definitions::Release rel;
  rel.artifact = definitions::model_artifact(locked, id());
  rel.artifact.metadata["k"] = params_.k;  // public: the parameter, not how many changed
  nn::Tensor positions({static_cast<std::int64_t>(chosen.size()), 3});
  nn::Tensor original({static_cast<std::int64_t>(chosen.size())});
  for (std::size_t e = 0; e < chosen.size(); ++e) {
    const auto& [li, r, c] = chosen[e];
    const std::int64_t l = layers[static_cast<std::size_t>(li)];
    positions.data[3 * e] = static_cast<float>(l);
    positions.data[3 * e + 1] = static_cast<float>(r);
    positions.data[3 * e + 2] = static_cast<float>(c);
    original.data[e] = model.tensors.at(sparse_weight_name(l)).matrix()(r, c);
  }
  rel.secret.tensors["positions"] = std::move(positions);
  rel.secret.tensors["original"] = std::move(original);
  return rel;
}

std::shared_ptr<const definitions::TeeDevice> SparseLock::provision_tee(
    const definitions::Release& release) const {
  nn::Model locked = definitions::artifact_model(release.artifact);
  std::vector<SparseEntry> entries = read_entries(release.secret, locked);
  return std::make_shared<const SparseLockTee>(std::move(locked), std::move(entries));
}

double SparseLock::infer_macs(const definitions::Artifact& artifact) const {
  const auto arch = definitions::artifact_architecture(artifact);
  if (arch.kind != nn::Architecture::Kind::mlp)
    throw InvalidArgument("sparse_lock: the release is not an MLP (" + arch.to_spec() + ")");
  return arch.macs_per_example();
}

nn::TensorMap SparseLock::hidden_mask(const nn::Model& original,
                                      const definitions::Release& release) const {
  nn::TensorMap mask;
  for (const auto& [name, t] : original.tensors) {
    nn::Tensor m(t.shape);
    std::fill(m.data.begin(), m.data.end(), 0.0F);
    mask[name] = std::move(m);
  }
  for (const SparseEntry& e :
       read_entries(release.secret, definitions::artifact_model(release.artifact)))
    mask.at(sparse_weight_name(e.layer)).matrix()(e.row, e.col) = 1.0F;
  return mask;
}

}  // namespace wrsec::schemes
