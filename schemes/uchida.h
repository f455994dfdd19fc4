#pragma once
// uchida: the projection regulariser of Uchida et al. (ICMR 2017).
//   Carrier of layer l: w_l = (1/O)·Σ_o W_l[o, :] ∈ R^M (the mean output row of W_l [O, M]).
//   Bits go round-robin over the configured layers; layer l carries T_l bits with the keyed
//   projection X_l ∈ R^{T_l×M}, X_l[j, i] ~ N(0, 1) (drawn from the key, never stored).
//   Embed: fine-tune on the owner's data (schemes/owner_data.h) minimising
//          E(W) = E₀(W) + λ·Σ_j BCE(σ(X_j·w), m_j), adding epochs (up to max_epochs) until every
//          bit reads back; ∂/∂W_l[o, :] of the regulariser = λ·X_lᵀ(σ(X_l·w_l) − m)/O.
//   Read:  m'_j = 1[X_j·w' ≥ 0].
// Weak point: X·w is not invariant under permuting or rescaling layer l's inputs (the hidden
// units of layer l − 1), which leave the network's function unchanged.
#include "schemes/owner_data.h"
#include "schemes/watermark.h"

namespace wrsec::schemes {

struct UchidaParams {
  MarkParams mark;
  double lambda = 1.0;
  double lr = 5e-4;
  std::int64_t epochs = 1;
  std::int64_t max_epochs = 6;
  std::int64_t batch = 128;
  OwnerDataSpec data;

  static UchidaParams from(const definitions::Params& params);
  void validate() const;
};

class Uchida final : public WatermarkScheme {
 public:
  explicit Uchida(UchidaParams params);
  [[nodiscard]] std::string id() const override { return "uchida"; }
  [[nodiscard]] std::unique_ptr<definitions::WeightReleaseScheme> with_owner_key(
      const definitions::OwnerKeyPair& key) const override {
    UchidaParams p = config_;
    p.mark = mark_with(key);
    return std::make_unique<Uchida>(p);
  }
  [[nodiscard]] std::unique_ptr<definitions::WeightReleaseScheme> for_owner(
      std::uint64_t owner_seed) const override {
    UchidaParams p = config_;
    p.mark = mark_for(owner_seed);
    p.data.attacker_part = true;  // another party trains on its own data
    return std::make_unique<Uchida>(p);
  }

 protected:
  [[nodiscard]] nn::Model embed(const nn::Model& model, const ResolvedKey& key,
                                Rng& coins) const override;
  [[nodiscard]] std::optional<std::vector<std::uint8_t>> read(
      const nn::Model& suspect, const ResolvedKey& key) const override;
  [[nodiscard]] std::vector<std::string> symbol_carriers(const nn::Model& reading,
                                                         const ResolvedKey& key) const override;
  [[nodiscard]] nlohmann::json public_params(const nn::Model& model) const override;

 private:
  struct Projection {
    std::string tensor;
    std::vector<std::size_t> bits;  // message positions carried by this layer
    nn::MatrixD x;                  // [bits, M]
  };
  [[nodiscard]] std::vector<Projection> projections(const nn::Model& model,
                                                    const ResolvedKey& key) const;
  UchidaParams config_;
};

// The Uchida carrier (1/O)·Σ_o W[o, :] of a weight matrix, in double.
[[nodiscard]] Eigen::VectorXd mean_row(const nn::Tensor& weight);

}  // namespace wrsec::schemes
