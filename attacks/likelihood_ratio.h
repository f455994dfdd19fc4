#pragma once
// likelihood_ratio: the optimal distinguisher for the bernoulli_ind game (Neyman–Pearson).
// With k ones among m samples it outputs b' = 1 iff P1(k) > P0(k), where
// log P_j(k) = k·log p_j + (m−k)·log(1−p_j), and a fair coin on ties. Its advantage equals
// TV(Bin(m, p1), Bin(m, p0)).
#include "definitions/adversary.h"

namespace wrsec::attacks {

class LikelihoodRatio final : public definitions::Distinguisher {
 public:
  [[nodiscard]] std::string id() const override { return "likelihood_ratio"; }
  [[nodiscard]] int guess(const definitions::Artifact& challenge,
                          definitions::OracleAccess& oracles, Rng& coins) const override;
};

}  // namespace wrsec::attacks
