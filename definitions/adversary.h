#pragma once
// Adversaries. An adversary is a (possibly randomized) algorithm with its own coins; each game
// fixes the interface its adversary implements, and the game rejects an adversary of the wrong
// kind up front (InvalidArgument naming both). Adversaries see only public artifacts and the
// oracles the game grants, never an OwnerSecret. Methods are const and must be thread-safe:
// trials run concurrently on one adversary object.
#include <string>
#include <utility>

#include "core/rng.h"
#include "definitions/artifact.h"
#include "definitions/oracle.h"
#include "nn/model.h"

namespace wrsec::nn {
struct Dataset;
}

namespace wrsec::definitions {

class WeightReleaseScheme;

class Adversary {
 public:
  virtual ~Adversary() = default;
  [[nodiscard]] virtual std::string id() const = 0;
};

// Distinguisher D: given the public challenge view (an artifact drawn from world b) and oracles,
// outputs a guess b' ∈ {0, 1}.
class Distinguisher : public Adversary {
 public:
  [[nodiscard]] virtual int guess(const Artifact& challenge, OracleAccess& oracles,
                                  Rng& coins) const = 0;
};

// Extractor E (parameter extraction, misuse): given the public release of a model of a public
// architecture, outputs a runnable model θ' = E(A) (the game compares θ' with θ, or runs it).
class Extractor : public Adversary {
 public:
  [[nodiscard]] virtual nn::Model extract(const Artifact& release, OracleAccess& oracles,
                                          Rng& coins) const = 0;
  // Whether the extractor reads artifacts of this public form (format, metadata; Kerckhoffs: the
  // form is public). The evaluate battery pairs an extractor only with releases it reads.
  [[nodiscard]] virtual bool reads(const Artifact& /*release*/) const { return true; }
};

// Locator L (secret_location): given the public release and oracles, outputs the parameters of
// the released model it believes the owner's secret covers, as a 0/1 tensor per parameter tensor
// (a missing tensor counts as all 0). A mix-in, not an Adversary: an extractor that locates the
// secret on its way (e.g. outlier_restore) is also a Locator, and the game casts to it.
class Locator {
 public:
  virtual ~Locator() = default;
  [[nodiscard]] virtual nn::TensorMap locate(const Artifact& release, OracleAccess& oracles,
                                             Rng& coins) const = 0;
};

// Release distinguisher (IND of releases): chooses two models (θ0, θ1) of the given
// architecture, then sees Release(θ_b) and outputs b'. The pair is handed back to guess(), so the
// adversary keeps no state between the two phases.
struct ModelPair {
  nn::Model first;
  nn::Model second;
};
class ReleaseDistinguisher : public Adversary {
 public:
  [[nodiscard]] virtual ModelPair choose(const nn::Architecture& arch, Rng& coins) const = 0;
  [[nodiscard]] virtual int guess(const ModelPair& chosen, const Artifact& challenge,
                                  OracleAccess& oracles, Rng& coins) const = 0;
  // As Extractor::reads: whether it reads releases of this form.
  [[nodiscard]] virtual bool reads(const Artifact& /*release*/) const { return true; }
};

// Removal adversary R (wm_removal): given a marked model and public knowledge, outputs a model
// M' = R(M_marked) meant to keep the task accuracy while failing Verify. Public knowledge is the
// attacker's labelled data (disjoint from the owner's training split) and the scheme's algorithm
// (Kerckhoffs) instantiated with the adversary's own identity (for_owner), so R may run Release
// with its own key (e.g. to overwrite the mark); never the owner's secret or signing key.
struct RemovalContext {
  const nn::Dataset* data = nullptr;            // attacker's split; null if the game grants none
  const WeightReleaseScheme* scheme = nullptr;  // the algorithm under the adversary's identity
};
class Remover : public Adversary {
 public:
  [[nodiscard]] virtual nn::Model remove(const nn::Model& marked, const RemovalContext& context,
                                         Rng& coins) const = 0;
};

// Forger F (wm_forgery, ambiguity attack): given a target model (the owner's marked model or an
// independent one), the scheme's algorithm under the adversary's own identity, and the owner's
// public claim (statement, public key, signature: public once the owner asserts ownership),
// outputs an ownership claim in the scheme's OwnerSecret format (definitions/owner_key.h).
// F wins iff Verify(claim, target) accepts and the claim is not the owner's own.
struct ForgeryContext {
  const WeightReleaseScheme* scheme = nullptr;
  nlohmann::json owner_claim = nlohmann::json::object();
};
class Forger : public Adversary {
 public:
  [[nodiscard]] virtual OwnerSecret forge(const nn::Model& target, const ForgeryContext& context,
                                          Rng& coins) const = 0;
};

}  // namespace wrsec::definitions
