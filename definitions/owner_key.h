#pragma once
// Owner identities and signature-bound watermark keys.
//   KeyGen(coins, k):  primes p, q of k/2 bits from NTL's PRG seeded from coins; n = p·q,
//                      e = 65537, d = e⁻¹ mod λ(n).
//   FDH(m):            H_i = SHA-256(i ‖ "wrsec.fdh" ‖ m), i a 4-byte big-endian counter,
//                      concatenated to |n| bits (big-endian), reduced mod n.
//   Sign(d, m) = FDH(m)^d mod n;  SigVerify(n, e, m, σ) = [0 < σ < n ∧ σ^e ≡ FDH(m) mod n].
// RSA-FDH rather than Schnorr: the signature is a deterministic function of (key, statement), so
// a statement has exactly one valid signature and therefore one watermark message; a randomized
// signature would let a claimant re-sign until a message matches some model (an ambiguity attack
// with many tries). RSA-FDH is EUF-CMA secure in the random-oracle model under the RSA assumption.
//   Mark key:  digest K = SHA-256("wrsec.mark.v1" ‖ n ‖ e ‖ statement ‖ σ) (length-prefixed
//              fields), or, for schemes verified without signature binding, an explicit key seed.
//              Every keyed object (projections, chips, dither, groups, triggers) is drawn from
//              Rng seeded by K; the message bits are SHA-256 counter-mode bits of ("msg" ‖ K).
//              Seeds are stored, never matrices.
// A claim (OwnerClaim) is the public record that Verify checks: statement, public key,
// signature, and optionally explicit key material (key_seed, message) that only the unbound
// (naive) verification rule uses. Debian's NTL has no exceptions: inputs are checked first.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/rng.h"
#include "core/sha256.h"
#include "nn/tensor.h"

namespace wrsec::definitions {

struct PublicKey {
  std::string n_hex;  // modulus, lower-case hex without leading zeros
  std::uint64_t e = 65537;
  [[nodiscard]] int bits() const;  // bit length of n
  [[nodiscard]] nlohmann::json to_json() const;
  // InvalidArgument naming the field for a malformed key (missing fields, non-hex, even n,
  // n < 2^255, e < 3 or even).
  static PublicKey from_json(const nlohmann::json& j);
  friend bool operator==(const PublicKey&, const PublicKey&) = default;
};

struct OwnerKeyPair {
  PublicKey public_key;
  std::string d_hex;  // private exponent
  // {"public_key": {...}, "d": hex}: private material, for the owner's key file only.
  [[nodiscard]] nlohmann::json to_json() const;
  // InvalidArgument naming the field; also when d does not sign for the public key.
  static OwnerKeyPair from_json(const nlohmann::json& j);
};

// SHA-256 of the public key's canonical JSON (hex): how the owner's identity is shown.
[[nodiscard]] std::string key_fingerprint(const PublicKey& key);

// bits in [512, 8192], even; InvalidArgument otherwise. Deterministic in coins: for games and
// tests, where the seed is part of the experiment.
[[nodiscard]] OwnerKeyPair generate_owner_key(Rng& coins, int bits = 2048);
// The same KeyGen with its 256-bit seed from the operating system's CSPRNG (getrandom): the key
// of every real owner (wrsec keygen, wrsec mark). RuntimeError if the OS has no entropy to give.
[[nodiscard]] OwnerKeyPair generate_owner_key_os(int bits = 2048);
// Hex signature σ = FDH(statement)^d mod n.
[[nodiscard]] std::string sign_statement(const OwnerKeyPair& key, std::string_view statement);
// False (never throws) for a malformed or wrong signature.
[[nodiscard]] bool verify_statement(const PublicKey& key, std::string_view statement,
                                    std::string_view signature_hex);

class MarkKey {
 public:
  explicit MarkKey(const Digest& digest) : digest_(digest) {}
  // From a signed statement (the bound rule) or from an explicit seed (64 hex digits).
  static MarkKey from_signature(const PublicKey& key, std::string_view statement,
                                std::string_view signature_hex);
  static MarkKey from_seed_hex(std::string_view seed_hex);
  [[nodiscard]] const Digest& digest() const { return digest_; }
  [[nodiscard]] std::string hex() const { return to_hex(digest_); }
  // Counter-based generator for one keyed purpose ("uchida.projection", ...): a pure function of
  // (digest, purpose).
  [[nodiscard]] Rng rng(std::string_view purpose) const;
  // The first `count` message bits (0/1).
  [[nodiscard]] std::vector<std::uint8_t> message_bits(std::size_t count) const;

 private:
  Digest digest_;
};

struct OwnerClaim {
  std::string statement;
  PublicKey public_key;
  std::string signature_hex;
  std::optional<std::string> key_seed_hex;           // unbound rule only
  std::optional<std::vector<std::uint8_t>> message;  // unbound rule only

  [[nodiscard]] nlohmann::json to_json() const;
  static OwnerClaim from_json(const nlohmann::json& j);  // InvalidArgument naming the field
  // SHA-256 of the canonical JSON: identifies the claim in the owner's record.
  [[nodiscard]] std::string fingerprint() const;
};

// A claim by `key` over `statement` (signed).
[[nodiscard]] OwnerClaim make_claim(const OwnerKeyPair& key, std::string statement);

// SHA-256 over tensors (name, shape and little-endian float32 bytes, in name order): the model id
// in statements and in the owner's record of which key marked which model.
[[nodiscard]] std::string tensors_digest_hex(const nn::TensorMap& tensors);

}  // namespace wrsec::definitions
