// `wrsec evaluate` on qim's removal notion (a trained Fashion-MNIST model): the dither-modulation
// mark survives INT8 quantisation (its step is chosen for it) but not a permutation of the hidden
// units, which the verifier reads in order; the scorecard says broken and names an adversary.
// Margins: with 8 trials per cell, permute wins every trial in the removal experiment (Adv >= 0.91
// over 64 trials), and INT8 removal never wins; 6/8 and 1/8 leave room for either to slip twice.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "studies/evaluate.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The battery against qim read as found (align = off): permutation breaks it, INT8 does not.
TEST(EvaluateSlow, QimRemovalIsBrokenByPermutationAndNotByInt8Quantisation) {
  const fs::path cache = fs::current_path() / "zoo-cache";
  ::setenv("WRSEC_ZOO_CACHE", cache.c_str(), /*overwrite=*/0);
  const fs::path out = fs::temp_directory_path() / "wrsec-evaluate-qim-removal";
  fs::remove_all(out);
  wrsec::studies::EvaluateOptions o;
  o.scheme = "qim";
  o.scheme_params = {{"align", "off"}};
  o.notions = {"removal"};
  o.trials = 8;
  o.threads = 2;
  o.out = out;
  EXPECT_EQ(wrsec::studies::run_evaluate(o), 0U);
  std::ifstream in(out / "scorecard.json");
  const json card = json::parse(in);
  const json* removal = nullptr;
  for (const auto& n : card["notions"])
    if (n["id"] == "removal") removal = &n;
  ASSERT_NE(removal, nullptr);
  EXPECT_EQ((*removal)["kind"], "broken");
  EXPECT_FALSE((*removal)["best"]["attack"].get<std::string>().empty());
  std::uint64_t permute = 99, int8 = 99;
  for (const auto& c : (*removal)["cells"]) {
    if (c["attack"] == "permute") permute = c["wins"];
    if (c["attack"] == "quantize(bits=8 granularity=tensor)") int8 = c["wins"];
  }
  EXPECT_GE(permute, 6U);
  EXPECT_LE(int8, 1U);
  for (const auto& n : card["notions"])
    if (n["id"] != "removal") {
      EXPECT_EQ(n["kind"], "not applicable") << n["id"];
    }
  fs::remove_all(out);
}

}  // namespace
