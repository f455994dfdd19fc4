#pragma once
// The owner's training data for schemes that embed by fine-tuning (uchida, trigger_set): the
// defender part of the Fashion-MNIST split with seed split_seed (nn::split_indices, 2/3), the
// same convention the model zoo trains on, so the game's attacker split stays disjoint.
// `samples` > 0 keeps the first `samples` examples (in index order). attacker_part selects the
// other part of the split: the data of another party (WeightReleaseScheme::for_owner).
#include <cstdint>
#include <memory>
#include <string>

#include "nn/fashion_mnist.h"

namespace wrsec::schemes {

struct OwnerDataSpec {
  std::uint64_t split_seed = 1;
  std::int64_t samples = 10000;  // 0 = all defender examples
  std::string dir;               // Fashion-MNIST directory; empty = nn::fashion_mnist_dir()
  bool attacker_part = false;
};

// Loaded once per process per spec and shared read-only.
[[nodiscard]] std::shared_ptr<const nn::Dataset> owner_data(const OwnerDataSpec& spec);

}  // namespace wrsec::schemes
