#pragma once
// JSONL reporter: one wrsec.cell.v1 object per line per cell (CellResult::core_json). A cell of a
// grid also carries its cell_index, the correction of the family and its stopping record.
#include <filesystem>

#include "core/atomic_file.h"
#include "experiments/sink.h"

namespace wrsec::experiments {

class JsonlSink final : public ResultSink {
 public:
  enum class Content {
    with_provenance,  // each line also carries its timing and the header's provenance
    results_only,     // counts and bounds only: the bytes depend on nothing but the results
  };
  // The temporary file is created here (an unwritable path fails before any trial runs); the
  // file appears only at finish() (atomic rename), so a run that fails before leaves no file.
  explicit JsonlSink(const std::filesystem::path& path, Content content = Content::with_provenance);
  void begin(const RunHeader& header) override;
  void write(const CellRecord& record) override;
  void finish() override;

 private:
  AtomicFile file_;
  Content content_;
  RunHeader header_;
};

}  // namespace wrsec::experiments
