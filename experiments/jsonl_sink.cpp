#include "experiments/jsonl_sink.h"

#include "core/errors.h"

namespace wrsec::experiments {

JsonlSink::JsonlSink(const std::filesystem::path& path, Content content)
    : file_(path), content_(content) {}

void JsonlSink::begin(const RunHeader& header) {
  if (content_ == Content::with_provenance && !header.provenance)
    throw LogicError("JsonlSink: the run header carries no provenance");
  header_ = header;
}

void JsonlSink::write(const CellRecord& record) {
  const CellResult& r = record.result;
  nlohmann::json j =
      content_ == Content::with_provenance ? r.to_json(*header_.provenance) : r.core_json();
  if (header_.is_grid()) {
    j["cell_index"] = record.index;
    j["correction"] = {{"method", to_string(header_.correction)},
                       {"family_alpha", header_.family_alpha},
                       {"cells", header_.cells},
                       {"alpha_per_cell", header_.alpha_per_cell}};
    if (header_.stop.active())
      j["stopping"] = {{"rule", header_.stop.to_string()}, {"method", header_.stopping_method},
                       {"budget", header_.trials},         {"looks", record.looks},
                       {"alpha_at_last_look", r.alpha},    {"stopped_early", record.stopped_early}};
    else
      j["stopping"] = {{"rule", "none"}};
  }
  file_.write(j.dump() + '\n');
}

void JsonlSink::finish() {
  file_.commit();
}

}  // namespace wrsec::experiments
