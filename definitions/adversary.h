#pragma once
// Adversaries. An adversary is a (possibly randomized) algorithm with its own coins; each game
// fixes the interface its adversary implements, and the game rejects an adversary of the wrong
// kind up front (InvalidArgument naming both). Adversaries see only public artifacts and the
// oracles the game grants, never an OwnerSecret. Methods are const and must be thread-safe:
// trials run concurrently on one adversary object.
#include <string>

#include "core/rng.h"
#include "definitions/artifact.h"
#include "definitions/oracle.h"

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

}  // namespace wrsec::definitions
