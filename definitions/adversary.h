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

namespace wrsec::definitions {

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
};

}  // namespace wrsec::definitions
