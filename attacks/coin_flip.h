#pragma once
// coin_flip: the trivial distinguisher, b' ←$ {0,1} ignoring the challenge; advantage exactly 0
// in every distinguishing game. A control: its bound must cover 0.
#include "definitions/adversary.h"

namespace wrsec::attacks {

class CoinFlip final : public definitions::Distinguisher {
 public:
  [[nodiscard]] std::string id() const override { return "coin_flip"; }
  [[nodiscard]] int guess(const definitions::Artifact& /*challenge*/,
                          definitions::OracleAccess& /*oracles*/, Rng& coins) const override {
    return coins.bit() ? 1 : 0;
  }
};

}  // namespace wrsec::attacks
