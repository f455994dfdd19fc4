#pragma once
// Owner keys, marking and verifying model files (what `wrsec keygen`, `mark` and `verify` run).
//   key file:  {"schema": "wrsec.owner_key.v1", "public_key": {n, e}, "d": hex}, mode 0600, made
//              by KeyGen with coins from the OS CSPRNG; never in a record.
//   mark:      M ← file (wrsec safetensors); (M_marked, s) ← Release_scheme,pk(M; Rng(seed,
//              "mark", 0)) signed with the owner's key → out (safetensors with metadata
//              wrsec.mark.scheme and wrsec.mark.claim_fingerprint) and the owner's record.
//   record:    public material only (schema wrsec.owner_record.v2): scheme id, the scheme's
//              reading parameters, the claim (statement, pk, σ), digests of M and M_marked, and
//              record_signature = Sign_sk("wrsec-record v2; scheme=…; params=<JSON>; claim=<fp>;
//              model=…; marked=…"), so that no field can change without the owner's key.
//   verify:    the verifier's rule decides: accept iff p ≤ its target FPR (or matches > its
//              threshold). A record is refused when its signature does not verify, when a field
//              is unknown, when it asks for an unbound claim, or when it names a rule looser
//              than the verifier's; a rule at least as strict is ignored with a warning.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "definitions/owner_key.h"
#include "definitions/params.h"
#include "definitions/scheme.h"

namespace wrsec::experiments {

inline constexpr const char* kOwnerKeySchema = "wrsec.owner_key.v1";
inline constexpr const char* kOwnerRecordSchema = "wrsec.owner_record.v2";

// A new key file at path (InvalidArgument if anything is there already).
void write_owner_key_file(const std::filesystem::path& path, const definitions::OwnerKeyPair& key);
// InvalidArgument for a missing, too open (mode & 077) or malformed key file.
[[nodiscard]] definitions::OwnerKeyPair read_owner_key_file(const std::filesystem::path& path);

struct MarkOptions {
  std::string scheme;
  definitions::Params params;
  std::filesystem::path in, out, record;
  // The owner's key file; empty: a new key from the OS CSPRNG, written to key_out.
  std::filesystem::path key;
  std::filesystem::path key_out;
  std::uint64_t seed = 1;
};

struct MarkSummary {
  std::string scheme;
  std::string claim_fingerprint;
  std::string original_digest;
  std::string marked_digest;
  std::string key_fingerprint;           // SHA-256 of the owner's public key
  std::filesystem::path key_file;        // the key signed with
  bool new_key = false;                  // created by this call
  definitions::VerifyResult self_check;  // Verify(s, M_marked) under the mark's parameters
};

// InvalidArgument for bad input; nothing is written unless everything is.
MarkSummary mark_model_file(const MarkOptions& options);

struct OwnerRecord {
  std::string scheme;
  std::map<std::string, std::string> scheme_params;
  definitions::OwnerClaim claim;
  std::string model_digest;
  std::string marked_digest;
  std::string record_signature;
  // The text record_signature signs.
  [[nodiscard]] std::string signed_text() const;
  [[nodiscard]] nlohmann::json to_json() const;
};

// A SHA-256 digest as wrsec writes it: 64 lower-case hex digits.
[[nodiscard]] bool is_digest_hex(const std::string& s);

// Strict parser: InvalidArgument naming the problem for malformed JSON, another schema, a
// missing or unknown field. `source` names the input in messages.
[[nodiscard]] OwnerRecord parse_owner_record(std::string_view text, const std::string& source);

// The verifier's own decision rule.
struct VerifierRule {
  double target_fpr = 1e-3;         // accept iff the p-value is at most this
  std::optional<double> threshold;  // instead: accept iff matches > threshold
};

struct VerifyReport {
  definitions::VerifyResult result;
  std::string scheme;
  std::string key_fingerprint;
  std::vector<std::string> warnings;  // record fields that were ignored, and why
  std::string model_digest;           // the record's original and marked models
  std::string marked_digest;
  std::string suspect_digest;  // of the suspect (equal to marked_digest: the marked model itself)
  nlohmann::json mapping;      // a file from elsewhere: how its tensors map to the owner's layers
  // What was read, for callers that read the suspect again (the evidence report's null keys):
  // the suspect as mapped (before alignment), the owner's reference model (null without one),
  // and the parameters the verifier's scheme was made with.
  std::shared_ptr<const nn::Model> suspect_model;
  std::shared_ptr<const nn::Model> reference_model;
  definitions::Params scheme_params;
};

// Verify(s, M') under the verifier's rule. InvalidArgument for a refused record (see above) or
// an unreadable suspect. With `reference`, the owner's original (unmarked) model file, whose
// digest must be the record's model digest, the suspect is aligned to it before the mark is read
// (nn/align.h; the log is in result.details["alignment"]); an `align` in the record is ignored
// (the verifier decides), with a warning. A suspect without wrsec metadata (a file from
// elsewhere: other names, transposed, F16/BF16) is mapped to the reference's layers first
// (experiments/wild_suspect.h; the mapping is in `mapping`); without a reference it is refused.
[[nodiscard]] VerifyReport verify_model_file(const std::filesystem::path& record,
                                             const std::filesystem::path& suspect,
                                             const VerifierRule& rule,
                                             const std::filesystem::path& reference = {});
// The same for a record already parsed; `record_source` names it in messages.
[[nodiscard]] VerifyReport verify_model_file(const OwnerRecord& record,
                                             const std::string& record_source,
                                             const std::filesystem::path& suspect,
                                             const VerifierRule& rule,
                                             const std::filesystem::path& reference = {});

}  // namespace wrsec::experiments
