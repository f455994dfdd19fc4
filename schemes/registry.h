#pragma once
// The built-in weight-release schemes, registered explicitly (no static self-registration).
#include "definitions/registry.h"
#include "definitions/scheme.h"

namespace wrsec::schemes {

void register_builtin_schemes(definitions::Registry<definitions::WeightReleaseScheme>& registry);

}  // namespace wrsec::schemes
