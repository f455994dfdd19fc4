#pragma once
// The built-in games, registered explicitly (no static self-registration).
#include "definitions/game.h"
#include "definitions/registry.h"

namespace wrsec::games {

void register_builtin_games(definitions::Registry<definitions::Game>& registry);

}  // namespace wrsec::games
