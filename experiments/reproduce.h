#pragma once
// `wrsec reproduce`: runs the experiments behind a paper's claims file (paper/claims.json) in one
// of its profiles (small: CI-sized; full), checks every claim, and writes the paper's generated
// inputs (macros.tex, tab_*.tex, *.csv) from those outputs only.
//   claims.json: {"schema": "wrsec.claims.v1",
//                 "profiles": {"small": {"experiments": [{"name": "taylormlp", "profile":
//                 "small"}],
//                                        "specs": [{"spec": "experiments/specs/x.ini",
//                                                   "trials": 32}]}, "full": {...}},
//                 "claims": [Claim, ...]}          (see claims.h)
//   out/<experiment>/...       the experiments' own outputs (taylormlp, watermark_robustness)
//   out/runs/<spec name>/      one run directory per spec (resumed if present and unfinished)
//   out/claims.jsonl, out/claims.md   every claim with its measured value
// Paths in the claims file are relative to the repository root (root option).
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <string>

namespace wrsec::experiments {

struct ReproduceOptions {
  std::string profile = "small";
  std::filesystem::path root = ".";  // repository root: specs are found relative to it
  std::filesystem::path claims = "paper/claims.json";
  std::filesystem::path out;        // default runs/reproduce-<profile>
  std::filesystem::path paper_dir;  // default <root>/paper/generated; "" after parse = skip
  bool write_paper = true;
  std::uint64_t seed = 1;
  int threads = 1;
  std::ostream* log = nullptr;
};

// Returns the number of claims not met (0 = reproduced). InvalidArgument for a bad claims file or
// profile.
int run_reproduce(const ReproduceOptions& options);

}  // namespace wrsec::experiments
