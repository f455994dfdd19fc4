#pragma once
// weight_shift: WRT's weight-shifting removal attack (Lukas et al. 2022, "SoK: How Robust is
// Image Classification Deep Neural Network Watermarking?").
//   For every weight matrix W_l ∈ R^{out×in} selected by `layers` (all, or hidden = all but the
//   output layer; biases are never shifted):
//     m_l = (1/out)·Σ_o W_l[o, :]                       (the layer-mean carrier)
//     W_l[o, c] ← W_l[o, c] − λ·m_l[c] − λ2·σ_l·ε_{l,o,c},  σ_l = std(W_l) (population, before the
//                 shift), ε ~ N(0, 1) from coins.derive("noise").derive(tensor name)
//   so the layer mean becomes (1 − λ)·m_l plus noise; then FTAL on the attacker's data with its
//   true labels (as finetune: `samples` rows, nn::train with coins.derive("train")) for `epochs`
//   epochs. epochs = 0 is the pure shift and needs no data.
#include <string>

#include "attacks/finetune.h"
#include "definitions/adversary.h"
#include "definitions/params.h"

namespace wrsec::attacks {

enum class WeightShiftLayers { all, hidden };

struct WeightShiftParams {
  double lambda = 1.5;
  double noise = 0.5;  // λ2 >= 0
  WeightShiftLayers layers = WeightShiftLayers::all;
  RemovalTraining train;  // epochs >= 0, default 2

  static WeightShiftParams from(const definitions::Params& params);
  void validate() const;
};

class WeightShift final : public definitions::Remover {
 public:
  explicit WeightShift(WeightShiftParams params);
  [[nodiscard]] std::string id() const override { return "weight_shift"; }
  [[nodiscard]] nn::Model remove(const nn::Model& marked,
                                 const definitions::RemovalContext& context,
                                 Rng& coins) const override;
  [[nodiscard]] const WeightShiftParams& params() const { return params_; }

 private:
  WeightShiftParams params_;
};

}  // namespace wrsec::attacks
