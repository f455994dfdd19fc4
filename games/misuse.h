#pragma once
// misuse (search game, the "Unswift" claim: a release must not yield a fast equivalent model):
//   θ ← ModelSource;  (A, s) ← Release(θ; r);  P ← E(A, O_Infer^q, O_TEE^t)  (P runs alone)
//   x_1..x_m ← held-out inputs (InputSource, challenger coins)
//   agree:  max_k ‖P(x_k) − f_θ(x_k)‖₂ / ‖f_θ(x_k)‖₂ ≤ ε
//   cheap:  cost(P) < κ·cost(f_θ), cost = multiply-accumulates per example
//   win iff agree AND cheap.  Adv = Pr[win] (baseline 0).
// With accuracy_ratio = ρ > 0 (labelled inputs, classifiers), agree is instead
//   acc(f_θ) > 0 and acc(P) ≥ ρ·acc(f_θ)   on the m held-out inputs' true labels (meaningful for
//   a trained classifier: against a victim at chance any model may win),
// the "accuracy restored" criterion of the partial-release attacks (NNSplitter, SOTER), with
// metrics accuracy, victim_accuracy, accuracy_ratio, release_accuracy (Infer's own) and
// artifact_accuracy (the artifact's model run without the TEE, when it is a model: the lock).
// Metrics per trial: output_rel_error and cost_ratio of P; the release's own cost ratio
// (release_cost_ratio = Π.infer_macs(A)/cost(f_θ)) and its own output error
// (release_output_rel_error), so the slowdown the scheme claims is measured in the same run;
// for classifiers (mlp) argmax_agreement and kl_mean = mean KL(f_θ ‖ P) of P, and the release's
// release_kl_mean; for a scheme with a TEE, Infer (the Infer oracle's and the release's own
// output) runs through the release's TEE, and release_tee_cost_ratio is the TEE's work per
// example over cost(f_θ) (release_cost_ratio is then the host's). Wall time is measured by
// benchmarks, not here.
#include <cstdint>
#include <string>

#include "definitions/game.h"
#include "definitions/params.h"
#include "definitions/sources.h"

namespace wrsec::games {

struct MisuseParams {
  std::string model = "random:mlp:784,64,10:silu";
  double epsilon = 1e-3;
  double kappa = 1.5;
  std::string inputs;  // InputSource spec; empty = InputSource::default_for(arch, held_out)
  std::int64_t eval_samples = 256;
  std::int64_t queries = 0;
  std::int64_t tee_queries = 0;  // direct queries to the release's TEE (schemes with a TEE)
  double accuracy_ratio = 0;     // ρ > 0: agree = accuracy restored to ρ·acc(f_θ)

  static MisuseParams from(const definitions::Params& params);
  void validate() const;
};

class Misuse final : public definitions::Game {
 public:
  explicit Misuse(MisuseParams params);
  [[nodiscard]] std::string id() const override { return "misuse"; }
  [[nodiscard]] definitions::GameShape shape() const override {
    return definitions::GameShape::search;
  }
  void check(const definitions::WeightReleaseScheme* scheme,
             const definitions::Adversary& adversary) const override;
  [[nodiscard]] definitions::TrialOutcome play(const definitions::WeightReleaseScheme* scheme,
                                               const definitions::Adversary& adversary,
                                               Rng& coins) const override;

 private:
  MisuseParams params_;
  definitions::ModelSource source_;
  definitions::InputSource inputs_;
};

// max_k ‖a_k − b_k‖₂ / ‖b_k‖₂ over rows (a row with ‖b_k‖ = 0 uses the absolute error).
double max_relative_row_error(const nn::Matrix& a, const nn::Matrix& b);

}  // namespace wrsec::games
