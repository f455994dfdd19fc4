// Example 3: extracting the hidden weights of a TaylorMLP release.
//
// What it shows
//   A protected release and an attack on it, first as plain code, then as a game with a bound.
//   TaylorMLP ("Taylor Unswift", EMNLP 2024; schemes/taylor_mlp.h) releases the block
//   y = W·σ(Vx + b) + c of an MLP not as (b, W, c) but as Taylor coefficients of σ about a point
//   z0: in the paper's format Θ_{n,:,j} = W_{:,j}·σ^(n)(a_j)/n! with a_j = z0_j + b_j, n = 0..N.
//   The claim is that b, W and c stay hidden. The attack taylor_ratio_inversion
//   (attacks/taylor_ratio_inversion.h) reads only the public artifact: the ratio of consecutive
//   coefficients of a unit depends on a_j alone, so a_j, then b_j, W_{:,j} and c follow.
//
//   Part 1, by hand: draw a random 784-64-10 silu MLP, release it (format=paper, order=6), run the
//   extractor on the artifact (no secret, no queries), and score the recovered model with
//   definitions::score_extraction: the fraction of the hidden parameters (b, W, c; V is published)
//   whose relative error is at most tau = 1e-2, after matching hidden units up to permutation.
//   Part 2, as a game: the same thing as the cell param_extraction (games/param_extraction.h),
//   where every trial draws a fresh random model and release; the extractor wins iff it recovers
//   at least rho = 99% of the hidden parameters, and Adv = Pr[win] (search game, baseline 0).
//
// Expected output (defaults --trials 100 --seed 1; about 1 s on 2 cores)
//   Part 1: the artifact's public tensors (taylor.V, taylor.z0, taylor.theta [7, 10, 64]) and that
//     the owner keeps no secret tensor in this format, then "hidden parameters recovered
//     714 / 714 (fraction 1.0000)" with the largest relative error (about 1e-5; the median is 0:
//     most parameters come back bit for bit).
//   Part 2: wins 100 / 100, Adv lower bound 0.9705 (one-sided Clopper-Pearson, 95%), every trial
//     recovering all hidden parameters.
//   "OK: ...". The program exits 1 unless part 1 recovers at least 99% of the hidden parameters
//   and part 2's lower bound on the advantage exceeds 1/2 (the extraction succeeds in most
//   releases, with 95% confidence).
//   The release computes its calibration point z0 on public Fashion-MNIST images
//   (/usr/share/datasets/fashion-mnist), so the data set must be installed.
#include <omp.h>

#include <iomanip>
#include <iostream>

#include "attacks/taylor_ratio_inversion.h"
#include "core/rng.h"
#include "definitions/extraction.h"
#include "definitions/game.h"
#include "examples/example_args.h"
#include "experiments/catalog.h"
#include "experiments/results.h"
#include "experiments/runner.h"
#include "schemes/taylor_mlp.h"

using namespace wrsec;

int main(int argc, char** argv) {
  return examples::run_example("03_taylormlp_extraction", [&] {
    examples::Args args("03_taylormlp_extraction",
                        "TaylorMLP extraction: recover the hidden weights of a paper-format\n"
                        "release from the public artifact alone, then the same as a game cell.");
    args.option("trials", "100", "trials of the game (part 2; at least 5)")
        .option("seed", "1", "master seed (model, release and trials)")
        .option("order", "6", "Taylor order N of the release (2..32)")
        .option("threads", std::to_string(omp_get_max_threads()), "OpenMP threads");
    if (!args.parse(argc, argv)) return 0;
    const std::uint64_t trials = args.integer("trials", 5, 100'000);
    const std::uint64_t seed = args.integer("seed", 0, UINT64_MAX >> 1);
    const std::int64_t order = static_cast<std::int64_t>(args.integer("order", 2, 32));
    const int threads = static_cast<int>(args.integer("threads", 1, 1024));
    omp_set_num_threads(threads);
    const double tau = 1e-2;
    const double alpha = 0.05;

    // ---- Part 1: release, extract, score ------------------------------------------------------
    std::cout << std::fixed << std::setprecision(4) << "Part 1: one release, by hand\n";
    // Named child streams: the model and the release each get their own coins.
    const Rng root(seed, stable_hash("examples/03_taylormlp_extraction"), 0);
    Rng model_coins = root.derive("model");
    Rng release_coins = root.derive("release");
    Rng adversary_coins = root.derive("adversary");

    const nn::Model model =
        nn::Model::init(nn::Architecture::parse("mlp:784,64,10:silu"), model_coins);
    schemes::TaylorMlpParams params;
    params.format = "paper";
    params.order = order;
    const schemes::TaylorMlp scheme(params);
    const definitions::Release release = scheme.release(model, release_coins);

    std::cout << "  model      " << model.arch.to_spec() << "\n  artifact   (public)";
    for (const auto& [name, tensor] : release.artifact.tensors) {
      std::cout << "  " << name << " [";
      for (std::size_t i = 0; i < tensor.shape.size(); ++i)
        std::cout << (i ? ", " : "") << tensor.shape[i];
      std::cout << "]";
    }
    std::cout << "\n  secret     " << release.secret.tensors.size()
              << " tensor(s) kept by the owner\n";

    // The extractor gets the public artifact and no oracle: no Infer queries, no data.
    const attacks::TaylorRatioInversion extractor;
    definitions::OracleAccess no_oracles;
    const nn::Model recovered = extractor.extract(release.artifact, no_oracles, adversary_coins);

    // Scored on the parameters the release hides (the scheme says which: hidden_mask).
    definitions::ExtractionCriterion criterion;
    criterion.tau = tau;
    const definitions::ExtractionScore score = definitions::score_extraction(
        model, recovered, scheme.hidden_mask(model, release), criterion);
    std::cout << std::setprecision(4) << "  hidden parameters recovered within relative error "
              << tau << ": " << score.hidden_recovered << " / " << score.hidden << " (fraction "
              << score.hidden_fraction() << ")\n"
              << std::scientific << std::setprecision(2)
              << "  relative error on hidden parameters: max " << score.max_error_hidden
              << ", median " << score.median_error_hidden << "\n"
              << std::fixed << std::setprecision(4);

    // ---- Part 2: the same as a game cell ----------------------------------------------------
    std::cout << "\nPart 2: the game param_extraction, " << trials << " trials (seed " << seed
              << ")\n";
    experiments::CellSpec cell;
    cell.game = "param_extraction";
    cell.scheme = "taylor_mlp";
    cell.attack = "taylor_ratio_inversion";
    cell.game_params.set("model", "random:mlp:784,64,10:silu");  // a fresh model per trial
    cell.game_params.set("tau", "0.01");
    cell.game_params.set("rho", "0.99");
    cell.scheme_params.set("format", "paper");
    cell.scheme_params.set("order", std::to_string(order));
    const auto instance = experiments::instantiate(experiments::Catalog::global(), cell);

    experiments::RunOptions run;
    run.seed = seed;
    run.experiment_id = cell.experiment_id();
    run.trials = {0, trials};
    run.threads = threads;
    const auto counts =
        experiments::play_trials(*instance.game, instance.scheme.get(), *instance.adversary, run);
    const auto result = experiments::summarize(cell, *instance.game, *instance.adversary, seed,
                                               run.trials, counts, alpha);
    const auto& fraction = counts.metrics.at("fraction_hidden");
    std::cout << "  cell        " << cell.key() << "\n"
              << "  convention  " << definitions::advantage_convention(result.shape) << "\n"
              << "  wins        " << counts.wins << " / " << counts.n
              << "  (win: >= 99% of the hidden parameters within relative error 1e-2)\n"
              << "  Adv         estimate " << result.advantage.estimate << ", lower "
              << result.advantage.lower << ", upper " << result.advantage.upper
              << "  (one-sided Clopper-Pearson, level " << 1 - alpha << " each)\n"
              << "  fraction    mean " << fraction.mean() << ", min " << fraction.min
              << " (hidden parameters recovered per trial)\n\n";

    const bool part1 = score.hidden_fraction() >= 0.99;
    const bool part2 = result.advantage.lower > 0.5;
    if (!part1)
      std::cout << "FAILED: part 1 recovered only " << score.hidden_fraction()
                << " of the hidden parameters\n";
    if (!part2)
      std::cout << "FAILED: part 2's lower bound " << result.advantage.lower
                << " does not exceed 1/2\n";
    if (!part1 || !part2) return 1;
    std::cout << "OK: the public artifact gives away the hidden weights: " << std::setprecision(4)
              << score.hidden_fraction()
              << " recovered in part 1, Adv >= " << result.advantage.lower << " in the game\n";
    return 0;
  });
}
