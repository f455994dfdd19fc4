#pragma once
// qim: spread-transform dither modulation (ST-DM) with a quantisation-safe step: the seed's
// "modular weight shifting", where weights processed by a modular function give the signature.
//   Bit j: a support S_j of k keyed positions inside one carrier tensor t (supports disjoint;
//          bits go round-robin over the configured layers), signs s_j ∈ {±1}^k, u_j = s_j/√k,
//          dither d_j ~ U[0, Δ_t) from the key.
//   p_j = ⟨w, u_j⟩;  Q_b(x) = Δ·round((x − d_j − bΔ/2)/Δ) + d_j + bΔ/2;
//   Embed w' = w + (Q_{m_j}(p_j) − p_j)·u_j;  read m'_j = argmin_b |p'_j − Q_b(p'_j)|.
//   Step Δ_t = margin·2√k·max|W_t| / (L − 1), L = 2^(robust_bits−1) − 1, signed in the
//   statement's params.
// Guarantee (margin > 1): symmetric robust_bits-bit quantisation of W_t, per tensor or per output
// channel, moves each weight by at most s/2 with s ≤ max|W'_t|/L ≤ (max|W_t| + Δ_t/(2√k))/L, so
// |p'_j − p_j| ≤ √k·s/2 < Δ_t/4: every bit decodes unchanged. Under the null (an independent
// model) p'_j mod Δ is spread by the keyed dither, so m'_j matches with probability ≈ 1/2.
#include "schemes/watermark.h"

namespace wrsec::schemes {

struct QimParams {
  MarkParams mark;
  std::int64_t support = 16;     // k
  std::int64_t robust_bits = 8;  // quantisation the step is chosen to survive
  double margin = 1.5;           // > 1

  static QimParams from(const definitions::Params& params);
  void validate() const;
};

class Qim final : public WatermarkScheme {
 public:
  explicit Qim(QimParams params);
  [[nodiscard]] std::string id() const override { return "qim"; }
  [[nodiscard]] std::unique_ptr<definitions::WeightReleaseScheme> with_owner_key(
      const definitions::OwnerKeyPair& key) const override {
    QimParams p = config_;
    p.mark = mark_with(key);
    return std::make_unique<Qim>(p);
  }
  [[nodiscard]] std::unique_ptr<definitions::WeightReleaseScheme> for_owner(
      std::uint64_t owner_seed) const override {
    QimParams p = config_;
    p.mark = mark_for(owner_seed);
    return std::make_unique<Qim>(p);
  }
  // Δ_t for a tensor with max |w| = max_abs (public: derived from the formula above).
  [[nodiscard]] double step(double max_abs) const;

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
  struct Bit {
    std::string tensor;
    std::vector<std::int64_t> index;  // k entries into the tensor's data
    std::vector<float> sign;
    double dither = 0;  // in units of Δ, in [0, 1)
    double delta = 0;
  };
  // The keyed supports, signs and dithers; nullopt if the suspect's tensors do not match the
  // sizes and steps in the key's params.
  [[nodiscard]] std::optional<std::vector<Bit>> bits_of(const nn::Model& model,
                                                        const ResolvedKey& key) const;
  QimParams config_;
};

}  // namespace wrsec::schemes
