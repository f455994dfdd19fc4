#pragma once
// LaTeX reporter for papers: a booktabs tabular with one row per cell (index, ids, trials, wins,
// advantage estimate and bounds), ids escaped for OT1 fonts.
#include <filesystem>

#include "core/atomic_file.h"
#include "experiments/sink.h"

namespace wrsec::experiments {

class LatexSink final : public ResultSink {
 public:
  explicit LatexSink(const std::filesystem::path& path);
  void begin(const RunHeader& header) override;
  void write(const CellRecord& record) override;
  void finish() override;

 private:
  AtomicFile file_;
};

}  // namespace wrsec::experiments
