#pragma once
// The registry of ownership claims (`wrsec registry`): an append-only, hash-chained log, one JSON
// object per line. Entry i:
//   body_i      = {schema: "wrsec.registry_entry.v1", seq: i, prev: h_{i−1} (64 zeros for i = 0),
//                  time (UTC, the claimant's statement), claimant: {public_key, fingerprint},
//                  scheme, scheme_params, original_digest, marked_digest (the model's digest over
//                  names, shapes and float32 bytes), claim_fingerprint,
//                  key_commitment = SHA-256("wrsec-mark-key-commitment v1; " ‖ K) with K the mark
//                  key the claim derives, rule: {target_fpr} or {threshold} (frozen at entry time)}
//   h_i         = SHA-256(canonical JSON of body_i)
//   signature_i = RSA-FDH_sk("wrsec-registry v1; entry=" ‖ h_i), sk the claimant's key, which
//                 must be the key of the owner record the entry is made from.
// check() recomputes every h_i, verifies every signature, seq = i, prev = h_{i−1} and times that
// never decrease: an edited, reordered, dropped or foreign-signed entry is detected. Dropping the
// last entries leaves a valid shorter chain; it is detected only against a head h the checker
// already holds (published elsewhere), which must be the hash of some entry.
// What an entry proves: the claimant held sk and committed to (model, scheme, key, rule) before
// every later entry; not authorship, and not the time (self-asserted, no time-stamping authority).
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "definitions/owner_key.h"
#include "experiments/mark_files.h"

namespace wrsec::experiments {

inline constexpr const char* kRegistryEntrySchema = "wrsec.registry_entry.v1";

struct ClaimLogEntry {
  nlohmann::json body;  // the signed fields, in canonical order (nlohmann sorts keys)
  std::string entry_hash;
  std::string signature;

  [[nodiscard]] nlohmann::json to_json() const;  // body plus entry_hash and signature
};

struct ClaimLogCheck {
  bool valid = false;
  std::string problem;  // the first problem, naming the line, when not valid
  std::size_t entries = 0;
  std::string head;  // entry_hash of the last entry (64 zeros for an empty log)
};

// key_commitment of an entry for `claim`: SHA-256("wrsec-mark-key-commitment v1; " ‖ K), K the
// mark key the (signature-bound) claim derives.
[[nodiscard]] std::string mark_key_commitment(const definitions::OwnerClaim& claim);

// Reads a log; InvalidArgument (naming the line) for a line that is not a JSON object with exactly
// the entry's fields. An empty text is an empty log.
[[nodiscard]] std::vector<ClaimLogEntry> parse_claim_log(std::string_view text,
                                                         const std::string& source);
// Checks chain, hashes, signatures and order (see above); with `head`, also that the log contains
// the entry of that hash (a log cut before it is invalid).
[[nodiscard]] ClaimLogCheck check_claim_log(const std::vector<ClaimLogEntry>& entries,
                                            const std::optional<std::string>& head = {});

// The next entry for `record`, signed with `key`. InvalidArgument if the record's signature does
// not verify, if `key` is not the record's key, or if the rule is malformed (target_fpr in (0, 1),
// threshold >= 0, exactly one of them).
[[nodiscard]] ClaimLogEntry make_claim_log_entry(const std::vector<ClaimLogEntry>& log,
                                                 const OwnerRecord& record,
                                                 const definitions::OwnerKeyPair& key,
                                                 const VerifierRule& rule, const std::string& time);

// `wrsec registry add`: reads the log (a missing file is an empty log), refuses to append to an
// invalid one, and writes it back with the new entry (atomically; the earlier bytes unchanged).
ClaimLogEntry append_to_claim_log(const std::filesystem::path& log,
                                  const std::filesystem::path& record,
                                  const std::filesystem::path& key, const VerifierRule& rule);

}  // namespace wrsec::experiments
