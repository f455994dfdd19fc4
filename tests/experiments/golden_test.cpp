// Goldens that travel: digests recorded on one machine and recomputed here from scratch.
//   zoo/mlp_784_64_10_relu@1            nn::tensors_digest of the zoo model trained afresh
//                                       (nn/zoo.h recipe: 4 epochs of Adam on 40 000 images)
//   removal_golden/results.jsonl        SHA-256 of results.jsonl of tests/golden/removal_golden.ini
//                                       (uchida embedded by fine-tuning, removed by fine-tuning)
// They hold for the numerics recorded beside them (nn::numerics_id(): ISA level x86-64-v3, fixed
// GEMM blocking) on Debian 12 (its libm, MPFR, Boost and Fashion-MNIST package). After a
// deliberate change of numerics, re-record with WRSEC_RECORD_GOLDENS=1 (the test then rewrites
// tests/golden/goldens.json and fails, so a recording run never passes) and say why in the commit.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "core/atomic_file.h"
#include "core/sha256.h"
#include "experiments/run_dir.h"
#include "experiments/spec.h"
#include "nn/numerics.h"
#include "nn/zoo.h"

namespace wrsec {
namespace {

namespace fs = std::filesystem;

const fs::path kGoldenDir = fs::path(WRSEC_SOURCE_DIR) / "tests" / "golden";

bool recording() {
  const char* v = std::getenv("WRSEC_RECORD_GOLDENS");
  return v != nullptr && std::string(v) == "1";
}

class Goldens : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    goldens_ = nlohmann::json::parse(experiments::read_text_file(kGoldenDir / "goldens.json"));
    computed_ = {{"numerics", nn::numerics_id()}, {"assumes", goldens_.value("assumes", "")}};
  }
  static void TearDownTestSuite() {
    if (!recording()) return;
    for (const auto& [k, v] : goldens_.items())
      if (!computed_.contains(k)) computed_[k] = v;
    AtomicFile out(kGoldenDir / "goldens.json");
    out.write(computed_.dump(2) + "\n");
    out.commit();
    std::printf("recorded %s\n", (kGoldenDir / "goldens.json").c_str());
  }

  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("wrsec-golden-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  // Compares a computed digest with the recorded one (or records it).
  static void check(const std::string& key, const std::string& digest) {
    computed_[key] = digest;
    if (recording()) {
      ADD_FAILURE() << "recording " << key << " = " << digest
                    << " (unset WRSEC_RECORD_GOLDENS to check)";
      return;
    }
    ASSERT_EQ(goldens_.value("numerics", ""), nn::numerics_id())
        << "tests/golden/goldens.json was recorded for other numerics; re-record after a "
           "deliberate change (see this file's header)";
    ASSERT_TRUE(goldens_.contains(key)) << "no golden " << key;
    EXPECT_EQ(digest, goldens_.at(key).get<std::string>())
        << key << " differs from the recorded golden: the numerics changed, or this machine "
        << "computes differently (" << goldens_.value("assumes", "") << ")";
  }

  fs::path root_;
  static nlohmann::json goldens_;
  static nlohmann::json computed_;
};

nlohmann::json Goldens::goldens_;
nlohmann::json Goldens::computed_;

TEST_F(Goldens, ZooModelTrainedAfresh) {
  const nn::ZooModel z = nn::train_or_load("mlp_784_64_10_relu", 1, root_ / "zoo");
  ASSERT_FALSE(z.from_cache);
  check("zoo/mlp_784_64_10_relu@1", nn::tensors_digest(z.model.tensors));
}

TEST_F(Goldens, RemovalSpecResults) {
  // A fresh zoo cache: the spec trains its model too. The caller's cache setting is restored.
  const char* previous = std::getenv("WRSEC_ZOO_CACHE");
  const std::string saved = previous ? previous : "";
  ::setenv("WRSEC_ZOO_CACHE", (root_ / "zoo").c_str(), 1);
  experiments::RunDirOptions options;
  options.threads = 2;
  experiments::start_run(kGoldenDir / "removal_golden.ini", root_ / "run", options);
  if (previous) {
    ::setenv("WRSEC_ZOO_CACHE", saved.c_str(), 1);
  } else {
    ::unsetenv("WRSEC_ZOO_CACHE");
  }
  check("removal_golden/results.jsonl",
        to_hex(sha256(experiments::read_text_file(root_ / "run" / "results.jsonl"))));
}

}  // namespace
}  // namespace wrsec
