#pragma once
// knockoff: the black-box baseline of a query budget (Knockoff Nets; the "black-box" row of the
// partial-release papers): ignores the released weights and trains a fresh network of the
// release's architecture (Model::init, coins.derive("init")) on victim-labelled queries
// (attacks/query_training.h). An attack on a protected release beats this control iff the
// release leaks more than the queries do.
#include <string>

#include "attacks/query_training.h"
#include "definitions/adversary.h"
#include "definitions/params.h"

namespace wrsec::attacks {

class Knockoff final : public definitions::Extractor {
 public:
  explicit Knockoff(QueryTraining train) : train_(std::move(train)) {}
  [[nodiscard]] std::string id() const override { return "knockoff"; }
  [[nodiscard]] nn::Model extract(const definitions::Artifact& release,
                                  definitions::OracleAccess& oracles, Rng& coins) const override;

 private:
  QueryTraining train_;
};

}  // namespace wrsec::attacks
