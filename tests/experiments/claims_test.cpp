// Claims: each claim kind, several sources, the failure report, and malformed claims rejected
// with the offending key named.
#include "experiments/claims.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/errors.h"
#include "experiments/report_format.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using wrsec::experiments::Claim;
using wrsec::experiments::evaluate_claim;

class Claims : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("wrsec_claims_" + std::to_string(::getpid()) + "_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream rows(dir_ / "rows.jsonl");
    rows << json{{"cell", "a"}, {"scheme", {{"params", {{"order", "1"}}}}}, {"x", 0.5}}.dump()
         << "\n"
         << json{{"cell", "b"}, {"scheme", {{"params", {{"order", "2"}}}}}, {"x", 0.9}}.dump()
         << "\n"
         << json{{"cell", "c"}, {"scheme", {{"params", {{"order", "6"}}}}}, {"x", 0.99}}.dump()
         << "\n";
  }
  void TearDown() override { fs::remove_all(dir_); }

  static Claim claim(json extra) {
    json j = {
        {"id", "t"}, {"text", "t"}, {"source", "rows.jsonl"}, {"value", "x"}, {"target", 0.8}};
    for (const auto& [k, v] : extra.items()) j[k] = v;
    return Claim::from_json(j);
  }
  fs::path dir_;
};

TEST_F(Claims, EachIsDecidedByTheWorstRow) {
  const auto o = evaluate_claim(claim({{"require", ">="}}), dir_);
  EXPECT_FALSE(o.met);
  EXPECT_EQ(o.rows, 3u);
  ASSERT_TRUE(o.measured);
  EXPECT_DOUBLE_EQ(*o.measured, 0.5);
  EXPECT_EQ(o.witness, "a");
  EXPECT_NE(o.problem.find("required >="), std::string::npos);
}

TEST_F(Claims, WhereFiltersWithNotListsAndComparisons) {
  auto o = evaluate_claim(claim({{"where", {{"scheme.params.order", {{"not", "1"}}}}}}), dir_);
  EXPECT_TRUE(o.met);
  EXPECT_EQ(o.rows, 2u);
  EXPECT_DOUBLE_EQ(*o.measured, 0.9);
  o = evaluate_claim(claim({{"where", {{"scheme.params.order", {"1", "6"}}}}}), dir_);
  EXPECT_EQ(o.rows, 2u);
  EXPECT_FALSE(o.met);
  o = evaluate_claim(claim({{"where", {{"scheme.params.order", {{">=", 2}}}}}}), dir_);
  EXPECT_EQ(o.rows, 2u);  // numeric comparison of string parameters
  o = evaluate_claim(claim({{"where", {{"scheme.params.order", "12"}}}}), dir_);
  EXPECT_FALSE(o.met);  // no row: min_rows 1 not reached
  EXPECT_NE(o.problem.find("matched 0 row"), std::string::npos);
}

TEST_F(Claims, AggregatesAndTolerance) {
  EXPECT_DOUBLE_EQ(*evaluate_claim(claim({{"aggregate", "max"}}), dir_).measured, 0.99);
  EXPECT_NEAR(*evaluate_claim(claim({{"aggregate", "mean"}}), dir_).measured, 2.39 / 3, 1e-12);
  EXPECT_DOUBLE_EQ(*evaluate_claim(claim({{"aggregate", "count"}}), dir_).measured, 3.0);
  EXPECT_TRUE(
      evaluate_claim(
          claim({{"aggregate", "max"}, {"require", "<="}, {"target", 0.98}, {"tolerance", 0.011}}),
          dir_)
          .met);
  EXPECT_FALSE(
      evaluate_claim(
          claim({{"aggregate", "max"}, {"require", "<="}, {"target", 0.98}, {"tolerance", 0.009}}),
          dir_)
          .met);
  EXPECT_TRUE(
      evaluate_claim(claim({{"aggregate", "min"}, {"require", "=="}, {"target", 0.5}}), dir_).met);
}

TEST_F(Claims, MissingSourceOrValueFailsWithAReason) {
  auto o = evaluate_claim(claim({{"source", "nope.jsonl"}}), dir_);
  EXPECT_FALSE(o.met);
  EXPECT_NE(o.problem.find("nope.jsonl"), std::string::npos);
  o = evaluate_claim(claim({{"value", "y"}}), dir_);
  EXPECT_FALSE(o.met);
  EXPECT_NE(o.problem.find("'y'"), std::string::npos);
}

TEST_F(Claims, MalformedClaimsNameTheKey) {
  const auto expect_names = [](const json& extra, const std::string& key) {
    try {
      claim(extra);
      ADD_FAILURE() << "accepted " << extra.dump();
    } catch (const wrsec::InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    }
  };
  expect_names({{"aggregate", "median"}}, "aggregate");
  expect_names({{"require", ">"}}, "require");
  expect_names({{"bogus", 1}}, "bogus");
  expect_names({{"macro", "Has1Digit"}}, "macro");
  expect_names({{"tolerance", -1}}, "tolerance");
  try {
    Claim::from_json({{"id", "x"}, {"text", "t"}, {"source", "s"}, {"value", "v"}});
    ADD_FAILURE();
  } catch (const wrsec::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("target"), std::string::npos);
  }
}

TEST(TexEscape, EscapesSpecialsAndComparisons) {
  EXPECT_EQ(wrsec::experiments::tex_escape("lsb_parity 50% & #1 {x}"),
            "lsb\\_parity 50\\% \\& \\#1 \\{x\\}");
  EXPECT_EQ(wrsec::experiments::tex_escape("N >= 2, p <= 1, a < b > c"),
            "N $\\ge$ 2, p $\\le$ 1, a $<$ b $>$ c");
  EXPECT_EQ(wrsec::experiments::tex_escape("a\\b^c~d"), "a b c d");
}

}  // namespace
