#include "experiments/catalog.h"

#include "attacks/registry.h"
#include "core/errors.h"
#include "core/rng.h"
#include "games/registry.h"
#include "schemes/registry.h"

namespace wrsec::experiments {

const Catalog& Catalog::builtin() {
  static const Catalog catalog = [] {
    Catalog c;
    games::register_builtin_games(c.games);
    schemes::register_builtin_schemes(c.schemes);
    attacks::register_builtin_attacks(c.attacks);
    return c;
  }();
  return catalog;
}

std::string CellSpec::key() const {
  return "game=" + game + "(" + game_params.canonical() + ");scheme=" + scheme + "(" +
         scheme_params.canonical() + ");attack=" + attack + "(" + attack_params.canonical() + ")";
}

std::uint64_t CellSpec::experiment_id() const {
  return stable_hash(key());
}

CellInstance instantiate(const Catalog& catalog, const CellSpec& spec) {
  CellInstance cell;
  cell.game = catalog.games.create(spec.game, spec.game_params);
  if (spec.scheme != kNoScheme) {
    cell.scheme = catalog.schemes.create(spec.scheme, spec.scheme_params);
  } else if (!spec.scheme_params.values().empty()) {
    throw InvalidArgument("scheme parameters given but no scheme selected");
  }
  if (cell.game->needs_scheme() && !cell.scheme)
    throw InvalidArgument("game '" + spec.game + "' needs a scheme");
  cell.adversary = catalog.attacks.create(spec.attack, spec.attack_params);
  cell.game->check(cell.scheme.get(), *cell.adversary);
  return cell;
}

}  // namespace wrsec::experiments
