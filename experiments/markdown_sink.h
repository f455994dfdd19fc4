#pragma once
// Markdown reporter for people: the run's title, description, seed, error level and correction,
// stopping rule and advantage conventions, then one table row per cell. The conventions depend on
// every cell, so the file is written at finish().
#include <filesystem>
#include <vector>

#include "core/atomic_file.h"
#include "experiments/sink.h"

namespace wrsec::experiments {

class MarkdownSink final : public ResultSink {
 public:
  explicit MarkdownSink(const std::filesystem::path& path);
  void begin(const RunHeader& header) override;
  void write(const CellRecord& record) override;
  void finish() override;

 private:
  AtomicFile file_;
  RunHeader header_;
  std::vector<CellRecord> records_;
};

}  // namespace wrsec::experiments
