#include "definitions/owner_key.h"

#include <NTL/ZZ.h>
#include <sys/random.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "core/errors.h"

namespace wrsec::definitions {
namespace {

constexpr std::uint64_t kPublicExponent = 65537;
constexpr int kMinKeyBits = 512;
constexpr int kMaxKeyBits = 8192;
constexpr long kMinModulusBits = 256;  // n >= 2^255
constexpr int kMaxKeygenAttempts = 10000;

int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Canonical encoding of a non-negative integer: lower-case hex digits, no leading zeros ("0" for
// zero). Only the canonical form is accepted, so one integer has exactly one encoding (a
// signature string, which feeds the mark key, is unique for a statement).
bool is_canonical_hex(std::string_view hex) noexcept {
  if (hex.empty()) return false;
  for (char c : hex) {
    if (hex_digit(c) < 0) return false;
  }
  return hex.size() == 1 || hex[0] != '0';
}

// Integer of a canonical hex string; nullopt when malformed. No NTL call sees bad input.
std::optional<NTL::ZZ> zz_from_hex(std::string_view hex) {
  if (!is_canonical_hex(hex)) return std::nullopt;
  std::vector<unsigned char> little((hex.size() + 1) / 2, 0);
  for (std::size_t k = 0; k < hex.size(); ++k) {  // k-th nibble from the least significant end
    const int v = hex_digit(hex[hex.size() - 1 - k]);
    little[k / 2] |= static_cast<unsigned char>(v << (4 * (k % 2)));
  }
  NTL::ZZ z;
  NTL::ZZFromBytes(z, little.data(), static_cast<long>(little.size()));
  return z;
}

std::string zz_to_hex(const NTL::ZZ& z) {
  WRSEC_CHECK(z >= 0, "zz_to_hex of a negative integer");
  if (NTL::IsZero(z)) return "0";
  const long size = NTL::NumBytes(z);
  std::vector<unsigned char> bytes(static_cast<std::size_t>(size));
  NTL::BytesFromZZ(bytes.data(), z, size);  // little-endian
  // Big-endian copy by index (GCC 12 reports a false -Wstringop-overflow for std::reverse of a
  // byte vector when vectorising for AVX2).
  std::vector<unsigned char> big(bytes.size());
  for (std::size_t i = 0; i < bytes.size(); ++i) big[i] = bytes[bytes.size() - 1 - i];
  std::string hex = to_hex(big.data(), big.size());
  if (hex[0] == '0') hex.erase(0, 1);
  return hex;
}

NTL::ZZ zz_from_u64(std::uint64_t v) {
  NTL::ZZ z;
  NTL::conv(z, static_cast<unsigned long>(v));
  static_assert(sizeof(unsigned long) == sizeof(std::uint64_t));
  return z;
}

// Bit length of a canonical hex integer.
long hex_bits(std::string_view hex) noexcept {
  const int top = hex_digit(hex[0]);
  return static_cast<long>(4 * (hex.size() - 1)) + static_cast<long>(std::bit_width(unsigned(top)));
}

void put_u32_be(std::uint8_t* out, std::uint32_t v) noexcept {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
}

void update_u64_be(Sha256& h, std::uint64_t v) noexcept {
  std::uint8_t bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<std::uint8_t>(v >> (56 - 8 * i));
  h.update(bytes, sizeof bytes);
}

void update_field(Sha256& h, std::string_view field) noexcept {
  update_u64_be(h, field.size());
  h.update(field);
}

std::uint64_t load_u64_be(const std::uint8_t* p) noexcept {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

// SHA-256 counter-mode stream: block i = SHA-256(i as 4-byte big-endian || prefix || suffix).
Digest counter_block(std::uint32_t i, std::string_view prefix, std::string_view suffix) noexcept {
  std::uint8_t counter[4];
  put_u32_be(counter, i);
  Sha256 h;
  h.update(counter, sizeof counter);
  h.update(prefix);
  h.update(suffix);
  return h.finish();
}

// FDH(m) in [0, n): the first |n| bits of H_0 || H_1 || ... as a big-endian integer, mod n.
NTL::ZZ full_domain_hash(const NTL::ZZ& n, std::string_view message) {
  const long bits = NTL::NumBits(n);
  const std::size_t bytes = static_cast<std::size_t>((bits + 7) / 8);
  std::vector<unsigned char> stream;
  stream.reserve(bytes + 32);
  for (std::uint32_t i = 0; stream.size() < bytes; ++i) {
    const Digest block = counter_block(i, "wrsec.fdh", message);
    stream.insert(stream.end(), block.begin(), block.end());
  }
  stream.resize(bytes);
  std::reverse(stream.begin(), stream.end());  // NTL reads little-endian
  NTL::ZZ x;
  NTL::ZZFromBytes(x, stream.data(), static_cast<long>(stream.size()));
  x >>= static_cast<long>(8 * bytes) - bits;  // keep exactly the first |n| bits
  return x % n;
}

// A modulus and exponent the arithmetic accepts: n odd with n >= 2^255, e odd with e >= 3.
bool plausible_key(const NTL::ZZ& n, std::uint64_t e) noexcept {
  return NTL::IsOdd(n) && NTL::NumBits(n) >= kMinModulusBits && e >= 3 && e % 2 == 1;
}

const nlohmann::json& require_field(const nlohmann::json& j, const char* what, const char* field) {
  const auto it = j.find(field);
  if (it == j.end()) throw InvalidArgument(std::string(what) + ": missing field '" + field + "'");
  return *it;
}

void reject_unknown_fields(const nlohmann::json& j, const char* what,
                           std::initializer_list<const char*> known) {
  for (const auto& item : j.items()) {
    if (std::none_of(known.begin(), known.end(), [&](const char* k) { return item.key() == k; }))
      throw InvalidArgument(std::string(what) + ": unknown field '" + item.key() + "'");
  }
}

bool is_seed_hex(std::string_view hex) noexcept {
  if (hex.size() != 64) return false;
  return std::all_of(hex.begin(), hex.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}

}  // namespace

// ---- PublicKey --------------------------------------------------------------------------------

int PublicKey::bits() const {
  if (!is_canonical_hex(n_hex))
    throw InvalidArgument("PublicKey: field 'n' is not canonical lower-case hex");
  return static_cast<int>(hex_bits(n_hex));
}

nlohmann::json PublicKey::to_json() const {
  return {{"n", n_hex}, {"e", e}};
}

PublicKey PublicKey::from_json(const nlohmann::json& j) {
  constexpr const char* kWhat = "PublicKey";
  if (!j.is_object()) throw InvalidArgument("PublicKey: expected a JSON object");
  reject_unknown_fields(j, kWhat, {"n", "e"});
  const nlohmann::json& n = require_field(j, kWhat, "n");
  const nlohmann::json& e = require_field(j, kWhat, "e");
  if (!n.is_string()) throw InvalidArgument("PublicKey: field 'n' must be a hex string");
  const std::string& n_hex = n.get_ref<const std::string&>();
  if (!is_canonical_hex(n_hex))
    throw InvalidArgument(
        "PublicKey: field 'n' must be lower-case hex digits without leading zeros");
  if (hex_digit(n_hex.back()) % 2 == 0) throw InvalidArgument("PublicKey: field 'n' is even");
  if (hex_bits(n_hex) < kMinModulusBits)
    throw InvalidArgument("PublicKey: field 'n' is below 2^255");
  // nlohmann stores a parsed non-negative integer as unsigned, a programmatic int as signed.
  if (!e.is_number_integer() || (!e.is_number_unsigned() && e.get<std::int64_t>() < 0))
    throw InvalidArgument("PublicKey: field 'e' must be a non-negative integer");
  const std::uint64_t e_value = e.get<std::uint64_t>();
  if (e_value < 3 || e_value % 2 == 0)
    throw InvalidArgument("PublicKey: field 'e' must be odd and >= 3, got " +
                          std::to_string(e_value));
  return PublicKey{n_hex, e_value};
}

// ---- keys and signatures ----------------------------------------------------------------------

namespace {

void check_key_bits(int bits) {
  if (bits < kMinKeyBits || bits > kMaxKeyBits || bits % 2 != 0)
    throw InvalidArgument("owner key: bits must be even and in [512, 8192], got " +
                          std::to_string(bits));
}

// KeyGen from a 256-bit seed of NTL's PRG.
OwnerKeyPair generate_from_seed(const unsigned char (&seed)[32], int bits) {
  // NTL's PRG is thread-local (NTL_THREADS); save and restore this thread's stream so that the
  // caller's NTL state is untouched and keygen depends on the seed alone.
  NTL::RandomStreamPush saved_stream;
  NTL::SetSeed(seed, sizeof seed);

  const NTL::ZZ e = zz_from_u64(kPublicExponent);
  const long half = bits / 2;
  for (int attempt = 0; attempt < kMaxKeygenAttempts; ++attempt) {
    const NTL::ZZ p = NTL::GenPrime_ZZ(half);
    const NTL::ZZ q = NTL::GenPrime_ZZ(half);
    if (p == q) continue;
    const NTL::ZZ n = p * q;
    if (NTL::NumBits(n) != bits) continue;
    const NTL::ZZ p1 = p - 1;
    const NTL::ZZ q1 = q - 1;
    const NTL::ZZ lambda = (p1 / NTL::GCD(p1, q1)) * q1;  // lcm(p - 1, q - 1)
    if (NTL::GCD(e, lambda) != 1) continue;
    NTL::ZZ d;
    if (NTL::InvModStatus(d, e % lambda, lambda) != 0) continue;  // unreachable: gcd is 1
    return OwnerKeyPair{PublicKey{zz_to_hex(n), kPublicExponent}, zz_to_hex(d)};
  }
  throw LogicError("generate_owner_key: no key after " + std::to_string(kMaxKeygenAttempts) +
                   " attempts");
}

}  // namespace

OwnerKeyPair generate_owner_key(Rng& coins, int bits) {
  check_key_bits(bits);
  unsigned char seed[32];
  for (int i = 0; i < 4; ++i) {
    const std::uint64_t word = coins.next_u64();
    for (int j = 0; j < 8; ++j) seed[8 * i + j] = static_cast<unsigned char>(word >> (56 - 8 * j));
  }
  return generate_from_seed(seed, bits);
}

OwnerKeyPair generate_owner_key_os(int bits) {
  check_key_bits(bits);
  unsigned char seed[32];
  std::size_t got = 0;
  while (got < sizeof seed) {
    // Blocks only until the kernel's pool is initialised; never returns fewer bits than asked
    // for once it is, except when interrupted.
    const ssize_t n = ::getrandom(seed + got, sizeof seed - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw RuntimeError(std::string("owner key: the OS CSPRNG (getrandom) failed: ") +
                         std::strerror(errno));
    }
    got += static_cast<std::size_t>(n);
  }
  OwnerKeyPair key = generate_from_seed(seed, bits);
  explicit_bzero(seed, sizeof seed);
  return key;
}

nlohmann::json OwnerKeyPair::to_json() const {
  return {{"public_key", public_key.to_json()}, {"d", d_hex}};
}

OwnerKeyPair OwnerKeyPair::from_json(const nlohmann::json& j) {
  constexpr const char* kWhat = "owner key";
  if (!j.is_object()) throw InvalidArgument("owner key: expected a JSON object");
  reject_unknown_fields(j, kWhat, {"public_key", "d"});
  OwnerKeyPair key;
  try {
    key.public_key = PublicKey::from_json(require_field(j, kWhat, "public_key"));
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(std::string("owner key: field 'public_key': ") + e.what());
  }
  const nlohmann::json& d = require_field(j, kWhat, "d");
  if (!d.is_string() || !is_canonical_hex(d.get_ref<const std::string&>()))
    throw InvalidArgument("owner key: field 'd' must be lower-case hex without leading zeros");
  key.d_hex = d.get<std::string>();
  // sign_statement checks σ^e = FDH(m): a d that does not belong to n is refused here, once.
  try {
    (void)sign_statement(key, "wrsec.owner_key.check");
  } catch (const InvalidArgument&) {
    throw InvalidArgument("owner key: the private exponent 'd' does not belong to the public key");
  }
  return key;
}

std::string key_fingerprint(const PublicKey& key) {
  return to_hex(sha256(key.to_json().dump()));
}

std::string sign_statement(const OwnerKeyPair& key, std::string_view statement) {
  const std::optional<NTL::ZZ> n = zz_from_hex(key.public_key.n_hex);
  if (!n || !plausible_key(*n, key.public_key.e))
    throw InvalidArgument(
        "sign_statement: malformed public key (n must be odd canonical hex "
        ">= 2^255, e odd >= 3)");
  const std::optional<NTL::ZZ> d = zz_from_hex(key.d_hex);
  if (!d || NTL::IsZero(*d) || *d >= *n)
    throw InvalidArgument("sign_statement: malformed private exponent d");
  const NTL::ZZ h = full_domain_hash(*n, statement);
  const NTL::ZZ sigma = NTL::PowerMod(h, *d, *n);
  // Check before release: a wrong d (or a fault) must never publish a bad signature.
  if (NTL::PowerMod(sigma, zz_from_u64(key.public_key.e), *n) != h)
    throw InvalidArgument("sign_statement: private exponent d does not match the public key");
  return zz_to_hex(sigma);
}

bool verify_statement(const PublicKey& key, std::string_view statement,
                      std::string_view signature_hex) {
  const std::optional<NTL::ZZ> n = zz_from_hex(key.n_hex);
  if (!n || !plausible_key(*n, key.e)) return false;
  if (signature_hex.size() > key.n_hex.size()) return false;  // σ >= n; skip the parse
  const std::optional<NTL::ZZ> sigma = zz_from_hex(signature_hex);
  if (!sigma || NTL::IsZero(*sigma) || *sigma >= *n) return false;
  return NTL::PowerMod(*sigma, zz_from_u64(key.e), *n) == full_domain_hash(*n, statement);
}

// ---- MarkKey ----------------------------------------------------------------------------------

MarkKey MarkKey::from_signature(const PublicKey& key, std::string_view statement,
                                std::string_view signature_hex) {
  Sha256 h;
  update_field(h, "wrsec.mark.v1");
  update_field(h, key.n_hex);
  update_field(h, std::to_string(key.e));
  update_field(h, statement);
  update_field(h, signature_hex);
  return MarkKey(h.finish());
}

MarkKey MarkKey::from_seed_hex(std::string_view seed_hex) {
  if (!is_seed_hex(seed_hex))
    throw InvalidArgument("MarkKey: key seed must be exactly 64 hex digits, got " +
                          std::to_string(seed_hex.size()) + " characters");
  const std::string bytes = from_hex(seed_hex);
  Digest digest;
  std::memcpy(digest.data(), bytes.data(), digest.size());
  return MarkKey(digest);
}

Rng MarkKey::rng(std::string_view purpose) const {
  return Rng(load_u64_be(digest_.data()), load_u64_be(digest_.data() + 8),
             load_u64_be(digest_.data() + 16), load_u64_be(digest_.data() + 24))
      .derive(purpose);
}

std::vector<std::uint8_t> MarkKey::message_bits(std::size_t count) const {
  std::vector<std::uint8_t> bits;
  bits.reserve(count);
  const std::string_view key(reinterpret_cast<const char*>(digest_.data()), digest_.size());
  for (std::uint32_t i = 0; bits.size() < count; ++i) {
    WRSEC_CHECK(i != 0 || bits.empty(), "message_bits: counter overflow");
    const Digest block = counter_block(i, "msg", key);
    for (std::size_t b = 0; b < 8 * block.size() && bits.size() < count; ++b)
      bits.push_back(static_cast<std::uint8_t>((block[b / 8] >> (7 - b % 8)) & 1u));
  }
  return bits;
}

// ---- OwnerClaim -------------------------------------------------------------------------------

nlohmann::json OwnerClaim::to_json() const {
  nlohmann::json j = {
      {"statement", statement}, {"public_key", public_key.to_json()}, {"signature", signature_hex}};
  if (key_seed_hex) j["key_seed"] = *key_seed_hex;
  if (message) {
    nlohmann::json bits = nlohmann::json::array();
    for (std::uint8_t b : *message) bits.push_back(static_cast<int>(b));
    j["message"] = std::move(bits);
  }
  return j;
}

OwnerClaim OwnerClaim::from_json(const nlohmann::json& j) {
  constexpr const char* kWhat = "OwnerClaim";
  if (!j.is_object()) throw InvalidArgument("OwnerClaim: expected a JSON object");
  reject_unknown_fields(j, kWhat, {"statement", "public_key", "signature", "key_seed", "message"});
  OwnerClaim claim;
  const nlohmann::json& statement = require_field(j, kWhat, "statement");
  if (!statement.is_string())
    throw InvalidArgument("OwnerClaim: field 'statement' must be a string");
  claim.statement = statement.get<std::string>();
  const nlohmann::json& public_key = require_field(j, kWhat, "public_key");
  try {
    claim.public_key = PublicKey::from_json(public_key);
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(std::string("OwnerClaim: field 'public_key': ") + e.what());
  }
  const nlohmann::json& signature = require_field(j, kWhat, "signature");
  if (!signature.is_string())
    throw InvalidArgument("OwnerClaim: field 'signature' must be a hex string");
  claim.signature_hex = signature.get<std::string>();
  if (const auto it = j.find("key_seed"); it != j.end()) {
    if (!it->is_string() || !is_seed_hex(it->get_ref<const std::string&>()))
      throw InvalidArgument("OwnerClaim: field 'key_seed' must be a string of 64 hex digits");
    claim.key_seed_hex = it->get<std::string>();
  }
  if (const auto it = j.find("message"); it != j.end()) {
    if (!it->is_array()) throw InvalidArgument("OwnerClaim: field 'message' must be an array");
    std::vector<std::uint8_t> bits;
    bits.reserve(it->size());
    for (std::size_t i = 0; i < it->size(); ++i) {
      const nlohmann::json& b = (*it)[i];
      if (!b.is_number_integer() || (b.get<std::int64_t>() != 0 && b.get<std::int64_t>() != 1))
        throw InvalidArgument("OwnerClaim: field 'message' element " + std::to_string(i) +
                              " must be 0 or 1");
      bits.push_back(static_cast<std::uint8_t>(b.get<std::int64_t>()));
    }
    claim.message = std::move(bits);
  }
  return claim;
}

std::string OwnerClaim::fingerprint() const {
  std::string canonical;
  try {
    canonical = to_json().dump();
  } catch (const nlohmann::json::type_error&) {
    throw InvalidArgument("OwnerClaim: statement or signature is not valid UTF-8");
  }
  return to_hex(sha256(canonical));
}

OwnerClaim make_claim(const OwnerKeyPair& key, std::string statement) {
  OwnerClaim claim;
  claim.signature_hex = sign_statement(key, statement);
  claim.statement = std::move(statement);
  claim.public_key = key.public_key;
  return claim;
}

// ---- model digests ----------------------------------------------------------------------------

std::string tensors_digest_hex(const nn::TensorMap& tensors) {
  Sha256 h;
  std::vector<std::uint8_t> chunk;
  constexpr std::size_t kChunkFloats = 16384;
  for (const auto& [name, tensor] : tensors) {
    const std::int64_t numel = nn::checked_numel(tensor.shape);
    if (static_cast<std::size_t>(numel) != tensor.data.size())
      throw InvalidArgument("tensors_digest_hex: tensor '" + name + "' has shape " +
                            tensor.shape_string() + " but " + std::to_string(tensor.data.size()) +
                            " values");
    update_field(h, name);
    update_u64_be(h, tensor.shape.size());
    for (std::int64_t d : tensor.shape) update_u64_be(h, static_cast<std::uint64_t>(d));
    if constexpr (std::endian::native == std::endian::little) {
      h.update(tensor.data.data(), tensor.data.size() * sizeof(float));
    } else {
      for (std::size_t start = 0; start < tensor.data.size(); start += kChunkFloats) {
        const std::size_t end = std::min(tensor.data.size(), start + kChunkFloats);
        chunk.clear();
        for (std::size_t i = start; i < end; ++i) {
          const std::uint32_t u = std::bit_cast<std::uint32_t>(tensor.data[i]);
          for (int k = 0; k < 4; ++k) chunk.push_back(static_cast<std::uint8_t>(u >> (8 * k)));
        }
        h.update(chunk.data(), chunk.size());
      }
    }
  }
  return to_hex(h.finish());
}

}  // namespace wrsec::definitions
