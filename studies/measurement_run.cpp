#include "studies/measurement_run.h"

#include <chrono>
#include <cstdio>
#include <ostream>

#include "core/atomic_file.h"
#include "core/errors.h"
#include "experiments/spec.h"
#include "studies/row_sink.h"

namespace wrsec::studies {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kManifestSchema = "wrsec.measurement.v1";
constexpr const char* kUnitSchema = "wrsec.measurement_unit.v1";

fs::path unit_path(const fs::path& dir, std::size_t unit) {
  char name[32];
  std::snprintf(name, sizeof(name), "unit-%05zu.json", unit);
  return dir / name;
}

json manifest_of(const MeasurementEntry& entry, std::uint64_t seed, std::size_t units,
                 bool deterministic) {
  return {{"schema", kManifestSchema},
          {"measurement", entry.to_json()},
          {"seed", seed},
          {"units", units},
          {"deterministic", deterministic}};
}

// Checks that dir holds this measurement (or creates it); returns the manifest.
json open_or_create(const MeasurementEntry& entry, const fs::path& dir, const json& manifest) {
  if (fs::exists(dir / "manifest.json")) {
    const json old = experiments::read_json_file(dir / "manifest.json", "measurement manifest");
    if (old != manifest)
      throw InvalidArgument("'" + dir.string() +
                            "' holds another measurement, parameters or seed than '" + entry.name +
                            "' now has; remove it or choose another output directory");
    return old;
  }
  fs::create_directories(dir);
  write_file_atomically(dir / "manifest.json", manifest.dump(2) + "\n");
  return manifest;
}

// The rows of a unit file, or null if the file is absent; InvalidArgument if it is foreign.
json load_unit(const fs::path& dir, std::size_t unit) {
  const fs::path path = unit_path(dir, unit);
  if (!fs::exists(path)) return nullptr;
  const json j = experiments::read_json_file(path, "measurement unit");
  if (j.value("schema", "") != kUnitSchema || j.value("unit", std::size_t(-1)) != unit ||
      !j.contains("rows") || !j["rows"].is_array())
    throw InvalidArgument("'" + path.string() + "' is not unit " + std::to_string(unit) +
                          " of a wrsec measurement");
  return j;
}

// rows.jsonl and rows.csv, every unit's rows in unit order, through the row reporters.
void write_rows(const fs::path& dir, const std::string& name, std::size_t units) {
  MultiRowSink sinks;
  sinks.add(std::make_unique<CsvRowSink>(dir / "rows.csv"));
  sinks.add(std::make_unique<JsonlRowSink>(dir / "rows.jsonl"));  // last: marks completion
  sinks.begin(name);
  for (std::size_t u = 0; u < units; ++u) {
    const json j = load_unit(dir, u);
    WRSEC_CHECK(!j.is_null(), "unit file vanished");
    for (const auto& row : j["rows"]) {
      json line = {{"measurement", name}, {"unit", u}};
      line.update(row);
      sinks.write(line);
    }
  }
  sinks.finish();
}

void remove_stale_temporaries(const fs::path& dir) {
  if (!fs::is_directory(dir)) return;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.size() > 1 && name[0] == '.' && name.find(".tmp-") != std::string::npos)
      fs::remove(entry.path());
  }
}

}  // namespace

json MeasurementEntry::to_json() const {
  return {{"name", name}, {"id", id}, {"params", params.values()}};
}

std::size_t measurement_units(const MeasurementEntry& entry) {
  return builtin_measurements().create(entry.id, entry.params)->units();
}

bool run_measurement(const MeasurementEntry& entry, const fs::path& dir,
                     const MeasurementRunOptions& options) {
  const auto m = builtin_measurements().create(entry.id, entry.params);
  const std::size_t units = m->units();
  open_or_create(entry, dir, manifest_of(entry, options.seed, units, m->deterministic()));
  remove_stale_temporaries(dir);
  if (fs::exists(dir / "rows.jsonl")) return true;
  MeasurementContext context{options.seed, options.threads, options.scratch, options.log};
  bool complete = true;
  for (std::size_t u = 0; u < units; ++u) {
    if (!load_unit(dir, u).is_null()) continue;
    if (options.mine && !options.mine(u)) {
      complete = false;
      continue;
    }
    if (options.log)
      *options.log << "  " << entry.name << " [" << (u + 1) << "/" << units << "] "
                   << m->unit_label(u) << std::endl;
    const auto t0 = std::chrono::steady_clock::now();
    json rows = m->run_unit(u, context);
    if (!rows.is_array()) rows = json::array({rows});
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    write_file_atomically(unit_path(dir, u), json{{"schema", kUnitSchema},
                                                  {"unit", u},
                                                  {"label", m->unit_label(u)},
                                                  {"seconds", seconds},
                                                  {"rows", rows}}
                                                     .dump() +
                                                 "\n");
    if (options.after_unit) options.after_unit(u);
  }
  if (complete) write_rows(dir, entry.name, units);
  return complete;
}

void merge_measurement(const std::vector<fs::path>& inputs, const fs::path& out) {
  if (inputs.empty()) throw InvalidArgument("merge_measurement: no inputs");
  const json manifest =
      experiments::read_json_file(inputs.front() / "manifest.json", "measurement manifest");
  if (manifest.value("schema", "") != kManifestSchema)
    throw InvalidArgument("'" + inputs.front().string() + "' is not a measurement directory");
  for (const auto& dir : inputs)
    if (experiments::read_json_file(dir / "manifest.json", "measurement manifest") != manifest)
      throw InvalidArgument("'" + dir.string() + "' holds another measurement than '" +
                            inputs.front().string() + "'");
  const std::size_t units = manifest.at("units").get<std::size_t>();
  fs::create_directories(out);
  write_file_atomically(out / "manifest.json", manifest.dump(2) + "\n");
  for (std::size_t u = 0; u < units; ++u) {
    json found;
    for (const auto& dir : inputs)
      if (json j = load_unit(dir, u); !j.is_null()) {
        found = std::move(j);
        break;
      }
    if (found.is_null())
      throw InvalidArgument("measurement '" + manifest["measurement"]["name"].get<std::string>() +
                            "': unit " + std::to_string(u) + " is in none of the shards");
    write_file_atomically(unit_path(out, u), found.dump() + "\n");
  }
  write_rows(out, manifest["measurement"]["name"].get<std::string>(), units);
}

}  // namespace wrsec::studies
