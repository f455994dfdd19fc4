#pragma once
// Evidence reports (`wrsec verify … --evidence DIR`, `wrsec evidence check DIR`): one verification
// written down as a signed, self-contained record of what was checked, how, and what it does not
// show (the seed's M6, forensic completeness, made concrete).
//   DIR/evidence.json = {report: R, report_hash: h = SHA-256(canonical JSON of R),
//                        signature: RSA-FDH_sk("wrsec-evidence v1; report=" ‖ h)}
//   DIR/evidence.md   = render(R, h, signature), byte for byte (the checker renders it again)
// sk is the examiner's key (from `wrsec keygen`), whose public half is in R. R (schema
// wrsec.evidence.v1) holds the suspect file's SHA-256 and tensor digest; the owner record in full;
// the tensor mapping and alignment logs; the verifier's rule and its critical count c (the least
// match count it accepts, fixed before reading); the statistic and exact log2 p-value overall and
// per carrier layer; the null: the rule's binomial FPR P[Bin(T, p0) ≥ c] and an empirical one, N
// fresh keys of another identity read from the same suspect, with the one-sided Clopper–Pearson
// upper bound at α = 0.05 on their acceptance rate; negative controls (other models through the
// same pipeline, each expected to be rejected); the registry log up to its head with the claim's
// entry and the decision under the entry's frozen rule (the proof is the whole chain, which the
// checker re-checks); what the report does not prove; and a completeness list of the forensic
// items, each present, missing, not_applicable or failed.
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "experiments/mark_files.h"

namespace wrsec::experiments {

inline constexpr const char* kEvidenceSchema = "wrsec.evidence.v1";

struct EvidenceOptions {
  std::filesystem::path record, suspect, reference;  // reference: optional, as for verify
  VerifierRule rule;
  std::vector<std::filesystem::path> controls;  // negative controls (other models)
  std::filesystem::path registry;               // optional claim log (experiments/claim_log.h)
  std::optional<std::string> registry_head;     // an entry hash the examiner already holds
  std::filesystem::path signing_key;            // the examiner's key file
  std::filesystem::path out;                    // DIR; must not exist
  std::uint64_t null_keys = 1000;               // N (0: no empirical null)
  std::string command;                          // how the report was asked for
};

struct EvidenceSummary {
  VerifyReport verify;
  nlohmann::json report;  // R
  std::string report_hash;
  nlohmann::json completeness;  // R's completeness list
};

// Verifies, runs the controls and the null, signs and writes DIR (all or nothing). InvalidArgument
// for bad input (as verify, plus: a control that is the suspect, the marked or the original model,
// an unreadable registry, a malformed key); a registry that parses but does not check is recorded
// as failed, not refused.
EvidenceSummary write_evidence(const EvidenceOptions& options);

struct EvidenceFile {
  nlohmann::json report;
  std::string report_hash;
  std::string signature;
};

// The top level of evidence.json, strictly (exactly report, report_hash, signature).
// InvalidArgument naming `source` otherwise.
[[nodiscard]] EvidenceFile parse_evidence(std::string_view text, const std::string& source);
// evidence.md for a report; InvalidArgument if R lacks a field it shows.
[[nodiscard]] std::string render_evidence_markdown(const EvidenceFile& file);
// The completeness list of R, computed from its contents; InvalidArgument if R is malformed.
[[nodiscard]] nlohmann::json evidence_completeness(const nlohmann::json& report);

struct EvidenceCheckOptions {
  std::filesystem::path dir;
  std::optional<std::string> signer;  // the examiner's key fingerprint the checker expects
  std::filesystem::path suspect;      // optional: the suspect file, to compare and re-run
  std::filesystem::path reference;    // optional: the reference, for the re-run
};

struct EvidenceCheck {
  bool valid = false;
  std::vector<std::string> problems;  // empty iff valid
  std::string signer;                 // the examiner's key fingerprint in the report
  bool accepted = false;              // the report's decision
  bool rerun = false;                 // the verification was run again and agreed
  nlohmann::json completeness;
};

// Checks a report: hash, signature (and signer when pinned), Markdown, record signature, registry
// chain and entry, every p-value, CP bound and decision recomputed from its counts, completeness
// recomputed; with `suspect`, its SHA-256, and the verification re-run (with `reference` when the
// report used one) and compared. InvalidArgument only when DIR or its files cannot be read or
// evidence.json does not parse at the top level; everything else is a problem in the result.
[[nodiscard]] EvidenceCheck check_evidence(const EvidenceCheckOptions& options);
// The same for a parsed evidence.json and the text of evidence.md (options.dir is not read).
[[nodiscard]] EvidenceCheck check_evidence_document(const EvidenceFile& file, std::string_view md,
                                                    const EvidenceCheckOptions& options);

}  // namespace wrsec::experiments
