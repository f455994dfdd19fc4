#pragma once
// Shared machinery of the ownership schemes (uchida, spread_spectrum, lsb_parity, qim,
// trigger_set). Every one of them is
//   KeyGen(M; r):  statement = "wrsec-mark v1; scheme=<id>; model=<SHA-256 of M>; nonce=<r>"
//                  [+ "; params=<JSON>": public embedding parameters, e.g. qim's steps, so that
//                  they are signed too],
//                  claim = (statement, pk, σ = RSA-FDH_sk(statement))   (definitions/owner_key.h);
//                  the secret also keeps M itself, the reference for alignment (below)
//   Embed(M, K):   scheme-specific, with the keyed objects drawn from K = MarkKey(claim) and the
//                  message m = K.message_bits(T) (Reed–Solomon encoded when ecc_t > 0)
//   Release:       A = the marked model in the clear (Infer = its forward pass);
//                  s = {claim, record: {model, marked, claim fingerprint}}
//   Verify(s, M'): binding = signature: reject unless σ verifies under pk, then re-derive K, m;
//                  binding = none (the naive rule, for ambiguity experiments): take K and m from
//                  the claim's explicit key_seed and message (the claim stores bits: the symbols
//                  themselves for bit schemes, a fixed-width binary code of each label for
//                  trigger_set, see trigger_set.h).
//                  Read the bits m' from M', k = #{j : m'_j = m_j}, p = P[Bin(T, p0) ≥ k]
//                  (two-sided: 2·min of both tails, for bit-inverting attacks);
//                  accept iff p ≤ target_fpr, or iff k > threshold when a calibrated threshold is
//                  given (strict, so an empirical quantile keeps the nominal FPR). The details
//                  give the critical count c (the least k the rule accepts, fixed by the rule,
//                  T and p0 before reading) and, per carrier tensor L with T_L symbols, k_L and
//                  P[Bin(T_L, p0) ≥ k_L] ("per_layer"; the decision is on all T symbols).
//                  Before reading, unless align = off, the suspect's hidden units are aligned to
//                  the owner's reference model kept in s (nn/align.h: dummy units merged, scale
//                  normalised, permutation undone); the alignment log is in the result's details.
//                  The reference is the owner's model before marking, which does not depend on
//                  the mark key, so alignment leaves the null distribution of an unmarked suspect
//                  unchanged (aligning to the marked model would bias the read towards the mark).
// The owner's key pair is a function of owner_seed (generated once per scheme object: games and
// tests), or a real owner's key given to with_owner_key() (wrsec mark).
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "definitions/owner_key.h"
#include "definitions/params.h"
#include "definitions/reed_solomon.h"
#include "definitions/scheme.h"
#include "nn/align.h"
#include "nn/model.h"

namespace wrsec::schemes {

// Parameters every ownership scheme reads (defaults can differ per scheme).
struct MarkParams {
  std::uint64_t owner_seed = 0;
  // A real owner's key (wrsec mark); when set, owner_seed is not used. Never serialised.
  std::shared_ptr<const definitions::OwnerKeyPair> owner_key;
  std::int64_t rsa_bits = 2048;
  std::string binding = "signature";  // signature | none
  double target_fpr = 1e-3;
  std::int64_t bits = 32;            // embedded bits T (code bits when ecc_t > 0)
  std::vector<std::int64_t> layers;  // indices i of the carrier tensors layers.{i}.weight
  std::int64_t ecc_t = 0;            // Reed–Solomon symbol errors corrected (0 = no coding)
  bool two_sided = false;
  std::optional<double> threshold;  // calibrated rule: accept iff matches > threshold
  // Alignment before reading (nn/align.h): auto = align the suspect's hidden units to the owner's
  // reference model whenever the secret holds one;
  // on = require it (reject without a reference); off = read the suspect as found.
  // keygen() keeps the owner's unmarked model there.
  std::string align = "auto";
  std::string bits_key = "bits";  // the parameter `bits` was read from (named in errors)

  // Reads the common keys with `defaults` as fallback (the number of symbols under `bits_key`;
  // `layers` only when with_layers); validate() is called by the scheme.
  static MarkParams from(const definitions::Params& params, const MarkParams& defaults,
                         const std::string& bits_key = "bits", bool with_layers = true);
  void validate(const std::string& scheme) const;
  [[nodiscard]] nlohmann::json to_json() const;
};

// The key material Verify works with.
struct ResolvedKey {
  definitions::MarkKey key;
  std::vector<std::uint8_t> expected;  // the symbols the mark should carry
  nlohmann::json params;               // the statement's public embedding parameters ({} if none)
};

class WatermarkScheme : public definitions::WeightReleaseScheme {
 public:
  explicit WatermarkScheme(MarkParams params);
  [[nodiscard]] definitions::Capabilities capabilities() const override {
    return {definitions::Capability::infer, definitions::Capability::verify};
  }
  [[nodiscard]] definitions::Release release(const nn::Model& model, Rng& coins) const final;
  [[nodiscard]] definitions::OwnerSecret keygen(const nn::Model& model, Rng& coins) const final;
  [[nodiscard]] nn::Matrix infer(const definitions::Artifact& artifact,
                                 const nn::Matrix& x) const final;
  [[nodiscard]] double infer_macs(const definitions::Artifact& artifact) const final;
  [[nodiscard]] nn::TensorMap hidden_mask(const nn::Model& original,
                                          const definitions::Release& release) const final;
  [[nodiscard]] definitions::VerifyResult verify(const definitions::OwnerSecret& secret,
                                                 const nn::Model& suspect) const override;

  [[nodiscard]] const MarkParams& mark_params() const { return mark_; }
  // The common parameters under another owner identity (for for_owner()).
  [[nodiscard]] MarkParams mark_for(std::uint64_t owner_seed) const {
    MarkParams p = mark_;
    p.owner_seed = owner_seed;
    p.owner_key = nullptr;
    return p;
  }
  // The common parameters signing with a real owner's key (for with_owner_key()).
  [[nodiscard]] MarkParams mark_with(const definitions::OwnerKeyPair& key) const {
    MarkParams p = mark_;
    p.owner_key = std::make_shared<const definitions::OwnerKeyPair>(key);
    return p;
  }
  // The key a claim stands for under this scheme's binding rule, or nullopt (with the reason)
  // when the claim does not verify (bad signature, missing explicit material, wrong length).
  [[nodiscard]] std::optional<ResolvedKey> resolve(const definitions::OwnerSecret& secret,
                                                   std::string* why) const;
  // The owner's reference model kept in a secret (keygen() stores the unmarked model), if any.
  [[nodiscard]] static std::optional<nn::Model> reference_model(
      const definitions::OwnerSecret& secret);
  // Stores `model` as the owner's reference model in a secret.
  static void keep_reference(definitions::OwnerSecret& secret, const nn::Model& model);
  // The owner's key pair (the given key, or generated from owner_seed on first use).
  [[nodiscard]] const definitions::OwnerKeyPair& owner() const;

 protected:
  // Statistics beyond the bit count for a read that was not rejected, on the model read (the
  // aligned suspect); may set the decision (spread_spectrum's z-score). Default: none.
  virtual void refine(const ResolvedKey& /*key*/, const nn::Model& /*reading*/,
                      definitions::VerifyResult& /*result*/) const {}
  // The model Verify reads: the suspect aligned to the secret's reference model (stored in
  // `aligned`) unless align = off or there is none; InvalidArgument when align = on without one
  // or the suspect cannot be aligned (other depth or input/output sizes).
  [[nodiscard]] const nn::Model& reading_model(const definitions::OwnerSecret& secret,
                                               const nn::Model& suspect,
                                               std::optional<nn::Alignment>& aligned) const;
  // Embed the expected symbols into a copy of the model.
  [[nodiscard]] virtual nn::Model embed(const nn::Model& model, const ResolvedKey& key,
                                        Rng& coins) const = 0;
  // The carrier tensor each symbol is read from ("" for a symbol spread over several), for the
  // per-layer statistics in the result's details["per_layer"]; empty when not known. Default:
  // every symbol's tensor when there is one carrier, else empty. Called only after read()
  // succeeded on `reading`.
  [[nodiscard]] virtual std::vector<std::string> symbol_carriers(const nn::Model& reading,
                                                                 const ResolvedKey& key) const;
  // Read the symbols from a suspect; nullopt when the suspect does not fit the key (other
  // shapes), which Verify rejects.
  [[nodiscard]] virtual std::optional<std::vector<std::uint8_t>> read(
      const nn::Model& suspect, const ResolvedKey& key) const = 0;
  // Number of symbols and their null match probability (1/2 for bits).
  [[nodiscard]] virtual std::size_t symbols() const { return static_cast<std::size_t>(mark_.bits); }
  [[nodiscard]] virtual double null_probability() const { return 0.5; }
  // The explicit message of an unbound claim (0/1 values) for these symbols, and back (nullopt
  // when the message is malformed: wrong length, a symbol out of range). Default: the symbols are
  // bits and the message is the symbols themselves.
  [[nodiscard]] virtual std::vector<std::uint8_t> claim_message(
      const std::vector<std::uint8_t>& symbols) const {
    return symbols;
  }
  [[nodiscard]] virtual std::optional<std::vector<std::uint8_t>> claimed_symbols(
      const std::vector<std::uint8_t>& message) const;
  // The expected symbols for a key: message bits, RS-encoded when ecc_t > 0.
  [[nodiscard]] virtual std::vector<std::uint8_t> expected_symbols(
      const definitions::MarkKey& key) const;
  // Public embedding parameters computed from the original model, signed with the statement.
  [[nodiscard]] virtual nlohmann::json public_params(const nn::Model& /*model*/) const {
    return nullptr;
  }
  // Checks that a model can carry this mark (layers exist, enough weights); InvalidArgument.
  virtual void check_model(const nn::Model& model) const;
  // A rejected verification (the claim does not resolve, or the suspect does not fit).
  [[nodiscard]] definitions::VerifyResult reject(std::string why) const;
  // The statistics and the decision for symbols read (nullopt = rejected). When the symbols are
  // not bits, details["claim_message"] holds claim_message(extracted): the explicit message of an
  // unbound claim for exactly the symbols read.
  [[nodiscard]] definitions::VerifyResult judge(
      const ResolvedKey& key, const std::optional<std::vector<std::uint8_t>>& read_symbols,
      std::string why = {}) const;

  // log2 p-value of `matches` of n symbols under the null (one- or two-sided as configured).
  [[nodiscard]] double log2_p_value(std::uint64_t matches, std::uint64_t n) const;
  // The least match count of n symbols whose one-sided p-value is at most target_fpr (nullopt
  // if none is). Per-layer rows use it and target_fpr even under a threshold rule.
  [[nodiscard]] std::optional<std::uint64_t> critical_count(std::uint64_t n) const;
  // details["per_layer"]: match counts and p-values per carrier tensor.
  [[nodiscard]] nlohmann::json per_layer(const ResolvedKey& key, const definitions::VerifyResult& r,
                                         const std::vector<std::string>& carriers) const;
  // "wrsec-mark v1; scheme=<id>;": every claim for this scheme starts with it.
  [[nodiscard]] std::string statement_prefix() const;
  // Carrier tensor names "layers.{i}.weight" for the configured layers.
  [[nodiscard]] std::vector<std::string> carrier_names() const;

  MarkParams mark_;
  std::optional<definitions::ReedSolomon> code_;

 private:
  mutable std::once_flag owner_once_;
  mutable std::unique_ptr<definitions::OwnerKeyPair> owner_;
};

// Positions in the concatenation of several weight tensors (the carrier vector of the
// raw-weight schemes): tensor k covers [offsets[k], offsets[k + 1]), the last one up to size.
struct CarrierLayout {
  std::vector<std::string> names;
  std::vector<std::int64_t> offsets;
  std::int64_t size = 0;
  // InvalidArgument if a tensor is missing.
  static CarrierLayout of(const nn::Model& model, const std::vector<std::string>& names);
  // Tensor index and element index of carrier position i.
  [[nodiscard]] std::pair<std::size_t, std::int64_t> locate(std::int64_t i) const;
  [[nodiscard]] float& at(nn::Model& model, std::int64_t i) const;
  [[nodiscard]] float at(const nn::Model& model, std::int64_t i) const;
};

// The first `count` entries of a keyed uniform permutation of [0, n) (partial Fisher–Yates).
[[nodiscard]] std::vector<std::int64_t> keyed_positions(std::int64_t n, std::int64_t count,
                                                        Rng& rng);

}  // namespace wrsec::schemes
