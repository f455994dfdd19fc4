#include "experiments/run_dir.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <ostream>

#include "core/atomic_file.h"
#include "core/directory_lock.h"
#include "core/errors.h"
#include "core/sha256.h"
#include "core/temporaries.h"
#include "experiments/csv_sink.h"
#include "experiments/jsonl_sink.h"
#include "experiments/latex_sink.h"
#include "experiments/markdown_sink.h"
#include "experiments/progress.h"
#include "experiments/provenance.h"
#include "experiments/results.h"
#include "experiments/sink.h"

namespace wrsec::experiments {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kManifestSchema = "wrsec.run.v1";
constexpr const char* kStateSchema = "wrsec.cell_state.v1";

__extension__ typedef unsigned __int128 u128;

// [b + (e - b) i / n, b + (e - b) (i + 1) / n) without overflow.
TrialRange split(TrialRange r, std::uint64_t i, std::uint64_t n) {
  const auto at = [&](std::uint64_t k) {
    return r.begin + static_cast<std::uint64_t>(static_cast<u128>(r.size()) * k / n);
  };
  return {at(i), at(i + 1)};
}

// Everything a run needs besides its state: the parsed spec with overrides applied, the cells and
// each cell's trial range in this run.
struct Plan {
  ExperimentSpec spec;
  std::string spec_text;
  json overrides = json::object();
  Shard shard;
  std::vector<CellSpec> cells;
  std::vector<TrialRange> ranges;
  std::vector<CellInstance> instances;
  [[nodiscard]] double alpha_cell() const { return spec.alpha_per_cell(); }
};

Plan make_plan(const std::string& text, const std::string& origin, const std::string& name,
               const json& overrides, Shard shard) {
  Plan p;
  p.spec = ExperimentSpec::parse(text, origin, name);
  p.spec_text = text;
  p.overrides = overrides;
  p.shard = shard;
  if (overrides.contains("trials")) {
    p.spec.trials = overrides.at("trials").get<std::uint64_t>();
    if (p.spec.trials == 0) throw InvalidArgument("trials must be at least 1");
  }
  if (overrides.contains("stop_when"))
    p.spec.stop = definitions::StopRule::parse(overrides.at("stop_when").get<std::string>());
  if (overrides.contains("restrict"))
    for (const auto& [key, values] : overrides.at("restrict").items())
      p.spec.restrict_axis(key, values.get<std::string>());
  if (shard.count > 1 && p.spec.stop.active())
    throw InvalidArgument(
        "a shard cannot be combined with early stopping (stop_when): the stopping rule needs "
        "every trial of a cell; distribute the cell over MPI ranks instead");
  if (shard.count > p.spec.trials)
    throw InvalidArgument("shard " + shard.to_string() + ": more shards than trials (" +
                          std::to_string(p.spec.trials) + ")");
  p.cells = p.spec.cells();
  const Catalog& catalog = Catalog::global();
  for (std::size_t i = 0; i < p.cells.size(); ++i) {
    try {
      p.instances.push_back(instantiate(catalog, p.cells[i]));
    } catch (const InvalidArgument& e) {
      throw InvalidArgument("spec '" + origin + "', cell " + std::to_string(i) + " (" +
                            p.cells[i].key() + "): " + e.what());
    }
    p.ranges.push_back(shard.slice(p.spec.trials));
  }
  return p;
}

struct CellState {
  std::uint64_t next = 0;  // first trial not yet played
  CellCounts counts;
  std::size_t looks = 0;  // checkpoints of the stopping rule evaluated so far
  bool stopped = false;
  double elapsed_seconds = 0.0;
  std::string error;  // non-empty: a trial threw this; the cell stopped at `next` (not persisted)
};

fs::path state_path(const fs::path& dir, std::size_t cell) {
  char name[32];
  std::snprintf(name, sizeof(name), "cell-%05zu.json", cell);
  return dir / "state" / name;
}

json read_json_file(const fs::path& path) {
  const std::string text = read_text_file(path);
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw InvalidArgument("'" + path.string() + "' is not valid JSON: " + e.what());
  }
}

CellState load_state(const fs::path& dir, const Plan& plan, std::size_t i) {
  CellState s;
  s.next = plan.ranges[i].begin;
  const fs::path path = state_path(dir, i);
  if (!fs::exists(path)) return s;
  const json j = read_json_file(path);
  try {
    if (j.at("schema") != kStateSchema || j.at("key") != plan.cells[i].key() ||
        j.at("range").at("begin") != plan.ranges[i].begin ||
        j.at("range").at("end") != plan.ranges[i].end)
      throw InvalidArgument("'" + path.string() + "' belongs to another cell or trial range");
    s.next = j.at("next").get<std::uint64_t>();
    s.counts = counts_from_json(j.at("counts"));
    s.looks = j.at("looks").get<std::size_t>();
    s.stopped = j.at("stopped").get<bool>();
    s.elapsed_seconds = j.at("elapsed_seconds").get<double>();
  } catch (const json::exception& e) {
    throw InvalidArgument("'" + path.string() + "' is malformed: " + e.what());
  }
  if (s.next < plan.ranges[i].begin || s.next > plan.ranges[i].end ||
      s.counts.n != s.next - plan.ranges[i].begin)
    throw InvalidArgument("'" + path.string() + "': counts do not match the trials done");
  return s;
}

void save_state(const fs::path& dir, const Plan& plan, std::size_t i, const CellState& s) {
  const json j = {{"schema", kStateSchema},
                  {"cell", i},
                  {"key", plan.cells[i].key()},
                  {"range", {{"begin", plan.ranges[i].begin}, {"end", plan.ranges[i].end}}},
                  {"next", s.next},
                  {"looks", s.looks},
                  {"stopped", s.stopped},
                  {"elapsed_seconds", s.elapsed_seconds},
                  {"counts", counts_to_json(s.counts)}};
  write_file_atomically(state_path(dir, i), j.dump() + "\n");
}

// Plays [range) of one cell across the ranks (each a contiguous slice, with its threads) and
// returns the merged counts on every rank. A failure on any rank fails every rank alike.
CellCounts play_distributed(const Plan& plan, std::size_t i, TrialRange range,
                            const RunDirOptions& options, const Communicator& comm) {
  const CellInstance& cell = plan.instances[i];
  const TrialRange mine = split(range, static_cast<std::uint64_t>(comm.rank()),
                                static_cast<std::uint64_t>(comm.size()));
  const RunOptions run{plan.spec.seed, plan.cells[i].experiment_id(), mine, options.threads};
  if (comm.size() == 1) return play_trials(*cell.game, cell.scheme.get(), *cell.adversary, run);
  json message;
  try {
    message = {{"ok", true},
               {"counts",
                counts_to_json(play_trials(*cell.game, cell.scheme.get(), *cell.adversary, run))}};
  } catch (const InvalidArgument& e) {
    message = {{"ok", false}, {"invalid", true}, {"error", e.what()}};
  } catch (const std::exception& e) {
    message = {{"ok", false}, {"invalid", false}, {"error", e.what()}};
  }
  CellCounts total;
  const auto all = comm.allgather(message.dump());
  for (std::size_t r = 0; r < all.size(); ++r) {
    const json m = json::parse(all[r]);
    if (!m["ok"].get<bool>()) {
      const std::string what = "rank " + std::to_string(r) + ": " + m["error"].get<std::string>();
      if (m["invalid"].get<bool>()) throw InvalidArgument(what);
      throw RuntimeError(what);
    }
    total += counts_from_json(m["counts"]);
  }
  WRSEC_CHECK(total.n == range.size(), "a trial was lost or counted twice across ranks");
  return total;
}

// Trial indices after which a batch ends: every batch boundary and, when stopping early, every
// checkpoint of the alpha-spending schedule (the rule is evaluated only at those).
std::vector<std::uint64_t> batch_ends(const Plan& plan, std::size_t i,
                                      std::vector<std::uint64_t>& looks) {
  const TrialRange r = plan.ranges[i];
  std::vector<std::uint64_t> ends;
  const std::uint64_t b = plan.spec.batch_size();
  for (std::uint64_t t = r.begin; t < r.end;) {
    t = r.end - t > b ? t + b : r.end;
    ends.push_back(t);
  }
  looks.clear();
  if (plan.spec.stop.active()) {
    looks = definitions::checkpoint_schedule(plan.spec.first_look, plan.spec.trials);
    ends.insert(ends.end(), looks.begin(), looks.end());
    std::sort(ends.begin(), ends.end());
    ends.erase(std::unique(ends.begin(), ends.end()), ends.end());
  }
  return ends;
}

double reported_alpha(const Plan& plan, const CellState& s) {
  if (!plan.spec.stop.active()) return plan.alpha_cell();
  return definitions::spent_alpha(plan.alpha_cell(), s.looks == 0 ? 0 : s.looks - 1);
}

json manifest_base(const Plan& plan, const fs::path& spec_origin) {
  const Provenance prov = Provenance::current(1);
  json cells = json::array();
  for (std::size_t i = 0; i < plan.cells.size(); ++i)
    cells.push_back({{"index", i},
                     {"key", plan.cells[i].key()},
                     {"experiment_id", plan.cells[i].experiment_id()},
                     {"trials", {{"begin", plan.ranges[i].begin}, {"end", plan.ranges[i].end}}}});
  json p = prov.to_json();
  p.erase("threads");
  p["dirty"] = prov.git_describe.size() >= 6 &&
               prov.git_describe.compare(prov.git_describe.size() - 6, 6, "-dirty") == 0;
  return {{"schema", kManifestSchema},
          {"status", "running"},
          {"spec",
           {{"name", plan.spec.name},
            {"file", spec_origin.string()},
            {"sha256", to_hex(sha256(plan.spec_text))}}},
          {"overrides", plan.overrides},
          {"seed", plan.spec.seed},
          {"trials_per_cell", plan.spec.trials},
          {"alpha", plan.spec.alpha},
          {"correction", to_string(plan.spec.correction)},
          {"cells_in_family", plan.cells.size()},
          {"alpha_per_cell", plan.alpha_cell()},
          {"stop_rule", plan.spec.stop.to_string()},
          {"stopping_method", plan.spec.stop.active()
                                  ? definitions::describe_alpha_spending(plan.spec.first_look)
                                  : "none (fixed trials)"},
          {"batch", plan.spec.batch_size()},
          {"shard", {{"index", plan.shard.index}, {"count", plan.shard.count}}},
          {"cells", cells},
          {"provenance", p},
          {"segments", json::array()},
          {"started_at", utc_timestamp()}};
}

json segment(const RunDirOptions& options, const Communicator& comm, const std::string& kind) {
  const Provenance prov = Provenance::current(options.threads);
  return {{"kind", kind},
          {"started_at", utc_timestamp()},
          {"host", prov.host},
          {"git_describe", prov.git_describe},
          {"processes", comm.kind()},
          {"ranks", comm.size()},
          {"threads_per_rank", options.threads},
          {"hardware_threads", prov.hardware_threads}};
}

// What the reporters say about the run as a whole.
RunHeader run_header(const Plan& plan) {
  RunHeader h;
  h.title = plan.spec.name;
  h.description = plan.spec.description;
  h.seed = plan.spec.seed;
  h.trials = plan.spec.trials;
  h.cells = plan.cells.size();
  h.family_alpha = plan.spec.alpha;
  h.correction = plan.spec.correction;
  h.alpha_per_cell = plan.alpha_cell();
  h.stop = plan.spec.stop;
  if (plan.spec.stop.active())
    h.stopping_method = definitions::describe_alpha_spending(plan.spec.first_look);
  h.shard_index = plan.shard.index;
  h.shard_count = plan.shard.count;
  return h;
}

// results.jsonl, results.csv, report.md, table.tex (each written by its reporter and committed at
// the end), then the manifest marked complete.
void write_outputs(const fs::path& dir, const Plan& plan, const std::vector<CellState>& states,
                   json manifest) {
  MultiSink reporters;
  reporters.add(
      std::make_unique<JsonlSink>(dir / "results.jsonl", JsonlSink::Content::results_only));
  reporters.add(std::make_unique<CsvSink>(dir / "results.csv"));
  reporters.add(std::make_unique<MarkdownSink>(dir / "report.md"));
  reporters.add(std::make_unique<LatexSink>(dir / "table.tex"));
  reporters.begin(run_header(plan));
  for (std::size_t i = 0; i < plan.cells.size(); ++i) {
    const CellState& s = states[i];
    CellResult result =
        s.error.empty()
            ? summarize(plan.cells[i], *plan.instances[i].game, *plan.instances[i].adversary,
                        plan.spec.seed, {plan.ranges[i].begin, s.next}, s.counts,
                        reported_alpha(plan, s))
            : failed_cell(plan.cells[i], *plan.instances[i].game, plan.spec.seed,
                          {plan.ranges[i].begin, s.next}, s.counts, reported_alpha(plan, s),
                          s.error);
    reporters.write(CellRecord(std::move(result), i, s.looks, s.stopped));
  }
  reporters.finish();

  json failed = json::array();
  for (std::size_t i = 0; i < states.size(); ++i)
    if (!states[i].error.empty()) failed.push_back({{"cell", i}, {"error", states[i].error}});
  manifest["status"] = failed.empty() ? "complete" : "failed";
  if (failed.empty())
    manifest.erase("failed_cells");
  else
    manifest["failed_cells"] = failed;
  manifest["finished_at"] = utc_timestamp();
  json& cells = manifest["cells"];
  for (std::size_t i = 0; i < states.size(); ++i)
    cells[i]["elapsed_seconds"] = states[i].elapsed_seconds;
  if (!manifest["segments"].empty()) manifest["segments"].back()["finished_at"] = utc_timestamp();
  write_file_atomically(dir / "manifest.json", manifest.dump(2) + "\n");
}

// Plays every cell from its recorded state to its end (or its stop), then writes the outputs. A
// cell whose trial throws stops there with the message (its recorded state stays that of the last
// batch that completed); the other cells go on, and the run ends with status "failed".
RunOutcome run_plan(const fs::path& dir, const Plan& plan, json manifest,
                    const RunDirOptions& options, const Communicator& comm) {
  const bool root = comm.rank() == 0;
  std::vector<CellState> states;
  // Rank 0 reads the state; every rank gets the same copy.
  for (std::size_t i = 0; i < plan.cells.size(); ++i) {
    std::string text;
    if (root) {
      const CellState s = load_state(dir, plan, i);
      text = json{{"next", s.next},
                  {"looks", s.looks},
                  {"stopped", s.stopped},
                  {"elapsed", s.elapsed_seconds},
                  {"counts", counts_to_json(s.counts)}}
                 .dump();
    }
    comm.broadcast(text);
    const json j = json::parse(text);
    CellState s;
    s.next = j["next"];
    s.looks = j["looks"];
    s.stopped = j["stopped"];
    s.elapsed_seconds = j["elapsed"];
    s.counts = counts_from_json(j["counts"]);
    states.push_back(std::move(s));
  }

  std::uint64_t budget = 0, done = 0;
  std::size_t cells_done = 0;
  for (std::size_t i = 0; i < plan.cells.size(); ++i) {
    budget += plan.ranges[i].size();
    done += states[i].counts.n;
  }
  Progress progress(root ? options.progress : nullptr, plan.cells.size(), budget);
  for (std::size_t i = 0; i < plan.cells.size(); ++i) {
    CellState& s = states[i];
    std::vector<std::uint64_t> looks;
    const auto ends = batch_ends(plan, i, looks);
    for (const std::uint64_t end : ends) {
      if (s.stopped) break;
      if (end <= s.next) continue;
      progress.update(cells_done, done);
      const auto t0 = std::chrono::steady_clock::now();
      try {
        s.counts += play_distributed(plan, i, {s.next, end}, options, comm);
      } catch (const std::exception& e) {
        s.error =
            "trials [" + std::to_string(s.next) + ", " + std::to_string(end) + "): " + e.what();
        done += plan.ranges[i].end - s.next;
        break;
      }
      done += end - s.next;
      s.next = end;
      s.elapsed_seconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (std::binary_search(looks.begin(), looks.end(), end)) {
        const auto bounds = definitions::advantage_bounds(
            plan.instances[i].game->shape(), s.counts.wins, s.counts.n,
            definitions::spent_alpha(plan.alpha_cell(), s.looks),
            plan.instances[i].game->shape() == definitions::GameShape::search
                ? plan.instances[i].game->baseline()
                : 0.0);
        ++s.looks;
        if (plan.spec.stop.met(bounds) && end < plan.spec.trials) s.stopped = true;
      }
      if (root) save_state(dir, plan, i, s);
      if (options.after_batch) options.after_batch(i, s.next);
    }
    ++cells_done;
    progress.update(cells_done, done, true);
    if (root && options.log) {
      *options.log << "[" << (i + 1) << "/" << plan.cells.size() << "] " << plan.cells[i].key()
                   << ": ";
      if (s.error.empty())
        *options.log << s.counts.wins << "/" << s.counts.n << " wins"
                     << (s.stopped ? " (stopped early)" : "");
      else
        *options.log << "FAILED: " << s.error;
      *options.log << "\n" << std::flush;
    }
  }
  progress.finish();
  if (root) write_outputs(dir, plan, states, std::move(manifest));
  RunOutcome outcome;
  for (std::size_t i = 0; i < states.size(); ++i)
    if (!states[i].error.empty()) outcome.failed.push_back({i, states[i].error});
  return outcome;
}

Shard shard_from_json(const json& j) {
  Shard s;
  s.index = j.at("index").get<std::uint64_t>();
  s.count = j.at("count").get<std::uint64_t>();
  return s;
}

// Runs f on rank 0 alone; what it throws fails every rank alike (alone, the exception itself; with
// other ranks, an InvalidArgument with its message).
template <class F>
void on_rank_zero(const Communicator& comm, const F& f) {
  std::string error;
  if (comm.rank() == 0) {
    try {
      f();
    } catch (const std::exception& e) {
      if (comm.size() == 1) throw;
      error = e.what();
    }
  }
  comm.broadcast(error);
  if (!error.empty()) throw InvalidArgument(error);
}

// Throws InvalidArgument unless dir holds a run (a manifest and a frozen spec).
void require_run_dir(const fs::path& dir) {
  if (!fs::is_directory(dir))
    throw InvalidArgument("'" + dir.string() + "' is not a run directory");
  if (!fs::exists(dir / "manifest.json") || !fs::exists(dir / "spec.ini"))
    throw InvalidArgument("'" + dir.string() +
                          "' is not a run directory (no manifest.json or spec.ini)");
}

// Reads a run directory's frozen spec and manifest and rebuilds its plan.
std::pair<Plan, json> open_run(const fs::path& dir) {
  require_run_dir(dir);
  json manifest = read_json_file(dir / "manifest.json");
  if (manifest.value("schema", "") != kManifestSchema)
    throw InvalidArgument("'" + (dir / "manifest.json").string() + "' is not a wrsec run manifest");
  const std::string text = read_text_file(dir / "spec.ini");
  if (to_hex(sha256(text)) != manifest["spec"]["sha256"].get<std::string>())
    throw InvalidArgument("'" + (dir / "spec.ini").string() +
                          "' does not match the manifest's sha256 (edited after the run began?)");
  Plan plan = make_plan(text, (dir / "spec.ini").string(), manifest["spec"]["name"],
                        manifest["overrides"], shard_from_json(manifest["shard"]));
  const json& cells = manifest["cells"];
  if (cells.size() != plan.cells.size())
    throw InvalidArgument("'" + dir.string() + "': the manifest lists " +
                          std::to_string(cells.size()) + " cells, the spec gives " +
                          std::to_string(plan.cells.size()));
  for (std::size_t i = 0; i < cells.size(); ++i)
    if (cells[i]["key"] != plan.cells[i].key())
      throw InvalidArgument("'" + dir.string() + "': cell " + std::to_string(i) +
                            " differs from the manifest (was the run made by another version?)");
  return {std::move(plan), std::move(manifest)};
}

// Removes temporaries left by a process killed inside an AtomicFile write (called with the
// directory's lock held: no live process is writing them).
void remove_stale_temporaries(const fs::path& dir) {
  for (const fs::path& d : {dir, dir / "state"}) {
    if (!fs::is_directory(d)) continue;
    for (const auto& entry : fs::directory_iterator(d)) {
      const std::string name = entry.path().filename().string();
      if (name.size() > 1 && name[0] == '.' && name.find(".tmp-") != std::string::npos)
        fs::remove(entry.path());
    }
  }
}

// Removes the staging directories of dir (".NAME.partial-*" beside it) whose creator is gone: a
// process killed while creating dir leaves one whose lock nobody holds.
void remove_abandoned_staging(const fs::path& parent, const fs::path& dir) {
  const std::string prefix = "." + dir.filename().string() + ".partial-";
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(parent, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) == 0 && entry.is_directory(ec) &&
        DirectoryLock::abandoned(entry.path()))
      fs::remove_all(entry.path(), ec);
  }
}

// Creates dir with its spec and manifest and returns its lock, taken before dir appears: dir is
// built in a sibling staging directory and renamed into place, never over an existing one. An
// existing dir is refused with the hint (what to do instead) in parentheses.
DirectoryLock create_run_dir(const fs::path& dir, const Plan& plan, const json& manifest,
                             const std::string& if_exists) {
  const auto exists = [&] {
    return InvalidArgument("run directory '" + dir.string() + "' exists (" + if_exists + ")");
  };
  if (fs::exists(dir)) throw exists();
  fs::path parent = dir.parent_path();
  if (parent.empty()) parent = ".";
  fs::create_directories(parent);
  remove_abandoned_staging(parent, dir);
  std::string tmpl = (parent / ("." + dir.filename().string() + ".partial-XXXXXX")).string();
  // What an interrupt removes (files, then directories) while dir is being staged; the staging
  // directory itself is registered before it exists.
  std::vector<Temporary> staged(1);
  if (make_registered_directory(tmpl, staged[0]) != 0) {
    const int err = errno;
    throw RuntimeError("cannot create a directory beside '" + dir.string() +
                       "': " + std::strerror(err));
  }
  const fs::path staging = tmpl;
  staged.emplace_back(staging / "state", Temporary::Kind::directory);
  for (const char* file : {"spec.ini", "manifest.json", DirectoryLock::kFileName})
    staged.emplace_back(staging / file, Temporary::Kind::file);
  try {
    fs::permissions(staging, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                 fs::perms::others_read | fs::perms::others_exec);
    DirectoryLock lock(staging, "run directory");
    fs::create_directory(staging / "state");
    write_file_atomically(staging / "spec.ini", plan.spec_text);
    write_file_atomically(staging / "manifest.json", manifest.dump(2) + "\n");
    if (const int err = rename_directory_no_replace(staging, dir); err != 0) {
      if (err == EEXIST || err == ENOTEMPTY) throw exists();  // another process was quicker
      throw RuntimeError("cannot create run directory '" + dir.string() +
                         "': " + std::strerror(err));
    }
    for (auto& t : staged) t.release();
    return lock;
  } catch (...) {
    std::error_code ec;
    fs::remove_all(staging, ec);
    throw;
  }
}

}  // namespace

Shard Shard::parse(const std::string& text) {
  const auto slash = text.find('/');
  Shard s;
  const auto number = [](const std::string& t, std::uint64_t& out) {
    const auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
    return !t.empty() && ec == std::errc() && p == t.data() + t.size();
  };
  if (slash == std::string::npos || !number(text.substr(0, slash), s.index) ||
      !number(text.substr(slash + 1), s.count) || s.count == 0 || s.index >= s.count)
    throw InvalidArgument("a shard must be i/N with 0 <= i < N, got '" + text + "'");
  return s;
}

TrialRange Shard::slice(std::uint64_t trials) const {
  return split({0, trials}, index, count);
}

std::string Shard::to_string() const {
  return std::to_string(index) + "/" + std::to_string(count);
}

RunOutcome start_run(const fs::path& spec_path, const fs::path& dir, const RunDirOptions& options) {
  if (options.threads < 1) throw InvalidArgument("threads must be at least 1");
  const SoloCommunicator solo;
  const Communicator& comm = options.comm ? *options.comm : solo;
  json overrides = json::object();
  if (options.trials) overrides["trials"] = *options.trials;
  if (options.stop) overrides["stop_when"] = options.stop->to_string();
  if (!options.restrict.empty()) overrides["restrict"] = options.restrict;
  const std::string text = read_text_file(spec_path);
  const Plan plan =
      make_plan(text, spec_path.string(), spec_path.stem().string(), overrides, options.shard);
  json manifest = manifest_base(plan, spec_path);
  manifest["segments"].push_back(segment(options, comm, "start"));
  // The others wait until the directory exists, and fail alike if it cannot be created. Rank 0
  // holds its lock until the run ends.
  std::optional<DirectoryLock> lock;
  on_rank_zero(comm, [&] { lock = create_run_dir(dir, plan, manifest, "resume it to continue"); });
  return run_plan(dir, plan, std::move(manifest), options, comm);
}

RunOutcome resume_run(const fs::path& dir, const RunDirOptions& options) {
  if (options.threads < 1) throw InvalidArgument("threads must be at least 1");
  if (options.trials || options.stop || options.shard.count != 1 || !options.restrict.empty())
    throw InvalidArgument(
        "a run is resumed as it was started: its trials, stopping rule and shard are recorded in "
        "its manifest and cannot be changed");
  const SoloCommunicator solo;
  const Communicator& comm = options.comm ? *options.comm : solo;
  require_run_dir(dir);
  // Rank 0 holds the directory's lock until the run ends; a live holder fails every rank alike.
  std::optional<DirectoryLock> lock;
  on_rank_zero(comm, [&] { lock.emplace(dir, "run directory"); });
  auto [plan, manifest] = open_run(dir);
  if (manifest["status"] == "complete") {
    if (comm.rank() == 0 && options.log)
      *options.log << "run '" << dir.string() << "' is already complete\n";
    return {};
  }
  if (comm.rank() == 0) remove_stale_temporaries(dir);
  manifest["segments"].push_back(segment(options, comm, "resume"));
  if (comm.rank() == 0) {
    fs::create_directories(dir / "state");
    write_file_atomically(dir / "manifest.json", manifest.dump(2) + "\n");
  }
  return run_plan(dir, plan, std::move(manifest), options, comm);
}

void merge_runs(const std::vector<fs::path>& inputs, const fs::path& out) {
  if (inputs.size() < 2) throw InvalidArgument("merge needs at least two run directories");
  std::vector<std::pair<Plan, json>> runs;
  for (const auto& dir : inputs) {
    runs.push_back(open_run(dir));
    if (runs.back().second["status"] != "complete")
      throw InvalidArgument("'" + dir.string() + "' is not complete (resume it first)");
  }
  const json& first = runs.front().second;
  for (std::size_t r = 1; r < runs.size(); ++r) {
    const json& m = runs[r].second;
    for (const char* key : {"seed", "overrides"})
      if (m[key] != first[key])
        throw InvalidArgument("'" + inputs[r].string() + "' has another " + key + " than '" +
                              inputs[0].string() + "'");
    if (m["spec"]["sha256"] != first["spec"]["sha256"])
      throw InvalidArgument("'" + inputs[r].string() + "' ran another spec than '" +
                            inputs[0].string() + "'");
  }
  if (runs.front().first.spec.stop.active())
    throw InvalidArgument("runs with early stopping cannot be merged");
  // The merged plan: the whole trial range of every cell.
  Plan plan = make_plan(runs.front().first.spec_text, (inputs[0] / "spec.ini").string(),
                        first["spec"]["name"], first["overrides"], Shard{});
  std::vector<CellState> states(plan.cells.size());
  for (std::size_t i = 0; i < plan.cells.size(); ++i) {
    std::vector<std::pair<TrialRange, std::size_t>> pieces;
    for (std::size_t r = 0; r < runs.size(); ++r) pieces.emplace_back(runs[r].first.ranges[i], r);
    std::sort(pieces.begin(), pieces.end(),
              [](const auto& a, const auto& b) { return a.first.begin < b.first.begin; });
    std::uint64_t at = 0;
    for (const auto& [range, r] : pieces) {
      if (range.begin != at)
        throw InvalidArgument(
            "cell " + std::to_string(i) + ": trials [" + std::to_string(std::min(at, range.begin)) +
            ", " + std::to_string(std::max(at, range.begin)) + ") are " +
            (range.begin > at ? "missing" : "counted twice") + " ('" + inputs[r].string() + "')");
      const CellState s = load_state(inputs[r], runs[r].first, i);
      if (s.next != range.end)
        throw InvalidArgument("'" + inputs[r].string() + "': cell " + std::to_string(i) +
                              " is not finished");
      states[i].counts += s.counts;
      states[i].elapsed_seconds += s.elapsed_seconds;
      at = range.end;
    }
    if (at != plan.spec.trials)
      throw InvalidArgument("cell " + std::to_string(i) + ": trials [" + std::to_string(at) + ", " +
                            std::to_string(plan.spec.trials) + ") are missing");
    states[i].next = at;
  }
  json manifest = manifest_base(plan, first["spec"]["file"].get<std::string>());
  json sources = json::array();
  for (std::size_t r = 0; r < runs.size(); ++r)
    sources.push_back({{"dir", fs::absolute(inputs[r]).string()},
                       {"shard", runs[r].second["shard"]},
                       {"segments", runs[r].second["segments"]}});
  manifest["merged_from"] = sources;
  const DirectoryLock lock = create_run_dir(out, plan, manifest, "merge into a new directory");
  for (std::size_t i = 0; i < plan.cells.size(); ++i) save_state(out, plan, i, states[i]);
  write_outputs(out, plan, states, manifest);
}

std::vector<json> read_results(const fs::path& dir) {
  std::ifstream in(dir / "results.jsonl");
  if (!in) throw InvalidArgument("cannot read '" + (dir / "results.jsonl").string() + "'");
  std::vector<json> out;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(json::parse(line));
  return out;
}

}  // namespace wrsec::experiments
