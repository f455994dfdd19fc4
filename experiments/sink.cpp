#include "experiments/sink.h"

namespace wrsec::experiments {

void MultiSink::begin(const RunHeader& header) {
  for (auto& s : sinks_) s->begin(header);
}

void MultiSink::write(const CellRecord& record) {
  for (auto& s : sinks_) s->write(record);
}

void MultiSink::finish() {
  for (auto& s : sinks_) s->finish();
}

}  // namespace wrsec::experiments
