#pragma once
// Scoring a parameter-extraction attempt θ' against the original θ (the win condition of the
// param_extraction game).
//   relative error of a parameter:  e = |θ'_k − θ_k| / max(|θ_k|, floor·rms(θ_tensor))
//                                   (floor = 0: plain element-wise relative error; θ_k = θ'_k = 0
//                                   counts as e = 0)
//   recovered:                      e ≤ τ
//   fraction:                       recovered / counted, over the hidden parameters (mask = 1)
//                                   and over all parameters
// Symmetry: hidden units of an MLP (or gated block) can be permuted without changing the function,
// so by default θ' is first aligned to θ: layer by layer, each recovered unit is matched to the
// original unit whose incoming weights (and bias) are nearest among candidates preselected by
// fixed random projections (robust to recovery noise far above bf16 rounding). A wrong match only
// makes the score worse, never better.
#include <cstdint>
#include <vector>

#include "nn/model.h"

namespace wrsec::definitions {

struct ExtractionCriterion {
  double tau = 1e-2;
  double floor = 0.0;
  bool align_permutations = true;
};

struct ExtractionScore {
  bool architecture_matches = false;
  std::uint64_t parameters = 0;  // all parameters of θ
  std::uint64_t hidden = 0;      // parameters with mask 1
  std::uint64_t recovered = 0;   // all parameters with e ≤ τ
  std::uint64_t hidden_recovered = 0;
  double max_error_hidden = 0;  // +inf when an architecture mismatch makes θ' unusable
  double median_error_hidden = 0;
  double max_error = 0;
  [[nodiscard]] double fraction() const;
  [[nodiscard]] double hidden_fraction() const;  // 1 when nothing is hidden
};

// θ' with its hidden units permuted to best match θ (same architecture required).
[[nodiscard]] nn::Model align_hidden_units(const nn::Model& original, const nn::Model& recovered);

// hidden_mask: 0/1 per parameter tensor of θ (WeightReleaseScheme::hidden_mask); a tensor absent
// from the mask counts as hidden.
[[nodiscard]] ExtractionScore score_extraction(const nn::Model& original,
                                               const nn::Model& recovered,
                                               const nn::TensorMap& hidden_mask,
                                               const ExtractionCriterion& criterion);

}  // namespace wrsec::definitions
