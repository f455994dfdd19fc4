// End-to-end tests of the `wrsec` executable: output, exit codes, and no file left on error.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/spawn.h"

namespace {

namespace fs = std::filesystem;

struct Result {
  int exit_code;
  std::string out;  // stdout and stderr together
};

// Runs a shell command line; its stdout and stderr together.
Result run_command(const std::string& command) {
  const std::string cmd = command + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  EXPECT_NE(pipe, nullptr);
  std::string out;
  std::array<char, 4096> buf{};
  while (fgets(buf.data(), buf.size(), pipe) != nullptr) out += buf.data();
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// `prefix` goes before the binary (e.g. "timeout 20").
Result run(const std::string& args, const std::string& prefix = "") {
  return run_command(prefix + " " + std::string(WRSEC_BINARY) + " " + args);
}

// Runs `wrsec args` in directory cwd: exit code, stdout alone, stderr alone (kept in a file beside
// cwd meanwhile).
struct Split {
  int exit_code;
  std::string out, err;
};

Split run_split(const fs::path& cwd, const std::string& args) {
  const std::string err = cwd.string() + ".stderr";
  const std::string cmd =
      "cd '" + cwd.string() + "' && " + std::string(WRSEC_BINARY) + " " + args + " 2>'" + err + "'";
  FILE* pipe = popen(cmd.c_str(), "r");
  EXPECT_NE(pipe, nullptr);
  std::string out;
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  const int status = pclose(pipe);
  std::ifstream in(err);
  std::ostringstream text;
  text << in.rdbuf();
  fs::remove(err);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out, text.str()};
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("wrsec_cli_" + std::to_string(::getpid()) + "_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  [[nodiscard]] bool dir_is_empty() const { return fs::is_empty(dir_); }
  fs::path dir_;
};

TEST_F(Cli, RunPrintsEstimateBoundConventionAndWritesJson) {
  const auto out = dir_ / "r.jsonl";
  const auto r =
      run("run --game bernoulli_ind --attack likelihood_ratio --trials 4000 --seed 7 "
          "--threads 2 --param game.samples=8 --out " +
          out.string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("estimate"), std::string::npos);
  EXPECT_NE(r.out.find("lower bound"), std::string::npos);
  EXPECT_NE(r.out.find("Adv = |2*Pr[win] - 1|"), std::string::npos);
  std::ifstream in(out);
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["counts"]["n"], 4000);
  EXPECT_EQ(j["seed"], 7);
  EXPECT_EQ(j["game"]["params"]["samples"], "8");
  EXPECT_EQ(j["provenance"]["threads"], 2);
  EXPECT_TRUE(j["provenance"].contains("git_describe"));
  EXPECT_TRUE(j["provenance"].contains("compiler"));
  EXPECT_TRUE(j["provenance"].contains("build_type"));
  EXPECT_LE(j["advantage"]["lower"].get<double>(), j["advantage"]["estimate"].get<double>());
  EXPECT_FALSE(std::getline(in, line));
  // Only the result file, no temporary.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

// Regression (issue 16): Boost.Program_options 1.74 formats an option error by replacing each
// %placeholder% until none is left, so an argument holding its own placeholder hung wrsec (with
// the text of another one, the message was mangled). `timeout` exits 124 on a hang.
TEST_F(Cli, OptionErrorsAboutArgumentsHoldingBoostPlaceholdersEnd) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"run --%canonical_option%", "unrecognised option '--%canonical_option%'"},
      {"run --x%option%", "unrecognised option '--x%option%'"},
      {"run --game bernoulli_ind --attack coin_flip --alpha=%value%",
       "the argument ('%value%') for option '--alpha' is invalid"},
      {"run --game bernoulli_ind --attack coin_flip --alpha=x",
       "the argument ('x') for option '--alpha' is invalid"}};  // Boost's own message
  for (const auto& [args, message] : cases) {
    const auto r = run(args, "timeout 20");
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.out.substr(0, 500);
    EXPECT_NE(r.out.find("wrsec: error: " + message + "\n"), std::string::npos)
        << args << "\n"
        << r.out.substr(0, 500);
  }
}

TEST_F(Cli, SameSeedSameCountsAcrossThreadCounts) {
  auto counts = [&](int threads) {
    const auto out = dir_ / ("t" + std::to_string(threads) + ".jsonl");
    const auto r =
        run("run --game bernoulli_ind --attack likelihood_ratio --trials 3000 --seed 11 "
            "--threads " +
            std::to_string(threads) + " --out " + out.string());
    EXPECT_EQ(r.exit_code, 0) << r.out;
    std::ifstream in(out);
    std::string line;
    std::getline(in, line);
    return nlohmann::json::parse(line)["counts"];
  };
  EXPECT_EQ(counts(1), counts(2));
}

TEST_F(Cli, ConfigFileGivesParametersAndCommandLineWins) {
  const auto cfg = dir_ / "cell.ini";
  std::ofstream(cfg) << "game = bernoulli_ind\nattack = coin_flip\ntrials = 100\nseed = 3\n"
                        "[game]\np0 = 0.2\np1 = 0.8\n";
  const auto out = dir_ / "c.jsonl";
  const auto r =
      run("run --config " + cfg.string() + " --attack likelihood_ratio --out " + out.string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  std::ifstream in(out);
  std::string line;
  std::getline(in, line);
  const auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["attack"]["id"], "likelihood_ratio");
  EXPECT_EQ(j["game"]["params"]["p0"], "0.2");
  EXPECT_EQ(j["counts"]["n"], 100);
}

// Bad input: exactly one line on stderr, exit code 2, nothing written.
void expect_bad_input(const Result& r, const std::string& fragment) {
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  EXPECT_NE(r.out.find(fragment), std::string::npos) << r.out;
}

TEST_F(Cli, ConfigFileIsValidatedLikeASpec) {
  const auto cfg = dir_ / "cell.ini";
  std::ofstream(cfg) << "game = bernoulli_ind\nattack = coin_flip\nbogus = 1\n";
  expect_bad_input(run("run --config " + cfg.string()), "'bogus'");
  std::ofstream(cfg) << "game = bernoulli_ind\nattack = coin_flip\ntrials = 0\n";
  expect_bad_input(run("run --config " + cfg.string()), "'trials'");
}

TEST_F(Cli, BadInputGivesOneLineExitTwoAndNoFile) {
  const std::string out = " --out " + (dir_ / "x.jsonl").string();
  expect_bad_input(run("run --game nope --attack coin_flip" + out), "unknown game 'nope'");
  expect_bad_input(run("run --game bernoulli_ind --attack nope" + out), "unknown attack 'nope'");
  expect_bad_input(run("run --game bernoulli_ind --attack coin_flip --scheme nope" + out),
                   "unknown scheme 'nope'");
  expect_bad_input(run("run --game bernoulli_ind --attack coin_flip --trials -5" + out),
                   "--trials");
  expect_bad_input(run("run --game bernoulli_ind --attack coin_flip --trials 0" + out), "--trials");
  expect_bad_input(
      run("run --game bernoulli_ind --attack coin_flip --config /nonexistent.ini" + out),
      "cannot read config file");
  expect_bad_input(run("run --game bernoulli_ind --attack coin_flip --param game.p9=1" + out),
                   "unknown parameter 'p9'");
  expect_bad_input(run("run --game bernoulli_ind --attack coin_flip --param game.p0=2" + out),
                   "p0 must lie in [0, 1]");
  expect_bad_input(run("run --game bernoulli_ind --attack coin_flip --alpha 1.5" + out), "alpha");
  expect_bad_input(run("run --game bernoulli_ind --attack coin_flip --bogus" + out), "bogus");
  expect_bad_input(run("frobnicate"), "unknown command");
  EXPECT_TRUE(dir_is_empty());
}

TEST_F(Cli, UnwritableOutputFailsWithoutRunning) {
  const auto r = run("run --game bernoulli_ind --attack coin_flip --out " +
                     (dir_ / "missing" / "x.jsonl").string());
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("cannot write"), std::string::npos);
  EXPECT_TRUE(dir_is_empty());
}

// Whether dir holds an entry whose name starts with prefix.
bool has_entry_starting(const fs::path& dir, const std::string& prefix) {
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().rfind(prefix, 0) == 0) return true;
  return false;
}

// A single-cell run interrupted while its output is open (it is opened before the first trial, and
// 10^12 trials do not end): the process dies of the signal and leaves no temporary.
TEST_F(Cli, InterruptedRunLeavesNoTemporary) {
  for (const int sig : {SIGINT, SIGTERM}) {
    SCOPED_TRACE(sig == SIGINT ? "SIGINT" : "SIGTERM");
    const auto out = dir_ / "r.jsonl";
    const pid_t pid = wrsec::test_support::spawn_quiet(
        WRSEC_BINARY, {"run", "--game", "bernoulli_ind", "--attack", "likelihood_ratio", "--trials",
                       "1000000000000", "--seed", "1", "--threads", "1", "--out", out.string()});
    ASSERT_GT(pid, 0);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (!has_entry_starting(dir_, ".r.jsonl.tmp-") &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_TRUE(has_entry_starting(dir_, ".r.jsonl.tmp-")) << "no temporary appeared";
    ::kill(pid, sig);
    const int status = wrsec::test_support::wait_for(pid);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == sig) << "status " << status;
    EXPECT_TRUE(dir_is_empty()) << fs::directory_iterator(dir_)->path();
  }
}

// --out -: the JSON line on standard output, the table on standard error, no file named "-".
TEST_F(Cli, DashWritesStandardOutput) {
  const auto r = run_split(
      dir_, "run --game bernoulli_ind --attack likelihood_ratio --trials 500 --seed 4 --out -");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  EXPECT_EQ(nlohmann::json::parse(r.out)["counts"]["n"], 500);
  EXPECT_NE(r.err.find("estimate"), std::string::npos) << r.err;
  EXPECT_TRUE(dir_is_empty());
}

// Outputs never replace what is not a regular file: a symbolic link is followed (and stays), a
// FIFO is written through, a directory is refused; a command writing a directory refuses "-".
TEST_F(Cli, OutputsNeverReplaceSpecialFiles) {
  const std::string cell = "run --game bernoulli_ind --attack coin_flip --trials 50 --seed 1";
  std::ofstream(dir_ / "real.jsonl") << "old\n";
  fs::create_symlink("real.jsonl", dir_ / "link.jsonl");
  auto r = run(cell + " --out " + (dir_ / "link.jsonl").string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(fs::is_symlink(dir_ / "link.jsonl"));
  std::ifstream real(dir_ / "real.jsonl");
  std::string line;
  ASSERT_TRUE(std::getline(real, line));
  EXPECT_EQ(nlohmann::json::parse(line)["counts"]["n"], 50);

  const auto fifo = dir_ / "pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(reader, 0);
  r = run(cell + " --out " + fifo.string());
  EXPECT_EQ(r.exit_code, 0) << r.out;
  std::string piped(1 << 16, '\0');
  const ::ssize_t got = ::read(reader, piped.data(), piped.size());
  ::close(reader);
  ASSERT_GT(got, 0);
  piped.resize(static_cast<std::size_t>(got));
  EXPECT_EQ(nlohmann::json::parse(piped)["counts"]["n"], 50);
  EXPECT_TRUE(fs::is_fifo(fifo));

  fs::create_directories(dir_ / "sub");
  expect_bad_input(run(cell + " --out " + (dir_ / "sub").string()), "is a directory");
  EXPECT_TRUE(fs::is_empty(dir_ / "sub"));

  const auto spec = dir_ / "s.ini";
  std::ofstream(spec) << "game = bernoulli_ind\nattack = coin_flip\ntrials = 10\nseed = 1\n";
  for (const std::string& args : std::vector<std::string>{
           "run " + spec.string() + " --out -", "merge a b --out -",
           // Arguments that fail fast after the --out check, should it pass.
           "reproduce --profile nope --out - --root " + std::string(WRSEC_SOURCE_DIR),
           "evaluate --scheme nope --out -",
           "train --model mlp_784_16_10_relu --cache - --data " + (dir_ / "none").string()}) {
    const auto d = run_split(dir_, args);
    EXPECT_EQ(d.exit_code, 2) << args << ": " << d.err;
    EXPECT_NE(d.err.find("'-' (standard output) is none"), std::string::npos) << d.err;
  }
  EXPECT_FALSE(fs::exists(dir_ / "-"));
}

// An output that is the same file as an input is refused before anything is written.
TEST_F(Cli, OutputEqualToAnInputIsRefused) {
  const auto cfg = dir_ / "cell.ini";
  const std::string config = "game = bernoulli_ind\nattack = coin_flip\ntrials = 10\nseed = 1\n";
  std::ofstream(cfg) << config;
  expect_bad_input(run("run --config " + cfg.string() + " --out " + cfg.string()),
                   "--out and --config name the same file");
  const auto model = dir_ / "protected.safetensors";
  std::ofstream(model) << "not really a release";
  fs::create_symlink(model, dir_ / "link.safetensors");
  for (const auto& out : {model, dir_ / "link.safetensors", dir_ / "." / "protected.safetensors"})
    expect_bad_input(run("attack --in " + model.string() + " --out " + out.string()),
                     "--out and --in name the same file");
  std::ifstream in(cfg);
  std::ostringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), config);
  EXPECT_EQ(fs::file_size(model), std::string("not really a release").size());
}

// Why an input cannot be read is said as it is: missing, a directory, not a regular file. A
// malformed release names the file, not an internal function.
TEST_F(Cli, UnreadableInputsSayWhy) {
  const std::string out = " --out " + (dir_ / "out.safetensors").string();
  const auto fifo = dir_ / "pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  fs::create_directories(dir_ / "sub");
  expect_bad_input(run("attack --in " + (dir_ / "missing").string() + out), "': no such file");
  expect_bad_input(run("attack --in " + (dir_ / "sub").string() + out), "': it is a directory");
  expect_bad_input(run("attack --in " + fifo.string() + out), "': it is not a regular file");
  expect_bad_input(run("attack --in /dev/null" + out), "'/dev/null': it is not a regular file");
  expect_bad_input(run("run " + (dir_ / "sub").string() + " --out " + (dir_ / "r").string()),
                   "cannot read '" + (dir_ / "sub").string() + "': it is a directory");
  expect_bad_input(run("run --config " + (dir_ / "sub").string()),
                   "cannot read config file '" + (dir_ / "sub").string() + "': it is a directory");
  // A valid safetensors file without an official layer.
  const std::string header = R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  std::string bytes(8, '\0');
  bytes[0] = static_cast<char>(header.size());
  bytes += header + std::string(4, '\0');
  const auto model = dir_ / "plain.safetensors";
  std::ofstream(model, std::ios::binary) << bytes;
  const auto r = run("attack --in " + model.string() + out);
  expect_bad_input(r, "'" + model.string() + "': missing tensor 'fuse_weight'");
  EXPECT_EQ(r.out.find("recover_official_file"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir_ / "out.safetensors"));
}

// Numbers that do not fit are "out of range", not "not a number"; the largest seed is accepted.
TEST_F(Cli, NumbersTooLargeAreOutOfRange) {
  const std::string cell = "run --game bernoulli_ind --attack coin_flip --trials 10";
  const std::string huge = "99999999999999999999";
  expect_bad_input(run(cell + " --seed " + huge), "--seed is out of range (at most " +
                                                      std::string("18446744073709551615), got '") +
                                                      huge + "'");
  expect_bad_input(run(cell + " --seed 1 --threads " + huge), "--threads is out of range");
  expect_bad_input(run(cell + " --seed -5"), "--seed must be a non-negative integer, got '-5'");
  expect_bad_input(run(cell + " --seed 1 --param game.samples=" + huge),
                   "parameter 'samples' is out of range");
  expect_bad_input(run(cell + " --seed 1 --param game.p0=1e999"),
                   "parameter 'p0' is out of the range of a double");
  const auto spec = dir_ / "s.ini";
  std::ofstream(spec) << "game = bernoulli_ind\nattack = coin_flip\ntrials = 10\nseed = " << huge
                      << "\n";
  expect_bad_input(run("run " + spec.string() + " --out " + (dir_ / "r").string()),
                   "key 'seed' is out of range");
  const auto ok = run(cell + " --seed 18446744073709551615");
  EXPECT_EQ(ok.exit_code, 0) << ok.out;
}

// A path the user may not read or write is bad input (exit 2) whichever command meets it. Root
// reads everything, so as root the commands run as user nobody (setpriv).
TEST_F(Cli, PermissionErrorsAreBadInput) {
  std::string as_user;
  if (::geteuid() == 0) {
    if (!fs::exists("/usr/bin/setpriv")) GTEST_SKIP() << "root without setpriv";
    as_user = "/usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups ";
  }
  const auto locked = dir_ / "locked";
  fs::create_directories(locked);
  std::ofstream(locked / "protected.safetensors") << "x";
  std::ofstream(locked / "spec.ini") << "game = bernoulli_ind\nattack = coin_flip\ntrials = 10\n"
                                        "seed = 1\n";
  fs::permissions(locked / "protected.safetensors", fs::perms::none);
  fs::permissions(locked / "spec.ini", fs::perms::none);
  fs::permissions(locked, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                              fs::perms::others_read | fs::perms::others_exec);
  const auto as = [&](const std::string& args) {
    return run_command(as_user + WRSEC_BINARY + " " + args);
  };
  expect_bad_input(as("attack --in " + (locked / "protected.safetensors").string() + " --out " +
                      (dir_ / "x.safetensors").string()),
                   "Permission denied");
  expect_bad_input(as("run " + (locked / "spec.ini").string() + " --out " + (dir_ / "r").string()),
                   "Permission denied");
  expect_bad_input(as("run --game bernoulli_ind --attack coin_flip --trials 10 --seed 1 --out " +
                      (locked / "x.jsonl").string()),
                   "Permission denied");
  fs::permissions(locked, fs::perms::owner_all);
}

// Stop rules that could never or would always hold are refused, from the command line or a spec.
TEST_F(Cli, ImpossibleStopRulesAreRefused) {
  const auto spec = dir_ / "s.ini";
  std::ofstream(spec) << "game = bernoulli_ind\nattack = coin_flip\ntrials = 10\nseed = 1\n";
  expect_bad_input(
      run("run " + spec.string() + " --stop-when 'lower>2' --out " + (dir_ / "r").string()),
      "--stop-when: stop rule 'lower>2': X must lie in [-1, 1)");
  std::ofstream(spec) << "game = bernoulli_ind\nattack = coin_flip\ntrials = 10\nseed = 1\n"
                         "stop_when = upper<-1\n";
  expect_bad_input(run("run " + spec.string() + " --out " + (dir_ / "r").string()),
                   "stop rule 'upper<-1': Y must lie in (-1, 1]");
  EXPECT_FALSE(fs::exists(dir_ / "r"));
}

// A parameter given twice is an error naming it, not a silent choice of one value.
TEST_F(Cli, RepeatedParamIsRefused) {
  expect_bad_input(run("run --game bernoulli_ind --attack coin_flip --trials 10 --seed 1 "
                       "--param game.p0=0.1 --param game.p1=0.6 --param game.p0=0.2"),
                   "--param game.p0 is given twice ('game.p0=0.1', 'game.p0=0.2')");
  expect_bad_input(run("evaluate --scheme qim --param bits=4 --param scheme.bits=5 --plan"),
                   "--param bits is given twice ('bits=4', 'scheme.bits=5')");
}

// --version: the version, the git describe the build carries in its results, the ISA level.
TEST_F(Cli, VersionNamesTheBuild) {
  const auto v = run("--version");
  ASSERT_EQ(v.exit_code, 0) << v.out;
  EXPECT_EQ(std::count(v.out.begin(), v.out.end(), '\n'), 1) << v.out;
  EXPECT_EQ(v.out.rfind("wrsec 0.", 0), 0u) << v.out;
  EXPECT_NE(v.out.find(") isa x86-64-v3\n"), std::string::npos) << v.out;
  const auto r =
      run_split(dir_, "run --game bernoulli_ind --attack coin_flip --trials 10 --seed 1 --out -");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto describe = nlohmann::json::parse(r.out)["provenance"]["git_describe"];
  EXPECT_NE(v.out.find("(git " + describe.get<std::string>() + ")"), std::string::npos) << v.out;
}

// A failure of the file system library is one line without its "filesystem error:" prefix.
TEST_F(Cli, FileSystemErrorsAreOneLine) {
  const auto spec = dir_ / "s.ini";
  std::ofstream(spec) << "game = bernoulli_ind\nattack = coin_flip\ntrials = 10\nseed = 1\n";
  std::ofstream(dir_ / "file") << "x";
  const auto r = run("run " + spec.string() + " --out " + (dir_ / "file" / "run").string());
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  EXPECT_EQ(r.out.rfind("wrsec: error: ", 0), 0u) << r.out;
  EXPECT_EQ(r.out.find("filesystem error"), std::string::npos) << r.out;
}

TEST_F(Cli, HelpAndListWork) {
  EXPECT_EQ(run("--help").exit_code, 0);
  const auto run_help = run("run --help");
  EXPECT_EQ(run_help.exit_code, 0);
  EXPECT_NE(run_help.out.find("--trials"), std::string::npos);
  const auto list = run("list");
  EXPECT_EQ(list.exit_code, 0);
  EXPECT_NE(list.out.find("bernoulli_ind"), std::string::npos);
  EXPECT_NE(list.out.find("likelihood_ratio"), std::string::npos);
  EXPECT_NE(list.out.find("measurements:\n"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("watermark.null_calibration"), std::string::npos) << list.out;
}

TEST_F(Cli, UsageListsEveryCommandAndRunHelpShowsBothForms) {
  const auto usage = run("--help");
  ASSERT_EQ(usage.exit_code, 0);
  for (const char* command :
       {"list", "run", "merge", "reproduce", "train", "attack", "mark", "verify"})
    EXPECT_NE(usage.out.find("\n  " + std::string(command) + " "), std::string::npos) << command;
  const auto help = run("run --help");
  ASSERT_EQ(help.exit_code, 0);
  for (const char* option :
       {"--game", "--param", "--config", "--resume", "--shard", "--stop-when", "--trials", "--out"})
    EXPECT_NE(help.out.find(option), std::string::npos) << option;
}

// The two forms of `wrsec run` (one cell, a spec) take one set of options; mixing them is one
// error line, exit 2, and nothing is written.
TEST_F(Cli, RunFormsDoNotMix) {
  const auto spec = dir_ / "s.ini";
  std::ofstream(spec) << "game = bernoulli_ind\nattack = coin_flip\ntrials = 10\nseed = 1\n";
  const std::string out = " --out " + (dir_ / "o").string();
  expect_bad_input(run("run " + spec.string() + " --game bernoulli_ind" + out), "cannot combine");
  expect_bad_input(run("run --resume " + (dir_ / "o").string() + " --param game.p0=0.1"),
                   "--param");
  expect_bad_input(run("run --config " + spec.string() + " --shard 0/2" + out), "--shard");
  expect_bad_input(run("run --game bernoulli_ind --attack coin_flip -q" + out), "-q");
  expect_bad_input(run("run --shard 0/2" + out), "a spec file is required");
  // A library parser's message is reported under the option that gave the value.
  expect_bad_input(run("run " + spec.string() + " --stop-when sometimes" + out), "--stop-when");
  EXPECT_FALSE(fs::exists(dir_ / "o"));
}

}  // namespace

namespace {

TEST_F(Cli, MarkThenVerifyAndBadRecords) {
  const auto r0 = run("train --model mlp_784_16_10_relu --seed 0 --cache " + dir_.string());
  ASSERT_EQ(r0.exit_code, 0) << r0.out;
  const auto model = dir_ / "mlp_784_16_10_relu-seed0.safetensors";
  const auto marked = dir_ / "marked.safetensors";
  const auto record = dir_ / "owner.json";
  const auto r1 =
      run("mark --scheme lsb_parity --param rsa_bits=512 --param layers=0 --in " + model.string() +
          " --out " + marked.string() + " --record " + record.string());
  ASSERT_EQ(r1.exit_code, 0) << r1.out;
  EXPECT_NE(r1.out.find("verified  yes"), std::string::npos) << r1.out;
  EXPECT_NE(r1.out.find("owner.key (new, from the OS CSPRNG"), std::string::npos) << r1.out;
  std::ifstream in(record);
  const auto doc = nlohmann::json::parse(in);
  EXPECT_EQ(doc["schema"], "wrsec.owner_record.v2");
  EXPECT_EQ(doc["scheme"], "lsb_parity");
  EXPECT_TRUE(fs::exists(dir_ / "owner.key"));

  // A second default mark signs with another key: different public keys.
  const auto r1b = run("mark --scheme lsb_parity --param rsa_bits=512 --param layers=0 --in " +
                       model.string() + " --out " + (dir_ / "m2.safetensors").string() +
                       " --record " + (dir_ / "m2.json").string());
  ASSERT_EQ(r1b.exit_code, 0) << r1b.out;
  std::ifstream in2(dir_ / "m2.json");
  const auto doc2 = nlohmann::json::parse(in2);
  EXPECT_NE(doc["claim"]["public_key"]["n"], doc2["claim"]["public_key"]["n"]);

  // The marked model verifies (exit 0); the unmarked original does not (exit 1); the verifier's
  // --target-fpr decides (32 of 32 bits, p = 2^-32, is not enough at 1e-12).
  const auto verify = [&](const std::string& rest) {
    return run("verify --record " + record.string() + " " + rest);
  };
  const auto r2 = verify("--model " + marked.string());
  EXPECT_EQ(r2.exit_code, 0) << r2.out;
  EXPECT_NE(r2.out.find("matches   32 / 32"), std::string::npos) << r2.out;
  const auto r3 = verify("--model " + model.string());
  EXPECT_EQ(r3.exit_code, 1) << r3.out;
  EXPECT_NE(r3.out.find("verified  no"), std::string::npos) << r3.out;
  const auto r3b = verify("--model " + marked.string() + " --target-fpr 1e-12");
  EXPECT_EQ(r3b.exit_code, 1) << r3b.out;
  expect_bad_input(verify("--model " + marked.string() + " --target-fpr 2"), "--target-fpr");
  expect_bad_input(verify("--model " + marked.string() + " --target-fpr x"), "--target-fpr");

  // An edited record (here: a looser rule) is refused, exit 2.
  auto loose = doc;
  loose["scheme_params"]["target_fpr"] = "0.999";
  std::ofstream(dir_ / "loose.json") << loose.dump();
  expect_bad_input(
      run("verify --record " + (dir_ / "loose.json").string() + " --model " + model.string()),
      "record_signature does not verify");

  // A record that is not one, the old option name, a scheme without verify, a seed-derived key,
  // overlapping files: one error line, exit 2, no files.
  const auto bogus = dir_ / "bogus.json";
  std::ofstream(bogus) << "{\"schema\": \"something else\"}";
  expect_bad_input(run("verify --record " + bogus.string() + " --model " + marked.string()),
                   "is not wrsec.owner_record.v2");
  expect_bad_input(run("verify --secret " + record.string() + " --model " + marked.string()),
                   "--secret is now --record");
  const std::string x = " --out " + (dir_ / "x.safetensors").string() + " --record " +
                        (dir_ / "x.json").string() + " --in " + model.string();
  expect_bad_input(run("mark --scheme plaintext" + x), "not an ownership scheme");
  expect_bad_input(run("mark --scheme qim --param owner_seed=0" + x), "owner_seed");
  expect_bad_input(run("mark --scheme qim --param layers=0 --param layers=1" + x), "twice");
  expect_bad_input(run("mark --scheme lsb_parity --in " + model.string() + " --out " +
                       (dir_ / "x.json").string() + " --record " + (dir_ / "x.json").string()),
                   "name the same file");
  EXPECT_FALSE(fs::exists(dir_ / "x.safetensors"));
  EXPECT_FALSE(fs::exists(dir_ / "x.json"));
  EXPECT_FALSE(fs::exists(dir_ / "x.key"));

  // keygen: a new 0600 file, never replaced; mark --key signs with it.
  const auto key = dir_ / "k.key";
  const auto k1 = run("keygen --bits 512 --out " + key.string());
  ASSERT_EQ(k1.exit_code, 0) << k1.out;
  EXPECT_EQ(fs::status(key).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  expect_bad_input(run("keygen --out " + key.string()), "never overwritten");
  const auto r6 = run("mark --scheme lsb_parity --param layers=0 --key " + key.string() + x);
  EXPECT_EQ(r6.exit_code, 0) << r6.out;
  EXPECT_FALSE(fs::exists(dir_ / "x.key"));
}

// Spec runs: a bad spec is one line on stderr, exit 2, and no run directory; a good one writes
// the run directory and resumes idempotently; merge and reproduce reject bad input the same way.
// wrsec registry: add two owners' claims, show and check the log (exit 0); an edited entry, a
// swapped pair and a dropped entry make check say INVALID (exit 1); bad input is exit 2.
TEST_F(Cli, RegistryAddShowCheckAndTampering) {
  const auto r0 = run("train --model mlp_784_16_10_relu --seed 0 --cache " + dir_.string());
  ASSERT_EQ(r0.exit_code, 0) << r0.out;
  const auto model = dir_ / "mlp_784_16_10_relu-seed0.safetensors";
  const auto log = dir_ / "claims.jsonl";
  std::vector<std::string> heads;
  for (const std::string owner : {"a", "b"}) {
    const auto key = dir_ / (owner + ".key");
    const auto record = dir_ / (owner + ".json");
    ASSERT_EQ(run("keygen --bits 512 --out " + key.string()).exit_code, 0);
    const auto m = run("mark --scheme qim --param layers=0 --key " + key.string() + " --in " +
                       model.string() + " --out " + (dir_ / (owner + ".safetensors")).string() +
                       " --record " + record.string());
    ASSERT_EQ(m.exit_code, 0) << m.out;
    const auto add = run("registry add --log " + log.string() + " --record " + record.string() +
                         " --key " + key.string() + (owner == "b" ? " --threshold 24" : ""));
    ASSERT_EQ(add.exit_code, 0) << add.out;
    heads.push_back(add.out.substr(add.out.find("head ") + 5, 64));
  }
  // Another owner's key cannot add a's record.
  const auto foreign = run("registry add --log " + log.string() + " --record " +
                           (dir_ / "a.json").string() + " --key " + (dir_ / "b.key").string());
  EXPECT_EQ(foreign.exit_code, 2) << foreign.out;
  EXPECT_NE(foreign.out.find("not the record's owner key"), std::string::npos) << foreign.out;
  const auto show = run("registry show --log " + log.string());
  EXPECT_EQ(show.exit_code, 0) << show.out;
  EXPECT_NE(show.out.find("rule {\"threshold\":24"), std::string::npos) << show.out;
  const auto check = run("registry check --log " + log.string() + " --head " + heads[1]);
  EXPECT_EQ(check.exit_code, 0) << check.out;
  EXPECT_NE(check.out.find("2 entries, head " + heads[1]), std::string::npos) << check.out;

  std::ifstream in(log);
  std::string line0, line1;
  std::getline(in, line0);
  std::getline(in, line1);
  const auto check_text = [&](const std::string& text, const std::string& extra = "") {
    const auto bad = dir_ / "bad.jsonl";
    std::ofstream(bad) << text;
    return run("registry check --log " + bad.string() + extra);
  };
  std::string edited = line0;
  edited.replace(edited.find("\"scheme\":\"qim\""), 14, "\"scheme\":\"uch\"");
  for (const auto& [text, extra] :
       std::vector<std::pair<std::string, std::string>>{{edited + "\n" + line1 + "\n", ""},
                                                        {line1 + "\n" + line0 + "\n", ""},
                                                        {line1 + "\n", ""},
                                                        {line0 + "\n", " --head " + heads[1]}}) {
    const auto r = check_text(text, extra);
    EXPECT_EQ(r.exit_code, 1) << text << r.out;
    EXPECT_NE(r.out.find("INVALID"), std::string::npos) << r.out;
  }
  EXPECT_EQ(check_text("{not json\n").exit_code, 2);
  EXPECT_EQ(run("registry frob --log " + log.string()).exit_code, 2);
  EXPECT_EQ(run("registry check --log " + log.string() + " --key x").exit_code, 2);
}

TEST_F(Cli, VerifyWritesASignedEvidenceReportThatChecks) {
  const auto r0 = run("train --model mlp_784_16_10_relu --seed 0 --cache " + dir_.string());
  ASSERT_EQ(r0.exit_code, 0) << r0.out;
  const auto r1 = run("train --model mlp_784_16_10_relu --seed 1 --cache " + dir_.string());
  ASSERT_EQ(r1.exit_code, 0) << r1.out;
  const std::string model = (dir_ / "mlp_784_16_10_relu-seed0.safetensors").string();
  const std::string control = (dir_ / "mlp_784_16_10_relu-seed1.safetensors").string();
  const std::string key = (dir_ / "owner.key").string(), examiner = (dir_ / "ex.key").string();
  const std::string record = (dir_ / "owner.json").string(), log = (dir_ / "claims.log").string();
  const std::string marked = (dir_ / "marked.safetensors").string();
  ASSERT_EQ(run("keygen --bits 512 --out " + key).exit_code, 0);
  const auto kg = run("keygen --bits 512 --out " + examiner);
  ASSERT_EQ(kg.exit_code, 0);
  const std::string fingerprint = kg.out.substr(kg.out.find("public    ") + 10, 64);
  ASSERT_EQ(run("mark --scheme qim --param layers=0 --key " + key + " --in " + model + " --out " +
                marked + " --record " + record)
                .exit_code,
            0);
  ASSERT_EQ(run("registry add --log " + log + " --record " + record + " --key " + key).exit_code,
            0);
  const std::string dir = (dir_ / "case").string();
  const auto v = run("verify --record " + record + " --model " + marked + " --reference " + model +
                     " --evidence " + dir + " --signing-key " + examiner + " --control " + control +
                     " --registry " + log + " --null-keys 100");
  EXPECT_EQ(v.exit_code, 0) << v.out;
  EXPECT_NE(v.out.find("14 of 14 items complete"), std::string::npos) << v.out;
  const auto c = run("evidence check " + dir + " --signer " + fingerprint + " --model " + marked +
                     " --reference " + model);
  EXPECT_EQ(c.exit_code, 0) << c.out;
  EXPECT_NE(c.out.find("re-run    the verification agrees"), std::string::npos) << c.out;
  // Another examiner expected, an edited report, and bad input.
  const auto other = run("evidence check " + dir + " --signer " + std::string(64, 'a'));
  EXPECT_EQ(other.exit_code, 1) << other.out;
  {
    std::ifstream in(dir_ / "case" / "evidence.json");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    text.replace(text.find("\"accepted\": true"), 16, "\"accepted\": false");
    std::ofstream(dir_ / "case" / "evidence.json") << text;
  }
  EXPECT_EQ(run("evidence check " + dir + " --any-signer").exit_code, 1);
  EXPECT_EQ(run("evidence check " + dir).exit_code, 2);  // neither --signer nor --any-signer
  // The directory exists now: never written over.
  EXPECT_EQ(run("verify --record " + record + " --model " + marked + " --evidence " + dir +
                " --signing-key " + examiner)
                .exit_code,
            2);
  EXPECT_EQ(
      run("verify --record " + record + " --model " + marked + " --control " + control).exit_code,
      2);
  EXPECT_EQ(run("evidence frob " + dir).exit_code, 2);
  EXPECT_EQ(run("evidence check " + (dir_ / "nowhere").string() + " --any-signer").exit_code, 2);
}

TEST_F(Cli, SpecRunsMergeAndReproduceBadInput) {
  const auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return (dir_ / name).string();
  };
  const std::string good = write("good.ini",
                                 "game = bernoulli_ind\nattack = likelihood_ratio\ntrials = "
                                 "300\nseed = 2\n[sweep]\ngame.p1 = 0.6, 0.7\n");
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"game = bernoulli_ind\nattack = likelihood_ratio\ntrials = 300\nseed = 2\nbogus = 1\n",
       "'bogus'"},
      {"game = bernoulli_ind\nattack = likelihood_ratio\nseed = 2\n", "'trials'"},
      {"game = bernoulli_ind\nattack = likelihood_ratio\ntrials = 300\nseed = 2\n[sweep]\n"
       "game.p1 = 0.9:0.1:0.5\n",
       "'game.p1'"},
      {"game = bernoulli_ind\nattack = likelihood_ratio\ntrials = 300\nseed = 2\n[game]\n"
       "pp = 1\n",
       "'pp'"},
  };
  for (std::size_t i = 0; i < bad.size(); ++i) {
    const std::string spec = write("bad" + std::to_string(i) + ".ini", bad[i].first);
    const auto out = dir_ / ("run" + std::to_string(i));
    const auto r = run("run " + spec + " --out " + out.string());
    EXPECT_EQ(r.exit_code, 2) << r.out;
    EXPECT_NE(r.out.find(bad[i].second), std::string::npos) << r.out;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
    EXPECT_FALSE(fs::exists(out));
  }
  const auto out = dir_ / "ok";
  auto r = run("run " + good + " --out " + out.string() + " --threads 2 -q");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  for (const char* f : {"spec.ini", "manifest.json", "results.jsonl", "results.csv", "report.md",
                        "table.tex", "state/cell-00001.json"})
    EXPECT_TRUE(fs::exists(out / f)) << f;
  r = run("run " + good + " --out " + out.string());
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("use 'wrsec run --resume " + out.string() + "'"), std::string::npos)
      << r.out;
  r = run("run --resume " + out.string());
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("already complete"), std::string::npos);
  r = run("run --resume " + (dir_ / "nothing").string());
  EXPECT_EQ(r.exit_code, 2) << r.out;
  r = run("run --resume " + out.string() + " --trials 5");
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("--trials"), std::string::npos) << r.out;
  r = run("run " + good + " --shard 4/4 --out " + (dir_ / "s").string());
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("--shard"), std::string::npos);
  r = run("run " + good + " --shard 0/2 --stop-when 'lower>0.1' --out " + (dir_ / "s").string());
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("--shard cannot be combined with early stopping"), std::string::npos)
      << r.out;
  EXPECT_FALSE(fs::exists(dir_ / "s"));
  r = run("merge " + out.string() + " --out " + (dir_ / "m").string());
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_FALSE(fs::exists(dir_ / "m"));
  r = run("reproduce --profile nope --root " + std::string(WRSEC_SOURCE_DIR) + " --out " +
          (dir_ / "rep").string());
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("unknown profile 'nope'"), std::string::npos) << r.out;
  r = run("reproduce --claims " + good + " --out " + (dir_ / "rep").string());
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.out.find("not JSON"), std::string::npos) << r.out;
  for (const char* command : {"run --help", "merge --help", "reproduce --help"})
    EXPECT_EQ(run(command).exit_code, 0) << command;
}

}  // namespace
