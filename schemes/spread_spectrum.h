#pragma once
// spread_spectrum: additive keyed chips (textbook SS; Uchida-type marks are SS in a projection).
//   Carrier w ∈ R^N: the weights of the configured layers, concatenated; σ_w their population
//   std in the original model. Bit j: a support S_j of k = ⌊N/T⌋ keyed positions (disjoint),
//   chip c_j ∈ {±1}^k from the key.
//   Embed:  w'_{S_j} = w_{S_j} + α·(2m_j − 1)·c_j,  α = strength·σ_w/√k (each bit's signal is
//           `strength` standard deviations of the host's own correlation ⟨w_{S_j}, c_j⟩).
//   Multi-bit read: m'_j = 1[⟨w'_{S_j} − w̄', c_j⟩ > 0]  (w̄' the suspect carrier's mean).
//   Zero-bit detection: z = Σ_j (2m_j − 1)·⟨w'_{S_j} − w̄', c_j⟩ / (σ̂'·√(k·T)), N(0, 1) under
//           the null by the central limit theorem (an approximation, stated in the result);
//           detector = zscore accepts iff P[N(0,1) ≥ z] ≤ target_fpr. detector = bits (default)
//           uses the exact binomial rule on the read bits.
#include "schemes/watermark.h"

namespace wrsec::schemes {

struct SpreadSpectrumParams {
  MarkParams mark;
  double strength = 6.0;
  std::string detector = "bits";  // bits | zscore

  static SpreadSpectrumParams from(const definitions::Params& params);
  void validate() const;
};

class SpreadSpectrum final : public WatermarkScheme {
 public:
  explicit SpreadSpectrum(SpreadSpectrumParams params);
  [[nodiscard]] std::string id() const override { return "spread_spectrum"; }
  [[nodiscard]] std::unique_ptr<definitions::WeightReleaseScheme> with_owner_key(
      const definitions::OwnerKeyPair& key) const override {
    SpreadSpectrumParams p = config_;
    p.mark = mark_with(key);
    return std::make_unique<SpreadSpectrum>(p);
  }
  [[nodiscard]] std::unique_ptr<definitions::WeightReleaseScheme> for_owner(
      std::uint64_t owner_seed) const override {
    SpreadSpectrumParams p = config_;
    p.mark = mark_for(owner_seed);
    return std::make_unique<SpreadSpectrum>(p);
  }

 protected:
  // The zero-bit z-score next to the bit statistics (and the decision, with detector=zscore).
  void refine(const ResolvedKey& key, const nn::Model& reading,
              definitions::VerifyResult& result) const override;
  [[nodiscard]] nn::Model embed(const nn::Model& model, const ResolvedKey& key,
                                Rng& coins) const override;
  [[nodiscard]] std::optional<std::vector<std::uint8_t>> read(
      const nn::Model& suspect, const ResolvedKey& key) const override;
  [[nodiscard]] std::vector<std::string> symbol_carriers(const nn::Model& reading,
                                                         const ResolvedKey& key) const override;
  void check_model(const nn::Model& model) const override;
  [[nodiscard]] nlohmann::json public_params(const nn::Model& model) const override;

 private:
  struct Chips {
    std::int64_t k = 0;
    std::vector<std::int64_t> positions;  // T·k carrier positions, bit j at [j·k, (j+1)·k)
    std::vector<float> chip;              // ±1, aligned with positions
  };
  [[nodiscard]] Chips chips(std::int64_t carrier, const ResolvedKey& key) const;
  // Per-bit correlations ⟨w_{S_j} − w̄, c_j⟩ and σ̂ of the suspect's carrier; nullopt if it does
  // not fit.
  struct Correlations {
    std::vector<double> corr;
    double sigma = 0;
    std::int64_t k = 0;
  };
  [[nodiscard]] std::optional<Correlations> correlate(const nn::Model& suspect,
                                                      const ResolvedKey& key) const;
  SpreadSpectrumParams config_;
};

}  // namespace wrsec::schemes
