#include "nn/zoo.h"

#include <cstdio>
#include <sstream>

#include "core/errors.h"
#include "core/rng.h"
#include "nn/fashion_mnist.h"
#include "nn/metrics.h"
#include "nn/numerics.h"

#ifndef WRSEC_VERSION
#define WRSEC_VERSION "unknown"
#endif

namespace wrsec::nn {
namespace {

std::string format_double(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6f", v);
  return buf;
}

bool cache_matches(const std::map<std::string, std::string>& meta, const std::string& name,
                   std::uint64_t seed) {
  const auto get = [&](const char* key) {
    const auto it = meta.find(key);
    return it == meta.end() ? std::string() : it->second;
  };
  return get("wrsec.zoo.name") == name && get("wrsec.seed") == std::to_string(seed) &&
         get("wrsec.zoo.recipe") == std::to_string(kZooRecipeVersion) &&
         get("wrsec.numerics") == numerics_id();
}

}  // namespace

std::vector<std::string> zoo_names() {
  return {"mlp_784_256_256_10_relu", "mlp_784_256_256_10_gelu", "mlp_784_64_10_relu"};
}

Architecture zoo_architecture(const std::string& name) {
  const auto bad = [&] {
    return InvalidArgument("malformed zoo model name '" + name +
                           "' (expected mlp_<sizes>_<activation>, e.g. mlp_784_256_256_10_relu)");
  };
  if (!name.starts_with("mlp_")) throw bad();
  std::vector<std::string> parts;
  std::stringstream ss(name.substr(4));
  for (std::string part; std::getline(ss, part, '_');) parts.push_back(part);
  // gelu_tanh contains an underscore.
  std::string act;
  if (parts.size() >= 2 && parts[parts.size() - 2] == "gelu" && parts.back() == "tanh") {
    act = "gelu_tanh";
    parts.resize(parts.size() - 2);
  } else if (!parts.empty()) {
    act = parts.back();
    parts.pop_back();
  }
  Architecture a;
  a.kind = Architecture::Kind::mlp;
  a.activation = activation_from_string(act);
  for (const auto& p : parts) {
    if (p.empty() || p.size() > 9 || p.find_first_not_of("0123456789") != std::string::npos)
      throw bad();
    a.sizes.push_back(std::stoll(p));
  }
  if (a.sizes.size() < 2) throw bad();
  a.validate();
  return a;
}

TrainConfig zoo_config(const std::string& name) {
  const Architecture a = zoo_architecture(name);
  TrainConfig c;
  c.optimizer = Optimizer::adam;
  c.learning_rate = 1e-3;
  c.batch_size = 128;
  std::int64_t params = 0;
  for (std::size_t i = 0; i + 1 < a.sizes.size(); ++i) params += a.sizes[i] * a.sizes[i + 1];
  c.schedule = LrSchedule::cosine;
  c.epochs = params > 100000 ? 10 : 4;
  return c;
}

std::filesystem::path zoo_path(const std::string& name, std::uint64_t seed,
                               const std::filesystem::path& cache_dir) {
  return cache_dir / (name + "-seed" + std::to_string(seed) + ".safetensors");
}

ZooModel train_or_load(const std::string& name, std::uint64_t seed,
                       const std::filesystem::path& cache_dir,
                       const std::filesystem::path& data_dir) {
  const Architecture arch = zoo_architecture(name);
  const auto path = zoo_path(name, seed, cache_dir);
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    ZooModel z;
    z.model = Model::from_safetensors(path, &z.metadata);
    if (z.model.arch == arch && cache_matches(z.metadata, name, seed)) {
      z.from_cache = true;
      return z;
    }
  }

  const auto data = load_fashion_mnist(data_dir);
  const TrainSplit split = split_indices(data->train.size(), seed);
  const Dataset defender = subset(data->train, split.defender_indices);
  const Rng rng(seed, stable_hash("wrsec.nn.zoo/" + name), 0);
  Rng init_rng = rng.derive("init");
  ZooModel z;
  z.model = Model::init(arch, init_rng);
  const TrainConfig config = zoo_config(name);
  train(z.model, defender.images, defender.labels, config, rng.derive("train"));
  const double test_acc = accuracy(z.model, data->test.images, data->test.labels);

  z.metadata = {{"wrsec.zoo.name", name},
                {"wrsec.zoo.recipe", std::to_string(kZooRecipeVersion)},
                {"wrsec.numerics", numerics_id()},
                {"wrsec.seed", std::to_string(seed)},
                {"wrsec.epochs", std::to_string(config.epochs)},
                {"wrsec.optimizer", config.describe()},
                {"wrsec.test_accuracy", format_double(test_acc)},
                {"wrsec.train_split", "fashion-mnist train, defender part (2/3, split seed " +
                                          std::to_string(seed) + ", " +
                                          std::to_string(defender.size()) + " examples)"},
                {"wrsec.version", WRSEC_VERSION}};
  std::filesystem::create_directories(cache_dir, ec);
  if (ec)
    throw RuntimeError("cannot create model cache directory " + cache_dir.string() + ": " +
                       ec.message());
  z.model.to_safetensors(path, z.metadata);
  z.metadata["wrsec.architecture"] = arch.to_json().dump();
  return z;
}

}  // namespace wrsec::nn
