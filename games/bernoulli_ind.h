#pragma once
// bernoulli_ind: the demonstration distinguishing game, whose true advantage is known exactly.
//   b ←$ {0,1};  x_1..x_m ←iid Bernoulli(p_b);  b' ← D(p0, p1, x);  win iff b' = b.
// The challenge view is an artifact with tensor "samples" [m] and metadata {p0, p1, samples}.
// For the likelihood-ratio distinguisher the advantage equals the total-variation distance
// TV(Bin(m, p1), Bin(m, p0)) = ½ Σ_k |P1(k) − P0(k)|, which no distinguisher exceeds.
#include <cstdint>

#include "definitions/game.h"
#include "definitions/params.h"

namespace wrsec::games {

struct BernoulliIndParams {
  double p0 = 0.4;
  double p1 = 0.6;
  std::int64_t samples = 10;

  static BernoulliIndParams from(const definitions::Params& params);
  void validate() const;
};

// TV(Bin(m, p1), Bin(m, p0)), summed in long double over k = 0..m.
double bernoulli_total_variation(double p0, double p1, std::int64_t m);

class BernoulliInd final : public definitions::Game {
 public:
  explicit BernoulliInd(BernoulliIndParams params);
  [[nodiscard]] std::string id() const override { return "bernoulli_ind"; }
  [[nodiscard]] definitions::GameShape shape() const override {
    return definitions::GameShape::distinguishing;
  }
  [[nodiscard]] bool needs_scheme() const override { return false; }
  void check(const definitions::WeightReleaseScheme* scheme,
             const definitions::Adversary& adversary) const override;
  [[nodiscard]] definitions::TrialOutcome play(const definitions::WeightReleaseScheme* scheme,
                                               const definitions::Adversary& adversary,
                                               Rng& coins) const override;
  [[nodiscard]] std::optional<double> reference_advantage(
      const definitions::Adversary& adversary) const override;

 private:
  BernoulliIndParams params_;
};

}  // namespace wrsec::games
