#pragma once
// The built-in adversaries, registered explicitly (no static self-registration).
#include <memory>
#include <string>

#include "definitions/adversary.h"
#include "definitions/registry.h"

namespace wrsec::attacks {

void register_builtin_attacks(definitions::Registry<definitions::Adversary>& registry);

// A built-in attack that is an extractor, by id; InvalidArgument for unknown ids, unused
// parameters, or an attack of another kind.
std::unique_ptr<definitions::Extractor> make_extractor(const std::string& id,
                                                       const definitions::Params& params);

}  // namespace wrsec::attacks
