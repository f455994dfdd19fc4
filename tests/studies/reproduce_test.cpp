// `wrsec reproduce` on tiny profiles: claims and outputs, restricted sweeps, measurements resumed
// unit by unit, shards merged into the unsharded result, foreign directories refused, and a real
// SIGKILL of the CLI (twice) followed by a restart giving byte-identical results.
#include "studies/reproduce.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/directory_lock.h"
#include "core/errors.h"
#include "core/rng.h"
#include "studies/measurement_run.h"
#include "tests/support/spawn.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using wrsec::InvalidArgument;
using wrsec::studies::ReproduceOptions;

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::vector<json> read_lines(const fs::path& path) {
  std::vector<json> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(json::parse(line));
  return out;
}

// Every file whose bytes must not depend on interruptions, shards or ranks.
std::vector<std::pair<std::string, std::string>> identical_outputs(const fs::path& out) {
  std::vector<std::pair<std::string, std::string>> files;
  for (const char* f : {"runs/grid/results.jsonl", "runs/small/results.jsonl",
                        "measurements/flops/rows.jsonl", "claims.jsonl"})
    files.emplace_back(f, read_bytes(out / f));
  return files;
}

class Reproduce : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("wrsec_reproduce_" + std::to_string(::getpid()) + "_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    write_text(dir_ / "grid.ini",
               "name = grid\ngame = bernoulli_ind\nattack = likelihood_ratio\ntrials = " +
                   std::to_string(grid_trials()) +
                   "\nseed = 3\nbatch = 1000\n[game]\np0 = 0.3\nsamples = 4\n"
                   "[sweep]\ngame.p1 = 0.3, 0.5, 0.7\n");
    write_text(dir_ / "small.ini",
               "name = small\ngame = bernoulli_ind\nattack = likelihood_ratio\ntrials = 400\n"
               "seed = 5\n[game]\np0 = 0.3\n[sweep]\ngame.p1 = 0.3, 0.6, 0.9\n"
               "game.samples = 1, 8\n");
    const json profile = {
        {"description", "a tiny profile"},
        {"seed", 2},
        {"specs",
         {{{"spec", "grid.ini"}, {"estimate_seconds", 1}},
          {{"spec", "small.ini"},
           {"trials", 300},
           {"restrict", {{"game.p1", "0.9, 0.3"}}},
           {"estimate_seconds", 1}}}},
        {"measurements",
         {{{"name", "flops"},
           {"id", "taylormlp.flop_model"},
           {"params", {{"model", "random:mlp:16,8,4:silu"}, {"orders", "1,2,4,6"}}},
           {"estimate_seconds", 1}}}}};
    const json file = {{"schema", "wrsec.claims.v2"},
                       {"default_profile", "tiny"},
                       {"profiles", {{"tiny", profile}, {"other", profile}}},
                       {"claims",
                        {{{"id", "wins"},
                          {"text", "the likelihood ratio wins at p1 = 0.7"},
                          {"source", "runs/grid/results.jsonl"},
                          {"where", {{"game.params.p1", "0.7"}}},
                          {"value", "advantage.lower"},
                          {"target", 0.3},
                          {"macro", "TinyLower"}},
                         {{"id", "null"},
                          {"text", "no advantage at p1 = p0"},
                          {"source", {"runs/grid/results.jsonl", "runs/small/results.jsonl"}},
                          {"where", {{"game.params.p1", "0.3"}}},
                          {"value", "advantage.lower"},
                          {"aggregate", "max"},
                          {"require", "<="},
                          {"target", 0.2},
                          {"min_rows", 3}},
                         {{"id", "flops"},
                          {"text", "the release costs more than the plain model for N >= 2"},
                          {"source", "measurements/flops/rows.jsonl"},
                          {"where", {{"order", {{">=", 2}}}}},
                          {"value", "flop_ratio_release"},
                          {"target", 1.0},
                          {"min_rows", 3}},
                         {{"id", "impossible"},
                          {"text", "perfect"},
                          {"source", "runs/grid/results.jsonl"},
                          {"value", "advantage.lower"},
                          {"target", 0.999},
                          {"profiles", {"other"}}}}}};
    write_text(dir_ / "claims.json", file.dump(2));
  }
  void TearDown() override { fs::remove_all(dir_); }
  virtual std::uint64_t grid_trials() const { return 4000; }

  ReproduceOptions options(const std::string& out) const {
    ReproduceOptions o;
    o.root = dir_;
    o.claims = "claims.json";
    o.out = dir_ / out;
    o.paper_dir = dir_ / (out + "-paper");
    o.threads = 2;
    return o;
  }

  fs::path dir_;
};

TEST_F(Reproduce, PlaysTheProfileChecksClaimsAndWritesReports) {
  ReproduceOptions o = options("out");
  std::ostringstream log;
  o.log = &log;
  EXPECT_EQ(wrsec::studies::run_reproduce(o), 0) << log.str();
  const auto outcomes = read_lines(dir_ / "out" / "claims.jsonl");
  ASSERT_EQ(outcomes.size(), 3u);  // "impossible" belongs to another profile
  for (const auto& c : outcomes) EXPECT_TRUE(c["met"].get<bool>()) << c.dump();
  // The restricted sweep keeps the spec's order and the full grid's cells.
  const auto small = read_lines(dir_ / "out" / "runs" / "small" / "results.jsonl");
  ASSERT_EQ(small.size(), 4u);
  EXPECT_EQ(small[0]["game"]["params"]["p1"], "0.3");
  EXPECT_EQ(small[2]["game"]["params"]["p1"], "0.9");
  EXPECT_EQ(small[0]["counts"]["n"], 300);
  const auto flops = read_lines(dir_ / "out" / "measurements" / "flops" / "rows.jsonl");
  ASSERT_EQ(flops.size(), 4u);
  EXPECT_EQ(flops[3]["order"], 6);
  EXPECT_GT(flops[3]["flop_ratio_release"].get<double>(), 1.0);
  // The rows also leave as CSV, one column per key, doubles at full precision.
  const std::string csv = read_bytes(dir_ / "out" / "measurements" / "flops" / "rows.csv");
  EXPECT_EQ(
      csv.substr(0, csv.find('\n')),
      "measurement,unit,kind,flop_ratio_release,format,macs_plain,macs_release,model,model_sha256,"
      "order,release_sha256");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 5);
  const std::string report = read_bytes(dir_ / "out" / "report.md");
  EXPECT_NE(report.find("| flop_ratio_release | format | macs_plain |"), std::string::npos)
      << report;
  EXPECT_NE(report.find("3 of 3 claims met"), std::string::npos) << report;
  EXPECT_NE(report.find("### flops (taylormlp.flop_model)"), std::string::npos);
  EXPECT_NE(read_bytes(dir_ / "out-paper" / "macros.tex").find("\\newcommand{\\TinyLower}{0."),
            std::string::npos);
  EXPECT_NE(log.str().find("profile ETA"), std::string::npos) << log.str();

  // Run again: everything is complete and the outputs do not change.
  const auto before = identical_outputs(dir_ / "out");
  std::ostringstream again;
  o.log = &again;
  EXPECT_EQ(wrsec::studies::run_reproduce(o), 0);
  EXPECT_NE(again.str().find("complete (from an earlier run)"), std::string::npos);
  EXPECT_EQ(identical_outputs(dir_ / "out"), before);

  // Another profile in the same directory is refused; its unmet claim fails it elsewhere.
  ReproduceOptions other = options("out");
  other.profile = "other";
  EXPECT_THROW(wrsec::studies::run_reproduce(other), InvalidArgument);
  other.out = dir_ / "out-other";
  EXPECT_EQ(wrsec::studies::run_reproduce(other), 1);
}

TEST_F(Reproduce, ShardsMergeIntoTheUnshardedResult) {
  ASSERT_EQ(wrsec::studies::run_reproduce(options("whole")), 0);
  for (const char* s : {"1/2", "0/2"}) {
    ReproduceOptions o = options(std::string("shard") + s[0]);
    o.shard = wrsec::experiments::Shard::parse(s);
    EXPECT_EQ(wrsec::studies::run_reproduce(o), 0);
    EXPECT_FALSE(fs::exists(o.out / "claims.jsonl"));  // a shard checks nothing
  }
  ReproduceOptions m = options("merged");
  EXPECT_THROW(wrsec::studies::merge_reproductions({dir_ / "shard0"}, m), InvalidArgument);
  EXPECT_THROW(wrsec::studies::merge_reproductions({dir_ / "shard0", dir_ / "shard0"}, m),
               InvalidArgument);
  EXPECT_EQ(wrsec::studies::merge_reproductions({dir_ / "shard1", dir_ / "shard0"}, m), 0);
  EXPECT_EQ(identical_outputs(dir_ / "merged"), identical_outputs(dir_ / "whole"));
  // The merged directory is a complete unsharded reproduction: running it again only re-checks.
  EXPECT_EQ(wrsec::studies::run_reproduce(m), 0);
  EXPECT_EQ(identical_outputs(dir_ / "merged"), identical_outputs(dir_ / "whole"));
  // Each shard played only its units of the measurement.
  std::size_t units = 0;
  for (const char* s : {"shard0", "shard1"})
    for (const auto& e : fs::directory_iterator(dir_ / s / "measurements" / "flops"))
      units += e.path().filename().string().rfind("unit-", 0) == 0 ? 1 : 0;
  EXPECT_EQ(units, 4u);
}

// One process per reproduction directory: another one is refused before it writes anything.
TEST_F(Reproduce, DirectoryInUseIsRefused) {
  const fs::path busy = dir_ / "busy";
  fs::create_directories(busy);
  {
    const wrsec::DirectoryLock holder(busy, "test");
    try {
      (void)wrsec::studies::run_reproduce(options("busy"));
      ADD_FAILURE() << "a directory in use was played into";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("reproduction directory '" + busy.string() +
                                           "' is in use by pid " + std::to_string(::getpid())),
                std::string::npos)
          << e.what();
    }
    EXPECT_FALSE(fs::exists(busy / "study.json"));
  }
  EXPECT_EQ(wrsec::studies::run_reproduce(options("busy")), 0);
}

TEST_F(Reproduce, MeasurementsResumeUnitByUnit) {
  wrsec::studies::MeasurementEntry e{
      "flops", "taylormlp.flop_model",
      wrsec::definitions::Params({{"model", "random:mlp:16,8,4:silu"}, {"orders", "1,2,4,6"}})};
  wrsec::studies::MeasurementRunOptions o;
  o.seed = 2;
  int played = 0;
  o.after_unit = [&](std::size_t u) {
    ++played;
    if (u == 1) throw std::runtime_error("simulated crash after unit 1");
  };
  EXPECT_THROW(wrsec::studies::run_measurement(e, dir_ / "m", o), std::runtime_error);
  EXPECT_FALSE(fs::exists(dir_ / "m" / "rows.jsonl"));
  o.after_unit = [&](std::size_t) { ++played; };
  EXPECT_TRUE(wrsec::studies::run_measurement(e, dir_ / "m", o));
  EXPECT_EQ(played, 4);  // units 0 and 1 were not played again
  wrsec::studies::MeasurementRunOptions plain;
  plain.seed = 2;
  EXPECT_TRUE(wrsec::studies::run_measurement(e, dir_ / "ref", plain));
  EXPECT_EQ(read_bytes(dir_ / "m" / "rows.jsonl"), read_bytes(dir_ / "ref" / "rows.jsonl"));
  // Other parameters or another seed in the same directory are refused.
  e.params.set("orders", "1,2");
  EXPECT_THROW(wrsec::studies::run_measurement(e, dir_ / "m", o), InvalidArgument);
}

TEST_F(Reproduce, RejectsMalformedProfiles) {
  const json good = json::parse(read_bytes(dir_ / "claims.json"));
  const auto expect_invalid = [&](const std::function<void(json&)>& edit, const std::string& what) {
    json bad = good;
    edit(bad);
    write_text(dir_ / "bad.json", bad.dump());
    ReproduceOptions o = options("bad");
    o.claims = "bad.json";
    try {
      wrsec::studies::run_reproduce(o);
      ADD_FAILURE() << "accepted: " << what;
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
    EXPECT_FALSE(fs::exists(dir_ / "bad")) << what;  // nothing written for a bad profile
  };
  expect_invalid([](json& j) { j["schema"] = "wrsec.claims.v1"; }, "wrsec.claims.v2");
  expect_invalid([](json& j) { j["default_profile"] = "nope"; }, "unknown profile 'nope'");
  expect_invalid([](json& j) { j["profiles"]["tiny"]["trials"] = 3; }, "unknown key 'trials'");
  expect_invalid([](json& j) { j["profiles"]["tiny"]["specs"][0]["spec"] = "missing.ini"; },
                 "missing.ini");
  expect_invalid([](json& j) { j["profiles"]["tiny"]["specs"][1]["restrict"]["game.p1"] = "0.8"; },
                 "'0.8' is not a value of sweep axis 'game.p1'");
  expect_invalid(
      [](json& j) {
        j["profiles"]["tiny"]["specs"][1]["restrict"] = {{"x.y", "1"}};
      },
      "no sweep axis 'x.y'");
  expect_invalid([](json& j) { j["profiles"]["tiny"]["specs"][0]["trials"] = 0; },
                 "trials must be a positive integer");
  expect_invalid(
      [](json& j) {
        j["profiles"]["tiny"]["specs"][1] = {{"spec", "grid.ini"}};
      },
      "two specs are named 'grid'");
  expect_invalid([](json& j) { j["profiles"]["tiny"]["measurements"][0]["id"] = "nope"; },
                 "unknown measurement 'nope'");
  expect_invalid(
      [](json& j) { j["profiles"]["tiny"]["measurements"][0]["params"]["colour"] = "red"; },
      "colour");
  expect_invalid([](json& j) { j["profiles"]["tiny"]["measurements"][0]["name"] = "../x"; },
                 "plain directory name");
  expect_invalid([](json& j) { j["claims"][0]["value"] = nullptr; }, "claim 'wins'");
  // --list reads the same file.
  const auto profiles = wrsec::studies::list_profiles(options("x"));
  ASSERT_EQ(profiles.size(), 2u);
  EXPECT_TRUE(profiles[1].is_default);
  EXPECT_EQ(profiles[1].specs, 2u);
  EXPECT_DOUBLE_EQ(profiles[1].estimate_seconds, 3.0);
}

// ---------------------------------------------------------------------------------------------
// A real SIGKILL of `wrsec reproduce`, twice, then a restart: byte-identical results.

class ReproduceKill : public Reproduce {
 protected:
  // 3 cells x 100000 trials in batches of 1000: a few seconds of work in a Release build.
  std::uint64_t grid_trials() const override { return 100000; }
};

pid_t spawn_wrsec(const std::vector<std::string>& args) {
  const pid_t pid = wrsec::test_support::spawn_quiet(WRSEC_BINARY, args);
  EXPECT_GT(pid, 0) << "cannot spawn " << WRSEC_BINARY;
  return pid;
}

using wrsec::test_support::wait_for;

TEST_F(ReproduceKill, TwoKillsThenARestartGiveIdenticalResults) {
  const auto args = [&](const fs::path& out) {
    return std::vector<std::string>{"reproduce",   "--root", dir_.string(), "--claims",
                                    "claims.json", "--out",  out.string(),  "--no-paper",
                                    "--threads",   "1",      "-q"};
  };
  const fs::path ref = dir_ / "reference";
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(wait_for(spawn_wrsec(args(ref))), 0);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "[          ] uninterrupted reproduction: " << seconds << " s\n";
  const auto expected = identical_outputs(ref);

  int mid_run = 0;
  for (int r = 0; r < 2; ++r) {
    const fs::path out = dir_ / ("killed" + std::to_string(r));
    // Two kills at random points of the run, each followed by a restart that is killed again or
    // (the last) runs to the end.
    for (int k = 0; k < 2; ++k) {
      wrsec::Rng rng(777, wrsec::stable_hash("reproduce_test/kill"),
                     static_cast<std::uint64_t>(2 * r + k));
      const auto delay = std::chrono::milliseconds(
          20 + static_cast<int>(rng.below(static_cast<std::uint64_t>(seconds * 400) + 1)));
      const pid_t pid = spawn_wrsec(args(out));
      ASSERT_GT(pid, 0);
      std::this_thread::sleep_for(delay);
      ::kill(pid, SIGKILL);
      const int status = wait_for(pid);
      const bool killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
      if (killed && !fs::exists(out / "claims.jsonl")) ++mid_run;
      std::cout << "[          ] run " << r << ", kill " << k << " after " << delay.count()
                << " ms: " << (killed ? "killed" : "had finished") << "\n";
    }
    ASSERT_EQ(wait_for(spawn_wrsec(args(out))), 0);
    EXPECT_EQ(identical_outputs(out), expected);
    for (const auto& e : fs::recursive_directory_iterator(out))
      EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
  }
  EXPECT_GE(mid_run, 2);  // the kills landed inside the runs: the test is not vacuous
}

}  // namespace
