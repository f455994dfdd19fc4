#pragma once
// Anytime-valid early stopping by checkpoint alpha-spending. A cell with a trial budget T is
// looked at only at the checkpoints n_k = min(n_0 2^k, T), k = 0, 1, ..., K (the last one is T);
// look k computes the Clopper-Pearson bounds at alpha_k = alpha / ((k + 1)(k + 2)). Since
// sum_k alpha_k < alpha, with probability >= 1 - alpha every bound at every look holds at once
// (union bound), so the bound reported at a data-dependent stop is valid at level 1 - alpha. A
// fixed-n CP bound at alpha after such a stop is not (it is tighter than allowed).
#include <cstdint>
#include <string>
#include <vector>

#include "definitions/game.h"
#include "definitions/statistics.h"

namespace wrsec::definitions {

// When to stop a cell early: never, once the lower bound on Adv exceeds a threshold ("lower>X"),
// or once the upper bound falls below one ("upper<Y").
struct StopRule {
  enum class Kind { never, lower_above, upper_below };
  Kind kind = Kind::never;
  double threshold = 0.0;

  // Parses "none" (or the empty text), "lower>X" with X in [-1, 1) or "upper<Y" with Y in (-1, 1]
  // (spaces allowed): an advantage lies in [-1, 1], so other thresholds would make the rule never
  // or always hold. InvalidArgument naming the text otherwise.
  static StopRule parse(const std::string& text);
  [[nodiscard]] std::string to_string() const;  // "none", "lower>0.5", "upper<0.01"
  [[nodiscard]] bool active() const { return kind != Kind::never; }
  // Whether the bounds satisfy the rule (strict comparison).
  [[nodiscard]] bool met(const AdvantageBounds& bounds) const;
  friend bool operator==(const StopRule&, const StopRule&) = default;
};

// The look schedule n_0, 2 n_0, 4 n_0, ... capped by and ending at the budget. n_0 >= 1,
// budget >= 1 (InvalidArgument otherwise); n_0 > budget gives the single look {budget}.
[[nodiscard]] std::vector<std::uint64_t> checkpoint_schedule(std::uint64_t first_look,
                                                             std::uint64_t budget);

// alpha_k = alpha / ((k + 1)(k + 2)), the level spent at look k (0-based).
[[nodiscard]] double spent_alpha(double alpha, std::size_t look);

// The advantage bounds of a game shape at level alpha (search: Adv = Pr[win] - baseline;
// distinguishing: |2 Pr[win] - 1|), as in statistics.h.
[[nodiscard]] AdvantageBounds advantage_bounds(GameShape shape, std::uint64_t wins, std::uint64_t n,
                                               double alpha, double baseline);

// One-line description of the method, for reports.
[[nodiscard]] std::string describe_alpha_spending(std::uint64_t first_look);

}  // namespace wrsec::definitions
