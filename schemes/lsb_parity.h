#pragma once
// lsb_parity: the parity-of-least-significant-bits signature in float32 weights (fragile by
// design: a negative control for the robustness suite and an integrity mark).
//   Groups: the first T·g entries of a keyed permutation of the carrier (the weights of the
//           configured layers, concatenated), G_j = entries [j·g, (j+1)·g).
//   Read:   m'_j = XOR_{i ∈ G_j} lsb(w_i), lsb = bit 0 of the IEEE-754 binary32 pattern.
//   Embed:  where m'_j ≠ m_j, flip the lsb of the member of G_j with the smallest |w| (the flip
//           moves that weight by one ulp, the least change available; ties: first member).
// Any re-quantisation (fp16/bf16, INT8), pruning or training step randomises the parities.
#include "schemes/watermark.h"

namespace wrsec::schemes {

struct LsbParityParams {
  MarkParams mark;
  std::int64_t group = 8;

  static LsbParityParams from(const definitions::Params& params);
  void validate() const;
};

class LsbParity final : public WatermarkScheme {
 public:
  explicit LsbParity(LsbParityParams params);
  [[nodiscard]] std::string id() const override { return "lsb_parity"; }
  [[nodiscard]] std::unique_ptr<definitions::WeightReleaseScheme> with_owner_key(
      const definitions::OwnerKeyPair& key) const override {
    return std::make_unique<LsbParity>(LsbParityParams{mark_with(key), group_});
  }
  [[nodiscard]] std::unique_ptr<definitions::WeightReleaseScheme> for_owner(
      std::uint64_t owner_seed) const override {
    return std::make_unique<LsbParity>(LsbParityParams{mark_for(owner_seed), group_});
  }

 protected:
  [[nodiscard]] nn::Model embed(const nn::Model& model, const ResolvedKey& key,
                                Rng& coins) const override;
  [[nodiscard]] std::optional<std::vector<std::uint8_t>> read(
      const nn::Model& suspect, const ResolvedKey& key) const override;
  [[nodiscard]] std::vector<std::string> symbol_carriers(const nn::Model& reading,
                                                         const ResolvedKey& key) const override;
  void check_model(const nn::Model& model) const override;
  [[nodiscard]] nlohmann::json public_params(const nn::Model& model) const override;

 private:
  [[nodiscard]] std::vector<std::int64_t> groups(const CarrierLayout& layout,
                                                 const ResolvedKey& key) const;
  std::int64_t group_;
};

}  // namespace wrsec::schemes
