#pragma once
// taylor_mlp: TaylorMLP ("Taylor Unswift", EMNLP 2024). Each protected MLP y = W·σ(Vx + b) + c is
// released as truncated Taylor coefficients of σ about a calibration point instead of (b, W, c).
// Two release formats (parameter `format`):
//
// paper (model kind mlp; block k = layers.k, layers.{k+1}; V = layers.k.weight, b = layers.k.bias,
//   W = layers.{k+1}.weight, c = layers.{k+1}.bias; z = V·x_k, a = z0 + b):
//     taylor.V      [h, in]      V (plaintext)
//     taylor.z0     [h]          expansion point in z-space (rule `expansion` on calibration z)
//     taylor.theta  [N+1, o, h]  Θ_{n,i,j} = W_ij·σ^{(n)}(a_j)/n!, plus c_i/h for n = 0 (c folded)
//     layers.{m}.weight/bias for every m ∉ {k, k+1} (plaintext)
//   Infer: block output y_i = Σ_n Σ_j Θ_{n,i,j}·(z_j − z0_j)^n, then the remaining layers.
//
// official (model kind swiglu [d, h]; the format of github.com/guanchuwang/Taylor-Unswift; tensor
//   names carry `prefix`, "" for a single block, "model.layers.{i}.mlp." in multi-layer files):
//     up_proj_weight        [h_s, d]     W_up[sel]                        (plaintext)
//     gate_proj_weight      [h_s, d]     diag(s)·W_gate[sel]              (row signs flipped)
//     local_point           [h_s]        s ⊙ z0, z0 = (min + max)/2 of calibration g = W_gate·x
//     local_approx_output   [d, h_s]     σ(z0_j)·W_down[:, j]             (zero-order term)
//     fuse_weight           [d, h_s, N]  W_down[:, j]·σ^{(n)}(z0_j)·s_j^n, n = 1..N (no 1/n!)
//     discount_factor       [N]          log(n!), n = 1..N
//     ffn_gate_proj_weight  [h−h_s, d]   unselected units, plaintext (ffn_up_proj_weight idem,
//     ffn_down_proj_weight  [d, h−h_s]   ffn_down_proj_weight [d, h−h_s])
//     gate_proj.weight      [h, d]       only with keep_gate_proj=true: the official code's
//                                        leftover original gate projection
//   sel = the h_s units with the smallest calibration gap max−min (stable, ascending gap order);
//   unselected units in ascending original index; s_j ∈ {±1} uniform from the release coins (the
//   only secret). Infer, as the official forward pass: u = W_up[sel]·x, Δ = gate·x − local_point,
//     out = local_approx_output·u
//           + Σ_{n=1..N} fuse[:, :, n]·(sign(Δ)^n ⊙ exp(n·log|Δ| − log n!) ⊙ u)
//           + W_down,ffn·(σ(W_gate,ffn·x) ⊙ W_up,ffn·x),
//   where for n > grad_order_min a term is zeroed where |Δ| > delta_threshold.
//
// Both formats: σ ∈ {silu, gelu, gelu_tanh} (the model's activation); order N ∈ [1, 32]; the
// calibration inputs are public (drawn from `calibration` with a fixed public stream, never from
// the release coins). dtype ∈ {f32, bf16, f16}: paper releases are computed in double and rounded
// to the dtype once; official releases in bf16/f16 (silu only) are computed as the official code
// computes them in the model's dtype (official_lowp_release below): the weights and calibration
// statistics are values of the dtype and every operation is rounded to it. Inference runs in
// float32 on the released values. Metadata records the format, the
// original architecture (public), N, activation, prefix and dtype, plus layer and expansion
// (paper) or select_dim, grad_order_min and delta_threshold (official), so Infer is a function of
// the artifact alone. The expansion point is the released (rounded) z0, so Θ / fuse_weight are the
// exact Taylor coefficients about the published point. OwnerSecret: tensors "sign" [h_s] (±1) and
// "selected" [h_s] (original unit indices, release order) for official, nothing for paper.
#include <cstdint>
#include <string>
#include <vector>

#include "definitions/params.h"
#include "definitions/scheme.h"
#include "definitions/sources.h"
#include "nn/low_precision.h"

namespace wrsec::schemes {

// One SwiGLU block (gate, up [h, d], down [d, h], silu) released by the official code in a
// low-precision type T: the weights and the calibration statistics gmin, gmax [h] are values of
// T, `selected` (h_s units, release order), `unselected` (the others, release order) and
// `sign` (h_s entries ±1) are the owner's choices. Returns the official tensors (names without
// prefix, as listed above), computed as tylor_expansion/src/llama.py does in T:
//   z0_j = R(gmin + gmax)/2, local_point = s ⊙ z0, local_approx_output[:, j] = R(silu(z0_j)·w_j),
//   fuse_weight[:, j, n] = s_j^n·R(w_j·SiLU^{(n)}(z0_j)) with the official silu_grad in T,
//   discount_factor_n = R(Σ_{m<=n} log m) (binary32 sum), gate rows sign-flipped (exact),
// where R rounds to T and w_j = down[:, selected_j] (nn/low_precision.h). Bit for bit the
// buffers of the official code run by PyTorch 1.13 on the CPU (tests/fixtures/taylor_official;
// bf16 only: that PyTorch has no CPU silu for f16, so f16 follows the single-rounding model).
struct OfficialLowpInputs {
  nn::LowPrecision type = nn::LowPrecision::bf16;
  int order = 6;
  const nn::Tensor* gate = nullptr;
  const nn::Tensor* up = nullptr;
  const nn::Tensor* down = nullptr;
  std::vector<float> gmin, gmax;
  std::vector<std::int64_t> selected, unselected;
  std::vector<int> sign;
};
// @throws InvalidArgument for inconsistent shapes or indices, a sign other than ±1, an order
// outside [1, 32], or a weight or statistic that is not a finite value of T.
[[nodiscard]] nn::TensorMap official_lowp_release(const OfficialLowpInputs& in);

struct TaylorMlpParams {
  std::string format = "paper";             // paper | official
  std::int64_t order = 8;                   // N
  std::string expansion = "midpoint";       // paper: midpoint | mean | zero (official: midpoint)
  std::int64_t layer = 0;                   // paper: which hidden layer k is expanded
  double select_ratio = 10000.0 / 14336.0;  // official: h_s = round(select_ratio·h) ...
  std::int64_t select_dim = -1;             // ... unless select_dim ≥ 1 is given
  std::int64_t grad_order_min = 8;          // official guard (never triggers for N ≤ 8)
  double delta_threshold = 2.5;
  bool keep_gate_proj = false;
  std::string dtype = "f32";  // f32 | bf16 | f16
  std::string calibration;    // InputSource spec; empty = InputSource::default_for
  std::int64_t calibration_samples = 512;
  std::uint64_t calibration_seed = 0;

  // Reads every key above (InvalidArgument for a malformed value or calibration_seed < 0);
  // does not validate: the TaylorMlp constructor does.
  static TaylorMlpParams from(const definitions::Params& params);
  void validate() const;  // InvalidArgument naming the parameter (also a bad calibration spec)
};

class TaylorMlp final : public definitions::WeightReleaseScheme {
 public:
  // @throws InvalidArgument if params.validate() does.
  explicit TaylorMlp(TaylorMlpParams params);
  [[nodiscard]] std::string id() const override { return "taylor_mlp"; }
  [[nodiscard]] definitions::Capabilities capabilities() const override {
    return {definitions::Capability::infer, definitions::Capability::protected_release};
  }
  [[nodiscard]] const TaylorMlpParams& params() const { return params_; }
  // @throws InvalidArgument for an invalid model, a model kind that does not fit the format
  // (paper: mlp with hidden layer `layer`; official: swiglu), relu, select_dim > h, or released
  // values that overflow the dtype.
  [[nodiscard]] definitions::Release release(const nn::Model& model, Rng& coins) const override;
  // @throws InvalidArgument for bad metadata, a missing / misshaped / non-finite / unexpected
  // tensor, or x with the wrong number of columns. Deterministic for any thread count.
  [[nodiscard]] nn::Matrix infer(const definitions::Artifact& artifact,
                                 const nn::Matrix& x) const override;
  [[nodiscard]] nn::TensorMap hidden_mask(const nn::Model& original,
                                          const definitions::Release& release) const override;
  [[nodiscard]] double infer_macs(const definitions::Artifact& artifact) const override;
  // The public calibration inputs used for a model of this architecture.
  [[nodiscard]] nn::Matrix calibration_inputs(const nn::Architecture& arch) const;

 private:
  TaylorMlpParams params_;
};

}  // namespace wrsec::schemes
