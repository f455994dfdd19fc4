// Example 1: a game and its bound.
//
// What it shows
//   The smallest complete wrsec experiment. A security notion is a *game*: a challenger plays one
//   trial against an *adversary* with fresh coins and decides whether the adversary won. Playing
//   many trials and bounding Pr[win] exactly turns "how good is this attack?" into a number with a
//   guarantee. The cell played here needs no scheme and no data:
//     game      bernoulli_ind (games/bernoulli_ind.h): b <-$ {0,1}; the adversary sees m samples
//               of Bernoulli(p_b) (default m = 10, p0 = 0.4, p1 = 0.6) and outputs b'.
//               It wins iff b' = b.
//     adversary likelihood_ratio (attacks/likelihood_ratio.h): the optimal guess b' = 1 iff
//               P1(k) > P0(k) for k ones among the m samples.
//   This is a *distinguishing* game, so its advantage is Adv = |2 Pr[win] - 1|: 0 for a coin flip,
//   1 for a perfect guess. For this adversary Adv is known in closed form (the total-variation
//   distance of the two binomials), so the bound printed from the trials can be checked.
//
// The four steps (the same as `wrsec run --game bernoulli_ind --attack likelihood_ratio`)
//   1. Describe the cell by registry ids and text parameters (CellSpec) and build its components
//      from the catalog (experiments::instantiate checks they can play each other).
//   2. Play trials 0..N-1 (experiments::play_trials). Trial i uses the coins
//      Rng(seed, experiment id of the cell, i), so the counts are the same for any --threads.
//   3. Turn the counts into an estimate and exact Clopper-Pearson bounds (experiments::summarize).
//   4. Compare with the closed-form advantage.
//
// Expected output (defaults --trials 20000 --seed 1; well under a second)
//   The cell key, the convention, wins 14602 of 20000 and the 2x2 table of (b, b'), then
//     Adv estimate 0.4602, lower bound 0.4498 (one-sided Clopper-Pearson, 95%), upper 0.4725,
//     reference 0.4669 (closed form),
//   and "OK: the reference advantage lies inside [lower, upper]". The program exits 1 if it does
//   not. For the default seed the counts are fixed, so a miss there means a bug in the game, the
//   runner or the statistics; for an arbitrary --seed a correct implementation misses with
//   probability at most 1.5 * alpha (lower bound at level alpha, upper at alpha/2 per side).
#include <omp.h>

#include <cmath>
#include <iomanip>
#include <iostream>

#include "definitions/game.h"
#include "examples/example_args.h"
#include "experiments/catalog.h"
#include "experiments/results.h"
#include "experiments/runner.h"

using namespace wrsec;

int main(int argc, char** argv) {
  return examples::run_example("01_game_and_bound", [&] {
    examples::Args args("01_game_and_bound",
                        "A game and its bound: bernoulli_ind played by the likelihood-ratio\n"
                        "adversary, with an exact Clopper-Pearson bound on its advantage.");
    args.option("trials", "20000", "number of trials N")
        .option("seed", "1", "master seed of the trials' coins")
        .option("alpha", "0.05", "error level of the bounds")
        .option("samples", "10", "samples m the adversary sees per trial")
        .option("threads", std::to_string(omp_get_max_threads()), "OpenMP threads");
    if (!args.parse(argc, argv)) return 0;
    const std::uint64_t trials = args.integer("trials", 1, 100'000'000);
    const std::uint64_t seed = args.integer("seed", 0, UINT64_MAX >> 1);
    const double alpha = args.number("alpha", 0.0, 0.5);
    const std::uint64_t samples = args.integer("samples", 1, 1'000'000);
    const int threads = static_cast<int>(args.integer("threads", 1, 1024));

    // 1. The cell: ids from the registries plus text parameters, exactly as a spec file or the
    //    CLI gives them. instantiate() builds the game and the adversary (no scheme: "none").
    experiments::CellSpec cell;
    cell.game = "bernoulli_ind";
    cell.attack = "likelihood_ratio";
    cell.game_params.set("p0", "0.4");
    cell.game_params.set("p1", "0.6");
    cell.game_params.set("samples", std::to_string(samples));
    const experiments::CellInstance instance =
        experiments::instantiate(experiments::Catalog::global(), cell);

    // 2. Play the trials. The counts are sufficient statistics: wins, and the (b, b') table.
    experiments::RunOptions run;
    run.seed = seed;
    run.experiment_id = cell.experiment_id();
    run.trials = {0, trials};
    run.threads = threads;
    const experiments::CellCounts counts =
        experiments::play_trials(*instance.game, instance.scheme.get(), *instance.adversary, run);

    // 3. Bounds from the counts (they depend on nothing else).
    const experiments::CellResult result = experiments::summarize(
        cell, *instance.game, *instance.adversary, seed, run.trials, counts, alpha);
    const definitions::AdvantageBounds& adv = result.advantage;

    std::cout << std::fixed << std::setprecision(4);
    std::cout << "cell        " << cell.key() << "\n"
              << "convention  " << definitions::advantage_convention(result.shape) << "\n"
              << "trials      " << counts.n << " (seed " << seed << "), wins " << counts.wins
              << "\n"
              << "table       b=0: b'=1 in " << counts.b0_guess1 << " of " << counts.b0
              << ";  b=1: b'=1 in " << counts.b1_guess1 << " of " << counts.b1 << "\n"
              << "            |Pr[b'=1|b=1] - Pr[b'=1|b=0]| = "
              << std::abs(double(counts.b1_guess1) / double(counts.b1) -
                          double(counts.b0_guess1) / double(counts.b0))
              << "\n"
              << "Pr[win]     " << double(counts.wins) / double(counts.n) << "  (two-sided CP "
              << result.win_rate_two_sided.lo << " .. " << result.win_rate_two_sided.hi << ")\n"
              << "Adv         estimate " << adv.estimate << "\n"
              << "            lower bound " << adv.lower << "  (one-sided Clopper-Pearson, level "
              << 1.0 - alpha << ")\n"
              << "            upper bound " << adv.upper << "\n";

    // 4. The closed form this game knows for this adversary: TV(Bin(m, p1), Bin(m, p0)).
    if (!result.reference_advantage) {
      std::cerr << "01_game_and_bound: error: the game reports no reference advantage\n";
      return 1;
    }
    const double reference = *result.reference_advantage;
    std::cout << "reference   " << reference << "  (closed form)\n\n";
    if (adv.lower <= reference && reference <= adv.upper) {
      std::cout << "OK: the reference advantage lies inside [lower, upper] = [" << adv.lower << ", "
                << adv.upper << "]\n";
      return 0;
    }
    std::cout << "FAILED: the reference advantage " << reference << " lies outside [" << adv.lower
              << ", " << adv.upper << "]\n";
    return 1;
  });
}
