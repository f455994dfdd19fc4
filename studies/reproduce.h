#pragma once
// `wrsec reproduce`: plays one profile of a claims file (paper/claims.json) — a bundle of spec
// files and measurements — into an output directory, checks each claim of the profile against
// the outputs, and writes the paper's generated inputs.
//   claims file  {"schema": "wrsec.claims.v2", "default_profile": P,
//                 "profiles": {P: {"description": text, "seed": s,
//                   "specs": [{"spec": path, "trials": n, "restrict": {axis: values},
//                              "estimate_seconds": t}],
//                   "measurements": [{"name": n, "id": id, "params": {k: v},
//                                     "estimate_seconds": t}]}},
//                 "claims": [Claim, ...]}                                 (claims: see claims.h)
//   OUT/study.json            the frozen profile, the claims file's digest and the shard
//   OUT/runs/<spec name>/     one run directory per spec (experiments/run_dir.h)
//   OUT/measurements/<name>/  one measurement directory per measurement (measurement_run.h)
//   OUT/claims.jsonl, OUT/claims.md, OUT/report.md   once everything is complete
//   OUT/.lock                 held by the one process working in OUT (core/directory_lock.h)
// Started again on the same OUT, a reproduction continues where it stopped (runs from their last
// batch, measurements from their last unit) and ends with the same results. With shard i/N each
// spec plays slice i of its trials and measurement units are dealt round-robin over the shards;
// merge_reproductions adds the N directories. Under MPI the ranks share every batch of trials and
// rank 0 alone plays the measurements. Paths in the claims file are relative to `root`.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "experiments/communicator.h"
#include "experiments/run_dir.h"

namespace wrsec::studies {

struct ReproduceOptions {
  std::string profile;               // empty: the claims file's default_profile
  std::filesystem::path root = ".";  // repository root: specs are found relative to it
  std::filesystem::path claims = "paper/claims.json";
  std::filesystem::path out;        // default runs/reproduce-<profile>
  std::filesystem::path paper_dir;  // default <root>/paper/generated
  bool write_paper = true;
  int threads = 1;
  experiments::Shard shard;
  const experiments::Communicator* comm = nullptr;  // null: this process alone
  std::ostream* log = nullptr;                      // one line per step, with the profile's ETA
  std::ostream* progress = nullptr;                 // live progress line of a run (a terminal)
  // false: only play (and merge); no claims, reports or paper inputs (the evaluate battery).
  bool check_claims = true;
  // true: a spec with failed cells (a trial threw) does not stop the profile; the failures stay
  // in its run directory (status "failed", the cells marked in results.jsonl).
  bool keep_going = false;
};

struct ProfileSummary {
  std::string name;
  std::string description;
  std::size_t specs = 0;
  std::size_t measurements = 0;
  double estimate_seconds = 0;  // on the reference machine (2 cores)
  bool is_default = false;
};

// The profiles of a claims file; InvalidArgument for a malformed file.
std::vector<ProfileSummary> list_profiles(const ReproduceOptions& options);

// Plays the profile into options.out (continuing what is there), then checks the claims. Returns
// the number of claims not met (0 = reproduced); a shard returns 0 without checking (merge the
// shards first). InvalidArgument for a bad claims file, profile or foreign output directory, or
// one that another process works in (naming it).
int run_reproduce(const ReproduceOptions& options);

// Merges complete shard directories of one profile (options.out must not exist), checks the
// claims and writes the paper's inputs as run_reproduce does. Returns the claims not met.
int merge_reproductions(const std::vector<std::filesystem::path>& inputs,
                        const ReproduceOptions& options);

}  // namespace wrsec::studies
