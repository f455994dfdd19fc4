#pragma once
// One cell's result: the raw counts (sufficient statistics, mergeable across shards), the
// advantage bounds recomputed from them at level alpha, and everything needed to reproduce it.
#include <optional>

#include "definitions/game.h"
#include "definitions/statistics.h"
#include "experiments/catalog.h"
#include "experiments/provenance.h"
#include "experiments/runner.h"

namespace wrsec::experiments {

struct CellResult {
  CellSpec spec;
  definitions::GameShape shape = definitions::GameShape::search;
  double baseline = 0.0;
  std::uint64_t seed = 0;
  TrialRange trials;
  CellCounts counts;
  double alpha = 0.05;
  definitions::AdvantageBounds advantage{};    // lower: one-sided at alpha; upper: see statistics.h
  definitions::Interval win_rate_two_sided{};  // two-sided CP on Pr[win] at alpha
  std::optional<double> log2_p;  // p-value against Adv = 0 (absent when the null is degenerate)
  std::optional<double> reference_advantage;  // closed form, when the game knows it
  double elapsed_seconds = 0.0;
  std::string started_at;
  // Non-empty: a trial of the cell threw this message and the cell stopped after `trials` (its
  // bounds are then NaN: no statement is made about a cell that did not finish).
  std::string error;

  // The deterministic part: cell, counts, bounds, p-value (a pure function of the cell, the seed,
  // the trial range and alpha; identical for any thread count, shard split, rank count or resume).
  [[nodiscard]] nlohmann::json core_json() const;
  // core_json() plus timing and provenance.
  [[nodiscard]] nlohmann::json to_json(const Provenance& provenance) const;
};

// Lossless JSON of counts (exact metric sums as text, min/max as hexadecimal floats) and its
// inverse; InvalidArgument for malformed input.
nlohmann::json counts_to_json(const CellCounts& counts);
CellCounts counts_from_json(const nlohmann::json& j);

// A cell that failed with `error` after the trials in `trials` (counts may be empty).
CellResult failed_cell(const CellSpec& spec, const definitions::Game& game, std::uint64_t seed,
                       TrialRange trials, const CellCounts& counts, double alpha,
                       std::string error);

// Computes bounds and p-value from the counts; alpha must lie in (0, 1).
CellResult summarize(const CellSpec& spec, const definitions::Game& game,
                     const definitions::Adversary& adversary, std::uint64_t seed, TrialRange trials,
                     const CellCounts& counts, double alpha);

}  // namespace wrsec::experiments
