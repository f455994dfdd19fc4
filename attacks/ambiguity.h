#pragma once
// ambiguity: forgers of ownership claims for wm_forgery (Kerckhoffs: they know the scheme and run
// it under their own identity; they never hold the owner's signing key).
//   copy_bits:      claim = KeyGen_adv(target) with explicit key material whose message is what
//                   Verify reads from the target under that key (m := Verify(c, target).extracted).
//                   Wins always under binding=none; under binding=signature the message is
//                   re-derived from the signature, so it wins with about the FPR.
//   own_key:        `tries` honest claims of its own (fresh statements, its own valid
//                   signatures), returning the first that verifies on the target: success
//                   ≈ tries·FPR, the brute-force bound that signature binding leaves.
//   fake_signature: the owner's public key and a new statement ("…; owner=adversary") with the
//                   owner's signature or a random one: must never verify under signature binding.
#include <cstdint>
#include <string>

#include "definitions/adversary.h"
#include "definitions/params.h"

namespace wrsec::attacks {

struct AmbiguityParams {
  std::string strategy = "copy_bits";  // copy_bits | own_key | fake_signature
  std::int64_t tries = 1;

  static AmbiguityParams from(const definitions::Params& params);
  void validate() const;
};

class Ambiguity final : public definitions::Forger {
 public:
  explicit Ambiguity(AmbiguityParams params);
  [[nodiscard]] std::string id() const override { return "ambiguity"; }
  [[nodiscard]] definitions::OwnerSecret forge(const nn::Model& target,
                                               const definitions::ForgeryContext& context,
                                               Rng& coins) const override;

 private:
  AmbiguityParams params_;
};

}  // namespace wrsec::attacks
