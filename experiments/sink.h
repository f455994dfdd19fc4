#pragma once
// Result sinks (modelled on google/benchmark's reporters): begin() once with the provenance,
// write() per cell, finish() at the end. Every result leaves wrsec through a sink.
#include <filesystem>
#include <iosfwd>
#include <memory>
#include <vector>

#include "core/atomic_file.h"
#include "experiments/results.h"

namespace wrsec::experiments {

class ResultSink {
 public:
  virtual ~ResultSink() = default;
  virtual void begin(const Provenance& provenance) = 0;
  virtual void write(const CellResult& result) = 0;
  virtual void finish() = 0;
};

// One JSON object per line per cell. The file appears only at finish() (atomic rename); a run
// that fails before leaves no file.
class JsonlSink final : public ResultSink {
 public:
  explicit JsonlSink(const std::filesystem::path& path);
  void begin(const Provenance& provenance) override;
  void write(const CellResult& result) override;
  void finish() override;

 private:
  AtomicFile file_;
  Provenance provenance_;
};

// A table for people: estimate, bounds, convention, p-value.
class TableSink final : public ResultSink {
 public:
  explicit TableSink(std::ostream& out) : out_(out) {}
  void begin(const Provenance& provenance) override;
  void write(const CellResult& result) override;
  void finish() override;

 private:
  std::ostream& out_;
};

// Forwards to several sinks in order.
class MultiSink final : public ResultSink {
 public:
  void add(std::unique_ptr<ResultSink> sink) { sinks_.push_back(std::move(sink)); }
  void begin(const Provenance& provenance) override;
  void write(const CellResult& result) override;
  void finish() override;

 private:
  std::vector<std::unique_ptr<ResultSink>> sinks_;
};

}  // namespace wrsec::experiments
