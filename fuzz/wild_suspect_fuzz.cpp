// Fuzzes the mapping of a suspect file from elsewhere (experiments/wild_suspect.h, `wrsec verify
// --reference`): safetensors bytes → every chain of its tensors that fits a small owner's MLP,
// aligned and scored; a mapping must have the owner's depth and input/output sizes.
#include <span>

#include "core/rng.h"
#include "experiments/wild_suspect.h"
#include "fuzz/fuzz_common.h"
#include "nn/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace wrsec;
  static const nn::Model owner = [] {
    Rng rng(1, stable_hash("wild_suspect_fuzz"), 0);
    return nn::Model::init(nn::Architecture::parse("mlp:4,3,3,2:relu"), rng);
  }();
  fuzz::expect_valid_or_rejected([&] {
    const auto view = nn::SafetensorsView::from_bytes(std::span(data, size), "fuzz");
    const auto m = experiments::map_suspect(view, owner, 0.05, 64);
    if (m.layers.size() != 3 || m.model.arch.sizes.front() != 4 || m.model.arch.sizes.back() != 2)
      std::abort();
  });
  return 0;
}
