// Tests of run directories (experiments/run_dir.h): resume after crashes and after a real kill -9
// gives byte-identical results, shards merge exactly, early stopping reports the spent alpha,
// bad input leaves nothing behind, and the thread count does not change the results.
#include "experiments/run_dir.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/directory_lock.h"
#include "core/errors.h"
#include "core/rng.h"
#include "definitions/sequential.h"
#include "definitions/statistics.h"
#include "experiments/catalog.h"
#include "experiments/runner.h"
#include "experiments/spec.h"
#include "tests/support/spawn.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using wrsec::InvalidArgument;
using wrsec::Rng;
using wrsec::experiments::merge_runs;
using wrsec::experiments::read_results;
using wrsec::experiments::resume_run;
using wrsec::experiments::RunDirOptions;
using wrsec::experiments::Shard;
using wrsec::experiments::start_run;

// Thrown from the after_batch hook to simulate a crash at that point (deliberately not a
// std::exception, so nothing in the code under test can swallow it as an ordinary error).
struct SimulatedCrash {};

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

json read_json(const fs::path& path) {
  return json::parse(read_bytes(path));
}

// The state files of a run with their timing removed: file name → state.
std::map<std::string, json> state_counts(const fs::path& dir) {
  std::map<std::string, json> out;
  if (!fs::is_directory(dir / "state")) return out;
  for (const auto& entry : fs::directory_iterator(dir / "state")) {
    if (entry.path().filename().string().front() == '.') continue;  // a temporary, not a state
    json j = read_json(entry.path());
    j.erase("elapsed_seconds");
    out[entry.path().filename().string()] = j;
  }
  return out;
}

std::vector<std::string> segment_kinds(const fs::path& dir) {
  std::vector<std::string> kinds;
  const json manifest = read_json(dir / "manifest.json");
  for (const auto& s : manifest.at("segments")) kinds.push_back(s.at("kind").get<std::string>());
  return kinds;
}

// Every file or directory under root whose name contains the marker.
std::vector<std::string> files_containing(const fs::path& root, const std::string& marker) {
  std::vector<std::string> found;
  if (!fs::exists(root)) return found;
  for (const auto& entry : fs::recursive_directory_iterator(root))
    if (entry.path().filename().string().find(marker) != std::string::npos)
      found.push_back(entry.path().string());
  return found;
}

// Expects f() to throw InvalidArgument whose message contains every word of `names`.
template <typename F>
void expect_invalid(F&& f, const std::vector<std::string>& names) {
  try {
    f();
    ADD_FAILURE() << "no exception";
  } catch (const InvalidArgument& e) {
    for (const auto& name : names)
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos)
          << "message does not name '" << name << "': " << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not an InvalidArgument: " << e.what();
  }
}

// Three cells of 1000 trials in batches of 100: 30 batches.
const std::string kSpec =
    "game = bernoulli_ind\n"
    "attack = likelihood_ratio\n"
    "trials = 1000\n"
    "seed = 5\n"
    "batch = 100\n"
    "[game]\n"
    "p0 = 0.5\n"
    "samples = 4\n"
    "[sweep]\n"
    "game.p1 = 0.55, 0.6, 0.7\n";
constexpr std::uint64_t kSpecBatches = 30;

// Early stopping: a strong, a medium and a null adversary (the null one never stops).
const std::string kStopSpec =
    "game = bernoulli_ind\n"
    "attack = likelihood_ratio\n"
    "trials = 4000\n"
    "seed = 11\n"
    "batch = 250\n"
    "alpha = 0.05\n"
    "stop_when = lower>0.05\n"
    "first_look = 64\n"
    "[game]\n"
    "p0 = 0.5\n"
    "samples = 8\n"
    "[sweep]\n"
    "game.p1 = 0.9, 0.6, 0.5\n";

class RunDir : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("wrsec_run_dir_test_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  fs::path spec(const std::string& name, const std::string& text) {
    const fs::path p = root_ / (name + ".ini");
    write_text(p, text);
    return p;
  }
  static RunDirOptions opts(int threads = 1) {
    RunDirOptions o;
    o.threads = threads;
    return o;
  }
  fs::path root_;
};

// ---------------------------------------------------------------------------------------------
// Shard

TEST(ShardParse, AcceptsAndRejects) {
  const Shard s = Shard::parse("2/4");
  EXPECT_EQ(s.index, 2U);
  EXPECT_EQ(s.count, 4U);
  EXPECT_EQ(s.to_string(), "2/4");
  EXPECT_EQ(Shard::parse("0/1").count, 1U);
  for (const std::string text :
       {"4/4", "1/0", "0/0", "a/b", "1", "", "/4", "1/", "-1/4", "1/4x", "1 /4", "1/-4"})
    expect_invalid([&] { (void)Shard::parse(text); }, {"'" + text + "'"});
}

TEST(ShardSlice, TilesTheTrialRange) {
  for (const std::uint64_t trials : {1001ULL, 1000ULL, 7ULL, 4ULL, 123457ULL}) {
    std::uint64_t at = 0;
    for (std::uint64_t i = 0; i < 4; ++i) {
      const auto r = Shard{i, 4}.slice(trials);
      EXPECT_EQ(r.begin, at) << trials << " " << i;
      EXPECT_EQ(r.begin, trials * i / 4);
      EXPECT_EQ(r.end, trials * (i + 1) / 4);
      at = r.end;
    }
    EXPECT_EQ(at, trials);
  }
  const auto whole = Shard{}.slice(99);
  EXPECT_EQ(whole.begin, 0U);
  EXPECT_EQ(whole.end, 99U);
  // No overflow near 2^64.
  const std::uint64_t big = ~std::uint64_t{0};
  EXPECT_EQ((Shard{2, 3}.slice(big).end), big);
  EXPECT_EQ((Shard{1, 2}.slice(big).begin), big / 2);
}

// ---------------------------------------------------------------------------------------------
// Layout of a complete run

TEST_F(RunDir, CompleteRunHasItsFiles) {
  const fs::path s = spec("layout", kSpec);
  const fs::path dir = root_ / "run";
  start_run(s, dir, opts());
  for (const char* name :
       {"spec.ini", "manifest.json", "results.jsonl", "results.csv", "report.md", "table.tex"})
    EXPECT_TRUE(fs::is_regular_file(dir / name)) << name;
  EXPECT_EQ(read_bytes(dir / "spec.ini"), kSpec);
  const json m = read_json(dir / "manifest.json");
  EXPECT_EQ(m["status"], "complete");
  EXPECT_EQ(m["seed"], 5);
  EXPECT_EQ(m["cells"].size(), 3U);
  EXPECT_EQ(segment_kinds(dir), (std::vector<std::string>{"start"}));
  EXPECT_EQ(m["segments"][0]["ranks"], 1);
  EXPECT_EQ(state_counts(dir).size(), 3U);
  const auto results = read_results(dir);
  ASSERT_EQ(results.size(), 3U);
  const double apc = wrsec::definitions::bonferroni_alpha(0.05, 3);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(results[i]["cell_index"], i);
    EXPECT_EQ(results[i]["counts"]["n"], 1000);
    EXPECT_EQ(results[i]["seed"], 5);
    EXPECT_DOUBLE_EQ(results[i]["alpha"].get<double>(), apc);
    EXPECT_EQ(results[i]["stopping"]["rule"], "none");
    // The bounds are the CP bounds of the recorded counts at alpha per cell.
    const auto b = wrsec::definitions::distinguishing_advantage(
        results[i]["counts"]["wins"].get<std::uint64_t>(), 1000, apc);
    EXPECT_DOUBLE_EQ(results[i]["advantage"]["lower"].get<double>(), b.lower);
    EXPECT_DOUBLE_EQ(results[i]["advantage"]["upper"].get<double>(), b.upper);
  }
  EXPECT_TRUE(files_containing(root_, ".tmp-").empty());
  EXPECT_TRUE(files_containing(root_, ".partial-").empty());
}

TEST_F(RunDir, CountsEqualPlayTrialsDirectly) {
  const fs::path s = spec("direct", kSpec);
  const fs::path dir = root_ / "run";
  start_run(s, dir, opts());
  const auto results = read_results(dir);
  const auto parsed = wrsec::experiments::ExperimentSpec::load(s);
  const auto cells = parsed.cells();
  ASSERT_EQ(results.size(), cells.size());
  for (std::size_t i = 0; i < cells.size(); ++i) {
    const auto inst =
        wrsec::experiments::instantiate(wrsec::experiments::Catalog::global(), cells[i]);
    const auto counts =
        wrsec::experiments::play_trials(*inst.game, inst.scheme.get(), *inst.adversary,
                                        {5, cells[i].experiment_id(), {0, 1000}, 1});
    EXPECT_EQ(results[i]["counts"]["wins"], counts.wins) << i;
    EXPECT_EQ(results[i]["counts"]["b1"], counts.b1) << i;
    EXPECT_EQ(results[i]["experiment_id"], cells[i].experiment_id());
  }
}

// ---------------------------------------------------------------------------------------------
// Resume after simulated crashes

TEST_F(RunDir, ResumeAfterSimulatedCrashesGivesIdenticalResults) {
  const fs::path s = spec("crash", kSpec);
  const fs::path ref = root_ / "reference";
  start_run(s, ref, opts());
  const std::string expected = read_bytes(ref / "results.jsonl");
  const auto expected_state = state_counts(ref);
  ASSERT_EQ(expected_state.size(), 3U);

  constexpr int kRuns = 24;
  for (int r = 0; r < kRuns; ++r) {
    Rng rng(20240607, wrsec::stable_hash("run_dir_test/crash"), static_cast<std::uint64_t>(r));
    // Crash after this many recorded batches (1 .. all of them; the first two runs take the
    // extremes: right after the first batch and right after the last one).
    const std::uint64_t crash1 = r == 0 ? 1 : r == 1 ? kSpecBatches : 1 + rng.below(kSpecBatches);
    const int threads = r % 2 == 0 ? 1 : 2;
    const fs::path dir = root_ / ("run" + std::to_string(r));
    SCOPED_TRACE("run " + std::to_string(r) + ", crash after batch " + std::to_string(crash1));

    std::uint64_t seen = 0, cell_at_crash = 0, done_at_crash = 0;
    RunDirOptions o = opts(threads);
    o.after_batch = [&](std::size_t cell, std::uint64_t done) {
      if (++seen == crash1) {
        cell_at_crash = cell;
        done_at_crash = done;
        throw SimulatedCrash{};
      }
    };
    EXPECT_THROW(start_run(s, dir, o), SimulatedCrash);
    ASSERT_TRUE(fs::is_directory(dir));
    EXPECT_EQ(read_json(dir / "manifest.json")["status"], "running");
    EXPECT_FALSE(fs::exists(dir / "results.jsonl"));
    // The batch was recorded before the hook ran.
    char name[32];
    std::snprintf(name, sizeof(name), "cell-%05zu.json", static_cast<std::size_t>(cell_at_crash));
    EXPECT_EQ(read_json(dir / "state" / name)["next"], done_at_crash);

    std::vector<std::string> kinds = {"start", "resume"};
    const std::uint64_t remaining = kSpecBatches - crash1;
    if (remaining > 0 && rng.bit()) {
      // A second crash during the resume.
      const std::uint64_t crash2 = 1 + rng.below(remaining);
      seen = 0;
      RunDirOptions o2 = opts(3 - threads);
      o2.after_batch = [&](std::size_t, std::uint64_t) {
        if (++seen == crash2) throw SimulatedCrash{};
      };
      EXPECT_THROW(resume_run(dir, o2), SimulatedCrash);
      EXPECT_FALSE(fs::exists(dir / "results.jsonl"));
      kinds.push_back("resume");
    }
    resume_run(dir, opts(threads));
    EXPECT_EQ(read_bytes(dir / "results.jsonl"), expected);
    EXPECT_EQ(read_bytes(dir / "results.csv"), read_bytes(ref / "results.csv"));
    EXPECT_EQ(state_counts(dir), expected_state);
    EXPECT_EQ(read_json(dir / "manifest.json")["status"], "complete");
    EXPECT_EQ(segment_kinds(dir), kinds);
    EXPECT_TRUE(files_containing(dir, ".tmp-").empty());
  }
}

TEST_F(RunDir, ResumeOfACompleteRunChangesNothing) {
  const fs::path s = spec("complete", kSpec);
  const fs::path dir = root_ / "run";
  start_run(s, dir, opts());
  const std::string results = read_bytes(dir / "results.jsonl");
  const std::string manifest = read_bytes(dir / "manifest.json");
  resume_run(dir, opts(2));
  EXPECT_EQ(read_bytes(dir / "results.jsonl"), results);
  EXPECT_EQ(read_bytes(dir / "manifest.json"), manifest);
}

TEST_F(RunDir, ResumeRemovesStaleTemporaries) {
  const fs::path s = spec("stale", kSpec);
  const fs::path dir = root_ / "run";
  RunDirOptions o = opts();
  int seen = 0;
  o.after_batch = [&](std::size_t, std::uint64_t) {
    if (++seen == 5) throw SimulatedCrash{};
  };
  EXPECT_THROW(start_run(s, dir, o), SimulatedCrash);
  // What AtomicFile leaves when killed between mkstemp and rename.
  write_text(dir / ".manifest.json.tmp-abc123", "{partial");
  write_text(dir / "state" / ".cell-00001.json.tmp-xyz789", "{partial");
  resume_run(dir, opts());
  EXPECT_TRUE(files_containing(dir, ".tmp-").empty());
  EXPECT_EQ(read_json(dir / "manifest.json")["status"], "complete");
}

TEST_F(RunDir, ResumeRejectsChangedOptionsAndEditedSpecs) {
  const fs::path s = spec("options", kSpec);
  const fs::path dir = root_ / "run";
  RunDirOptions o = opts();
  int seen = 0;
  o.after_batch = [&](std::size_t, std::uint64_t) {
    if (++seen == 3) throw SimulatedCrash{};
  };
  EXPECT_THROW(start_run(s, dir, o), SimulatedCrash);
  RunDirOptions t = opts();
  t.trials = 50;
  EXPECT_THROW(resume_run(dir, t), InvalidArgument);
  RunDirOptions st = opts();
  st.stop = wrsec::definitions::StopRule::parse("lower>0.1");
  EXPECT_THROW(resume_run(dir, st), InvalidArgument);
  RunDirOptions sh = opts();
  sh.shard = Shard{0, 2};
  EXPECT_THROW(resume_run(dir, sh), InvalidArgument);
  RunDirOptions zero = opts(0);
  EXPECT_THROW(resume_run(dir, zero), InvalidArgument);

  const std::string frozen = read_bytes(dir / "spec.ini");
  write_text(dir / "spec.ini", frozen + "# edited\n");
  expect_invalid([&] { resume_run(dir, opts()); }, {"sha256"});
  write_text(dir / "spec.ini", frozen);
  resume_run(dir, opts());
  EXPECT_EQ(read_json(dir / "manifest.json")["status"], "complete");
}

// ---------------------------------------------------------------------------------------------
// A real kill -9 of the CLI

pid_t spawn_wrsec(const std::vector<std::string>& args) {
  const pid_t pid = wrsec::test_support::spawn_quiet(WRSEC_BINARY, args);
  EXPECT_GT(pid, 0) << "cannot spawn " << WRSEC_BINARY;
  return pid;
}

using wrsec::test_support::wait_for;

int run_wrsec(const std::vector<std::string>& args) {
  const pid_t pid = spawn_wrsec(args);
  if (pid < 0) return -1;
  const int status = wait_for(pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST_F(RunDir, ResumeAfterKill9GivesIdenticalResults) {
  // Four cells of 160000 trials in batches of 1000 (about 1.3 s in a Release build).
  const fs::path s = spec("kill",
                          "game = bernoulli_ind\nattack = likelihood_ratio\n"
                          "trials = 160000\nseed = 9\nbatch = 1000\n"
                          "[game]\np0 = 0.5\nsamples = 16\n"
                          "[sweep]\ngame.p1 = 0.5, 0.55, 0.6, 0.7\n");
  const fs::path ref = root_ / "reference";
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(run_wrsec({"run", s.string(), "--out", ref.string(), "--threads", "1", "-q"}), 0);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "[          ] uninterrupted CLI run: " << seconds << " s\n";
  const std::string expected = read_bytes(ref / "results.jsonl");
  const auto expected_state = state_counts(ref);

  int killed_mid_run = 0;
  for (int r = 0; r < 5; ++r) {
    Rng rng(424242, wrsec::stable_hash("run_dir_test/kill"), static_cast<std::uint64_t>(r));
    const auto delay_ms = 50 + static_cast<int>(rng.below(1451));  // 50 .. 1500 ms
    const fs::path parent = root_ / ("kill" + std::to_string(r));
    const fs::path dir = parent / "run";
    SCOPED_TRACE("kill after " + std::to_string(delay_ms) + " ms");
    const pid_t pid =
        spawn_wrsec({"run", s.string(), "--out", dir.string(), "--threads", "1", "-q"});
    ASSERT_GT(pid, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    ::kill(pid, SIGKILL);
    const int status = wait_for(pid);
    const bool killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    if (!killed) {
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    }

    if (!fs::exists(dir)) {
      // Killed before the directory appeared: nothing half-made may stand in its place; start
      // afresh.
      ASSERT_TRUE(killed);
      std::cout << "[          ] killed after " << delay_ms << " ms: before the run directory\n";
      ASSERT_EQ(run_wrsec({"run", s.string(), "--out", dir.string(), "--threads", "1", "-q"}), 0);
    } else {
      ASSERT_TRUE(fs::is_regular_file(dir / "manifest.json"));
      ASSERT_TRUE(fs::is_regular_file(dir / "spec.ini"));
      const bool was_running = read_json(dir / "manifest.json")["status"] == "running";
      if (was_running) ++killed_mid_run;
      std::cout << "[          ] killed after " << delay_ms
                << " ms: " << (was_running ? "mid-run" : "already complete") << ", "
                << state_counts(dir).size() << " cell state(s) recorded\n";
      ASSERT_EQ(run_wrsec({"run", "--resume", dir.string(), "--threads", "1", "-q"}), 0);
      if (was_running) {
        const auto kinds = segment_kinds(dir);
        EXPECT_GE(std::count(kinds.begin(), kinds.end(), "resume"), 1) << "no resume segment";
        EXPECT_EQ(kinds.front(), "start");
      }
    }
    EXPECT_EQ(read_bytes(dir / "results.jsonl"), expected);
    EXPECT_EQ(state_counts(dir), expected_state);
    EXPECT_EQ(read_json(dir / "manifest.json")["status"], "complete");
    EXPECT_TRUE(files_containing(dir, ".tmp-").empty());
  }
  std::cout << "[          ] runs killed mid-run: " << killed_mid_run << " of 5\n";
  // The early delays (52 ms, 548 ms) fall well inside the run: the test is not vacuous.
  EXPECT_GE(killed_mid_run, 1);
}

// ---------------------------------------------------------------------------------------------
// One process per run directory (DIR/.lock)

std::string host_name() {
  char host[256] = {0};
  ::gethostname(host, sizeof(host) - 1);
  return host;
}

// Runs the CLI to the end: exit code (-1 if it did not exit) and its stdout and stderr.
std::pair<int, std::string> run_wrsec_output(const std::vector<std::string>& args,
                                             const fs::path& output) {
  const pid_t pid = wrsec::test_support::spawn_to_file(WRSEC_BINARY, args, output.string());
  EXPECT_GT(pid, 0);
  const int status = wait_for(pid);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_bytes(output)};
}

// Polls (every 5 ms, for at most 2 minutes) until dir/.lock names pid as its holder.
bool wait_for_holder(const fs::path& dir, pid_t pid) {
  const std::string prefix = std::to_string(pid) + " ";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(2);
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(dir / wrsec::DirectoryLock::kFileName);
    std::string line;
    if (std::getline(in, line) && line.rfind(prefix, 0) == 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

// A resume of a directory another process works in is refused at once, naming the holder, and
// touches nothing (not even the temporaries the holder is writing); once the holder is gone, the
// resume proceeds and removes them.
TEST_F(RunDir, ResumeOfALockedRunIsRefusedNamingTheHolder) {
  const fs::path s = spec("locked", kSpec);
  const fs::path dir = root_ / "run";
  RunDirOptions o = opts();
  int seen = 0;
  o.after_batch = [&](std::size_t, std::uint64_t) {
    if (++seen == 5) throw SimulatedCrash{};
  };
  EXPECT_THROW(start_run(s, dir, o), SimulatedCrash);
  const std::string manifest = read_bytes(dir / "manifest.json");
  write_text(dir / "state" / ".cell-00000.json.tmp-live01", "{being written");
  {
    const wrsec::DirectoryLock holder(dir, "test");
    const std::string named = "run directory '" + dir.string() + "' is in use by pid " +
                              std::to_string(::getpid()) + " on host " + host_name() + " (started ";
    expect_invalid([&] { resume_run(dir, opts()); }, {named});
    const auto [rc, out] =
        run_wrsec_output({"run", "--resume", dir.string(), "-q"}, root_ / "resume.txt");
    EXPECT_EQ(rc, 2) << out;
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
    EXPECT_NE(out.find("wrsec: error: " + named), std::string::npos) << out;
    EXPECT_TRUE(fs::exists(dir / "state" / ".cell-00000.json.tmp-live01"));
    EXPECT_EQ(read_bytes(dir / "manifest.json"), manifest);
  }
  EXPECT_EQ(run_wrsec({"run", "--resume", dir.string(), "-q"}), 0);
  EXPECT_TRUE(files_containing(dir, ".tmp-").empty());
  EXPECT_EQ(read_json(dir / "manifest.json")["status"], "complete");
}

// Real processes: a running `wrsec run` holds its directory from the moment it appears; a second
// start or resume exits 2 naming it; killed with SIGKILL it blocks nobody (the resume takes the
// lock); interrupted with SIGTERM, the resume dies of the signal and leaves no temporary.
TEST_F(RunDir, RunningDirectoryIsLockedAndAKilledHolderIsNot) {
  // One cell that does not end (10^12 trials), its state rewritten every 20000 trials.
  const fs::path s = spec("endless",
                          "game = bernoulli_ind\nattack = likelihood_ratio\n"
                          "trials = 1000000000000\nseed = 3\nbatch = 20000\n");
  const fs::path dir = root_ / "run";
  const pid_t first =
      spawn_wrsec({"run", s.string(), "--out", dir.string(), "--threads", "1", "-q"});
  ASSERT_GT(first, 0);
  ASSERT_TRUE(wait_for_holder(dir, first));
  const std::string named = "is in use by pid " + std::to_string(first) + " on host " + host_name();
  const auto resume = run_wrsec_output({"run", "--resume", dir.string()}, root_ / "second.txt");
  EXPECT_EQ(resume.first, 2) << resume.second;
  EXPECT_EQ(std::count(resume.second.begin(), resume.second.end(), '\n'), 1) << resume.second;
  EXPECT_NE(resume.second.find(named), std::string::npos) << resume.second;
  const auto start =
      run_wrsec_output({"run", s.string(), "--out", dir.string()}, root_ / "start.txt");
  EXPECT_EQ(start.first, 2) << start.second;
  EXPECT_NE(start.second.find("exists"), std::string::npos) << start.second;

  ::kill(first, SIGKILL);
  const int killed = wait_for(first);
  EXPECT_TRUE(WIFSIGNALED(killed) && WTERMSIG(killed) == SIGKILL) << "status " << killed;
  ASSERT_TRUE(fs::exists(dir / wrsec::DirectoryLock::kFileName));
  const pid_t resumed = spawn_wrsec({"run", "--resume", dir.string(), "--threads", "1", "-q"});
  ASSERT_GT(resumed, 0);
  EXPECT_TRUE(wait_for_holder(dir, resumed)) << "the killed holder's lock file blocked the resume";
  // Until the resume has recorded its segment (it is playing trials then).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(2);
  while (segment_kinds(dir).back() != "resume" && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(segment_kinds(dir).back(), "resume");
  ::kill(resumed, SIGTERM);
  const int status = wait_for(resumed);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) << "status " << status;
  EXPECT_TRUE(files_containing(dir, ".tmp-").empty());
  EXPECT_TRUE(files_containing(root_, ".partial-").empty());
}

// Processes racing to create one run directory: one wins, every other exits 2 with one line.
TEST_F(RunDir, RacingStartsForOneDirectoryFailCleanly) {
  const fs::path s = spec("race", kSpec);
  for (int round = 0; round < 3; ++round) {
    const fs::path dir = root_ / ("run" + std::to_string(round));
    std::vector<pid_t> pids;
    for (int p = 0; p < 6; ++p)
      pids.push_back(wrsec::test_support::spawn_to_file(
          WRSEC_BINARY, {"run", s.string(), "--out", dir.string(), "--threads", "1", "-q"},
          (root_ / ("race" + std::to_string(p) + ".txt")).string()));
    int winners = 0;
    for (int p = 0; p < 6; ++p) {
      const int status = wait_for(pids[static_cast<std::size_t>(p)]);
      const std::string out = read_bytes(root_ / ("race" + std::to_string(p) + ".txt"));
      ASSERT_TRUE(WIFEXITED(status)) << status;
      if (WEXITSTATUS(status) == 0) {
        ++winners;
        continue;
      }
      EXPECT_EQ(WEXITSTATUS(status), 2) << out;
      EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
      EXPECT_NE(out.find("run directory '" + dir.string() + "' exists"), std::string::npos) << out;
    }
    EXPECT_EQ(winners, 1);
    EXPECT_EQ(read_json(dir / "manifest.json")["status"], "complete");
  }
  EXPECT_TRUE(files_containing(root_, ".partial-").empty());
}

// A staging directory whose creator was killed (its lock is free) is removed by the next start;
// one whose creator lives is left alone.
TEST_F(RunDir, StartRemovesAbandonedStagingDirectories) {
  const fs::path s = spec("staging", kSpec);
  const fs::path dead = root_ / ".run.partial-dead01";
  const fs::path live = root_ / ".run.partial-live01";
  for (const auto& d : {dead, live}) {
    fs::create_directories(d / "state");
    write_text(d / "spec.ini", kSpec);
    write_text(d / wrsec::DirectoryLock::kFileName, "1 elsewhere 2000-01-01T00:00:00Z\n");
  }
  const wrsec::DirectoryLock creating(live, "test");
  start_run(s, root_ / "run", opts());
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_TRUE(fs::exists(live / "spec.ini"));
}

// ---------------------------------------------------------------------------------------------
// Shards and merge

const std::string kShardSpec =
    "game = bernoulli_ind\n"
    "attack = likelihood_ratio\n"
    "trials = 1001\n"
    "seed = 5\n"
    "batch = 97\n"
    "[game]\n"
    "p0 = 0.5\n"
    "samples = 4\n"
    "[sweep]\n"
    "game.p1 = 0.55, 0.6, 0.7\n";

TEST_F(RunDir, ShardsMergeToTheUnshardedRun) {
  const fs::path s = spec("shards", kShardSpec);
  const fs::path whole = root_ / "whole";
  start_run(s, whole, opts());
  std::vector<fs::path> parts;
  for (std::uint64_t i = 0; i < 4; ++i) {
    RunDirOptions o = opts(i % 2 == 0 ? 1 : 2);
    o.shard = Shard{i, 4};
    parts.push_back(root_ / ("shard" + std::to_string(i)));
    start_run(s, parts.back(), o);
    const auto results = read_results(parts.back());
    ASSERT_EQ(results.size(), 3U);
    const auto range = Shard{i, 4}.slice(1001);
    for (const auto& r : results) {
      EXPECT_EQ(r["trials"]["begin"], range.begin);
      EXPECT_EQ(r["trials"]["end"], range.end);
      EXPECT_EQ(r["counts"]["n"], range.size());
    }
  }
  const fs::path merged = root_ / "merged";
  // Any input order.
  merge_runs({parts[2], parts[0], parts[3], parts[1]}, merged);
  EXPECT_EQ(read_bytes(merged / "results.jsonl"), read_bytes(whole / "results.jsonl"));
  EXPECT_EQ(read_bytes(merged / "results.csv"), read_bytes(whole / "results.csv"));
  EXPECT_EQ(state_counts(merged), state_counts(whole));
  const json m = read_json(merged / "manifest.json");
  EXPECT_EQ(m["status"], "complete");
  EXPECT_EQ(m["merged_from"].size(), 4U);
  EXPECT_EQ(m["shard"]["count"], 1);
  // A merged run is a complete run: resume leaves it alone.
  resume_run(merged, opts());
  EXPECT_EQ(read_bytes(merged / "results.jsonl"), read_bytes(whole / "results.jsonl"));

  // Two shards of a different split merge to the same result too.
  std::vector<fs::path> halves;
  for (std::uint64_t i = 0; i < 2; ++i) {
    RunDirOptions o = opts();
    o.shard = Shard{i, 2};
    halves.push_back(root_ / ("half" + std::to_string(i)));
    start_run(s, halves.back(), o);
  }
  merge_runs(halves, root_ / "merged2");
  EXPECT_EQ(read_bytes(root_ / "merged2" / "results.jsonl"), read_bytes(whole / "results.jsonl"));
}

TEST_F(RunDir, MergeErrors) {
  const fs::path s = spec("merge", kShardSpec);
  std::vector<fs::path> parts;
  for (std::uint64_t i = 0; i < 4; ++i) {
    RunDirOptions o = opts();
    o.shard = Shard{i, 4};
    parts.push_back(root_ / ("shard" + std::to_string(i)));
    start_run(s, parts.back(), o);
  }
  const fs::path out = root_ / "out";
  const auto check = [&](const std::vector<fs::path>& inputs,
                         const std::vector<std::string>& names) {
    expect_invalid([&] { merge_runs(inputs, out); }, names);
    EXPECT_FALSE(fs::exists(out));
    EXPECT_TRUE(files_containing(root_, ".partial-").empty());
  };
  // A missing shard (the first, a middle one, the last).
  check({parts[1], parts[2], parts[3]}, {"missing"});
  check({parts[0], parts[2], parts[3]}, {"missing"});
  check({parts[0], parts[1], parts[2]}, {"missing"});
  // A duplicated shard.
  check({parts[0], parts[1], parts[1], parts[2], parts[3]}, {"twice"});
  // Too few inputs.
  check({parts[0]}, {"two"});
  // Shards of another seed (another spec text).
  std::string other = kShardSpec;
  other.replace(other.find("seed = 5"), 8, "seed = 6");
  const fs::path s6 = spec("merge6", other);
  RunDirOptions o = opts();
  o.shard = Shard{1, 2};
  start_run(s6, root_ / "seed6_half1", o);
  o.shard = Shard{0, 2};
  start_run(s, root_ / "seed5_half0", o);
  check({root_ / "seed5_half0", root_ / "seed6_half1"}, {"seed"});
  // Same seed, another spec text.
  const fs::path s_edit = spec("merge_edit", kShardSpec + "# another text\n");
  o.shard = Shard{1, 2};
  start_run(s_edit, root_ / "edit_half1", o);
  check({root_ / "seed5_half0", root_ / "edit_half1"}, {"spec"});
  // Another trials override.
  o.shard = Shard{1, 2};
  o.trials = 1000;
  start_run(s, root_ / "override_half1", o);
  o.trials.reset();
  check({root_ / "seed5_half0", root_ / "override_half1"}, {"overrides"});
  // An incomplete run.
  RunDirOptions crash = opts();
  crash.shard = Shard{1, 2};
  int seen = 0;
  crash.after_batch = [&](std::size_t, std::uint64_t) {
    if (++seen == 2) throw SimulatedCrash{};
  };
  EXPECT_THROW(start_run(s, root_ / "crashed_half1", crash), SimulatedCrash);
  check({root_ / "seed5_half0", root_ / "crashed_half1"}, {"crashed_half1", "not complete"});
  // Not a run directory at all.
  fs::create_directories(root_ / "empty");
  check({root_ / "seed5_half0", root_ / "empty"}, {"empty"});
  // The output exists already.
  fs::create_directories(out);
  expect_invalid([&] { merge_runs(parts, out); }, {"exists"});
  EXPECT_TRUE(fs::is_empty(out));
}

// ---------------------------------------------------------------------------------------------
// Early stopping

TEST_F(RunDir, EarlyStoppingStopsAndReportsTheSpentAlpha) {
  const fs::path s = spec("stop", kStopSpec);
  const fs::path dir = root_ / "run";
  start_run(s, dir, opts());
  const auto parsed = wrsec::experiments::ExperimentSpec::load(s);
  const double apc = parsed.alpha_per_cell();
  EXPECT_DOUBLE_EQ(apc, 0.05 / 3);
  const auto looks = wrsec::definitions::checkpoint_schedule(64, 4000);
  const auto cells = parsed.cells();
  const auto results = read_results(dir);
  ASSERT_EQ(results.size(), 3U);
  const auto rule = wrsec::definitions::StopRule::parse("lower>0.05");
  for (std::size_t i = 0; i < 3; ++i) {
    SCOPED_TRACE("cell " + std::to_string(i));
    const json& r = results[i];
    const auto n = r["counts"]["n"].get<std::uint64_t>();
    const auto k = r["stopping"]["looks"].get<std::size_t>();
    ASSERT_GE(k, 1U);
    ASSERT_LE(k, looks.size());
    EXPECT_EQ(n, looks[k - 1]);
    EXPECT_EQ(r["stopping"]["rule"], "lower>0.05");
    EXPECT_EQ(r["stopping"]["budget"], 4000);
    const double a = wrsec::definitions::spent_alpha(apc, k - 1);
    EXPECT_DOUBLE_EQ(r["alpha"].get<double>(), a);
    EXPECT_DOUBLE_EQ(r["stopping"]["alpha_at_last_look"].get<double>(), a);
    const auto wins = r["counts"]["wins"].get<std::uint64_t>();
    const auto b = wrsec::definitions::distinguishing_advantage(wins, n, a);
    EXPECT_DOUBLE_EQ(r["advantage"]["lower"].get<double>(), b.lower);
    EXPECT_DOUBLE_EQ(r["advantage"]["upper"].get<double>(), b.upper);

    // Replay the rule independently: trial i uses counter i, so the counts at every look are
    // those of trials [0, n_j).
    const auto inst =
        wrsec::experiments::instantiate(wrsec::experiments::Catalog::global(), cells[i]);
    std::size_t expected_looks = 0;
    bool expected_stop = false;
    for (std::size_t j = 0; j < looks.size(); ++j) {
      const auto c = wrsec::experiments::play_trials(
          *inst.game, nullptr, *inst.adversary, {11, cells[i].experiment_id(), {0, looks[j]}, 2});
      expected_looks = j + 1;
      if (looks[j] == n) {
        EXPECT_EQ(c.wins, wins);
      }
      const auto bj = wrsec::definitions::advantage_bounds(
          wrsec::definitions::GameShape::distinguishing, c.wins, c.n,
          wrsec::definitions::spent_alpha(apc, j), 0.0);
      if (rule.met(bj) && looks[j] < 4000) {
        expected_stop = true;
        break;
      }
    }
    EXPECT_EQ(k, expected_looks);
    EXPECT_EQ(r["stopping"]["stopped_early"].get<bool>(), expected_stop);
    EXPECT_EQ(n < 4000, expected_stop);
  }
  // The grid was chosen so that the strong adversary stops at the first look, the medium one
  // later, and the null one never.
  EXPECT_TRUE(results[0]["stopping"]["stopped_early"].get<bool>());
  EXPECT_EQ(results[0]["counts"]["n"], 64);
  EXPECT_TRUE(results[1]["stopping"]["stopped_early"].get<bool>());
  EXPECT_GT(results[1]["counts"]["n"].get<std::uint64_t>(), 64U);
  EXPECT_FALSE(results[2]["stopping"]["stopped_early"].get<bool>());
  EXPECT_EQ(results[2]["counts"]["n"], 4000);
  EXPECT_EQ(results[2]["stopping"]["looks"], looks.size());
  const json m = read_json(dir / "manifest.json");
  EXPECT_EQ(m["stop_rule"], "lower>0.05");
}

TEST_F(RunDir, EarlyStoppingResumeAfterCrashesGivesIdenticalResults) {
  const fs::path s = spec("stop_crash", kStopSpec);
  const fs::path ref = root_ / "reference";
  std::uint64_t batches = 0;
  RunDirOptions count = opts();
  count.after_batch = [&](std::size_t, std::uint64_t) { ++batches; };
  start_run(s, ref, count);
  ASSERT_GT(batches, 5U);
  const std::string expected = read_bytes(ref / "results.jsonl");
  const auto expected_state = state_counts(ref);
  for (std::uint64_t crash = 1; crash <= batches; ++crash) {
    SCOPED_TRACE("crash after batch " + std::to_string(crash));
    const fs::path dir = root_ / ("run" + std::to_string(crash));
    RunDirOptions o = opts(crash % 2 == 0 ? 2 : 1);
    std::uint64_t seen = 0;
    o.after_batch = [&](std::size_t, std::uint64_t) {
      if (++seen == crash) throw SimulatedCrash{};
    };
    EXPECT_THROW(start_run(s, dir, o), SimulatedCrash);
    resume_run(dir, opts());
    EXPECT_EQ(read_bytes(dir / "results.jsonl"), expected);
    EXPECT_EQ(state_counts(dir), expected_state);
  }
}

TEST_F(RunDir, StopRuleOverrideEqualsTheSpecKey) {
  std::string text = kStopSpec;
  text.replace(text.find("stop_when = lower>0.05\n"), 23, "");
  const fs::path plain = spec("plain", text);
  const fs::path with = spec("with", kStopSpec);
  RunDirOptions o = opts();
  o.stop = wrsec::definitions::StopRule::parse("lower > 0.05");
  start_run(plain, root_ / "override", o);
  start_run(with, root_ / "spec_key", opts());
  const auto a = read_results(root_ / "override");
  const auto b = read_results(root_ / "spec_key");
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i]["counts"], b[i]["counts"]);
    EXPECT_EQ(a[i]["stopping"], b[i]["stopping"]);
    EXPECT_EQ(a[i]["advantage"], b[i]["advantage"]);
  }
  EXPECT_EQ(read_json(root_ / "override" / "manifest.json")["overrides"]["stop_when"],
            "lower>0.05");
}

TEST_F(RunDir, ShardWithEarlyStoppingIsRejected) {
  const fs::path s = spec("stop_shard", kStopSpec);
  RunDirOptions o = opts();
  o.shard = Shard{0, 2};
  expect_invalid([&] { start_run(s, root_ / "a", o); }, {"shard", "stop"});
  EXPECT_FALSE(fs::exists(root_ / "a"));
  // Also when the rule comes from the override.
  const fs::path plain = spec("plain", kShardSpec);
  o.stop = wrsec::definitions::StopRule::parse("upper<0.5");
  expect_invalid([&] { start_run(plain, root_ / "b", o); }, {"shard"});
  EXPECT_FALSE(fs::exists(root_ / "b"));
}

// ---------------------------------------------------------------------------------------------
// Bad input leaves nothing behind

TEST_F(RunDir, UnknownParameterLeavesNoDirectory) {
  const fs::path s = spec("bogus", kSpec + "[attack]\n" + "bogus = 1\n");
  const fs::path dir = root_ / "out" / "run";
  expect_invalid([&] { start_run(s, dir, opts()); }, {"bogus"});
  EXPECT_FALSE(fs::exists(dir));
  EXPECT_TRUE(files_containing(root_, ".partial-").empty());
  EXPECT_TRUE(files_containing(root_, ".tmp-").empty());

  const fs::path g = spec("bogus_game",
                          "game = bernoulli_ind\nattack = likelihood_ratio\n"
                          "trials = 10\nseed = 1\n[game]\nbogus = 1\n");
  expect_invalid([&] { start_run(g, dir, opts()); }, {"bogus"});
  EXPECT_FALSE(fs::exists(dir));

  const fs::path unknown_game = spec("unknown_game",
                                     "game = no_such_game\nattack = coin_flip\n"
                                     "trials = 10\nseed = 1\n");
  expect_invalid([&] { start_run(unknown_game, dir, opts()); }, {"no_such_game"});
  EXPECT_FALSE(fs::exists(dir));

  const fs::path bad_syntax = spec("bad_syntax", "game = bernoulli_ind\n");
  expect_invalid([&] { start_run(bad_syntax, dir, opts()); }, {"attack"});
  EXPECT_FALSE(fs::exists(dir));

  expect_invalid([&] { start_run(root_ / "no_such.ini", dir, opts()); }, {"no_such.ini"});
  EXPECT_FALSE(fs::exists(dir));

  RunDirOptions zero_trials = opts();
  zero_trials.trials = 0;
  EXPECT_THROW(start_run(spec("ok", kSpec), dir, zero_trials), InvalidArgument);
  EXPECT_FALSE(fs::exists(dir));
  RunDirOptions too_many_shards = opts();
  too_many_shards.shard = Shard{0, 2000};
  EXPECT_THROW(start_run(spec("ok", kSpec), dir, too_many_shards), InvalidArgument);
  EXPECT_FALSE(fs::exists(dir));
  EXPECT_THROW(start_run(spec("ok", kSpec), dir, opts(0)), InvalidArgument);
  EXPECT_FALSE(fs::exists(dir));
}

// The library speaks of trials, shards, stopping rules and run directories; naming the command
// line's flags is the front end's business (apps/wrsec.cpp adds them).
TEST_F(RunDir, MessagesNameNoCommandLineFlags) {
  const auto message = [](auto&& f) {
    try {
      f();
    } catch (const InvalidArgument& e) {
      return std::string(e.what());
    }
    ADD_FAILURE() << "no InvalidArgument";
    return std::string();
  };
  const auto expect_plain = [](const std::string& m, const std::string& fragment) {
    EXPECT_NE(m.find(fragment), std::string::npos) << m;
    EXPECT_EQ(m.find("--"), std::string::npos) << m;
    EXPECT_EQ(m.find("wrsec "), std::string::npos) << m;
  };
  const fs::path s = spec("plain", kSpec);
  RunDirOptions o = opts();
  o.trials = 0;
  expect_plain(message([&] { start_run(s, root_ / "a", o); }), "trials must be at least 1");
  o = opts();
  o.shard = Shard{0, 2000};
  expect_plain(message([&] { start_run(s, root_ / "a", o); }), "more shards than trials");
  o = opts();
  o.shard = Shard{0, 2};
  expect_plain(message([&] { start_run(spec("stop", kStopSpec), root_ / "a", o); }),
               "a shard cannot be combined with early stopping");
  expect_plain(message([] { (void)Shard::parse("2/2"); }), "a shard must be i/N");
  const fs::path done = root_ / "done";
  start_run(s, done, opts());
  expect_plain(message([&] { start_run(s, done, opts()); }),
               "run directory '" + done.string() + "' exists (resume it to continue)");
  o = opts();
  o.trials = 5;
  expect_plain(message([&] { resume_run(done, o); }), "resumed as it was started");
}

TEST_F(RunDir, StartIntoAnExistingDirectoryThrows) {
  const fs::path s = spec("exists", kSpec);
  const fs::path dir = root_ / "run";
  fs::create_directories(dir);
  expect_invalid([&] { start_run(s, dir, opts()); }, {"exists"});
  EXPECT_TRUE(fs::is_empty(dir));

  const fs::path done = root_ / "done";
  start_run(s, done, opts());
  const std::string results = read_bytes(done / "results.jsonl");
  const std::string manifest = read_bytes(done / "manifest.json");
  EXPECT_THROW(start_run(s, done, opts()), InvalidArgument);
  EXPECT_EQ(read_bytes(done / "results.jsonl"), results);
  EXPECT_EQ(read_bytes(done / "manifest.json"), manifest);
}

TEST_F(RunDir, ResumeOfANonRunDirectoryThrows) {
  expect_invalid([&] { resume_run(root_ / "missing", opts()); }, {"missing"});
  EXPECT_FALSE(fs::exists(root_ / "missing"));
  fs::create_directories(root_ / "empty");
  expect_invalid([&] { resume_run(root_ / "empty", opts()); }, {"empty"});
  EXPECT_TRUE(fs::is_empty(root_ / "empty"));
  // A directory with a foreign manifest.
  fs::create_directories(root_ / "foreign");
  write_text(root_ / "foreign" / "manifest.json", "{\"schema\": \"something.else\"}\n");
  write_text(root_ / "foreign" / "spec.ini", kSpec);
  expect_invalid([&] { resume_run(root_ / "foreign", opts()); }, {"manifest"});
  EXPECT_FALSE(fs::exists(root_ / "foreign" / "state"));
  EXPECT_THROW((void)read_results(root_ / "empty"), InvalidArgument);
}

TEST_F(RunDir, TamperedStateIsRejected) {
  const fs::path s = spec("tamper", kSpec);
  const fs::path dir = root_ / "run";
  RunDirOptions o = opts();
  int seen = 0;
  o.after_batch = [&](std::size_t, std::uint64_t) {
    if (++seen == 4) throw SimulatedCrash{};
  };
  EXPECT_THROW(start_run(s, dir, o), SimulatedCrash);
  const fs::path state = dir / "state" / "cell-00000.json";
  json j = read_json(state);
  j["next"] = j["next"].get<std::uint64_t>() + 1;  // counts no longer match the trials done
  write_text(state, j.dump());
  expect_invalid([&] { resume_run(dir, opts()); }, {"cell-00000.json"});
}

// ---------------------------------------------------------------------------------------------
// Thread-count invariance

TEST_F(RunDir, ThreadCountDoesNotChangeTheResults) {
  const fs::path s = spec("threads", kShardSpec);
  start_run(s, root_ / "t1", opts(1));
  start_run(s, root_ / "t2", opts(2));
  start_run(s, root_ / "t3", opts(3));
  const std::string one = read_bytes(root_ / "t1" / "results.jsonl");
  EXPECT_EQ(read_bytes(root_ / "t2" / "results.jsonl"), one);
  EXPECT_EQ(read_bytes(root_ / "t3" / "results.jsonl"), one);
  EXPECT_EQ(read_bytes(root_ / "t2" / "results.csv"), read_bytes(root_ / "t1" / "results.csv"));
  EXPECT_EQ(state_counts(root_ / "t2"), state_counts(root_ / "t1"));
  EXPECT_EQ(read_json(root_ / "t2" / "manifest.json")["segments"][0]["threads_per_rank"], 2);
}

}  // namespace
