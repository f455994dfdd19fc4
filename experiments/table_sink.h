#pragma once
// Plain-text reporter for a terminal: per cell its key, game shape and convention, trials, wins,
// the advantage estimate and bounds, the p-value and the closed-form reference when known.
#include <iosfwd>

#include "experiments/sink.h"

namespace wrsec::experiments {

class TableSink final : public ResultSink {
 public:
  explicit TableSink(std::ostream& out) : out_(out) {}
  // Prints the provenance line when the header carries one.
  void begin(const RunHeader& header) override;
  void write(const CellRecord& record) override;
  void finish() override;

 private:
  std::ostream& out_;
};

}  // namespace wrsec::experiments
