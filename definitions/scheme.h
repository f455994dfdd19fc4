#pragma once
// Syntax of a weight-release scheme Π = (Release, Infer, Verify):
//   Release(M; r) → (A, s)   randomized: model M, coins r → public artifact A, owner secret s
//   Infer(A, x) → y          deterministic: the output the released form computes on inputs x
//   Verify(s, M') → {0,1}    optional (ownership schemes): does suspect model M' carry s's mark?
//                            White-box verification reads M''s weights; black-box verification
//                            only queries x ↦ M'(x) (a canary check on a served model).
// Correctness is scheme-specific (e.g. ‖Infer(A, x) − M(x)‖ within the Taylor error); security
// notions are games (definitions/game.h) played against the scheme. Capabilities are declared,
// so a game checks up front that a scheme can play it instead of catching "not implemented".
// Implementations must be thread-safe: trials call release/infer concurrently on one object.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/rng.h"
#include "definitions/artifact.h"
#include "definitions/owner_key.h"
#include "definitions/tee.h"
#include "nn/tensor.h"

namespace wrsec::nn {
class Model;
}

namespace wrsec::definitions {

enum class Capability : std::uint32_t {
  infer = 1U << 0,             // Infer(A, x) is defined
  verify = 1U << 1,            // Verify(s, M') is defined (ownership schemes)
  verify_black_box = 1U << 2,  // Verify needs only queries to M' (verify_queries)
  // Release is meant to keep the weights from the public, so the hiding notions (parameter
  // extraction, misuse, IND of releases) apply; plaintext declares it as the unprotected baseline.
  protected_release = 1U << 3,
  // Release provisions a trusted execution environment holding part of the secret
  // (provision_tee; definitions/tee.h); Infer runs through it, never on the artifact alone.
  tee = 1U << 4,
};

class Capabilities {
 public:
  constexpr Capabilities() = default;
  constexpr Capabilities(std::initializer_list<Capability> caps) {
    for (Capability c : caps) bits_ |= static_cast<std::uint32_t>(c);
  }
  [[nodiscard]] constexpr bool has(Capability c) const {
    return (bits_ & static_cast<std::uint32_t>(c)) != 0;
  }
  [[nodiscard]] std::string to_string() const;

 private:
  std::uint32_t bits_ = 0;
};

// Verification outcome: the decision plus the statistics behind it. Under the null "M' is
// independent of the key", each checked bit matches with probability p0 (1/2 for bit strings,
// 1/C for trigger labels); log2_p = log2 P[Bin(bits, p0) >= matches], exact (MPFR below double
// range). accepted = (p-value <= target_fpr), so the decision's false-positive rate is at most
// target_fpr under that null (or the scheme's calibrated rule when details say so).
struct VerifyResult {
  bool accepted = false;
  std::uint64_t matches = 0;            // matching bits (or trigger labels)
  std::uint64_t bits = 0;               // bits checked
  double p0 = 0.5;                      // per-bit match probability under the null
  double log2_p = 0.0;                  // log2 p-value of `matches` under the null
  double target_fpr = 0.0;              // the false-positive rate the decision was made at
  std::vector<std::uint8_t> extracted;  // the bits (or labels) read from M'
  nlohmann::json details = nlohmann::json::object();
};

// Black-box access to a suspect model: rows of x ↦ rows of logits.
using QueryFn = std::function<nn::Matrix(const nn::Matrix&)>;

class WeightReleaseScheme {
 public:
  virtual ~WeightReleaseScheme() = default;
  [[nodiscard]] virtual std::string id() const = 0;
  [[nodiscard]] virtual Capabilities capabilities() const = 0;
  [[nodiscard]] virtual Release release(const nn::Model& model, Rng& coins) const = 0;
  // Throws LogicError unless capabilities() has infer.
  [[nodiscard]] virtual nn::Matrix infer(const Artifact& artifact, const nn::Matrix& x) const;
  // Which parameters of `original` the release hides: a 0/1 tensor per parameter tensor (1 =
  // not published in the clear). Extraction is scored on these. Default: everything hidden.
  [[nodiscard]] virtual nn::TensorMap hidden_mask(const nn::Model& original,
                                                  const Release& release) const;
  // The TEE a release provisions (capability tee): it holds what of s the scheme puts there and
  // answers the host's per-query requests. Throws LogicError unless capabilities() has tee.
  [[nodiscard]] virtual std::shared_ptr<const TeeDevice> provision_tee(
      const Release& release) const;
  // Multiply-accumulates per example of Infer(A, ·), the cost model of the misuse game.
  // Throws LogicError unless capabilities() has infer.
  [[nodiscard]] virtual double infer_macs(const Artifact& artifact) const;
  // Throws LogicError unless capabilities() has verify. A claim the scheme cannot check (bad
  // signature, malformed record) or a suspect of another shape is rejected, not an error.
  [[nodiscard]] virtual VerifyResult verify(const OwnerSecret& secret,
                                            const nn::Model& suspect) const;
  // KeyGen of an ownership scheme (Release = Embed ∘ KeyGen): the secret release(model, coins)
  // returns, without the cost of embedding. Throws LogicError unless capabilities() has verify.
  [[nodiscard]] virtual OwnerSecret keygen(const nn::Model& model, Rng& coins) const;
  // The same public algorithm and parameters for another party (an adversary who knows the
  // scheme): its own key pair from owner_seed and, where embedding trains, its own data (the
  // attacker's part of the split). Throws LogicError unless capabilities() has verify.
  [[nodiscard]] virtual std::unique_ptr<WeightReleaseScheme> for_owner(
      std::uint64_t owner_seed) const;
  // The same algorithm and parameters signing with `key` (a real owner's key, from the OS CSPRNG)
  // instead of the key derived from owner_seed: what `wrsec mark` releases with. Throws
  // LogicError when the scheme has no verify capability or cannot take an outside key.
  [[nodiscard]] virtual std::unique_ptr<WeightReleaseScheme> with_owner_key(
      const OwnerKeyPair& key) const;
  // Black-box verification; throws LogicError unless capabilities() has verify_black_box.
  [[nodiscard]] virtual VerifyResult verify_queries(const OwnerSecret& secret,
                                                    const QueryFn& query) const;
};

}  // namespace wrsec::definitions
