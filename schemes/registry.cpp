#include "schemes/registry.h"

namespace wrsec::schemes {

void register_builtin_schemes(definitions::Registry<definitions::WeightReleaseScheme>& registry) {
  (void)registry;
}

}  // namespace wrsec::schemes
