#pragma once
// CSV reporter for plots: one row per cell (index, ids, parameters, trial range, counts, bounds,
// alpha, stopped early) and one <metric>_mean column per metric any cell recorded. The columns
// depend on every cell, so the file is written at finish().
#include <filesystem>
#include <vector>

#include "core/atomic_file.h"
#include "experiments/sink.h"

namespace wrsec::experiments {

class CsvSink final : public ResultSink {
 public:
  explicit CsvSink(const std::filesystem::path& path);
  void begin(const RunHeader& header) override;
  void write(const CellRecord& record) override;
  void finish() override;

 private:
  AtomicFile file_;
  std::vector<CellRecord> records_;
};

}  // namespace wrsec::experiments
