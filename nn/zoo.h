#pragma once
// Model zoo: named architectures trained with a fixed recipe on the defender split of
// Fashion-MNIST (split_indices(60000, seed), 2/3) and cached as safetensors files.
//   name    = "mlp_" sizes joined by "_" "_" activation, e.g. "mlp_784_256_256_10_relu"
//   recipe  = Adam (lr 1e-3, batch 128), zoo_config(name).epochs epochs, init and shuffling
//             from Rng(seed, stable_hash("wrsec.nn.zoo/" + name), 0)
//   file    = cache_dir / (name + "-seed" + seed + ".safetensors"), float32, with metadata
//             wrsec.architecture, wrsec.zoo.name, wrsec.zoo.recipe, wrsec.numerics, wrsec.seed,
//             wrsec.epochs, wrsec.optimizer (JSON), wrsec.test_accuracy, wrsec.train_split,
//             wrsec.version.
// A cached file is reused iff its architecture, name, seed, recipe version and numerics_id()
// (nn/numerics.h: everything else that decides the bits) match; otherwise it is retrained and
// overwritten. An unreadable cache file throws (writes are atomic, so this
// means outside damage).
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "nn/model.h"
#include "nn/train.h"

namespace wrsec::nn {

// Recipe version: bump when the training recipe changes so that stale caches are retrained.
inline constexpr int kZooRecipeVersion = 1;

// The named models the zoo offers (any "mlp_<sizes>_<activation>" name is also accepted).
[[nodiscard]] std::vector<std::string> zoo_names();
// Architecture encoded in a zoo name; InvalidArgument for a malformed name.
[[nodiscard]] Architecture zoo_architecture(const std::string& name);
// Training recipe for a zoo name.
[[nodiscard]] TrainConfig zoo_config(const std::string& name);
[[nodiscard]] std::filesystem::path zoo_path(const std::string& name, std::uint64_t seed,
                                             const std::filesystem::path& cache_dir);

struct ZooModel {
  Model model;
  std::map<std::string, std::string> metadata;
  bool from_cache = false;
};

// Loads the cached model or trains it (and writes the cache, creating cache_dir).
ZooModel train_or_load(const std::string& name, std::uint64_t seed,
                       const std::filesystem::path& cache_dir,
                       const std::filesystem::path& data_dir = {});

}  // namespace wrsec::nn
