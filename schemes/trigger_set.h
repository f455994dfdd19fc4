#pragma once
// trigger_set: black-box ownership by a trigger set (Adi et al., USENIX Security 2018).
//   Triggers x_1..x_K ∈ [0, 1]^d: keyed out-of-distribution images (i.i.d. uniform pixels) with
//   labels y_j uniform in {0..C−1}, all drawn from the key (never stored).
//   Embed: fine-tune on the owner's data (schemes/owner_data.h) with `per_batch` triggers mixed
//          into every batch, adding epochs (up to max_epochs) until every trigger is learnt.
//   Verify (black box: queries x ↦ M'(x) only, a canary check on a served model):
//          k = #{j : argmax M'(x_j) = y_j};  p = P[Bin(K, 1/C) ≥ k].
//   The 1/C null is exact for any fixed independent model, because the labels are uniform and
//   independent of the images: whatever M' predicts, each match has probability 1/C.
//   A suspect that does not fit (other input or output size, a malformed or non-finite model, a
//   query answer of the wrong shape or with a non-finite logit) is rejected.
//   Unbound claims (binding = none) carry the labels as bits: label y_j is written in
//   w = ⌈log2 C⌉ bits, most significant first, at message positions [j·w, (j+1)·w); a message of
//   another length or with a label ≥ C is malformed.
#include "schemes/owner_data.h"
#include "schemes/watermark.h"

namespace wrsec::schemes {

struct TriggerSetParams {
  MarkParams mark;  // mark.bits = K, read from the key `triggers`
  std::int64_t classes = 10;
  std::int64_t inputs = 784;
  std::int64_t per_batch = 16;
  double lr = 3e-4;
  std::int64_t epochs = 2;
  std::int64_t max_epochs = 6;
  std::int64_t batch = 128;
  OwnerDataSpec data;

  static TriggerSetParams from(const definitions::Params& params);
  void validate() const;
};

class TriggerSet final : public WatermarkScheme {
 public:
  explicit TriggerSet(TriggerSetParams params);
  [[nodiscard]] std::string id() const override { return "trigger_set"; }
  [[nodiscard]] definitions::Capabilities capabilities() const override {
    return {definitions::Capability::infer, definitions::Capability::verify,
            definitions::Capability::verify_black_box};
  }
  [[nodiscard]] std::unique_ptr<definitions::WeightReleaseScheme> with_owner_key(
      const definitions::OwnerKeyPair& key) const override {
    TriggerSetParams p = config_;
    p.mark = mark_with(key);
    return std::make_unique<TriggerSet>(p);
  }
  [[nodiscard]] std::unique_ptr<definitions::WeightReleaseScheme> for_owner(
      std::uint64_t owner_seed) const override {
    TriggerSetParams p = config_;
    p.mark = mark_for(owner_seed);
    p.data.attacker_part = true;  // another party trains on its own data
    return std::make_unique<TriggerSet>(p);
  }
  [[nodiscard]] definitions::VerifyResult verify(const definitions::OwnerSecret& secret,
                                                 const nn::Model& suspect) const override;
  [[nodiscard]] definitions::VerifyResult verify_queries(
      const definitions::OwnerSecret& secret, const definitions::QueryFn& query) const override;
  // The trigger images of a key: [K, inputs].
  [[nodiscard]] nn::Matrix triggers(const definitions::MarkKey& key) const;

 protected:
  [[nodiscard]] nn::Model embed(const nn::Model& model, const ResolvedKey& key,
                                Rng& coins) const override;
  [[nodiscard]] std::optional<std::vector<std::uint8_t>> read(
      const nn::Model& suspect, const ResolvedKey& key) const override;
  [[nodiscard]] double null_probability() const override {
    return 1.0 / static_cast<double>(config_.classes);
  }
  [[nodiscard]] std::vector<std::uint8_t> expected_symbols(
      const definitions::MarkKey& key) const override;
  [[nodiscard]] std::vector<std::uint8_t> claim_message(
      const std::vector<std::uint8_t>& symbols) const override;
  [[nodiscard]] std::optional<std::vector<std::uint8_t>> claimed_symbols(
      const std::vector<std::uint8_t>& message) const override;
  void check_model(const nn::Model& model) const override;

 private:
  [[nodiscard]] std::optional<std::vector<std::uint8_t>> labels_of(
      const definitions::QueryFn& query, const ResolvedKey& key) const;
  // Bits per label in an unbound claim's message: ⌈log2 classes⌉.
  [[nodiscard]] int label_width() const;
  TriggerSetParams config_;
};

}  // namespace wrsec::schemes
