#pragma once
// Alignment of a suspect model's hidden units to a reference model (the owner's), undoing the
// function-preserving transforms that reorder, rescale or add hidden units (NeuronMap, Li & Wang
// 2023; the recipe of ../shared/reference/ownership_evidence.md §1). Hidden layer by hidden layer,
// with the suspect's inputs already in the reference's order, each unit j is described by its
// incoming row r_j = (W[j,:], b_j) (swiglu: (W_gate[j,:], W_up[j,:])) and outgoing column c_j:
//   1. merge:  units whose rows are (nearly) collinear, cos(r_j, r_k) ≥ merge_cosine, are one unit
//              split (relu: r_k ≈ α·r_j, α > 0, so a_k ≈ α·a_j; other activations: also
//              ‖r_k‖ ≈ ‖r_j‖, α = 1): c_j ← c_j + α·c_k. A merged unit whose column is below
//              dead_fraction of the median column norm (a clique whose columns sum to zero) is
//              dropped, as is a zero row. A group is matched by its best member's cosine and keeps
//              that member's row (the original rather than a perturbed copy).
//   2. match:  a one-to-one assignment of reference units i to suspect units j maximising
//              Σ cos(r_i^ref, r_j) (Hungarian algorithm; greedy by cosine above kMaxHungarian
//              units); unmatched reference units get zero rows and columns.
//   3. scale:  relu, rescale on: r_j ← β·r_j, c_j ← c_j/β with β = ‖r_i^ref‖/‖r_j‖ > 0
//              (relu(β·z) = β·relu(z)) when |ln β| > rescale_tolerance; otherwise β = 1.
// The result has the reference's architecture and computes the suspect's function up to the
// dropped units and float rounding. The log states, per layer, the units merged and dropped, the
// matched cosines and the margin of each match over the reference unit's next-best suspect unit.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nn/model.h"

namespace wrsec::nn {

struct AlignOptions {
  // Units whose rows have at least this cosine (and, without relu, norms within this ratio) are
  // one unit; below 1 so that near-collinear copies (dummy_neurons jitter) are merged too.
  double merge_cosine = 0.99;
  double dead_fraction = 1e-4;
  bool rescale = true;
  // Rescale only when |ln β| exceeds this: a suspect that is the reference up to small changes
  // (a mark, quantisation) keeps its exact values (low bits carry some marks).
  double rescale_tolerance = 1e-3;
};

struct LayerAlignment {
  std::string layer;  // "layers.{ℓ}" (mlp hidden layer ℓ) or "mlp" (swiglu hidden units)
  std::int64_t reference_units = 0;
  std::int64_t suspect_units = 0;
  std::int64_t merged = 0;               // suspect units folded into another unit
  std::int64_t dropped = 0;              // units removed (dead, zero, or left over after matching)
  std::int64_t unmatched_reference = 0;  // reference units without a suspect unit
  double mean_cosine = 0.0, min_cosine = 0.0;  // over matched reference units
  double mean_margin = 0.0, min_margin = 0.0;  // matched cosine − best other cosine
  std::string method;                          // "hungarian" | "greedy"
  [[nodiscard]] nlohmann::json to_json() const;
};

struct Alignment {
  Model model;  // the suspect in the reference's unit order and architecture
  std::vector<LayerAlignment> layers;
  [[nodiscard]] nlohmann::json to_json() const;  // the per-layer log
};

// Units above which matching is greedy (descending cosine) instead of Hungarian (O(n³)).
inline constexpr std::int64_t kMaxHungarian = 2048;

// InvalidArgument unless suspect and reference have the same kind, activation, number of layers,
// input and output sizes (hidden widths may differ) and pass validate().
[[nodiscard]] Alignment align_to_reference(const Model& suspect, const Model& reference,
                                           const AlignOptions& options = {});

// Minimum-cost assignment of the rows of an n × m cost matrix (row-major, n ≤ m) to distinct
// columns: assignment[i] = column of row i. InvalidArgument if n > m or a cost is not finite.
[[nodiscard]] std::vector<std::int64_t> hungarian(const std::vector<double>& cost, std::int64_t n,
                                                  std::int64_t m);

}  // namespace wrsec::nn
