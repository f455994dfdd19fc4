#include "schemes/registry.h"

#include "schemes/lsb_parity.h"
#include "schemes/perm_lock.h"
#include "schemes/plaintext.h"
#include "schemes/qim.h"
#include "schemes/scale_morph.h"
#include "schemes/sparse_lock.h"
#include "schemes/spread_spectrum.h"
#include "schemes/taylor_mlp.h"
#include "schemes/trigger_set.h"
#include "schemes/uchida.h"

namespace wrsec::schemes {

void register_builtin_schemes(definitions::Registry<definitions::WeightReleaseScheme>& registry) {
  registry.add("plaintext", "baseline: publishes the weights themselves (no protection)",
               [](const definitions::Params&) { return std::make_unique<Plaintext>(); });
  registry.add("taylor_mlp",
               "TaylorMLP (EMNLP 2024): Taylor-coefficient release, paper or official format",
               [](const definitions::Params& p) {
                 return std::make_unique<TaylorMlp>(TaylorMlpParams::from(p));
               });
  registry.add("perm_lock",
               "permutation locking with a TEE (TransLinkGuard/CoreGuard-like, MLPs and gated "
               "blocks): inputs and hidden units permuted, the TEE holds the input permutation "
               "(mode = clear | static_basis | fresh, basis K, noise, permute_hidden; gated "
               "blocks: residual = shared | per_layer)",
               [](const definitions::Params& p) {
                 return std::make_unique<PermLock>(PermLockParams::from(p));
               });
  registry.add("sparse_lock",
               "sparse-secret partial release with a TEE (NNSplitter-like, MLPs): k weights "
               "pushed to their layer's clamp bounds to break accuracy, the TEE holds the sparse "
               "correction (k, rounds, samples, layers, clamp)",
               [](const definitions::Params& p) {
                 return std::make_unique<SparseLock>(SparseLockParams::from(p));
               });
  registry.add("scale_morph",
               "parameter morphing with a TEE (SOTER-like, MLPs): a fraction of layers released "
               "scaled by secret factors, the rest held in the TEE (fraction, scale_min, "
               "scale_max)",
               [](const definitions::Params& p) {
                 return std::make_unique<ScaleMorph>(ScaleMorphParams::from(p));
               });
  // Ownership schemes; common params: owner_seed, rsa_bits, binding (signature|none),
  // target_fpr, bits, layers, ecc_t, two_sided, threshold.
  registry.add(
      "uchida",
      "white-box mark: projection regulariser on a layer's mean row, embedded by "
      "fine-tuning (+ lambda, lr, epochs, max_epochs, batch, split_seed, samples, data)",
      [](const definitions::Params& p) { return std::make_unique<Uchida>(UchidaParams::from(p)); });
  registry.add("spread_spectrum",
               "white-box mark: additive keyed +-1 chips in raw weights, bit or z-score "
               "detection (+ strength, detector)",
               [](const definitions::Params& p) {
                 return std::make_unique<SpreadSpectrum>(SpreadSpectrumParams::from(p));
               });
  registry.add("lsb_parity",
               "fragile white-box mark: parity of float32 mantissa LSBs in keyed groups "
               "(+ group)",
               [](const definitions::Params& p) {
                 return std::make_unique<LsbParity>(LsbParityParams::from(p));
               });
  registry.add(
      "qim",
      "white-box mark: dither modulation of keyed projections, step chosen to survive "
      "INT-b quantisation (+ support, robust_bits, margin)",
      [](const definitions::Params& p) { return std::make_unique<Qim>(QimParams::from(p)); });
  registry.add("trigger_set",
               "black-box mark: keyed OOD triggers with random labels, verified by queries "
               "only (triggers, classes, inputs, per_batch, lr, epochs, max_epochs, batch, "
               "split_seed, samples, data; no layers/ecc_t)",
               [](const definitions::Params& p) {
                 return std::make_unique<TriggerSet>(TriggerSetParams::from(p));
               });
}

}  // namespace wrsec::schemes
