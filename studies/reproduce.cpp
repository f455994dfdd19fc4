#include "studies/reproduce.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <set>
#include <sstream>

#include "core/atomic_file.h"
#include "core/directory_lock.h"
#include "core/errors.h"
#include "core/sha256.h"
#include "experiments/claims.h"
#include "experiments/provenance.h"
#include "experiments/report_format.h"
#include "experiments/spec.h"
#include "studies/measurement_run.h"
#include "studies/paper_inputs.h"
#include "studies/study_report.h"

namespace wrsec::studies {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kClaimsSchema = "wrsec.claims.v2";
constexpr const char* kStudySchema = "wrsec.study.v1";

using Clock = std::chrono::steady_clock;

std::string clock_text(double seconds) {
  const auto s = static_cast<long long>(std::llround(std::max(0.0, seconds)));
  char text[32];
  if (s >= 3600)
    std::snprintf(text, sizeof(text), "%lld:%02lld:%02lld", s / 3600, (s / 60) % 60, s % 60);
  else
    std::snprintf(text, sizeof(text), "%lld:%02lld", s / 60, s % 60);
  return text;
}

// A profile as loaded and validated before anything runs.
struct Profile {
  std::string name;
  json raw;
  fs::path claims_path;
  std::uint64_t seed = 1;
  std::vector<StudySpec> specs;
  std::vector<MeasurementEntry> measurements;
  std::vector<double> measurement_estimates;
  std::vector<std::size_t> measurement_units;
  std::vector<experiments::Claim> claims;
};

json load_claims_file(const ReproduceOptions& o, fs::path& path) {
  path = o.claims.is_absolute() ? o.claims : o.root / o.claims;
  json file = experiments::read_json_file(path, "claims file");
  if (!file.is_object() || file.value("schema", "") != kClaimsSchema)
    throw InvalidArgument("claims file '" + path.string() + "' must be an object with schema " +
                          kClaimsSchema);
  if (!file.contains("profiles") || !file["profiles"].is_object() || file["profiles"].empty())
    throw InvalidArgument("claims file '" + path.string() + "' has no profiles");
  return file;
}

double estimate_of(const json& entry, const std::string& where) {
  const json e = entry.value("estimate_seconds", json(0.0));
  if (!e.is_number() || !(e.get<double>() >= 0))
    throw InvalidArgument(where + ": estimate_seconds must be a non-negative number");
  return e.get<double>();
}

Profile load_profile(const ReproduceOptions& o) {
  Profile p;
  const json file = load_claims_file(o, p.claims_path);
  p.name = o.profile.empty() ? file.value("default_profile", "") : o.profile;
  if (!file["profiles"].contains(p.name)) {
    std::string known;
    for (const auto& [name, v] : file["profiles"].items())
      known += (known.empty() ? "" : ", ") + name;
    throw InvalidArgument("unknown profile '" + p.name + "' (claims file has: " + known + ")");
  }
  p.raw = file["profiles"][p.name];
  const std::string where = "claims file, profile '" + p.name + "'";
  if (!p.raw.is_object()) throw InvalidArgument(where + " must be an object");
  static const std::set<std::string> profile_keys = {"description", "seed", "specs",
                                                     "measurements"};
  for (const auto& [key, v] : p.raw.items())
    if (!profile_keys.count(key)) throw InvalidArgument(where + ": unknown key '" + key + "'");
  try {
    p.seed = p.raw.value("seed", std::uint64_t{1});
  } catch (const json::exception&) {
    throw InvalidArgument(where + ": seed must be a non-negative integer");
  }
  std::set<std::string> names;
  for (const auto& s : p.raw.value("specs", json::array())) {
    static const std::set<std::string> keys = {"spec", "trials", "restrict", "estimate_seconds"};
    if (!s.is_object() || !s.contains("spec") || !s["spec"].is_string())
      throw InvalidArgument(where + ": every spec entry needs a \"spec\" path");
    for (const auto& [key, v] : s.items())
      if (!keys.count(key))
        throw InvalidArgument(where + ", spec '" + s["spec"].get<std::string>() +
                              "': unknown key '" + key + "'");
    StudySpec e;
    e.path = o.root / s["spec"].get<std::string>();
    e.spec = experiments::ExperimentSpec::load(e.path);
    const std::string at = where + ", spec '" + s["spec"].get<std::string>() + "'";
    if (s.contains("trials")) {
      if (!s["trials"].is_number_unsigned() || s["trials"].get<std::uint64_t>() == 0)
        throw InvalidArgument(at + ": trials must be a positive integer");
      e.trials = s["trials"].get<std::uint64_t>();
      e.spec.trials = *e.trials;
    }
    const json restrict = s.value("restrict", json::object());
    if (!restrict.is_object())
      throw InvalidArgument(at + ": restrict must be an object {axis: values}");
    for (const auto& [axis, values] : restrict.items()) {
      if (!values.is_string())
        throw InvalidArgument(at + ": restrict values must be strings like \"1, 2, 6\"");
      try {
        e.spec.restrict_axis(axis, values.get<std::string>());
      } catch (const InvalidArgument& err) {
        throw InvalidArgument(at + ": " + err.what());
      }
      e.restrict[axis] = values.get<std::string>();
    }
    e.estimate_seconds = estimate_of(s, at);
    if (!names.insert(e.spec.name).second)
      throw InvalidArgument(where + ": two specs are named '" + e.spec.name + "'");
    p.specs.push_back(std::move(e));
  }
  std::set<std::string> mnames;
  for (const auto& m : p.raw.value("measurements", json::array())) {
    static const std::set<std::string> keys = {"name", "id", "params", "estimate_seconds"};
    if (!m.is_object() || !m.contains("name") || !m["name"].is_string() || !m.contains("id") ||
        !m["id"].is_string())
      throw InvalidArgument(where + ": every measurement needs a \"name\" and an \"id\"");
    MeasurementEntry e;
    e.name = m["name"].get<std::string>();
    e.id = m["id"].get<std::string>();
    const std::string at = where + ", measurement '" + e.name + "'";
    for (const auto& [key, v] : m.items())
      if (!keys.count(key)) throw InvalidArgument(at + ": unknown key '" + key + "'");
    if (e.name.empty() || e.name.find_first_of("/\\. ") != std::string::npos)
      throw InvalidArgument(at + ": the name must be a plain directory name");
    const json params = m.value("params", json::object());
    if (!params.is_object()) throw InvalidArgument(at + ": params must be an object");
    for (const auto& [k, v] : params.items()) {
      if (!v.is_string() && !v.is_number())
        throw InvalidArgument(at + ": parameter '" + k + "' must be a string or a number");
      e.params.set(k, v.is_string() ? v.get<std::string>() : v.dump());
    }
    try {
      p.measurement_units.push_back(measurement_units(e));
    } catch (const InvalidArgument& err) {
      throw InvalidArgument(at + ": " + err.what());
    }
    if (!mnames.insert(e.name).second)
      throw InvalidArgument(where + ": two measurements are named '" + e.name + "'");
    p.measurement_estimates.push_back(estimate_of(m, at));
    p.measurements.push_back(std::move(e));
  }
  if (p.specs.empty() && p.measurements.empty())
    throw InvalidArgument(where + " has neither specs nor measurements");
  for (const auto& j : file.value("claims", json::array())) {
    experiments::Claim c = experiments::Claim::from_json(j);
    if (c.applies_to(p.name)) p.claims.push_back(std::move(c));
  }
  return p;
}

fs::path out_dir(const ReproduceOptions& o, const Profile& p) {
  return o.out.empty() ? fs::path("runs") / ("reproduce-" + p.name) : o.out;
}

// What a profile plays: its seed, specs and measurements (estimates and descriptions may change
// without invalidating a directory).
json played_definition(json raw) {
  raw.erase("description");
  for (const char* list : {"specs", "measurements"})
    if (raw.contains(list))
      for (auto& entry : raw[list])
        if (entry.is_object()) entry.erase("estimate_seconds");
  return raw;
}

json study_record(const Profile& p, const experiments::Shard& shard) {
  return {{"schema", kStudySchema},
          {"profile", p.name},
          {"definition", played_definition(p.raw)},
          {"shard", {{"index", shard.index}, {"count", shard.count}}}};
}

json expected_overrides(const StudySpec& s) {
  json o = json::object();
  if (s.trials) o["trials"] = *s.trials;
  if (!s.restrict.empty()) o["restrict"] = s.restrict;
  return o;
}

// "start", "resume" or "complete" for a spec's run directory; InvalidArgument if it holds a run
// of another spec version, other overrides or another shard.
std::string run_state(const StudySpec& s, const fs::path& dir, const experiments::Shard& shard) {
  if (!fs::exists(dir / "manifest.json")) {
    if (fs::exists(dir))
      throw InvalidArgument("'" + dir.string() + "' exists but is not a run directory");
    return "start";
  }
  const json m = experiments::read_json_file(dir / "manifest.json", "run manifest");
  if (m.value("overrides", json()) != expected_overrides(s) ||
      experiments::json_at(m, "spec.sha256") !=
          to_hex(sha256(experiments::read_text_file(s.path))) ||
      experiments::json_at(m, "shard.index") != shard.index ||
      experiments::json_at(m, "shard.count") != shard.count)
    throw InvalidArgument("'" + dir.string() + "' holds a run of another version of '" +
                          s.path.string() +
                          "', other trials or another shard; remove it or choose another "
                          "output directory");
  return m.value("status", "") == "complete" ? "complete" : "resume";
}

bool measurement_done(const fs::path& dir) {
  return fs::exists(dir / "rows.jsonl");
}

// The profile's ETA: remaining estimates scaled by how fast this machine has been so far.
class StudyClock {
 public:
  StudyClock(std::ostream* log, double total_estimate)
      : log_(log), remaining_(total_estimate), t0_(Clock::now()) {}
  void skip(double estimate) { remaining_ -= estimate; }
  void begin(const std::string& line) {
    if (log_) *log_ << line << std::endl;
    step0_ = Clock::now();
  }
  void end(std::size_t step, std::size_t steps, double estimate) {
    const double took = std::chrono::duration<double>(Clock::now() - step0_).count();
    actual_ += took;
    estimated_ += estimate;
    remaining_ -= estimate;
    const double speed = estimated_ > 0 ? actual_ / estimated_ : 1.0;
    if (log_)
      *log_ << "[" << step << "/" << steps << "] done in " << clock_text(took) << "; elapsed "
            << clock_text(std::chrono::duration<double>(Clock::now() - t0_).count())
            << (estimated_ > 0 ? ", profile ETA " + clock_text(std::max(0.0, remaining_) * speed)
                               : std::string())
            << std::endl;
  }

 private:
  std::ostream* log_;
  double remaining_;
  double actual_ = 0, estimated_ = 0;
  Clock::time_point t0_, step0_;
};

// Collective: rank 0's error (if any) is thrown on every rank.
void check_collective(const experiments::Communicator& comm, std::string error, bool invalid) {
  std::string message = error.empty() ? "" : (invalid ? "I" : "R") + error;
  comm.broadcast(message);
  if (message.empty()) return;
  if (message[0] == 'I') throw InvalidArgument(message.substr(1));
  throw RuntimeError(message.substr(1));
}

template <class F>
void on_root(const experiments::Communicator& comm, F&& f) {
  std::string error;
  bool invalid = false;
  if (comm.rank() == 0) {
    try {
      f();
    } catch (const InvalidArgument& e) {
      if (comm.size() == 1) throw;
      error = e.what();
      invalid = true;
    } catch (const std::exception& e) {
      if (comm.size() == 1) throw;
      error = e.what();
    }
  }
  check_collective(comm, error, invalid);
}

// Plays every spec and measurement of the profile (this shard's part) into out.
void play(const Profile& p, const fs::path& out, const ReproduceOptions& o,
          const experiments::Communicator& comm) {
  double total = 0;
  for (const auto& s : p.specs) total += s.estimate_seconds / double(o.shard.count);
  for (const double e : p.measurement_estimates) total += e / double(o.shard.count);
  StudyClock clock(comm.rank() == 0 ? o.log : nullptr, total);
  const std::size_t steps = p.specs.size() + p.measurements.size();
  std::size_t step = 0;
  for (const StudySpec& s : p.specs) {
    ++step;
    const fs::path dir = out / "runs" / s.spec.name;
    const double estimate = s.estimate_seconds / double(o.shard.count);
    std::string state;
    on_root(comm, [&] { state = run_state(s, dir, o.shard); });
    comm.broadcast(state);
    if (state == "complete") {
      clock.skip(estimate);
      if (comm.rank() == 0 && o.log)
        *o.log << "[" << step << "/" << steps << "] spec " << s.spec.name
               << ": complete (from an earlier run)" << std::endl;
      continue;
    }
    std::ostringstream line;
    line << "[" << step << "/" << steps << "] spec " << s.spec.name << ": " << s.spec.cell_count()
         << " cell(s) x " << s.spec.trials << " trials"
         << (o.shard.count > 1 ? ", shard " + o.shard.to_string() : "")
         << (state == "resume" ? ", resuming" : "")
         << (estimate > 0 ? " (estimate " + clock_text(estimate) + ")" : std::string()) << " -> "
         << dir.string();
    clock.begin(line.str());
    experiments::RunDirOptions ro;
    ro.threads = o.threads;
    ro.comm = &comm;
    ro.progress = o.progress;
    experiments::RunOutcome outcome;
    if (state == "start") {
      ro.trials = s.trials;
      ro.restrict = s.restrict;
      ro.shard = o.shard;
      outcome = experiments::start_run(s.path, dir, ro);
    } else {
      outcome = experiments::resume_run(dir, ro);
    }
    if (!outcome.ok() && o.keep_going) {
      if (comm.rank() == 0 && o.log)
        *o.log << "[" << step << "/" << steps << "] spec " << s.spec.name << ": "
               << outcome.failed.size() << " cell(s) failed (reported in " << dir.string()
               << "/results.jsonl)" << std::endl;
    } else if (!outcome.ok()) {
      throw RuntimeError("spec " + s.spec.name + ": " + std::to_string(outcome.failed.size()) +
                         " cell(s) failed, first cell " + std::to_string(outcome.failed[0].first) +
                         ": " + outcome.failed[0].second + " (see " + dir.string() +
                         "/report.md; playing the profile again retries them)");
    }
    clock.end(step, steps, estimate);
  }
  std::size_t offset = 0;  // the profile-wide index of a measurement's first unit
  for (std::size_t i = 0; i < p.measurements.size(); ++i) {
    ++step;
    const MeasurementEntry& m = p.measurements[i];
    const fs::path dir = out / "measurements" / m.name;
    const double estimate = p.measurement_estimates[i] / double(o.shard.count);
    const std::size_t first = offset;
    offset += p.measurement_units[i];
    std::string done;
    on_root(comm, [&] { done = measurement_done(dir) ? "yes" : "no"; });
    comm.broadcast(done);
    if (done == "yes") {
      clock.skip(estimate);
      if (comm.rank() == 0 && o.log)
        *o.log << "[" << step << "/" << steps << "] measurement " << m.name
               << ": complete (from an earlier run)" << std::endl;
      continue;
    }
    on_root(comm, [&] {
      clock.begin("[" + std::to_string(step) + "/" + std::to_string(steps) + "] measurement " +
                  m.name + " (" + m.id + ", " + std::to_string(p.measurement_units[i]) +
                  " unit(s); estimate " + clock_text(estimate) + ") -> " + dir.string());
      MeasurementRunOptions mo;
      mo.seed = p.seed;
      mo.threads = o.threads;
      mo.scratch = out / "scratch" / m.name;
      mo.log = o.log;
      if (o.shard.count > 1)
        mo.mine = [&](std::size_t u) { return (first + u) % o.shard.count == o.shard.index; };
      run_measurement(m, dir, mo);
      std::error_code ec;
      fs::remove_all(out / "scratch" / m.name, ec);
      clock.end(step, steps, estimate);
    });
  }
  std::error_code ec;
  if (comm.rank() == 0) fs::remove(out / "scratch", ec);  // only if empty
}

// Claims, claims.jsonl, claims.md, report.md and the paper's inputs from a complete directory.
int check_and_report(const Profile& p, const fs::path& out, const ReproduceOptions& o) {
  std::vector<experiments::ClaimOutcome> outcomes;
  AtomicFile jsonl(out / "claims.jsonl");
  int failures = 0;
  for (const auto& c : p.claims) {
    outcomes.push_back(experiments::evaluate_claim(c, out));
    const auto& r = outcomes.back();
    jsonl.write(r.to_json(c).dump() + "\n");
    if (!r.met) {
      ++failures;
      if (o.log)
        *o.log << "claim " << c.id << " NOT MET\n  expected: " << c.statement()
               << "\n  measured: " << (r.measured ? experiments::fmt(*r.measured, 6) : "none")
               << " (" << r.problem << ")" << (r.witness.empty() ? "" : "\n  at: " + r.witness)
               << "\n";
    }
  }
  StudyOutputs outputs{
      p.name,  p.raw.value("description", ""), p.seed, o.threads, p.specs, p.measurements, p.claims,
      outcomes};
  AtomicFile md(out / "claims.md");
  md.write(claims_markdown(outputs, p.claims_path));
  AtomicFile report(out / "report.md");
  report.write(study_markdown(outputs, out));
  jsonl.commit();
  md.commit();
  report.commit();
  if (o.write_paper) {
    const fs::path paper = o.paper_dir.empty() ? o.root / "paper" / "generated" : o.paper_dir;
    write_paper_inputs(outputs, out, paper);
    if (o.log) *o.log << "reproduce: paper inputs in " << paper.string() << "\n";
  }
  if (o.log)
    *o.log << "reproduce: " << p.claims.size() - static_cast<std::size_t>(failures) << " of "
           << p.claims.size() << " claims met (" << (out / "claims.md").string() << "; report "
           << (out / "report.md").string() << ")" << std::endl;
  return failures;
}

}  // namespace

std::vector<ProfileSummary> list_profiles(const ReproduceOptions& o) {
  fs::path path;
  const json file = load_claims_file(o, path);
  std::vector<ProfileSummary> out;
  for (const auto& [name, p] : file["profiles"].items()) {
    ProfileSummary s;
    s.name = name;
    s.is_default = file.value("default_profile", "") == name;
    if (!p.is_object())
      throw InvalidArgument("claims file: profile '" + name + "' is not an object");
    s.description = p.value("description", "");
    for (const auto& e : p.value("specs", json::array())) {
      ++s.specs;
      s.estimate_seconds += estimate_of(e, "profile '" + name + "'");
    }
    for (const auto& e : p.value("measurements", json::array())) {
      ++s.measurements;
      s.estimate_seconds += estimate_of(e, "profile '" + name + "'");
    }
    out.push_back(std::move(s));
  }
  return out;
}

int run_reproduce(const ReproduceOptions& o) {
  if (o.threads < 1) throw InvalidArgument("threads must be at least 1");
  const experiments::SoloCommunicator solo;
  const experiments::Communicator& comm = o.comm ? *o.comm : solo;
  const Profile p = load_profile(o);
  const fs::path out = out_dir(o, p);
  const json record = study_record(p, o.shard);
  std::optional<DirectoryLock> lock;  // rank 0 holds out until the reproduction ends
  on_root(comm, [&] {
    if (fs::exists(out) && !fs::is_directory(out))
      throw InvalidArgument("'" + out.string() + "' exists and is not a directory");
    fs::create_directories(out);
    lock.emplace(out, "reproduction directory");
    if (fs::exists(out / "study.json")) {
      json old = experiments::read_json_file(out / "study.json", "study record");
      old.erase("merged_from");  // a merged directory is the unsharded profile, complete
      if (old != record)
        throw InvalidArgument("'" + out.string() +
                              "' holds a reproduction of another profile, profile definition "
                              "or shard; remove it or choose another output directory");
      if (o.log) *o.log << "reproduce: continuing " << out.string() << "\n";
    } else {
      fs::create_directories(out / "runs");
      fs::create_directories(out / "measurements");
      write_file_atomically(out / "study.json", record.dump(2) + "\n");
    }
  });
  play(p, out, o, comm);
  if (!o.check_claims) return 0;
  if (o.shard.count > 1) {
    if (comm.rank() == 0 && o.log)
      *o.log << "reproduce: shard " << o.shard.to_string() << " complete in " << out.string()
             << "; merge all " << o.shard.count << " shards to check the claims\n";
    return 0;
  }
  int failures = 0;
  on_root(comm, [&] { failures = check_and_report(p, out, o); });
  std::string text = std::to_string(failures);
  comm.broadcast(text);
  return std::stoi(text);
}

int merge_reproductions(const std::vector<fs::path>& inputs, const ReproduceOptions& o) {
  if (inputs.size() < 2) throw InvalidArgument("merge needs at least two shard directories");
  const Profile p = load_profile(o);
  const fs::path out = out_dir(o, p);
  if (fs::exists(out)) throw InvalidArgument("'" + out.string() + "' exists");
  std::set<std::uint64_t> seen;
  std::uint64_t count = 0;
  for (const auto& dir : inputs) {
    const json r = experiments::read_json_file(dir / "study.json", "study record");
    if (r.value("schema", "") != kStudySchema || r.value("profile", "") != p.name ||
        r.value("definition", json()) != played_definition(p.raw))
      throw InvalidArgument("'" + dir.string() + "' is not a shard of profile '" + p.name +
                            "' as the claims file defines it now");
    const std::uint64_t n = r["shard"]["count"].get<std::uint64_t>();
    if (count != 0 && n != count)
      throw InvalidArgument("'" + dir.string() + "' was split into another number of shards");
    count = n;
    if (!seen.insert(r["shard"]["index"].get<std::uint64_t>()).second)
      throw InvalidArgument("'" + dir.string() + "' repeats shard " +
                            std::to_string(r["shard"]["index"].get<std::uint64_t>()));
  }
  if (count < 2 || seen.size() != count)
    throw InvalidArgument("merge needs every shard 0.." + std::to_string(count - 1) + " of " +
                          std::to_string(count) + " (got " + std::to_string(seen.size()) + ")");
  fs::create_directories(out / "runs");
  fs::create_directories(out / "measurements");
  const DirectoryLock lock(out, "reproduction directory");
  json record = study_record(p, experiments::Shard{});
  json sources = json::array();
  for (const auto& d : inputs) sources.push_back(fs::absolute(d).string());
  record["merged_from"] = sources;
  write_file_atomically(out / "study.json", record.dump(2) + "\n");
  for (const auto& s : p.specs) {
    std::vector<fs::path> dirs;
    for (const auto& d : inputs) dirs.push_back(d / "runs" / s.spec.name);
    if (o.log) *o.log << "merge: spec " << s.spec.name << "\n";
    experiments::merge_runs(dirs, out / "runs" / s.spec.name);
  }
  for (const auto& m : p.measurements) {
    std::vector<fs::path> dirs;
    for (const auto& d : inputs) dirs.push_back(d / "measurements" / m.name);
    if (o.log) *o.log << "merge: measurement " << m.name << "\n";
    merge_measurement(dirs, out / "measurements" / m.name);
  }
  return o.check_claims ? check_and_report(p, out, o) : 0;
}

}  // namespace wrsec::studies
