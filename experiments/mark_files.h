#pragma once
// Marking and verifying model files (what `wrsec mark` / `wrsec verify` run).
//   mark:   M ← file (wrsec safetensors), (M_marked, s) ← Release_scheme(M; Rng(seed, "mark", 0))
//           → out (safetensors with metadata wrsec.mark.scheme and wrsec.mark.claim_fingerprint)
//           and the owner's record (JSON, schema wrsec.owner_secret.v1: scheme id, scheme
//           parameters, the secret: claim + record of which key marked which model).
//   verify: Verify_scheme(s, M') for a suspect file, with the scheme and parameters the record
//           names.
// Both outputs of mark are written atomically; if the second write fails the first is removed.
#include <cstdint>
#include <filesystem>

#include "definitions/params.h"
#include "definitions/scheme.h"

namespace wrsec::experiments {

struct MarkSummary {
  std::string scheme;
  std::string claim_fingerprint;
  std::string original_digest;
  std::string marked_digest;
  definitions::VerifyResult self_check;  // Verify(s, M_marked)
};

MarkSummary mark_model_file(const std::string& scheme_id, const definitions::Params& params,
                            const std::filesystem::path& in, const std::filesystem::path& out,
                            const std::filesystem::path& secret_out, std::uint64_t seed);

definitions::VerifyResult verify_model_file(const std::filesystem::path& secret,
                                            const std::filesystem::path& suspect);

}  // namespace wrsec::experiments
