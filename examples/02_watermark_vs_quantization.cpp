// Example 2: an ownership watermark against INT8 quantisation.
//
// What it shows
//   How a robustness question becomes a search game with a bound. The owner marks a trained
//   Fashion-MNIST classifier and publishes it; the adversary quantises the weights to INT8 and
//   republishes. The game is wm_removal (games/wm_removal.h):
//     theta <- model source; (M, s) <- Release(theta; r)      M = marked model, s = owner's claim
//     M' <- quantize(M)                                        symmetric 8-bit, per tensor
//     win iff Verify(s, M') fails AND acc(M) - acc(M') <= delta (0.05)
//     Adv = Pr[win] (search game, baseline 0): the removal advantage.
//   Two white-box marks play it (schemes/lsb_parity.h, schemes/qim.h):
//     lsb_parity  parities of float32 mantissa LSBs: fragile by design, any re-quantisation
//                 randomises them, so the mark is removed in (nearly) every trial;
//     qim         dither modulation with a step chosen to survive 8-bit quantisation: the
//                 mark survives, so the removal advantage is 0 up to the bound.
//   Each trial runs KeyGen with fresh coins on the same model (a new statement nonce, hence a new
//   mark key and message; the owner's RSA key pair stays), so the trials are independent given the
//   model and Clopper-Pearson applies.
//   Two schemes are a grid of two cells, and every grid goes through the spec engine: the program
//   writes a spec (sweep scheme = lsb_parity, qim), plays it into a run directory
//   (experiments/run_dir.h: resumable, shardable; Bonferroni over the 2 cells, alpha/2 each) and
//   reads the results back from its results.jsonl, which `wrsec run SPEC` would write the same.
//
// The model source
//   wm_removal needs a trained model (accuracy enters the win condition): the default is the zoo
//   model zoo:mlp_784_64_64_10_relu@1 (definitions/sources.h, nn/zoo.h), trained on the defender
//   split of Fashion-MNIST (/usr/share/datasets/fashion-mnist) on first use and cached in
//   $WRSEC_ZOO_CACHE (default ./models); the training adds about 1 s to the first run. What
//   dominates a trial is measuring accuracy, so it is measured on the first --eval-samples test
//   images (game parameter eval_samples, default 2000 of 10000; all 10000 take about 5 times as
//   long). Any other 784 -> 10 mlp source works with --model, e.g. a random (untrained)
//   random:mlp:784,64,64,10:relu: the marks behave the same, but the accuracy half of the win
//   condition is then vacuous (about 10% before and after).
//
// Expected output (defaults --trials 20 --seed 1; about 2 s on 2 cores)
//   lsb_parity: wins 20 / 20, removal Adv lower bound 0.8316 (one-sided Clopper-Pearson at
//               1 - 0.05/2, Bonferroni over the two cells),
//               bit accuracy after the attack about 0.5 (chance), the attacked model no longer
//               verifies
//   qim:        wins  0 / 20, removal Adv upper bound 0.1684, bit accuracy 1.0
//   both:       every marked model verifies (correctness); accuracy about 0.87, dropping by about
//               0.001 under quantisation
//   and "OK: the bounds separate ...". The program exits 1 unless both marked models verify in
//   every trial and lsb_parity's lower bound lies above qim's upper bound.
#include <omp.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "examples/example_args.h"
#include "experiments/claims.h"
#include "experiments/run_dir.h"

using namespace wrsec;
using nlohmann::json;

namespace {

// The mean of a per-trial metric the game reports (games/wm_removal.h lists them).
double mean_of(const json& cell, const std::string& metric) {
  const json m = experiments::json_at(cell, "metrics." + metric + ".mean");
  if (!m.is_number()) throw LogicError("wm_removal reported no metric " + metric);
  return m.get<double>();
}

double number(const json& cell, const std::string& path) {
  return experiments::json_at(cell, path).get<double>();
}

// A scratch directory removed at the end (the run directory lives inside it).
struct ScratchDir {
  std::filesystem::path path;
  ScratchDir() {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "wrsec-example-02-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw RuntimeError("cannot create a scratch directory");
    path = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

}  // namespace

int main(int argc, char** argv) {
  return examples::run_example("02_watermark_vs_quantization", [&] {
    examples::Args args("02_watermark_vs_quantization",
                        "An ownership watermark against INT8 quantisation: the removal advantage\n"
                        "of wm_removal for lsb_parity (removed) and qim (survives), with bounds.");
    args.option("trials", "20", "trials per scheme (at least 5)")
        .option("seed", "1", "master seed of the trials' coins")
        .option("model", "zoo:mlp_784_64_64_10_relu@1", "model source (784 -> 10 mlp)")
        .option("eval-samples", "2000", "test images for accuracy (1..10000)")
        .option("threads", std::to_string(omp_get_max_threads()), "OpenMP threads");
    if (!args.parse(argc, argv)) return 0;
    const std::uint64_t trials = args.integer("trials", 5, 100'000);
    const std::uint64_t seed = args.integer("seed", 0, UINT64_MAX >> 1);
    const std::string eval_samples = std::to_string(args.integer("eval-samples", 1, 10'000));
    const int threads = static_cast<int>(args.integer("threads", 1, 1024));
    const double alpha = 0.05;
    // The grid as a spec: one game, one attack, the scheme swept over two values.
    const std::string spec =
        "name = watermark_vs_int8\n"
        "game = wm_removal\n"
        "attack = quantize\n"
        "trials = " +
        std::to_string(trials) +
        "\n"
        "seed = " +
        std::to_string(seed) +
        "\n"
        "alpha = 0.05\n"
        "correction = bonferroni\n"
        "[game]\n"
        "model = \"" +
        args.text("model") +
        "\"\n"
        "eval_samples = " +
        eval_samples +
        "\n"
        "[attack]\n"
        "bits = 8\n"
        "granularity = tensor\n"
        "[sweep]\n"
        "scheme = lsb_parity, qim\n";
    const ScratchDir scratch;
    std::ofstream(scratch.path / "spec.ini") << spec;
    const char* cache = std::getenv("WRSEC_ZOO_CACHE");
    std::cout << "model " << args.text("model")
              << " (zoo cache: " << (cache && *cache ? cache : "./models") << ")\n"
              << "attack quantize, bits=8, granularity=tensor; " << trials
              << " trials per scheme, seed " << seed << ", family alpha " << alpha
              << " (Bonferroni over 2 cells)\n";

    // Play it: every cell is instantiated first (a bad --model fails here with one line), then
    // the trials run in checkpointed batches into the run directory.
    experiments::RunDirOptions options;
    options.threads = threads;
    experiments::start_run(scratch.path / "spec.ini", scratch.path / "run", options);

    std::map<std::string, json> results;
    for (const json& cell : experiments::read_results(scratch.path / "run")) {
      const std::string scheme = experiments::json_at(cell, "scheme.id").get<std::string>();
      std::cout << std::fixed << std::setprecision(4) << "\n"
                << scheme << "\n"
                << "  convention        " << cell["convention"].get<std::string>() << "\n"
                << "  wins              " << cell["counts"]["wins"] << " / " << cell["counts"]["n"]
                << "\n"
                << "  removal Adv       estimate " << number(cell, "advantage.estimate")
                << ", lower " << number(cell, "advantage.lower") << ", upper "
                << number(cell, "advantage.upper") << "  (one-sided Clopper-Pearson, level "
                << 1 - number(cell, "alpha") << " each)\n"
                << "  marked verifies   " << mean_of(cell, "marked_detected")
                << "  (fraction of trials: the scheme's correctness)\n"
                << "  attacked verifies " << mean_of(cell, "detected") << "\n"
                << "  bit accuracy      " << mean_of(cell, "bit_accuracy")
                << "  (mean over trials, after the attack; 0.5 = chance)\n"
                << "  accuracy          marked " << mean_of(cell, "acc_marked") << ", attacked "
                << mean_of(cell, "acc_attacked") << " (mean drop " << mean_of(cell, "acc_drop")
                << ")\n";
      results.emplace(scheme, cell);
    }

    const auto& lsb = results.at("lsb_parity");
    const auto& qim = results.at("qim");
    std::cout << "\n";
    bool ok = true;
    for (const auto& [scheme, cell] : results) {
      if (mean_of(cell, "marked_detected") != 1.0) {
        std::cout << "FAILED: a " << scheme << " marked model did not verify\n";
        ok = false;
      }
    }
    const double lsb_lower = number(lsb, "advantage.lower");
    const double qim_upper = number(qim, "advantage.upper");
    if (!(lsb_lower > qim_upper)) {
      std::cout << "FAILED: the bounds do not separate: lsb_parity lower " << lsb_lower
                << " <= qim upper " << qim_upper << "\n";
      ok = false;
    }
    if (!ok) return 1;
    std::cout << "OK: the bounds separate: INT8 quantisation removes lsb_parity (Adv >= "
              << lsb_lower << ") while qim survives it (Adv <= " << qim_upper << ")\n";
    return 0;
  });
}
