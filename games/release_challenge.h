#pragma once
// The opening the release games share (param_extraction, misuse, secret_location), with the
// trial's coins split as challenger = coins/"challenger", adversary = coins/"adversary":
//   θ ← source(challenger/"model");  (A, s) ← Release(θ; challenger/"release");
//   the oracles the game grants: Infer with budget q, the release's TEE with budget t
//   (coins challenger/"tee"; definitions/oracle.h).
// The adversary is handed release.artifact and oracles.access() only; s stays here.
#include <cstdint>

#include "core/rng.h"
#include "definitions/oracle.h"
#include "definitions/scheme.h"
#include "definitions/sources.h"
#include "nn/model.h"

namespace wrsec::games {

struct ReleaseChallenge {
  ReleaseChallenge(const definitions::WeightReleaseScheme& scheme,
                   const definitions::ModelSource& source, std::int64_t queries,
                   std::int64_t tee_queries, const Rng& coins);
  ReleaseChallenge(const ReleaseChallenge&) = delete;
  ReleaseChallenge& operator=(const ReleaseChallenge&) = delete;

  const Rng challenger;
  Rng adversary;
  const nn::Model model;
  const definitions::Release release;
  definitions::TrialOracles oracles;
};

}  // namespace wrsec::games
