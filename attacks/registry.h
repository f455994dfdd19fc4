#pragma once
// The built-in adversaries, registered explicitly (no static self-registration).
#include "definitions/adversary.h"
#include "definitions/registry.h"

namespace wrsec::attacks {

void register_builtin_attacks(definitions::Registry<definitions::Adversary>& registry);

}  // namespace wrsec::attacks
