#include "attacks/registry.h"

#include "core/errors.h"

#include "attacks/ambiguity.h"
#include "attacks/base_alignment.h"
#include "attacks/cast.h"
#include "attacks/coin_flip.h"
#include "attacks/compose.h"
#include "attacks/distill.h"
#include "attacks/dummy_neurons.h"
#include "attacks/finetune.h"
#include "attacks/identity.h"
#include "attacks/ind_via_extraction.h"
#include "attacks/knockoff.h"
#include "attacks/likelihood_ratio.h"
#include "attacks/outlier_restore.h"
#include "attacks/overwrite.h"
#include "attacks/permute.h"
#include "attacks/plaintext_copy.h"
#include "attacks/prune.h"
#include "attacks/quantize.h"
#include "attacks/query_regression.h"
#include "attacks/scale_neurons.h"
#include "attacks/static_basis.h"
#include "attacks/taylor_ratio_inversion.h"
#include "attacks/taylor_sign_hypothesis.h"
#include "attacks/variance_scale.h"
#include "attacks/weight_noise.h"
#include "attacks/weight_shift.h"

namespace wrsec::attacks {

void register_builtin_attacks(definitions::Registry<definitions::Adversary>& registry) {
  registry.add("coin_flip", "trivial distinguisher: a fair coin, advantage 0 (control)",
               [](const definitions::Params&) { return std::make_unique<CoinFlip>(); });
  registry.add("likelihood_ratio",
               "optimal (Neyman-Pearson) distinguisher for bernoulli_ind: compares P1(k), P0(k)",
               [](const definitions::Params&) { return std::make_unique<LikelihoodRatio>(); });
  registry.add("taylor_ratio_inversion",
               "taylor_mlp paper format: a_j from ratios of consecutive Taylor coefficients",
               [](const definitions::Params&) { return std::make_unique<TaylorRatioInversion>(); });
  registry.add("taylor_sign_hypothesis",
               "taylor_mlp official format: two-hypothesis residual test for each sign",
               [](const definitions::Params&) { return std::make_unique<TaylorSignHypothesis>(); });
  registry.add("plaintext_copy",
               "control extractor for the plaintext release: outputs the published weights",
               [](const definitions::Params&) { return std::make_unique<PlaintextCopy>(); });
  registry.add("static_basis",
               "perm_lock extractor: recovers the TEE's static noise subspace by repeated queries, "
               "projects it out and reads the input permutation off d unit-vector queries "
               "(params batch, spare, max_noise_queries, tol; the game's tee_queries grants them)",
               [](const definitions::Params& p) {
                 return std::make_unique<StaticBasis>(StaticBasisParams::from(p));
               });
  registry.add("base_alignment",
               "perm_lock extractor: matches the locked first layer's columns to a public base "
               "model's by sorted values (param base = the base's model source)",
               [](const definitions::Params& p) {
                 return std::make_unique<BaseAlignment>(BaseAlignmentParams::from(p));
               });
  registry.add("outlier_restore",
               "sparse_lock extractor and locator: flags the weights piled up at each tensor's "
               "clamp bounds (detect = bounds | repeats, tolerance, repeats), restores them to "
               "zero or a public base (restore, base), then fine-tunes on victim-labelled "
               "queries (finetune, queries, epochs, lr, batch, inputs; the game's queries grant "
               "them)",
               [](const definitions::Params& p) {
                 return std::make_unique<OutlierRestore>(OutlierRestoreParams::from(p));
               });
  registry.add("knockoff",
               "black-box baseline extractor: trains a fresh network of the release's "
               "architecture on victim-labelled queries, ignoring the released weights (queries, "
               "epochs, lr, batch, inputs; the game's queries grant them; finetune=no trains "
               "nothing)",
               [](const definitions::Params& p) {
                 return std::make_unique<Knockoff>(QueryTraining::from(p, "knockoff"));
               });
  registry.add("variance_scale",
               "scale_morph extractor: divides each morphed layer by sqrt(var(W')/var(B)) of a "
               "public base B, or of the architecture's initialisation without one (estimator = "
               "variance | projection), starts the TEE's layers from B (or a fresh init), then "
               "fine-tunes on victim-labelled queries (base, finetune, queries, epochs, lr, batch, "
               "inputs)",
               [](const definitions::Params& p) {
                 return std::make_unique<VarianceScale>(VarianceScaleParams::from(p));
               });
  registry.add("query_regression",
               "data-driven baseline extractor: least squares on Q Infer queries (params inputs; "
               "the game's queries parameter sets Q)",
               [](const definitions::Params& p) {
                 return std::make_unique<QueryRegression>(QueryRegressionParams::from(p));
               });
  // The extractor is looked up in the registry this factory lives in, so that an extractor a
  // plug-in adds to it later can be wrapped too (the registry outlives its factories).
  registry.add("ind_via_extraction",
               "release distinguisher from an extractor: picks two random models, extracts, "
               "guesses the nearer (param extractor = attack id)",
               [&registry](const definitions::Params& p) {
                 definitions::Params rest;
                 for (const auto& [k, v] : p.values())
                   if (k != "extractor") rest.set(k, v);
                 const std::string id = p.get_string("extractor", "taylor_ratio_inversion");
                 std::unique_ptr<definitions::Adversary> made = registry.create(id, rest);
                 if (dynamic_cast<definitions::Extractor*>(made.get()) == nullptr)
                   throw InvalidArgument("attack '" + id + "' is not an extractor");
                 std::unique_ptr<definitions::Extractor> extractor(
                     static_cast<definitions::Extractor*>(made.release()));
                 for (const auto& [k, v] : rest.values()) (void)p.get_string(k, v);
                 return std::make_unique<IndViaExtraction>(std::move(extractor));
               });
  registry.add("finetune",
               "removal: fine-tune all layers on the attacker's data; rtal re-initialises the "
               "output layer first (params mode=ftal|rtal, epochs, lr, optimizer=adam|sgd, batch, "
               "samples, labels=true|model)",
               [](const definitions::Params& p) {
                 return std::make_unique<Finetune>(FinetuneParams::from(p));
               });
  registry.add("distill",
               "removal: train a fresh student on the marked model's soft outputs, loss "
               "T^2*KL (params temperature, epochs, lr, optimizer, batch, samples)",
               [](const definitions::Params& p) {
                 return std::make_unique<Distill>(DistillParams::from(p));
               });
  registry.add("weight_shift",
               "removal: WRT weight shifting W -= lambda*mean row + noise*N(0,std W^2), then "
               "fine-tune (params lambda, noise, layers=all|hidden, epochs, lr, optimizer, batch, "
               "samples)",
               [](const definitions::Params& p) {
                 return std::make_unique<WeightShift>(WeightShiftParams::from(p));
               });
  registry.add(
      "prune",
      "removal: magnitude pruning, zero the ceil(rate*n) smallest |w| (params rate, "
      "scope=tensor|global, biases, skip_last)",
      [](const definitions::Params& p) { return std::make_unique<Prune>(PruneParams::from(p)); });
  registry.add("quantize",
               "removal: symmetric uniform b-bit quantization of the weights, dequantized (params "
               "bits, granularity=tensor|channel, biases)",
               [](const definitions::Params& p) {
                 return std::make_unique<Quantize>(QuantizeParams::from(p));
               });
  registry.add(
      "cast",
      "removal: round every tensor to half precision and back, nearest-even, overflow "
      "clamped (params format=fp16|bf16)",
      [](const definitions::Params& p) { return std::make_unique<Cast>(CastParams::from(p)); });
  registry.add("weight_noise",
               "removal: W += N(0, (scale*std W)^2) per weight tensor (params scale, biases)",
               [](const definitions::Params& p) {
                 return std::make_unique<WeightNoise>(WeightNoiseParams::from(p));
               });
  registry.add("permute",
               "removal: random permutation of the hidden units of every hidden layer, same "
               "function (no params)",
               [](const definitions::Params&) { return std::make_unique<Permute>(); });
  registry.add("scale_neurons",
               "removal: random positive per-unit scaling of every hidden layer of a relu mlp, "
               "same function (params log_range)",
               [](const definitions::Params& p) {
                 return std::make_unique<ScaleNeurons>(ScaleNeuronsParams::from(p));
               });
  registry.add("dummy_neurons",
               "removal: structural obfuscation, add cancelling dummy units to every hidden layer "
               "and shuffle (params kind=split|clique, count, jitter: split copies only nearly "
               "collinear)",
               [](const definitions::Params& p) {
                 return std::make_unique<DummyNeurons>(DummyNeuronsParams::from(p));
               });
  registry.add("compose",
               "removal: two removal attacks in sequence (params first, second: attack ids; "
               "first.<param>, second.<param>: their parameters)",
               [&registry](const definitions::Params& p) { return Compose::from(p, registry); });
  registry.add("identity", "removal control: returns the marked model unchanged",
               [](const definitions::Params&) { return std::make_unique<Identity>(); });
  registry.add("overwrite",
               "removal: embed the adversary's own mark with the same scheme and its own key",
               [](const definitions::Params&) { return std::make_unique<Overwrite>(); });
  registry.add("ambiguity",
               "forger for wm_forgery: claim the bits the target carries, or try its own keys, "
               "or reuse the owner's key (params strategy=copy_bits|own_key|fake_signature, "
               "tries)",
               [](const definitions::Params& p) {
                 return std::make_unique<Ambiguity>(AmbiguityParams::from(p));
               });
}

std::unique_ptr<definitions::Extractor> make_extractor(const std::string& id,
                                                       const definitions::Params& params) {
  definitions::Registry<definitions::Adversary> registry("attack");
  register_builtin_attacks(registry);
  std::unique_ptr<definitions::Adversary> adversary = registry.create(id, params);
  auto* extractor = dynamic_cast<definitions::Extractor*>(adversary.get());
  if (extractor == nullptr) throw InvalidArgument("attack '" + id + "' is not an extractor");
  adversary.release();
  return std::unique_ptr<definitions::Extractor>(extractor);
}

}  // namespace wrsec::attacks
