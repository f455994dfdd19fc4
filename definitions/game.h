#pragma once
// Security games. A game G is a challenger that plays one trial against scheme Π and adversary
// A with coins r and returns the outcome. Two shapes:
//   search:          Adv = Pr[win] − baseline (baseline = a stated trivial success rate, often 0)
//   distinguishing:  b ←$ {0,1} per trial, A outputs b'; win iff b' = b;
//                    Adv = |2·Pr[win] − 1| = |Pr[b'=1 | b=1] − Pr[b'=1 | b=0]|
// The runner plays trials i = 0..n−1 with coins Rng(seed, experiment, i), so an outcome is a pure
// function of (game, scheme, adversary, parameters, seed, i). play() is const and thread-safe.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/rng.h"
#include "definitions/adversary.h"
#include "definitions/scheme.h"

namespace wrsec::definitions {

enum class GameShape { search, distinguishing };

// The advantage convention printed with every result of a game of this shape.
[[nodiscard]] const char* advantage_convention(GameShape shape);
[[nodiscard]] const char* to_string(GameShape shape);

// Metrics are named per-trial measurements (e.g. fraction of parameters recovered); they must be
// pure functions of the trial's coins (never wall time), so that results stay reproducible.
struct TrialOutcome {
  bool win = false;
  int b = -1;      // distinguishing games: the challenge bit
  int guess = -1;  // distinguishing games: the adversary's output b'
  std::vector<std::pair<std::string, double>> metrics;
};

class Game {
 public:
  virtual ~Game() = default;
  [[nodiscard]] virtual std::string id() const = 0;
  [[nodiscard]] virtual GameShape shape() const = 0;
  // Search games: the trivial success probability subtracted from Pr[win].
  [[nodiscard]] virtual double baseline() const { return 0.0; }
  // Whether a scheme takes part; games that do not (the demonstration game) accept none.
  [[nodiscard]] virtual bool needs_scheme() const { return true; }
  // Throws InvalidArgument if this scheme/adversary pair cannot play (wrong adversary kind,
  // missing capability). scheme is null iff needs_scheme() is false.
  virtual void check(const WeightReleaseScheme* scheme, const Adversary& adversary) const = 0;
  // One trial with the trial's coins; the game derives challenger and adversary streams from it.
  [[nodiscard]] virtual TrialOutcome play(const WeightReleaseScheme* scheme,
                                          const Adversary& adversary, Rng& coins) const = 0;
  // The true advantage when known in closed form (used to validate the runner), else nullopt.
  [[nodiscard]] virtual std::optional<double> reference_advantage(
      const Adversary& /*adversary*/) const {
    return std::nullopt;
  }
};

}  // namespace wrsec::definitions
