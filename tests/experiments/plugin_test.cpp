// Tests of plug-ins (experiments/plugin.h, definitions/plugin.h): a good plug-in registers its
// components into the global catalog (once per file), and its scheme plays cells; the wrsec
// binary refuses, with exit code 2 and one stderr line, a plug-in built against another wrsec, a
// library without the entry point, a missing file and a plug-in that registers an existing id;
// WRSEC_PLUGIN_PATH loads a directory; and a cell whose plug-in scheme throws inside a trial is
// recorded as failed (exit 1) while the other cells complete, and is played again by --resume.
// The test plug-ins live in tests/plugins/ (paths from tests/CMakeLists.txt).
#include "experiments/plugin.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/errors.h"
#include "core/version.h"
#include "experiments/catalog.h"
#include "experiments/cell_run.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using wrsec::InvalidArgument;
using wrsec::experiments::Catalog;
using wrsec::experiments::load_plugin;
using wrsec::experiments::loaded_plugins;

const std::string kGood = WRSEC_TEST_PLUGIN_GOOD;
const std::string kAbiMismatch = WRSEC_TEST_PLUGIN_ABI_MISMATCH;
const std::string kNoEntry = WRSEC_TEST_PLUGIN_NO_ENTRY;
const std::string kDuplicateId = WRSEC_TEST_PLUGIN_DUPLICATE_ID;

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The host's ABI tag with its wrsec version replaced: the tag of a plug-in built against it.
std::string tag_with_version(const std::string& version) {
  std::string tag = wrsec::experiments::plugin_abi();
  const std::string host = std::string("wrsec ") + WRSEC_VERSION_STRING + ";";
  const auto at = tag.find(host);
  EXPECT_NE(at, std::string::npos) << tag;
  if (at != std::string::npos) tag.replace(at, host.size(), "wrsec " + version + ";");
  return tag;
}

struct CliResult {
  int exit_code = -1;
  std::string out, err;
};

class Plugins : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("wrsec_plugin_" + std::to_string(::getpid()) + "_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs `[env] wrsec args` with stdout and stderr captured apart.
  CliResult wrsec(const std::string& args, const std::string& env = "") const {
    const fs::path out = dir_ / "stdout.txt", err = dir_ / "stderr.txt";
    const std::string cmd = (env.empty() ? "" : "env " + env + " ") + WRSEC_BINARY + " " + args +
                            " >'" + out.string() + "' 2>'" + err.string() + "'";
    const int status = std::system(cmd.c_str());
    CliResult r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = read_file(out);
    r.err = read_file(err);
    fs::remove(out);
    fs::remove(err);
    return r;
  }

  // A refused plug-in: exit 2, nothing on stdout, exactly one stderr line "wrsec: error: ...".
  static void expect_one_line_error(const CliResult& r, const std::string& part) {
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(r.out, "");
    const auto err = lines(r.err);
    ASSERT_EQ(err.size(), 1U) << r.err;
    EXPECT_EQ(err[0].rfind("wrsec: error: ", 0), 0U) << err[0];
    EXPECT_TRUE(contains(err[0], part)) << err[0] << "\nexpected: " << part;
  }

  fs::path dir_;
};

// --- in process ---------------------------------------------------------------------------------

TEST_F(Plugins, GoodPluginRegistersItsComponentsOnce) {
  const auto& loaded = load_plugin(kGood);
  EXPECT_EQ(loaded.name, "test_good");
  EXPECT_EQ(loaded.path, fs::canonical(kGood));
  EXPECT_EQ(loaded.schemes, std::vector<std::string>{"test_faulty"});
  EXPECT_EQ(loaded.attacks, std::vector<std::string>{"test_faulty_copy"});
  EXPECT_TRUE(loaded.games.empty());
  EXPECT_EQ(loaded.sha256.size(), 64U);
  EXPECT_TRUE(Catalog::global().schemes.contains("test_faulty"));
  EXPECT_TRUE(Catalog::global().attacks.contains("test_faulty_copy"));

  const auto count = [](const std::vector<wrsec::experiments::LoadedPlugin>& plugins) {
    return std::count_if(plugins.begin(), plugins.end(),
                         [](const auto& p) { return p.path == fs::canonical(kGood); });
  };
  ASSERT_EQ(count(loaded_plugins()), 1);
  const std::size_t before = loaded_plugins().size();
  // The same file again (by another spelling of its path) is a no-op, not a duplicate id.
  const fs::path other_spelling = fs::path(kGood).parent_path() / "." / fs::path(kGood).filename();
  const auto& again = load_plugin(other_spelling);
  EXPECT_EQ(&again, &loaded);
  EXPECT_EQ(loaded_plugins().size(), before);
  EXPECT_EQ(count(loaded_plugins()), 1);
}

// What docs/plugins.md suggests for a plug-in's own C++ tests: load it, then play cells.
TEST_F(Plugins, PluginSchemePlaysCellsAndItsPlantedFaultPropagates) {
  (void)load_plugin(kGood);
  wrsec::experiments::CellSpec cell;
  cell.game = "param_extraction";
  cell.scheme = "test_faulty";
  cell.attack = "test_faulty_copy";
  cell.game_params.set("model", "random:mlp:8,4,2:silu");
  wrsec::experiments::CellRunOptions options;
  options.seed = 3;
  options.trials = {0, 8};
  options.threads = 2;
  const auto result = wrsec::experiments::run_cell(Catalog::global(), cell, options);
  EXPECT_EQ(result.counts.n, 8U);
  EXPECT_EQ(result.counts.wins, 8U);

  cell.scheme_params.set("fail", "1");
  try {
    (void)wrsec::experiments::run_cell(Catalog::global(), cell, options);
    FAIL() << "the planted fault did not reach the caller";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "planted fault in trial");
  }
}

// ind_via_extraction wraps an extractor a plug-in registered (it looks its extractor up in the
// registry it lives in), so IND of releases is scored for a plug-in that brings an extractor.
TEST_F(Plugins, BuiltInReleaseDistinguisherWrapsAPluginExtractor) {
  (void)load_plugin(kGood);
  wrsec::experiments::CellSpec cell;
  cell.game = "ind_release";
  cell.scheme = "test_faulty";
  cell.attack = "ind_via_extraction";
  cell.game_params.set("arch", "mlp:8,4,2:silu");
  cell.attack_params.set("extractor", "test_faulty_copy");
  wrsec::experiments::CellRunOptions options;
  options.seed = 3;
  options.trials = {0, 8};
  options.threads = 2;
  const auto result = wrsec::experiments::run_cell(Catalog::global(), cell, options);
  EXPECT_EQ(result.counts.n, 8U);
  EXPECT_EQ(result.counts.wins, 8U);
}

TEST_F(Plugins, LoadPluginRejectsAnotherAbiAndRegistersNothing) {
  try {
    (void)load_plugin(kAbiMismatch);
    FAIL() << "a plug-in built against wrsec 0.0.0 was accepted";
  } catch (const InvalidArgument& e) {
    const std::string what = e.what();
    EXPECT_TRUE(contains(what, "was built against another wrsec")) << what;
    EXPECT_TRUE(contains(what, tag_with_version("0.0.0"))) << what;
    EXPECT_TRUE(contains(what, wrsec::experiments::plugin_abi())) << what;
  }
  EXPECT_FALSE(Catalog::global().attacks.contains("test_abi_mismatch"));
  for (const auto& p : loaded_plugins()) EXPECT_NE(p.name, "test_abi_mismatch");
}

TEST_F(Plugins, LoadPluginRejectsADuplicateId) {
  try {
    (void)load_plugin(kDuplicateId);
    FAIL() << "a plug-in registering 'plaintext' was accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_TRUE(contains(e.what(), "failed to register its components")) << e.what();
    EXPECT_TRUE(contains(e.what(), "duplicate scheme id 'plaintext'")) << e.what();
  }
  // The built-in is untouched.
  EXPECT_EQ(Catalog::global().schemes.create("plaintext", {})->capabilities().to_string(),
            "infer,protected_release");
}

// --- the wrsec binary ---------------------------------------------------------------------------

TEST_F(Plugins, CliRefusesAPluginBuiltAgainstAnotherWrsec) {
  const auto r = wrsec("--plugin " + kAbiMismatch + " list");
  expect_one_line_error(r, "was built against another wrsec");
  // Both tags, in full.
  EXPECT_TRUE(contains(r.err, "its ABI tag is [" + tag_with_version("0.0.0") + "]")) << r.err;
  EXPECT_TRUE(
      contains(r.err, std::string("this wrsec's is [") + wrsec::experiments::plugin_abi() + "]"))
      << r.err;
}

TEST_F(Plugins, CliRefusesALibraryWithoutTheEntryPoint) {
  expect_one_line_error(wrsec("--plugin " + kNoEntry + " list"), "exports no wrsec_plugin_entry");
}

TEST_F(Plugins, CliRefusesAMissingFile) {
  const std::string missing = (dir_ / "no_such_plugin.so").string();
  expect_one_line_error(wrsec("list --plugin=" + missing), "'" + missing + "': no such file");
}

TEST_F(Plugins, CliRefusesAPluginRegisteringAnExistingId) {
  expect_one_line_error(wrsec("--plugin " + kDuplicateId + " list"),
                        "failed to register its components: duplicate scheme id 'plaintext'");
}

TEST_F(Plugins, PluginPathDirectoryIsLoaded) {
  const fs::path plugins = dir_ / "plugins";
  fs::create_directories(plugins);
  fs::copy_file(kGood, plugins / "good.so");
  std::ofstream(plugins / "notes.txt") << "not a plug-in: ignored\n";
  const auto r = wrsec(
      "list", std::string(wrsec::experiments::kPluginPathVariable) + "='" + plugins.string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_TRUE(contains(r.out, "  test_faulty ")) << r.out;
  EXPECT_TRUE(contains(r.out, "  test_faulty_copy ")) << r.out;
  EXPECT_TRUE(contains(r.out, "plug-ins:")) << r.out;
  EXPECT_TRUE(contains(r.out, (plugins / "good.so").string())) << r.out;
  // Without the variable, the ids are unknown.
  EXPECT_FALSE(contains(wrsec("list").out, "test_faulty"));
}

// Every file and directory below dir whose name marks it as unfinished.
std::vector<std::string> leftovers(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (contains(name, ".tmp-") || contains(name, ".partial-")) out.push_back(name);
  }
  return out;
}

TEST_F(Plugins, CellWhoseTrialThrowsIsRecordedAsFailedAndRetriedOnResume) {
  const fs::path spec = dir_ / "faulty.ini";
  std::ofstream(spec) << "name = faulty\n"
                         "game = param_extraction\n"
                         "scheme = test_faulty\n"
                         "attack = test_faulty_copy\n"
                         "trials = 40\n"
                         "seed = 5\n"
                         "[game]\n"
                         "model = random:mlp:8,4,2:silu\n"
                         "[scheme]\n"
                         "heal_file = "
                      << (dir_ / "healed").string()
                      << "\n"
                         "[sweep]\n"
                         "scheme.fail = 0, 1\n";
  const fs::path run = dir_ / "run";
  // Checks a run that ended with cell 1 failed; its recorded message goes to `message`.
  const auto check = [&](const CliResult& r, std::string& message) {
    EXPECT_EQ(r.exit_code, 1) << r.err;
    // One line per failed cell, then the summary with the resume hint.
    const auto err = lines(r.err);
    ASSERT_EQ(err.size(), 2U) << r.err;
    EXPECT_EQ(err[0].rfind("wrsec: error: cell 1 failed: ", 0), 0U) << err[0];
    EXPECT_TRUE(contains(err[0], "planted fault in trial")) << err[0];
    EXPECT_TRUE(contains(err[1], "1 cell(s) of " + run.string() + " failed")) << err[1];

    const auto results = lines(read_file(run / "results.jsonl"));
    ASSERT_EQ(results.size(), 2U);
    const json fine = json::parse(results[0]);
    const json failed = json::parse(results[1]);
    EXPECT_FALSE(fine.contains("status")) << fine.dump();
    EXPECT_EQ(fine["counts"]["n"], 40);
    EXPECT_EQ(fine["counts"]["wins"], 40);
    EXPECT_EQ(failed["status"], "failed");
    EXPECT_TRUE(contains(failed["error"].get<std::string>(), "planted fault in trial"))
        << failed.dump();
    EXPECT_EQ(failed["counts"]["n"], 0);

    const json manifest = json::parse(read_file(run / "manifest.json"));
    EXPECT_EQ(manifest["status"], "failed");
    ASSERT_EQ(manifest["failed_cells"].size(), 1U);
    EXPECT_EQ(manifest["failed_cells"][0]["cell"], 1);
    EXPECT_EQ(leftovers(dir_), std::vector<std::string>{});
    message = failed["error"].get<std::string>();
  };

  const auto first = wrsec("--plugin " + kGood + " run " + spec.string() + " --out " +
                           run.string() + " --threads 2 -q");
  std::string message, message_after_resume;
  check(first, message);
  const auto resumed = wrsec("run --resume " + run.string() + " --plugin " + kGood + " -q");
  check(resumed, message_after_resume);
  EXPECT_EQ(message_after_resume, message);

  // Once the fault is gone, a resume plays the failed cell again and the run completes.
  std::ofstream(dir_ / "healed") << "";
  const auto healed = wrsec("run --resume " + run.string() + " --plugin " + kGood + " -q");
  EXPECT_EQ(healed.exit_code, 0) << healed.err;
  EXPECT_EQ(healed.err, "");
  for (const auto& line : lines(read_file(run / "results.jsonl"))) {
    const json cell = json::parse(line);
    EXPECT_FALSE(cell.contains("status")) << line;
    EXPECT_EQ(cell["counts"]["n"], 40);
    EXPECT_EQ(cell["counts"]["wins"], 40);
  }
  EXPECT_EQ(json::parse(read_file(run / "manifest.json"))["status"], "complete");
  EXPECT_EQ(leftovers(dir_), std::vector<std::string>{});
  // The plug-in is recorded where the run says what it was made with.
  EXPECT_TRUE(contains(read_file(run / "manifest.json"), "test_good"));
}

}  // namespace
