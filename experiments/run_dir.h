#pragma once
// Run directories: one spec played cell by cell in checkpointed batches, resumable after a kill at
// any moment, sliceable into shards that merge exactly, and distributable over MPI ranks.
//
//   DIR/spec.ini        the spec as given (frozen: a resume reads this copy)
//   DIR/manifest.json   seed, overrides, alpha per cell, correction, stop rule, shard, cells and
//                       their trial ranges, provenance (git describe, dirty flag, compiler, flags,
//                       build type, library versions), and one segment per start/resume (host,
//                       ranks, threads, start/end time); status "running" or "complete"
//   DIR/state/cell-NNNNN.json  exact counts of the trials done so far (rewritten atomically
//                       after every batch; the unit of resume and merge)
//   DIR/results.jsonl   one wrsec.cell.v1 object per cell: counts and bounds only, so the file is
//                       byte-identical for any thread count, rank count, shard split or resume
//   DIR/results.csv, DIR/report.md, DIR/table.tex   the same for plots, people and papers
//
//   DIR/.lock           held (flock) by the one process working in DIR: a start, a resume or the
//                       merge writing it; another start or resume is refused with the holder's
//                       pid, host and start time. A killed holder's lock is released by the kernel.
//
// Every file is written with AtomicFile (temporary + rename); the directory itself appears only
// once its spec and manifest are complete (staged beside it, locked, and renamed into place; a
// staging directory whose creator was killed is removed by the next start). A resume removes the
// temporaries a killed process left, under the lock. Trial i of a cell always uses Philox
// counter i.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "experiments/communicator.h"
#include "experiments/runner.h"
#include "experiments/spec.h"

namespace wrsec::experiments {

// Slice i of N of every cell's trial range: [T i / N, T (i + 1) / N).
struct Shard {
  std::uint64_t index = 0;
  std::uint64_t count = 1;
  // Parses "i/N" with 0 <= i < N; InvalidArgument otherwise.
  static Shard parse(const std::string& text);
  [[nodiscard]] TrialRange slice(std::uint64_t trials) const;
  [[nodiscard]] std::string to_string() const;
};

struct RunDirOptions {
  int threads = 1;                            // OpenMP threads per rank
  Shard shard;                                // new runs only
  std::optional<std::uint64_t> trials;        // overrides the spec's trials (new runs only)
  std::optional<definitions::StopRule> stop;  // overrides the spec's stop_when (new runs only)
  // Sweep axes restricted to some of their values (ExperimentSpec::restrict_axis; new runs only).
  std::map<std::string, std::string> restrict;
  const Communicator* comm = nullptr;  // null: this process alone
  std::ostream* progress = nullptr;    // progress line (rank 0), if set
  std::ostream* log = nullptr;         // one line per finished cell (rank 0), if set
  // Test hook, called on every rank after each batch is recorded (cell index, trials done).
  std::function<void(std::size_t, std::uint64_t)> after_batch;
};

// The cells whose trials threw (index, message). A run with failed cells still writes all its
// outputs (the failed cells marked, with their message) and its manifest says status "failed";
// resuming it retries those cells from their last completed batch.
struct RunOutcome {
  std::vector<std::pair<std::size_t, std::string>> failed;
  [[nodiscard]] bool ok() const { return failed.empty(); }
};

// Starts a new run of the spec file into dir (which must not exist); every cell is instantiated
// first, so a bad spec fails before anything is written.
RunOutcome start_run(const std::filesystem::path& spec_path, const std::filesystem::path& dir,
                     const RunDirOptions& options);

// Continues the run in dir from its recorded state; a complete run is left as it is.
// @throws InvalidArgument naming the holder when another process works in dir.
RunOutcome resume_run(const std::filesystem::path& dir, const RunDirOptions& options);

// Adds the counts of complete shard runs of one spec (same seed, same overrides) whose trial
// ranges tile every cell exactly, and writes the merged run into out (which must not exist).
void merge_runs(const std::vector<std::filesystem::path>& inputs, const std::filesystem::path& out);

// Reads a run directory's results.jsonl (one JSON object per cell).
std::vector<nlohmann::json> read_results(const std::filesystem::path& dir);

}  // namespace wrsec::experiments
