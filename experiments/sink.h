#pragma once
// Result sinks (modelled on google/benchmark's reporters): begin() once with the run's header,
// write() per cell, finish() at the end. Every result leaves wrsec through a sink; the reporters
// (one file pair each) are jsonl_sink.h, csv_sink.h, markdown_sink.h, latex_sink.h and
// table_sink.h. A file reporter's file appears only at finish(), complete (AtomicFile).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "definitions/sequential.h"
#include "experiments/provenance.h"
#include "experiments/results.h"
#include "experiments/spec.h"

namespace wrsec::experiments {

// What a run is: the spec it plays, the family of cells its error level covers, its stopping rule
// and its slice of the trials. A header made from a Provenance alone describes lone cells (no
// grid, no correction, no stopping rule), as `wrsec run --game` and the experiments report them.
struct RunHeader {
  RunHeader() = default;
  // Lone cells, reported with the provenance of the process that played them.
  RunHeader(Provenance p) : provenance(std::move(p)) {}  // NOLINT(google-explicit-constructor)

  std::string title;  // the spec's name
  std::string description;
  std::uint64_t seed = 0;
  std::uint64_t trials = 0;  // per cell (the budget when stopping early)
  std::size_t cells = 0;     // K, the cells of the grid; 0 for lone cells
  double family_alpha = 0.05;
  Correction correction = Correction::none;
  double alpha_per_cell = 0.05;  // before any early-stopping spend
  definitions::StopRule stop;    // inactive: every cell plays its full trial range
  std::string stopping_method;   // the alpha-spending schedule, when stop is active
  std::uint64_t shard_index = 0;
  std::uint64_t shard_count = 1;  // > 1: the run plays slice shard_index of every cell's trials
  // The process that played the cells; a run directory keeps it in its manifest instead.
  std::optional<Provenance> provenance;

  [[nodiscard]] bool is_grid() const { return cells > 0; }
  [[nodiscard]] bool is_shard() const { return shard_count > 1; }
};

// One cell as reported. result.alpha is the level its bounds are reported at: the alpha per cell,
// or under early stopping the alpha spent at the cell's last look.
struct CellRecord {
  CellRecord() = default;
  // A lone cell: no place in a grid, no looks.
  CellRecord(CellResult r) : result(std::move(r)) {}  // NOLINT(google-explicit-constructor)
  CellRecord(CellResult r, std::size_t cell_index, std::uint64_t looks_done, bool stopped)
      : result(std::move(r)), index(cell_index), looks(looks_done), stopped_early(stopped) {}

  CellResult result;
  std::size_t index = 0;       // position in the grid (meaningful when the header is_grid())
  std::uint64_t looks = 0;     // checkpoints of the stopping rule evaluated
  bool stopped_early = false;  // the stopping rule was met before the budget
};

class ResultSink {
 public:
  virtual ~ResultSink() = default;
  virtual void begin(const RunHeader& header) = 0;
  virtual void write(const CellRecord& record) = 0;
  virtual void finish() = 0;
};

// Forwards to several sinks in order (finish() too: file sinks commit in the order added).
class MultiSink final : public ResultSink {
 public:
  void add(std::unique_ptr<ResultSink> sink) { sinks_.push_back(std::move(sink)); }
  void begin(const RunHeader& header) override;
  void write(const CellRecord& record) override;
  void finish() override;

 private:
  std::vector<std::unique_ptr<ResultSink>> sinks_;
};

}  // namespace wrsec::experiments
