// `wrsec evaluate`: what the battery plays for a scheme (applicability from capabilities, game
// checks and release forms; nothing skipped silently), the verdict rules of the scorecard on
// hand-made results, and whole evaluations (plaintext broken everywhere it applies; qim's
// removal broken by permutation and not by INT8 quantisation), resumed and refused.
#include "studies/evaluate.h"

#include <gtest/gtest.h>
#include <algorithm>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>

#include "core/errors.h"
#include "experiments/catalog.h"
#include "studies/scorecard.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using wrsec::InvalidArgument;
using wrsec::studies::BatteryPlan;
using wrsec::studies::EvaluateOptions;
using wrsec::studies::NotionPlan;

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() /
           ("wrsec-evaluate-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

const NotionPlan& notion(const BatteryPlan& plan, const std::string& id) {
  for (const auto& n : plan.notions)
    if (n.id == id) return n;
  throw std::runtime_error("no notion " + id);
}

bool contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

const std::string* skipped_reason(const NotionPlan& n, const std::string& attack) {
  for (const auto& [a, why] : n.skipped)
    if (a == attack) return &why;
  return nullptr;
}

EvaluateOptions options(const std::string& scheme) {
  EvaluateOptions o;
  o.scheme = scheme;
  o.threads = 2;
  return o;
}

TEST(EvaluatePlan, PlaintextPlaysTheHidingNotionsWithTheExtractorsThatReadItsRelease) {
  const BatteryPlan plan = wrsec::studies::plan_battery(options("plaintext"));
  EXPECT_EQ(plan.capabilities, "infer,protected_release");
  for (const char* id : {"extraction", "misuse", "ind"}) {
    const auto& n = notion(plan, id);
    EXPECT_TRUE(n.applicable) << id << ": " << n.reason;
  }
  EXPECT_TRUE(contains(notion(plan, "extraction").attacks, "plaintext_copy"));
  EXPECT_TRUE(
      contains(notion(plan, "ind").attacks, "ind_via_extraction(extractor=plaintext_copy)"));
  // TaylorMLP's extractors do not read a plaintext release: reported, not played.
  const auto* why = skipped_reason(notion(plan, "extraction"), "taylor_ratio_inversion");
  ASSERT_NE(why, nullptr);
  EXPECT_NE(why->find("does not read releases of this scheme"), std::string::npos);
  for (const char* id : {"removal", "false_positive", "forgery", "forgery_independent"}) {
    const auto& n = notion(plan, id);
    EXPECT_FALSE(n.applicable);
    EXPECT_NE(n.reason.find("declares no verify"), std::string::npos) << n.reason;
  }
}

TEST(EvaluatePlan, PermLockGetsTeeQueriesAndTheStaticBasisAttack) {
  const BatteryPlan plan = wrsec::studies::plan_battery(options("perm_lock"));
  EXPECT_EQ(plan.capabilities, "protected_release,tee");
  for (const char* id : {"extraction", "misuse"}) {
    const auto& n = notion(plan, id);
    EXPECT_TRUE(n.applicable) << id << ": " << n.reason;
    EXPECT_TRUE(contains(n.attacks, "static_basis")) << id;
    EXPECT_NE(std::find(n.game_params.begin(), n.game_params.end(),
                        std::pair<std::string, std::string>{"tee_queries", "2000"}),
              n.game_params.end())
        << id;
  }
  // Plaintext has no TEE: no TEE queries are granted.
  const BatteryPlan plain = wrsec::studies::plan_battery(options("plaintext"));
  for (const auto& [k, v] : notion(plain, "extraction").game_params) EXPECT_NE(k, "tee_queries");
}

TEST(EvaluatePlan, PartialReleasesArePlayedForAccuracyRestoredAndSecretLocationOnTheZooModel) {
  for (const auto& [scheme, attack] : std::vector<std::pair<std::string, std::string>>{
           {"sparse_lock", "outlier_restore"}, {"scale_morph", "variance_scale"}}) {
    const BatteryPlan plan = wrsec::studies::plan_battery(options(scheme));
    const auto& n = notion(plan, "misuse_accuracy");
    ASSERT_TRUE(n.applicable) << scheme << ": " << n.reason;
    EXPECT_TRUE(contains(n.attacks, attack)) << scheme;
    // A trained classifier (accuracy is measured against true labels), not the random models.
    EXPECT_EQ(n.game_params.front().second, "zoo:mlp_784_64_64_10_relu@1") << scheme;
    // The black-box baseline is a control, never counted as breaking the release.
    EXPECT_FALSE(contains(n.attacks, "knockoff")) << scheme;
    bool reported = false;
    for (const auto& [a, why] : n.skipped) reported |= a == "knockoff" && !why.empty();
    EXPECT_TRUE(reported) << scheme;
  }
  // Under --model with a model that is no classifier, the accuracy notion says why it is not
  // played instead of failing the plan.
  auto gated = options("perm_lock");
  gated.model = "llama_synthetic:64,256:silu";
  gated.scheme_params = {{"basis", "8"}};
  const BatteryPlan gated_plan = wrsec::studies::plan_battery(gated);
  EXPECT_FALSE(notion(gated_plan, "misuse_accuracy").applicable);
  EXPECT_NE(notion(gated_plan, "misuse_accuracy").reason.find("accuracy_ratio"), std::string::npos);
  EXPECT_TRUE(notion(gated_plan, "extraction").applicable)
      << notion(gated_plan, "extraction").reason;
  const BatteryPlan sparse = wrsec::studies::plan_battery(options("sparse_lock"));
  const auto& locate = notion(sparse, "locate");
  ASSERT_TRUE(locate.applicable) << locate.reason;
  EXPECT_TRUE(contains(locate.attacks, "outlier_restore"));
  EXPECT_FALSE(notion(wrsec::studies::plan_battery(options("scale_morph")), "locate").applicable);
}

TEST(EvaluatePlan, EveryRegisteredAdversaryIsPlayedOrReportedForEveryPlayedNotion) {
  const auto& catalog = wrsec::experiments::Catalog::global();
  for (const char* scheme : {"plaintext", "qim", "trigger_set"}) {
    const BatteryPlan plan = wrsec::studies::plan_battery(options(scheme));
    for (const auto& n : plan.notions) {
      if (!n.applicable) {
        EXPECT_FALSE(n.reason.empty()) << scheme << "/" << n.id;
        continue;
      }
      std::set<std::string> seen;
      for (const auto& a : n.attacks) seen.insert(a.substr(0, a.find('(')));
      for (const auto& [a, why] : n.skipped) {
        EXPECT_FALSE(why.empty()) << scheme << "/" << n.id << "/" << a;
        seen.insert(a.substr(0, a.find('(')));
      }
      for (const auto* e : catalog.attacks.entries())
        EXPECT_TRUE(seen.count(e->id))
            << scheme << "/" << n.id << ": " << e->id << " neither played nor reported";
    }
  }
}

TEST(EvaluatePlan, QimRemovalPlaysTransformsAndTheQuickFalsePositiveNotionSaysWhatItSkips) {
  const BatteryPlan plan = wrsec::studies::plan_battery(options("qim"));
  for (const char* id : {"extraction", "misuse", "ind"}) {
    EXPECT_FALSE(notion(plan, id).applicable);
    EXPECT_NE(notion(plan, id).reason.find("protected_release"), std::string::npos);
  }
  const auto& removal = notion(plan, "removal");
  ASSERT_TRUE(removal.applicable);
  for (const char* a : {"identity", "permute", "quantize(bits=8 granularity=tensor)",
                        "finetune(mode=ftal)", "overwrite"})
    EXPECT_TRUE(contains(removal.attacks, a)) << a;
  EXPECT_FALSE(contains(removal.attacks, "plaintext_copy"));
  const auto* why = skipped_reason(notion(plan, "false_positive"), "finetune(mode=ftal)");
  ASSERT_NE(why, nullptr);
  EXPECT_NE(why->find("--profile full"), std::string::npos);
  const BatteryPlan full = [] {
    auto o = options("qim");
    o.profile = "full";
    return wrsec::studies::plan_battery(o);
  }();
  EXPECT_TRUE(contains(notion(full, "false_positive").attacks, "finetune(mode=ftal)"));
  EXPECT_GT(notion(full, "removal").attacks.size(), removal.attacks.size());
}

TEST(EvaluatePlan, TaylorMlpFormatsPickTheModelTheirReleaseAccepts) {
  auto o = options("taylor_mlp");
  o.scheme_params = {{"format", "official"}};
  const BatteryPlan official = wrsec::studies::plan_battery(o);
  const auto& ex = notion(official, "extraction");
  ASSERT_TRUE(ex.applicable) << ex.reason;
  EXPECT_EQ(ex.game_params.front().second, "llama_synthetic:64,256:silu");
  EXPECT_TRUE(contains(ex.attacks, "taylor_sign_hypothesis"));
  EXPECT_NE(skipped_reason(ex, "taylor_ratio_inversion"), nullptr);
  o.scheme_params = {{"format", "paper"}};
  const BatteryPlan paper = wrsec::studies::plan_battery(o);
  EXPECT_EQ(notion(paper, "extraction").game_params.front().second, "random:mlp:784,64,10:silu");
  EXPECT_TRUE(contains(notion(paper, "extraction").attacks, "taylor_ratio_inversion"));
  // A model no format accepts: the hiding notions say why.
  o.model = "random:mlp:784,10:silu";
  const BatteryPlan none = wrsec::studies::plan_battery(o);
  EXPECT_FALSE(notion(none, "extraction").applicable);
  EXPECT_NE(notion(none, "extraction").reason.find("Release accepts none"), std::string::npos);
}

TEST(EvaluatePlan, BadInputIsRefusedWithItsName) {
  auto o = options("no_such_scheme");
  EXPECT_THROW((void)wrsec::studies::plan_battery(o), InvalidArgument);
  o = options("qim");
  o.scheme_params = {{"no_such_param", "1"}};
  try {
    (void)wrsec::studies::plan_battery(o);
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_param"), std::string::npos) << e.what();
  }
  o = options("qim");
  o.profile = "huge";
  EXPECT_THROW((void)wrsec::studies::plan_battery(o), InvalidArgument);
  o = options("qim");
  o.notions = {"removal", "secrecy"};
  EXPECT_THROW((void)wrsec::studies::plan_battery(o), InvalidArgument);
  o = options("none");
  EXPECT_THROW((void)wrsec::studies::plan_battery(o), InvalidArgument);
}

// A played notion with hand-made results: the verdict rules of scorecard.h.
json cell(const std::string& attack, double estimate, double lower, double upper,
          const std::string& error = "") {
  json j = {{"attack", {{"id", attack}, {"params", json::object()}}},
            {"counts", {{"n", 100}, {"wins", 0}}},
            {"advantage", {{"estimate", estimate}, {"lower", lower}, {"upper", upper}}},
            {"convention", "Adv = Pr[win] - baseline"},
            {"alpha", 0.01}};
  if (!error.empty()) {
    j["status"] = "failed";
    j["error"] = error;
    j["advantage"] = {{"estimate", nullptr}, {"lower", nullptr}, {"upper", nullptr}};
  }
  return j;
}

std::string verdict_kind(const std::vector<json>& cells, double tolerance = 0.05) {
  TempDir dir;
  BatteryPlan plan;
  plan.scheme = "s";
  NotionPlan n;
  n.id = "removal";
  n.applicable = true;
  n.tolerance = tolerance;
  plan.notions.push_back(n);
  fs::create_directories(dir.path / "runs" / "removal");
  std::ofstream out(dir.path / "runs" / "removal" / "results.jsonl");
  for (const auto& c : cells) out << c.dump() << "\n";
  out.close();
  return wrsec::studies::make_scorecard(plan, dir.path).notions.at(0).kind;
}

TEST(Scorecard, VerdictRules) {
  EXPECT_EQ(verdict_kind({cell("a", 0.0, 0.0, 0.03), cell("b", 0.9, 0.8, 0.95)}), "broken");
  EXPECT_EQ(verdict_kind({cell("a", 0.0, 0.0, 0.3), cell("b", 0.04, 0.0, 0.4)}), "not broken");
  EXPECT_EQ(verdict_kind({cell("a", 0.2, 0.04, 0.5)}), "inconclusive");
  EXPECT_EQ(verdict_kind({cell("a", 0.0, 0.0, 0.1), cell("b", 0, 0, 0, "boom")}), "incomplete");
  // A failure elsewhere does not hide a break.
  EXPECT_EQ(verdict_kind({cell("a", 1.0, 0.9, 1.0), cell("b", 0, 0, 0, "boom")}), "broken");
  // The tolerance is the line: a lower bound at it does not break the notion.
  EXPECT_EQ(verdict_kind({cell("a", 0.5, 0.05, 0.9)}, 0.05), "inconclusive");
  EXPECT_EQ(verdict_kind({cell("a", 0.5, 0.051, 0.9)}, 0.05), "broken");
}

TEST(Evaluate, PlaintextIsBrokenOnEveryHidingNotionAndResumesToTheSameScorecard) {
  TempDir dir;
  auto o = options("plaintext");
  o.trials = 8;
  o.out = dir.path / "eval";
  EXPECT_EQ(wrsec::studies::run_evaluate(o), 0U);
  const json card = json::parse(read_bytes(o.out / "scorecard.json"));
  EXPECT_EQ(card["schema"], "wrsec.scorecard.v1");
  for (const auto& n : card["notions"]) {
    const std::string id = n["id"];
    if (id == "extraction" || id == "misuse" || id == "misuse_accuracy" || id == "ind") {
      EXPECT_EQ(n["kind"], "broken") << id;
      EXPECT_GT(n["best"]["lower"].get<double>(), n["tolerance"].get<double>()) << id;
    } else {
      EXPECT_EQ(n["kind"], "not applicable") << id;
    }
  }
  EXPECT_EQ(card["notions"][0]["best"]["attack"], "plaintext_copy");
  for (const char* f : {"scorecard.md", "scorecard.tex", "evaluation.json", "bundle/claims.json",
                        "bundle/specs/extraction.ini", "runs/extraction/results.jsonl"})
    EXPECT_TRUE(fs::exists(o.out / f)) << f;
  const std::string md = read_bytes(o.out / "scorecard.md");
  EXPECT_NE(md.find("broken: Adv >= "), std::string::npos);
  const std::string results = read_bytes(o.out / "runs/ind/results.jsonl");
  // Played again: continues (nothing to do) and writes the same results.
  EXPECT_EQ(wrsec::studies::run_evaluate(o), 0U);
  EXPECT_EQ(read_bytes(o.out / "runs/ind/results.jsonl"), results);
  // Another scheme, parameters or trials on the same directory is refused, and nothing changes.
  auto other = o;
  other.trials = 9;
  EXPECT_THROW((void)wrsec::studies::run_evaluate(other), InvalidArgument);
  other = o;
  other.scheme = "taylor_mlp";
  EXPECT_THROW((void)wrsec::studies::run_evaluate(other), InvalidArgument);
  EXPECT_EQ(read_bytes(o.out / "runs/ind/results.jsonl"), results);
}

TEST(Evaluate, ShardsMergeIntoTheUnshardedScorecard) {
  TempDir dir;
  auto o = options("plaintext");
  o.trials = 6;
  o.out = dir.path / "whole";
  (void)wrsec::studies::run_evaluate(o);
  std::vector<fs::path> shards;
  for (std::uint64_t i = 0; i < 2; ++i) {
    auto s = o;
    s.shard = {i, 2};
    s.out = dir.path / ("shard" + std::to_string(i));
    EXPECT_EQ(wrsec::studies::run_evaluate(s), 0U);
    EXPECT_FALSE(fs::exists(s.out / "scorecard.json"));
    shards.push_back(s.out);
  }
  auto m = o;
  m.out = dir.path / "merged";
  EXPECT_EQ(wrsec::studies::merge_evaluations(shards, m), 0U);
  for (const char* id : {"extraction", "misuse", "ind"})
    EXPECT_EQ(read_bytes(m.out / "runs" / id / "results.jsonl"),
              read_bytes(o.out / "runs" / id / "results.jsonl"))
        << id;
  EXPECT_EQ(read_bytes(m.out / "scorecard.md"), read_bytes(o.out / "scorecard.md"));
  // A shard of another evaluation is refused and leaves no output behind.
  auto wrong = o;
  wrong.scheme = "taylor_mlp";
  wrong.out = dir.path / "wrong";
  EXPECT_THROW((void)wrsec::studies::merge_evaluations(shards, wrong), InvalidArgument);
  EXPECT_FALSE(fs::exists(wrong.out));
}

}  // namespace
