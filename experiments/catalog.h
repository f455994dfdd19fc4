#pragma once
// The catalog: every registered game, scheme and attack, built by the layers' explicit
// register_builtin_*() functions, and the instantiation of one cell from its specification.
#include <memory>
#include <string>

#include "definitions/adversary.h"
#include "definitions/game.h"
#include "definitions/params.h"
#include "definitions/registry.h"
#include "definitions/scheme.h"

namespace wrsec::experiments {

// The scheme id that means "no scheme" (games such as bernoulli_ind play without one).
inline constexpr const char* kNoScheme = "none";

struct Catalog {
  definitions::Registry<definitions::Game> games{"game"};
  definitions::Registry<definitions::WeightReleaseScheme> schemes{"scheme"};
  definitions::Registry<definitions::Adversary> attacks{"attack"};

  // The built-in components plus every plug-in loaded so far (experiments/plugin.h). Plug-ins
  // are loaded before any trial is played; from then on the catalog is only read (thread-safe).
  static const Catalog& global();

 private:
  friend class PluginLoader;
  static Catalog& global_mutable();
};

// One cell: a game, a scheme (or "none"), an adversary, and each one's parameters.
struct CellSpec {
  std::string game;
  std::string scheme = kNoScheme;
  std::string attack;
  definitions::Params game_params;
  definitions::Params scheme_params;
  definitions::Params attack_params;

  // Canonical text of the cell; two specs with the same key are the same experiment.
  [[nodiscard]] std::string key() const;
  // The experiment id keying the cell's Philox streams: stable_hash(key()).
  [[nodiscard]] std::uint64_t experiment_id() const;
};

// Sets one component parameter of the cell from "game.KEY", "scheme.KEY" or "attack.KEY" (the
// form of --param and of a spec's [game]/[scheme]/[attack] sections and parameter sweep axes);
// InvalidArgument naming the key if it has no such prefix or no parameter name.
void set_component_param(CellSpec& cell, const std::string& key, const std::string& value);

struct CellInstance {
  std::unique_ptr<definitions::Game> game;
  std::unique_ptr<definitions::WeightReleaseScheme> scheme;  // null for "none"
  std::unique_ptr<definitions::Adversary> adversary;
};

// Builds the three components and lets the game check that they can play each other; throws
// InvalidArgument for unknown ids, unknown or malformed parameters and mismatched components.
CellInstance instantiate(const Catalog& catalog, const CellSpec& spec);

}  // namespace wrsec::experiments
