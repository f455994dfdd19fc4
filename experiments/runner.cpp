#include "experiments/runner.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/errors.h"
#include "core/parallel.h"

namespace wrsec::experiments {

void MetricSummary::add(double x) {
  ++n;
  if (!std::isfinite(x)) {
    ++nonfinite;
    return;
  }
  sum.add(x);
  min = std::min(min, x);
  max = std::max(max, x);
}

MetricSummary& MetricSummary::operator+=(const MetricSummary& other) {
  n += other.n;
  nonfinite += other.nonfinite;
  sum += other.sum;
  min = std::min(min, other.min);
  max = std::max(max, other.max);
  return *this;
}

double MetricSummary::mean() const {
  const std::uint64_t finite = n - nonfinite;
  return finite == 0 ? std::numeric_limits<double>::quiet_NaN()
                     : sum.value() / static_cast<double>(finite);
}

void CellCounts::add(const definitions::TrialOutcome& outcome) {
  ++n;
  for (const auto& [name, value] : outcome.metrics) metrics[name].add(value);
  if (outcome.win) ++wins;
  if (outcome.b == 0) {
    ++b0;
    if (outcome.guess == 1) ++b0_guess1;
  } else if (outcome.b == 1) {
    ++b1;
    if (outcome.guess == 1) ++b1_guess1;
  }
}

CellCounts& CellCounts::operator+=(const CellCounts& other) {
  n += other.n;
  wins += other.wins;
  b0 += other.b0;
  b0_guess1 += other.b0_guess1;
  b1 += other.b1;
  b1_guess1 += other.b1_guess1;
  for (const auto& [name, summary] : other.metrics) metrics[name] += summary;
  return *this;
}

CellCounts play_trials(const definitions::Game& game,
                       const definitions::WeightReleaseScheme* scheme,
                       const definitions::Adversary& adversary, const RunOptions& options) {
  if (options.trials.end < options.trials.begin)
    throw InvalidArgument("trial range end precedes its begin");
  if (options.threads < 1) throw InvalidArgument("threads must be at least 1");
  game.check(scheme, adversary);

  // Per-thread counts: each trial is added by the thread that played it.
  std::vector<CellCounts> per_thread(static_cast<std::size_t>(options.threads));
  parallel_for(static_cast<std::int64_t>(options.trials.size()),
               {.schedule = Schedule::dynamic, .chunk = 16, .threads = options.threads},
               [&](std::int64_t offset) {
                 const std::uint64_t trial =
                     options.trials.begin + static_cast<std::uint64_t>(offset);
                 Rng coins(options.seed, options.experiment_id, trial);
                 const auto outcome = game.play(scheme, adversary, coins);
                 per_thread[static_cast<std::size_t>(omp_get_thread_num())].add(outcome);
               });

  CellCounts total_counts;
  // Integer counts and exact metric sums: the order of the merge does not matter.
  for (const auto& c : per_thread) total_counts += c;
  WRSEC_CHECK(total_counts.n == options.trials.size(), "a trial was lost or counted twice");
  return total_counts;
}

}  // namespace wrsec::experiments
