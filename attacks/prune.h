#pragma once
// prune: magnitude pruning (Han et al. 2015; the WRT / DICTION removal attack).
//   Selected tensors T: every weight matrix, plus the bias vectors when biases = true, minus the
//   output layer (mlp: layers.{L-1}.*; swiglu: mlp.down_proj.weight) when skip_last = true.
//   scope = tensor: for each W ∈ T with n entries, zero the k = ⌈rate·n⌉ entries of smallest |w|.
//   scope = global: one threshold over T: zero the k = ⌈rate·N⌉ smallest |w|, N = Σ_{W∈T} n_W.
//   Order: (|w|, tensor position in Architecture::tensor_shapes(), row-major index), so ties go
//   to the lower index and the result is deterministic (no coins are used). A product rate·n
//   within 8 ulp of an integer counts as that integer, so decimal rates (0.07·100) give the
//   intended count. Entries already zero are among the smallest and count towards k.
#include <cstdint>
#include <string>
#include <utility>

#include "definitions/adversary.h"
#include "definitions/params.h"

namespace wrsec::attacks {

struct PruneParams {
  double rate = 0.5;             // in [0, 1)
  std::string scope = "tensor";  // tensor | global
  bool biases = false;           // also prune bias vectors
  bool skip_last = false;        // leave the output layer alone

  static PruneParams from(const definitions::Params& params);
  void validate() const;
};

// ⌈rate·n⌉ with the near-integer snapping described above (exposed for tests).
[[nodiscard]] std::int64_t prune_count(double rate, std::int64_t n);

class Prune final : public definitions::Remover {
 public:
  explicit Prune(PruneParams params) : params_(std::move(params)) { params_.validate(); }
  [[nodiscard]] std::string id() const override { return "prune"; }
  [[nodiscard]] nn::Model remove(const nn::Model& marked,
                                 const definitions::RemovalContext& context,
                                 Rng& coins) const override;

 private:
  PruneParams params_;
};

}  // namespace wrsec::attacks
