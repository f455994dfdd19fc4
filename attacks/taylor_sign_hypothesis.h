#pragma once
// taylor_sign_hypothesis: exact parameter extraction from a TaylorMLP release in the official
// format (github.com/guanchuwang/Taylor-Unswift; tensor layout in schemes/taylor_mlp.h). Uses the
// artifact only: no queries, no data, no randomness.
//
// What is released per selected unit j (release order), with the secret sign s_j ∈ {±1}:
//   p_j = s_j·z0_j,   T_0 = σ(z0_j)·W_down[:, j],   T_n = σ^{(n)}(z0_j)·s_j^n·W_down[:, j],
// n = 1..N, with T_0 = local_approx_output[:, j] and T_n = fuse_weight[:, j, n−1].
// For a hypothesis σ_h ∈ {+1, −1} let z = σ_h·p_j and k(σ_h) = (σ(z), σ′(z)·σ_h, …,
// σ^{(N)}(z)·σ_h^N). Under the true hypothesis every T_n equals k_n·W_down[:, j], so with the
// Gram matrix G_nm = ⟨T_n, T_m⟩
//   w_h = Σ_n k_n T_n / ‖k‖²,   R_h = Σ_n ‖T_n − k_n w_h‖² = tr G − kᵀGk / ‖k‖²,
// and the hypothesis with the smaller residual is the sign. The two hypotheses never fit equally
// well: σ(−x) = σ(x) − x for silu, gelu and gelu_tanh, so k(+) and k(−) differ exactly in their
// orders 0 and 1 by (p_j, 1) and are never parallel. Then W_gate[j] = s_j·gate_proj_weight[j],
// W_up[j] = up_proj_weight[j], W_down[:, j] = w_h; unselected units are copied from ffn_*.
// If the official code's leftover `gate_proj.weight` (the original W_gate) is in the release,
// every released gate row (signed selected rows, plaintext ffn rows) is matched to its original
// row (hash of |row|, then exact |row| equality), which reads the signs directly and restores
// the original unit order.
//
// Cost: the residual test needs the Gram matrices of the first min(d, 64) rows only; a unit whose
// test there is not clear-cut (R_chosen > 10⁻²·R_other, e.g. a W_down column that vanishes on
// those rows) is re-tested on all d rows. W_down is then written in one pass over
// local_approx_output and fuse_weight (AVX2 when available, non-temporal stores for whole rows),
// so the attack reads the release about 1.02 times and writes the three output tensors once.
// Every unit is computed by one thread in a fixed order: results are bit-identical for any
// thread count.
//
// Exact inversion of a release made by the official code in bf16/f16 (silu): every buffer is then
// R(c·w) for the weight w (a value of the type T) and a coefficient c that the attacker computes
// exactly as the official code did (nn/low_precision.h): c_0 = silu(z0), c_n = s^n·SiLU^{(n)}(z0)
// from the official silu_grad in T, z0 = s·local_point. Each W_down entry is the value w of T with
// R(c_n·w) = T_n for n = 0..N: candidates within two units in the last place of T_m / c_m (m the
// largest |c_m|), filtered by every order. Gate and up rows are copied (sign-flipped), so they are
// exact in every case.
//
// Failure cases: a unit with W_down[:, j] = 0 gives R_+ = R_− = 0; its sign cannot be learned
// (counted in `ambiguous_units`, +1 is assumed) and does not affect the function. A bf16 release
// not made in the official arithmetic (or with gelu) is recovered by least squares only: signs
// stay exact, W_down inherits the rounding (tests: median relative error 1e-3, max 4e-3).
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "definitions/adversary.h"
#include "nn/layers.h"
#include "nn/low_precision.h"
#include "nn/safetensors.h"
#include "nn/tensor.h"

namespace wrsec::attacks {

// Raw, row-major views of one official layer (see schemes/taylor_mlp.h for the shapes):
// up, gate [h_s, d]; local_point [h_s]; local_approx [d, h_s]; fuse [d, h_s, N];
// ffn_gate, ffn_up [h − h_s, d]; ffn_down [d, h − h_s]; gate_proj [h, d] or null. Memory-mapped
// data can be passed as is: nothing is copied.
struct OfficialLayerView {
  std::int64_t d = 0;
  std::int64_t h = 0;
  std::int64_t h_s = 0;
  std::int64_t n_order = 0;
  const float* up = nullptr;
  const float* gate = nullptr;
  const float* local_point = nullptr;
  const float* local_approx = nullptr;
  const float* fuse = nullptr;
  const float* ffn_gate = nullptr;  // may be null when h == h_s (also ffn_up, ffn_down)
  const float* ffn_up = nullptr;
  const float* ffn_down = nullptr;
  const float* gate_proj = nullptr;  // nullable
  nn::Activation act = nn::Activation::silu;
  // The release was computed by the official code in this 16-bit type (all buffers are values of
  // it): with silu, W_down is then recovered exactly (see exact inversion above).
  std::optional<nn::LowPrecision> lowp;
};

struct OfficialRecovery {
  // The recovered SwiGLU block: gate, up [h, d], down [d, h]. Hidden units are in original order
  // when gate_proj allowed a complete matching (order_known), else selected units in release
  // order followed by the unselected units in release order.
  nn::Tensor gate, up, down;
  // Recovered sign s_j of each selected unit, in release order (h_s entries).
  std::vector<std::int8_t> signs;
  // Original index of each output unit if known (from gate_proj), else −1 (h entries).
  std::vector<std::int64_t> order;
  bool order_known = false;
  // Selected units whose sign the residual test could not decide (R_chosen > R_other / 4, or
  // both zero) and gate_proj did not settle.
  std::int64_t ambiguous_units = 0;
  // max over selected units of R_chosen / R_other (0 = perfectly separated, 1 = undecidable).
  double max_residual_ratio = 0.0;
  // Exact inversion (lowp releases with silu), over the d·h_s selected W_down entries: entries
  // with exactly one consistent value, with several (the one nearest the least-squares estimate
  // is taken) and with none (the least-squares estimate rounded to the type is taken).
  bool exact_inversion = false;
  std::int64_t exact_entries = 0;
  std::int64_t ambiguous_entries = 0;
  std::int64_t inconsistent_entries = 0;
};

// The attack on one layer.
// @throws InvalidArgument for inconsistent sizes (d ≤ 0, h_s > h, N ∉ [1, 32]), a null required
//         pointer, relu, or a non-finite value (the message names the tensor).
[[nodiscard]] OfficialRecovery recover_official_layer(const OfficialLayerView& view);

// The same from named tensors `prefix` + {up_proj_weight, …} (schemes/taylor_mlp.h); d, h_s and N
// come from the shapes, h = h_s + rows of ffn_gate_proj_weight.
// @throws InvalidArgument naming a missing or mis-shaped tensor, or as above.
[[nodiscard]] OfficialRecovery recover_official_tensors(
    const nn::TensorMap& tensors, const std::string& prefix, nn::Activation act,
    std::optional<nn::LowPrecision> lowp = std::nullopt);

struct OfficialFileLayerReport {
  std::int64_t layer = 0;
  std::string prefix;  // "" or "model.layers.{i}.mlp."
  std::int64_t d = 0, h = 0, h_s = 0, n_order = 0;
  std::int64_t units = 0;       // h
  std::int64_t sign_flips = 0;  // selected units with s_j = −1
  bool order_known = false;
  std::int64_t ambiguous_units = 0;
  double max_residual_ratio = 0.0;
  // The release's dtype (fuse_weight and local_approx_output in bf16/f16 are taken as the
  // official arithmetic in that type)
  // and the exact inversion's counts (OfficialRecovery).
  nn::DType dtype = nn::DType::f32;
  bool exact_inversion = false;
  std::int64_t exact_entries = 0, ambiguous_entries = 0, inconsistent_entries = 0;
  nn::DType written = nn::DType::f32;  // dtype of the output file
  double seconds = 0.0;
};

// Reads a safetensors file holding one or more official layers (prefix "" = layer 0, or
// "model.layers.{i}.mlp."), recovers each layer and writes
// "model.layers.{i}.mlp.{gate,up,down}_proj.weight" to `out` atomically, as `out_dtype` (F32,
// BF16 or F16), by default BF16/F16 when every layer's fuse_weight and local_approx_output are in
// that type (the exact inversion then returns values of it) and F32 otherwise. The activation is
// silu unless the metadata key "wrsec.activation" names another. A layer whose buffers share one
// dtype (F32, F16 or BF16) and that has no leftover gate_proj.weight is streamed: read with
// pread in blocks of about 8 MB, gate/up rows copied (sign-flipped) block by block, W_down
// computed a block of rows at a time on all threads and written at once, so resident memory is a
// few blocks whatever the layer size. Other layers (a leftover gate_proj.weight, mixed dtypes,
// F64) are read whole through a memory map, one at a time. Both routes give the same weights
// (the sign test's Gram sums may differ in their last bits, as rows are added in other blocks).
// @throws InvalidArgument for a malformed file, a missing buffer, inconsistent shapes, N > 32,
//         non-finite values (naming the tensor) or another out_dtype; RuntimeError for I/O
//         failures. Nothing is left at `out` on failure (AtomicFile).
std::vector<OfficialFileLayerReport> recover_official_file(
    const std::filesystem::path& in, const std::filesystem::path& out,
    std::optional<nn::DType> out_dtype = std::nullopt);

// Extractor over a taylor_mlp artifact with metadata format = official: returns the SwiGLU model
// of the artifact's architecture (metadata "architecture") with the recovered tensors.
class TaylorSignHypothesis final : public definitions::Extractor {
 public:
  [[nodiscard]] std::string id() const override { return "taylor_sign_hypothesis"; }
  // @throws InvalidArgument for an artifact that is not an official taylor_mlp release.
  [[nodiscard]] nn::Model extract(const definitions::Artifact& release,
                                  definitions::OracleAccess& oracles, Rng& coins) const override;
  [[nodiscard]] bool reads(const definitions::Artifact& release) const override {
    return release.metadata.contains("architecture") &&
           release.metadata.value("format", "") == "official";
  }
};

}  // namespace wrsec::attacks
