#include "experiments/wild_suspect.h"

#include <cmath>
#include <functional>
#include <map>
#include <set>

#include "core/errors.h"
#include "nn/align.h"

namespace wrsec::experiments {
namespace {

using Index = std::int64_t;

struct Candidate {
  std::string name;
  nn::Tensor tensor;
  nn::DType dtype;
};

struct Chain {
  std::vector<const Candidate*> weights, biases;
  std::vector<bool> transposed;
};

std::string suspect_weight_name(std::size_t i) {
  return "layers." + std::to_string(i) + ".weight";
}
std::string suspect_bias_name(std::size_t i) {
  return "layers." + std::to_string(i) + ".bias";
}

nn::Model chain_model(const Chain& c, const nn::Model& reference) {
  nn::Model m;
  m.arch = reference.arch;
  m.arch.sizes.assign(1, reference.arch.sizes.front());
  for (std::size_t i = 0; i < c.weights.size(); ++i) {
    const nn::Tensor& w = c.weights[i]->tensor;
    const Index rows = w.shape[0], cols = w.shape[1];
    nn::Tensor out(c.transposed[i] ? std::vector<Index>{cols, rows} : w.shape);
    if (c.transposed[i]) {
      for (Index r = 0; r < rows; ++r)
        for (Index k = 0; k < cols; ++k)
          out.data[static_cast<std::size_t>(k * rows + r)] =
              w.data[static_cast<std::size_t>(r * cols + k)];
    } else {
      out.data = w.data;
    }
    m.arch.sizes.push_back(out.shape[0]);
    m.tensors.emplace(suspect_weight_name(i), std::move(out));
    m.tensors.emplace(suspect_bias_name(i), c.biases[i]->tensor);
  }
  return m;
}

// Mean cosine of matching rows of two [n, k] matrices (the output layer: rows are the classes).
double row_cosine(const nn::Tensor& a, const nn::Tensor& b) {
  const Index n = a.shape[0], k = a.shape[1];
  double sum = 0;
  for (Index r = 0; r < n; ++r) {
    double ab = 0, aa = 0, bb = 0;
    for (Index j = 0; j < k; ++j) {
      const double x = a.data[static_cast<std::size_t>(r * k + j)];
      const double y = b.data[static_cast<std::size_t>(r * k + j)];
      ab += x * y;
      aa += x * x;
      bb += y * y;
    }
    sum += aa > 0 && bb > 0 ? ab / std::sqrt(aa * bb) : 0.0;
  }
  return n > 0 ? sum / double(n) : 0.0;
}

std::string describe(const Chain& c) {
  std::string s;
  for (std::size_t i = 0; i < c.weights.size(); ++i)
    s += (i ? ", " : "") + c.weights[i]->name + (c.transposed[i] ? "ᵀ" : "") + " + " +
         c.biases[i]->name;
  return s;
}

}  // namespace

nlohmann::json SuspectMapping::to_json() const {
  nlohmann::json layers_json = nlohmann::json::array();
  for (std::size_t i = 0; i < layers.size(); ++i)
    layers_json.push_back({{"layer", "layers." + std::to_string(i)},
                           {"weight", layers[i].weight},
                           {"bias", layers[i].bias},
                           {"transposed", layers[i].transposed},
                           {"dtype", i < dtypes.size() ? dtypes[i] : ""},
                           {"cosine", layers[i].cosine}});
  return {{"layers", layers_json},
          {"score", score},
          {"runner_up", runner_up},
          {"margin", runner_up < 0 ? score : score - runner_up},
          {"chains", chains}};
}

SuspectMapping map_suspect(const nn::SafetensorsView& file, const nn::Model& reference,
                           double min_margin, std::size_t max_chains) {
  reference.validate();
  if (reference.arch.kind != nn::Architecture::Kind::mlp)
    throw InvalidArgument("mapping a suspect file needs an MLP reference model");
  const std::size_t depth = reference.arch.sizes.size() - 1;
  const Index input = reference.arch.sizes.front(), output = reference.arch.sizes.back();
  std::vector<Candidate> matrices, vectors;
  for (const std::string& name : file.names()) {
    const nn::TensorInfo& info = file.info(name);
    if (info.dtype != nn::DType::f32 && info.dtype != nn::DType::f16 &&
        info.dtype != nn::DType::bf16 && info.dtype != nn::DType::f64)
      continue;
    if (info.shape.size() == 2 && info.numel() > 0)
      matrices.push_back({name, file.load(name), info.dtype});
    else if (info.shape.size() == 1 && info.numel() > 0)
      vectors.push_back({name, file.load(name), info.dtype});
  }
  std::map<std::string, const Candidate*> vector_by_name;
  for (const auto& v : vectors) vector_by_name[v.name] = &v;

  // Every chain of weights (and biases) that connects input to output through `depth` layers.
  std::vector<Chain> chains;
  Chain current;
  std::set<const Candidate*> used;
  std::function<void(std::size_t, Index)> extend = [&](std::size_t layer, Index in) {
    if (chains.size() > max_chains) return;
    if (layer == depth) {
      chains.push_back(current);
      return;
    }
    for (const auto& w : matrices) {
      if (used.count(&w)) continue;
      const Index rows = w.tensor.shape[0], cols = w.tensor.shape[1];
      std::vector<bool> orientations;  // false: stored [out, in]; true: stored transposed
      if (cols == in) orientations.push_back(false);
      if (rows == in) orientations.push_back(true);  // a square matrix is tried both ways
      for (const bool flip : orientations) {
        const Index w_out = flip ? cols : rows;
        if (layer + 1 == depth && w_out != output) continue;
        std::vector<const Candidate*> biases;
        const auto at = w.name.rfind("weight");
        const std::string paired =
            at == std::string::npos ? "" : w.name.substr(0, at) + "bias" + w.name.substr(at + 6);
        const auto it = vector_by_name.find(paired);
        if (it != vector_by_name.end() && it->second->tensor.shape[0] == w_out) {
          biases.push_back(it->second);
        } else {
          for (const auto& v : vectors)
            if (v.tensor.shape[0] == w_out) biases.push_back(&v);
        }
        for (const Candidate* bias : biases) {
          if (used.count(bias)) continue;
          used.insert(&w);
          used.insert(bias);
          current.weights.push_back(&w);
          current.biases.push_back(bias);
          current.transposed.push_back(flip);
          extend(layer + 1, w_out);
          current.weights.pop_back();
          current.biases.pop_back();
          current.transposed.pop_back();
          used.erase(&w);
          used.erase(bias);
        }
      }
    }
  };
  extend(0, input);
  if (chains.empty())
    throw InvalidArgument(file.path().string() + ": no chain of " + std::to_string(depth) +
                          " weight matrices (with biases) connects " + std::to_string(input) +
                          " inputs to " + std::to_string(output) +
                          " outputs like the owner's model");
  if (chains.size() > max_chains)
    throw InvalidArgument(file.path().string() + ": more than " + std::to_string(max_chains) +
                          " tensor chains fit the owner's model; the mapping is not unique");

  SuspectMapping best;
  best.chains = chains.size();
  std::string best_text, runner_text;
  double best_score = -2, runner = -2;
  for (const Chain& c : chains) {
    nn::Model m = chain_model(c, reference);
    std::vector<double> cosines;
    try {
      m.validate();
      const nn::Alignment a = nn::align_to_reference(m, reference);
      for (const auto& l : a.layers) cosines.push_back(l.mean_cosine);
      const std::string last = suspect_weight_name(depth - 1);
      cosines.push_back(row_cosine(a.model.tensors.at(last), reference.tensors.at(last)));
    } catch (const InvalidArgument&) {
      continue;  // e.g. a non-finite value: not this chain
    }
    double score = 0;
    for (const double x : cosines) score += x;
    score /= double(cosines.size());
    if (score > best_score) {
      runner = best_score;
      runner_text = best_text;
      best_score = score;
      best_text = describe(c);
      best.model = std::move(m);
      best.layers.clear();
      best.dtypes.clear();
      for (std::size_t i = 0; i < depth; ++i) {
        best.layers.push_back({c.weights[i]->name, c.biases[i]->name, c.transposed[i], cosines[i]});
        best.dtypes.push_back(nn::to_string(c.weights[i]->dtype));
      }
    } else if (score > runner) {
      runner = score;
      runner_text = describe(c);
    }
  }
  if (best_score < -1)
    throw InvalidArgument(file.path().string() +
                          ": no tensor chain is a valid model (non-finite "
                          "values)");
  best.score = best_score;
  best.runner_up = runner < -1 ? -1 : runner;
  if (runner >= -1 && best_score - runner < min_margin)
    throw InvalidArgument(
        file.path().string() + ": the mapping to the owner's model is not unique: " + best_text +
        " (score " + std::to_string(best_score) + ") and " + runner_text + " (score " +
        std::to_string(runner) + ") differ by less than " + std::to_string(min_margin));
  return best;
}

}  // namespace wrsec::experiments
