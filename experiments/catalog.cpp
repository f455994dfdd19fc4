#include "experiments/catalog.h"

#include "attacks/registry.h"
#include "core/errors.h"
#include "core/rng.h"
#include "games/registry.h"
#include "schemes/registry.h"

namespace wrsec::experiments {

Catalog& Catalog::global_mutable() {
  // Filled in place, never copied: factories may refer to the registry that holds them.
  static Catalog catalog;
  static const bool filled = [] {
    games::register_builtin_games(catalog.games);
    schemes::register_builtin_schemes(catalog.schemes);
    attacks::register_builtin_attacks(catalog.attacks);
    return true;
  }();
  (void)filled;
  return catalog;
}

const Catalog& Catalog::global() {
  return global_mutable();
}

std::string CellSpec::key() const {
  return "game=" + game + "(" + game_params.canonical() + ");scheme=" + scheme + "(" +
         scheme_params.canonical() + ");attack=" + attack + "(" + attack_params.canonical() + ")";
}

std::uint64_t CellSpec::experiment_id() const {
  return stable_hash(key());
}

void set_component_param(CellSpec& cell, const std::string& key, const std::string& value) {
  const auto dot = key.find('.');
  const std::string component = dot == std::string::npos ? "" : key.substr(0, dot);
  const std::string name = dot == std::string::npos ? "" : key.substr(dot + 1);
  if (name.empty())
    throw InvalidArgument("parameter '" + key +
                          "' must be prefixed by its component: game., scheme. or attack.");
  if (component == "game") {
    cell.game_params.set(name, value);
  } else if (component == "scheme") {
    cell.scheme_params.set(name, value);
  } else if (component == "attack") {
    cell.attack_params.set(name, value);
  } else {
    throw InvalidArgument("unknown key '" + key + "' (expected game., scheme. or attack. prefix)");
  }
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
