#pragma once
// identity: the removal "attack" that returns the marked model unchanged. A control: in
// wm_removal its advantage is the probability that Verify misses an untouched mark; in
// wm_false_positive it leaves the null models as they are (the plain FPR).
#include "definitions/adversary.h"

namespace wrsec::attacks {

class Identity final : public definitions::Remover {
 public:
  [[nodiscard]] std::string id() const override { return "identity"; }
  [[nodiscard]] nn::Model remove(const nn::Model& marked,
                                 const definitions::RemovalContext& /*context*/,
                                 Rng& /*coins*/) const override {
    return marked;
  }
};

}  // namespace wrsec::attacks
