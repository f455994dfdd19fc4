// Fuzzes the owner claim reader (definitions/owner_key.h): JSON text → OwnerClaim::from_json
// (and PublicKey::from_json), then what a verifier does with a claim: its fingerprint, RSA-FDH
// signature verification and the mark key. A claim that reads must survive to_json/from_json
// unchanged. JSON errors are rejections too (read_json_file turns them into InvalidArgument).
#include <nlohmann/json.hpp>

#include "definitions/owner_key.h"
#include "fuzz/fuzz_common.h"

namespace {

using namespace wrsec;

bool same(const definitions::OwnerClaim& a, const definitions::OwnerClaim& b) {
  return a.statement == b.statement && a.public_key == b.public_key &&
         a.signature_hex == b.signature_hex && a.key_seed_hex == b.key_seed_hex &&
         a.message == b.message;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(fuzz::as_text(data, size));
  } catch (const nlohmann::json::exception&) {  // syntax, or a number out of range
    return 0;
  }
  fuzz::expect_valid_or_rejected([&] { (void)definitions::PublicKey::from_json(j); });
  fuzz::expect_valid_or_rejected([&] {
    const auto claim = definitions::OwnerClaim::from_json(j);
    (void)claim.public_key.bits();
    fuzz::expect_valid_or_rejected([&] {  // a statement that is not UTF-8
      const auto again = definitions::OwnerClaim::from_json(claim.to_json());
      if (!same(claim, again)) std::abort();
      if (again.fingerprint() != claim.fingerprint()) std::abort();
    });
    (void)definitions::verify_statement(claim.public_key, claim.statement, claim.signature_hex);
    const auto key = definitions::MarkKey::from_signature(claim.public_key, claim.statement,
                                                          claim.signature_hex);
    (void)key.message_bits(64);
    if (claim.key_seed_hex) {
      const auto seeded = definitions::MarkKey::from_seed_hex(*claim.key_seed_hex);
      (void)seeded.rng("fuzz").next_u64();
    }
  });
  return 0;
}
