#include "schemes/registry.h"

#include "schemes/plaintext.h"

namespace wrsec::schemes {

void register_builtin_schemes(definitions::Registry<definitions::WeightReleaseScheme>& registry) {
  registry.add("plaintext", "baseline: publishes the weights themselves (no protection)",
               [](const definitions::Params&) { return std::make_unique<Plaintext>(); });
}

}  // namespace wrsec::schemes
