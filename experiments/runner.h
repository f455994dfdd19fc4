#pragma once
// The trial runner: plays trials [begin, end) of one cell (game, scheme, adversary, parameters).
// Trial i always draws its coins from Rng(seed, experiment_id, i), so the counts are a pure
// function of the cell, the seed and the trial range: identical for any thread count, any
// schedule, and any split of the range into shards whose counts are added.
#include <cstdint>
#include <limits>
#include <map>
#include <string>

#include "definitions/game.h"
#include "experiments/exact_sum.h"

namespace wrsec::experiments {

struct TrialRange {
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
  [[nodiscard]] std::uint64_t size() const { return end - begin; }
  friend bool operator==(const TrialRange&, const TrialRange&) = default;
};

// Summary of one per-trial metric: count, exact sum (mean = sum/n), min and max over the finite
// values, and the number of non-finite values. Every field merges exactly across shards.
struct MetricSummary {
  std::uint64_t n = 0;
  std::uint64_t nonfinite = 0;
  ExactSum sum;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  void add(double x);
  MetricSummary& operator+=(const MetricSummary& other);
  [[nodiscard]] double mean() const;  // NaN when no finite value was seen
  friend bool operator==(const MetricSummary&, const MetricSummary&) = default;
};

// Sufficient statistics of a cell: counts, never rates, so shards add exactly.
struct CellCounts {
  std::uint64_t n = 0;
  std::uint64_t wins = 0;
  // Distinguishing games: the 2x2 table of (b, b').
  std::uint64_t b0 = 0;
  std::uint64_t b0_guess1 = 0;
  std::uint64_t b1 = 0;
  std::uint64_t b1_guess1 = 0;
  std::map<std::string, MetricSummary> metrics;

  void add(const definitions::TrialOutcome& outcome);
  CellCounts& operator+=(const CellCounts& other);
  friend bool operator==(const CellCounts&, const CellCounts&) = default;
};

struct RunOptions {
  std::uint64_t seed = 0;
  std::uint64_t experiment_id = 0;
  TrialRange trials;
  int threads = 1;
};

// Plays the trials with OpenMP (dynamic schedule). The first exception thrown by any trial is
// captured, the remaining trials are skipped, and it is rethrown after the parallel region.
CellCounts play_trials(const definitions::Game& game,
                       const definitions::WeightReleaseScheme* scheme,
                       const definitions::Adversary& adversary, const RunOptions& options);

}  // namespace wrsec::experiments
