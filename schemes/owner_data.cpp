#include "schemes/owner_data.h"

#include <map>
#include <mutex>
#include <tuple>

namespace wrsec::schemes {

std::shared_ptr<const nn::Dataset> owner_data(const OwnerDataSpec& spec) {
  static std::mutex mutex;
  static std::map<std::tuple<std::uint64_t, std::int64_t, std::string, bool>,
                  std::shared_ptr<const nn::Dataset>>
      cache;
  const std::lock_guard<std::mutex> lock(mutex);
  auto& slot = cache[{spec.split_seed, spec.samples, spec.dir, spec.attacker_part}];
  if (!slot) {
    const auto data = nn::load_fashion_mnist(spec.dir);
    const auto split = nn::split_indices(data->train.size(), spec.split_seed);
    auto indices = spec.attacker_part ? split.attacker_indices : split.defender_indices;
    if (spec.samples > 0 && static_cast<std::size_t>(spec.samples) < indices.size())
      indices.resize(static_cast<std::size_t>(spec.samples));
    slot = std::make_shared<const nn::Dataset>(nn::subset(data->train, indices));
  }
  return slot;
}

}  // namespace wrsec::schemes
