// Tests of experiment specs (experiments/spec.h): a full parse, every rejection naming its key,
// grid expansion, the per-cell alpha and batch size, and every shipped spec instantiating.
#include "experiments/spec.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "core/errors.h"
#include "definitions/statistics.h"
#include "experiments/catalog.h"

namespace {

namespace fs = std::filesystem;
using wrsec::InvalidArgument;
using wrsec::experiments::CellSpec;
using wrsec::experiments::Correction;
using wrsec::experiments::ExperimentSpec;
using Kind = wrsec::definitions::StopRule::Kind;

ExperimentSpec parse(const std::string& text) {
  return ExperimentSpec::parse(text, "<test>", "default_name");
}

// A minimal valid spec, with extra lines appended (top-level lines must precede sections).
const std::string kHead =
    "game = bernoulli_ind\n"
    "attack = likelihood_ratio\n"
    "trials = 100\n"
    "seed = 3\n";

// Expects parse(text) to throw InvalidArgument whose message names every word in `names`.
void expect_rejected(const std::string& text, const std::vector<std::string>& names) {
  try {
    (void)parse(text);
    ADD_FAILURE() << "accepted:\n" << text;
  } catch (const InvalidArgument& e) {
    const std::string what = e.what();
    for (const auto& name : names)
      EXPECT_NE(what.find(name), std::string::npos)
          << "message does not name '" << name << "': " << what << "\nspec:\n"
          << text;
    EXPECT_NE(what.find("<test>"), std::string::npos)
        << "message does not name the origin: " << what;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not an InvalidArgument: " << e.what() << "\nspec:\n" << text;
  }
}

std::map<std::string, std::string> params_map(const wrsec::definitions::Params& p) {
  return {p.values().begin(), p.values().end()};
}

// ---------------------------------------------------------------------------------------------
// A full spec

TEST(SpecParse, FullSpec) {
  const std::string text =
      "# comment line\n"
      "name = my_run\n"
      "description = A description, with a comma.\n"
      "game = bernoulli_ind\n"
      "scheme = none\n"
      "attack = likelihood_ratio\n"
      "trials = 4000\n"
      "seed = 17\n"
      "alpha = 0.01\n"
      "correction = none\n"
      "stop_when = lower > 0.1\n"
      "first_look = 32\n"
      "batch = 500\n"
      "[game]\n"
      "p0 = 0.4\n"
      "samples = 8\n"
      "[attack]\n"
      "[sweep]\n"
      "game.p1 = 0.55, 0.6\n";
  const ExperimentSpec s = parse(text);
  EXPECT_EQ(s.name, "my_run");
  EXPECT_EQ(s.description, "A description, with a comma.");
  EXPECT_EQ(s.base.game, "bernoulli_ind");
  EXPECT_EQ(s.base.scheme, "none");
  EXPECT_EQ(s.base.attack, "likelihood_ratio");
  EXPECT_EQ(s.trials, 4000U);
  EXPECT_EQ(s.seed, 17U);
  EXPECT_DOUBLE_EQ(s.alpha, 0.01);
  EXPECT_EQ(s.correction, Correction::none);
  EXPECT_EQ(s.stop.kind, Kind::lower_above);
  EXPECT_DOUBLE_EQ(s.stop.threshold, 0.1);
  EXPECT_EQ(s.first_look, 32U);
  EXPECT_EQ(s.batch, 500U);
  EXPECT_EQ(s.batch_size(), 500U);
  EXPECT_EQ(params_map(s.base.game_params),
            (std::map<std::string, std::string>{{"p0", "0.4"}, {"samples", "8"}}));
  EXPECT_TRUE(s.base.attack_params.values().empty());
  ASSERT_EQ(s.sweep.size(), 1U);
  EXPECT_EQ(s.sweep[0].key, "game.p1");
  EXPECT_EQ(s.sweep[0].values, (std::vector<std::string>{"0.55", "0.6"}));
  EXPECT_EQ(s.cell_count(), 2U);
  EXPECT_DOUBLE_EQ(s.alpha_per_cell(), 0.01);  // correction none
}

TEST(SpecParse, Defaults) {
  const ExperimentSpec s = parse(kHead);
  EXPECT_EQ(s.name, "default_name");
  EXPECT_EQ(s.description, "");
  EXPECT_EQ(s.base.scheme, wrsec::experiments::kNoScheme);
  EXPECT_DOUBLE_EQ(s.alpha, 0.05);
  EXPECT_EQ(s.correction, Correction::bonferroni);
  EXPECT_FALSE(s.stop.active());
  EXPECT_EQ(s.first_look, 64U);
  EXPECT_EQ(s.batch, 0U);
  EXPECT_TRUE(s.sweep.empty());
  EXPECT_EQ(s.cell_count(), 1U);
  const auto cells = s.cells();
  ASSERT_EQ(cells.size(), 1U);
  EXPECT_EQ(cells[0].key(), s.base.key());
  EXPECT_DOUBLE_EQ(s.alpha_per_cell(), 0.05);  // one cell: Bonferroni changes nothing
}

TEST(SpecParse, QuotedFixedParameterIsUnquoted) {
  const ExperimentSpec s = parse(kHead + "[game]\nmodel = \"random:mlp:784,64,10:relu\"\n");
  EXPECT_EQ(s.base.game_params.values().at("model"), "random:mlp:784,64,10:relu");
}

TEST(SpecParse, LoadUsesTheFileStemAsDefaultName) {
  const fs::path dir =
      fs::temp_directory_path() / ("wrsec_spec_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path file = dir / "stem_name.ini";
  {
    std::ofstream out(file);
    out << kHead;
  }
  EXPECT_EQ(ExperimentSpec::load(file).name, "stem_name");
  try {
    (void)ExperimentSpec::load(dir / "missing.ini");
    ADD_FAILURE() << "a missing file was read";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("missing.ini"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

// ---------------------------------------------------------------------------------------------
// Rejections, each naming the key

TEST(SpecReject, UnknownTopLevelKey) {
  expect_rejected(kHead + "bogus = 1\n", {"bogus"});
}

TEST(SpecReject, UnknownSection) {
  expect_rejected(kHead + "[foo]\nx = 1\n", {"foo.x"});
}

TEST(SpecReject, UnknownSweepKey) {
  expect_rejected(kHead + "[sweep]\nfoo.x = 1, 2\n", {"foo.x"});
  expect_rejected(kHead + "[sweep]\nfoo = 1, 2\n", {"foo"});
  expect_rejected(kHead + "[sweep]\ngame. = 1, 2\n", {"game."});
}

TEST(SpecReject, MissingRequiredKeys) {
  const std::vector<std::pair<std::string, std::string>> lines = {
      {"game", "game = bernoulli_ind\n"},
      {"attack", "attack = likelihood_ratio\n"},
      {"trials", "trials = 100\n"},
      {"seed", "seed = 3\n"}};
  for (std::size_t skip = 0; skip < lines.size(); ++skip) {
    std::string text;
    for (std::size_t i = 0; i < lines.size(); ++i)
      if (i != skip) text += lines[i].second;
    expect_rejected(text, {"missing", "'" + lines[skip].first + "'"});
  }
}

TEST(SpecReject, SweptComponentSatisfiesTheRequirement) {
  const ExperimentSpec s =
      parse("attack = likelihood_ratio\ntrials = 10\nseed = 1\n[sweep]\ngame = bernoulli_ind\n");
  EXPECT_EQ(s.cells().at(0).game, "bernoulli_ind");
  const ExperimentSpec t = parse(
      "game = bernoulli_ind\ntrials = 10\nseed = 1\n[sweep]\nattack = likelihood_ratio, "
      "coin_flip\n");
  EXPECT_EQ(t.cell_count(), 2U);
}

TEST(SpecReject, BadValues) {
  const std::string ids = "game = bernoulli_ind\nattack = likelihood_ratio\n";
  const std::string trials_seed = "trials = 100\nseed = 3\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"trials", ids + "trials = 0\nseed = 3\n"},
      {"trials", ids + "trials = -3\nseed = 3\n"},
      {"trials", ids + "trials = 1.5\nseed = 3\n"},
      {"trials", ids + "trials = 12abc\nseed = 3\n"},
      {"seed", ids + "trials = 100\nseed = x\n"},
      {"seed", ids + "trials = 100\nseed = -1\n"},
      {"alpha", ids + trials_seed + "alpha = 1.5\n"},
      {"alpha", ids + trials_seed + "alpha = 0\n"},
      {"alpha", ids + trials_seed + "alpha = 1\n"},
      {"alpha", ids + trials_seed + "alpha = nan\n"},
      {"alpha", ids + trials_seed + "alpha = x\n"},
      {"correction", ids + trials_seed + "correction = holm\n"},
      {"stop_when", ids + trials_seed + "stop_when = sideways\n"},
      {"stop_when", ids + trials_seed + "stop_when = lower>abc\n"},
      {"first_look", ids + trials_seed + "first_look = 0\n"},
      {"first_look", ids + trials_seed + "first_look = -5\n"},
      {"batch", ids + trials_seed + "batch = 0\n"},
      {"batch", ids + trials_seed + "batch = many\n"},
  };
  for (const auto& [key, text] : cases) expect_rejected(text, {"'" + key + "'"});
}

TEST(SpecReject, StopWhenMessageAlsoNamesTheRule) {
  expect_rejected(kHead + "stop_when = sideways\n", {"stop_when", "sideways"});
}

TEST(SpecReject, BadRanges) {
  for (const std::string range : {"0.7:0.05:0.5", "0.5:0:0.7", "0.5:-0.1:0.7", "5:-1:1"})
    expect_rejected(kHead + "[sweep]\ngame.p1 = " + range + "\n", {"game.p1", range});
}

TEST(SpecReject, TooManyRangePoints) {
  expect_rejected(kHead + "[sweep]\ngame.samples = 1:1:1000000\n", {"game.samples"});
}

TEST(SpecReject, KeyGivenTwice) {
  expect_rejected(kHead + "trials = 200\n", {"'trials'", "twice"});
  expect_rejected(kHead + "[game]\np0 = 0.1\np0 = 0.2\n", {"game.p0", "twice"});
  expect_rejected(kHead + "[sweep]\ngame.p1 = 0.1, 0.2\ngame.p1 = 0.3\n", {"game.p1", "twice"});
}

TEST(SpecReject, KeyBothFixedAndSwept) {
  expect_rejected(kHead + "[game]\np1 = 0.6\n[sweep]\ngame.p1 = 0.5, 0.7\n",
                  {"game.p1", "fixed and swept"});
  expect_rejected(kHead + "[sweep]\nattack = likelihood_ratio, coin_flip\n",
                  {"'attack'", "fixed and swept"});
}

TEST(SpecReject, EmptyValuesAndMalformedComponents) {
  expect_rejected(kHead + "name =\n", {"'name'"});
  expect_rejected(kHead + "[sweep]\ngame.p1 = 0.5, , 0.7\n", {"game.p1"});
  expect_rejected("game = bernoulli_ind\ntrials = 1\nseed = 1\n[sweep]\nattack = quantize(bits)\n",
                  {"attack", "bits"});
  expect_rejected("game = bernoulli_ind\ntrials = 1\nseed = 1\n[sweep]\nattack = quantize(bits=4\n",
                  {"attack"});
  expect_rejected("game = bernoulli_ind\ntrials = 1\nseed = 1\n[sweep]\nattack = quantize)\n",
                  {"attack"});
  expect_rejected("game = bernoulli_ind\ntrials = 1\nseed = 1\n[sweep]\nattack = (bits=4)\n",
                  {"attack"});
}

TEST(SpecReject, MalformedIni) {
  expect_rejected(kHead + "this line has no equals sign\n", {"line 5", "this line has no"});
  expect_rejected(kHead + "[]\nx = 1\n", {"line 5", "empty section name"});
}

// Regression (fuzzing, issue 16): a 15-byte spec, "%invalid_line%" and a newline, hung the parser
// forever: Boost 1.74 formats its error by replacing "%invalid_line%" with the line until none is
// left. The child process must reject it within seconds.
TEST(SpecReject, LineHoldingBoostsPlaceholderIsRejectedWithoutHanging) {
  for (const std::string line :
       {"%invalid_line%", "%canonical_option%", "x %invalid_line% %prefix%", "\x1b[31m"}) {
    EXPECT_EXIT(
        {
          ::alarm(10);
          try {
            (void)parse(line + "\n");
          } catch (const InvalidArgument& e) {
            std::fprintf(stderr, "%s\n", e.what());
            std::_Exit(0);
          }
          std::_Exit(1);
        },
        ::testing::ExitedWithCode(0), "line 1 is neither")
        << line;
    EXPECT_EXIT(
        {
          ::alarm(10);
          try {
            (void)wrsec::experiments::CellConfig::parse(line + "\n", "c.ini");
          } catch (const InvalidArgument& e) {
            std::fprintf(stderr, "%s\n", e.what());
            std::_Exit(0);
          }
          std::_Exit(1);
        },
        ::testing::ExitedWithCode(0), "config file 'c.ini': line 1 is neither")
        << line;
  }
  if (HasFailure()) return;  // the parse below would hang this process
  // The line is quoted as given, control bytes escaped.
  try {
    (void)parse(kHead + "%invalid_line% \x1b[31m\n");
    ADD_FAILURE() << "accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("'%invalid_line% \\x1b[31m'"), std::string::npos)
        << e.what();
  }
}

// Regression (fuzzing, issue 16): four axes of 65536 points overflowed cell_count() to 0, which
// passed the 100000-cell cap, and cells() then built the grid without bound.
TEST(SpecReject, CellCountOverflowIsRejected) {
  std::string sweep = "[sweep]\n";
  for (const char* key : {"a", "b", "c", "d"})
    sweep += std::string("game.") + key + " = 1:1:65536\n";
  expect_rejected(kHead + sweep, {"more than 100000 cells"});
  ExperimentSpec s = parse(kHead + "[sweep]\ngame.a = 1:1:2\n");
  s.sweep.assign(4, {"game.a", std::vector<std::string>(65536, "1")});
  EXPECT_EQ(s.cell_count(), SIZE_MAX);  // saturates
  EXPECT_THROW((void)s.cells(), InvalidArgument);
}

// Regression (fuzzing, issue 16): integer ranges at the ends of int64. lo + i*step overflowed
// int64 (a UBSan report) although every point lies in [lo, hi]; the full int64 range counted
// 2^64 points, which wrapped to an empty axis; and lo > hi was compared in double, so
// 9007199254740993:1:9007199254740992 (equal as doubles) was accepted as an empty axis.
TEST(SpecGrid, IntegerRangesAtTheEndsOfInt64) {
  const auto s = parse(
      kHead + "[sweep]\ngame.a = -9223372036854775808:4611686018427387904:9223372036854775807\n");
  EXPECT_EQ(s.sweep[0].values,
            (std::vector<std::string>{"-9223372036854775808", "-4611686018427387904", "0",
                                      "4611686018427387904"}));
  const auto top = parse(kHead + "[sweep]\ngame.a = 9223372036854775806:1:9223372036854775807\n");
  EXPECT_EQ(top.sweep[0].values,
            (std::vector<std::string>{"9223372036854775806", "9223372036854775807"}));
  expect_rejected(kHead + "[sweep]\ngame.a = -9223372036854775808:1:9223372036854775807\n",
                  {"game.a", "more than 100000 points"});
  expect_rejected(kHead + "[sweep]\ngame.a = 9007199254740993:1:9007199254740992\n",
                  {"game.a", "bad range", "9007199254740993:1:9007199254740992"});
}

// ---------------------------------------------------------------------------------------------
// Grid expansion

TEST(SpecGrid, FirstAxisVariesSlowest) {
  const ExperimentSpec s = parse(kHead +
                                 "[game]\np0 = 0.5\n[sweep]\ngame.p1 = 0.55, 0.6, 0.65\n"
                                 "game.samples = 1, 8\n");
  const auto cells = s.cells();
  ASSERT_EQ(cells.size(), 6U);
  EXPECT_EQ(s.cell_count(), 6U);
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"0.55", "1"}, {"0.55", "8"}, {"0.6", "1"}, {"0.6", "8"}, {"0.65", "1"}, {"0.65", "8"}};
  for (std::size_t i = 0; i < cells.size(); ++i) {
    EXPECT_EQ(params_map(cells[i].game_params),
              (std::map<std::string, std::string>{
                  {"p0", "0.5"}, {"p1", expected[i].first}, {"samples", expected[i].second}}))
        << "cell " << i;
    EXPECT_EQ(cells[i].game, "bernoulli_ind");
    EXPECT_EQ(cells[i].attack, "likelihood_ratio");
  }
  // Distinct cells have distinct keys and experiment ids (independent streams).
  for (std::size_t i = 0; i < cells.size(); ++i)
    for (std::size_t j = i + 1; j < cells.size(); ++j) {
      EXPECT_NE(cells[i].key(), cells[j].key());
      EXPECT_NE(cells[i].experiment_id(), cells[j].experiment_id());
    }
}

TEST(SpecGrid, OrderFollowsTheFileNotTheKeyName) {
  const ExperimentSpec s = parse(kHead + "[sweep]\ngame.samples = 1, 8\ngame.p1 = 0.55, 0.6\n");
  const auto cells = s.cells();
  ASSERT_EQ(cells.size(), 4U);
  EXPECT_EQ(cells[0].game_params.values().at("samples"), "1");
  EXPECT_EQ(cells[1].game_params.values().at("samples"), "1");
  EXPECT_EQ(cells[1].game_params.values().at("p1"), "0.6");
  EXPECT_EQ(cells[2].game_params.values().at("samples"), "8");
  EXPECT_EQ(cells[2].game_params.values().at("p1"), "0.55");
}

TEST(SpecGrid, DecimalRange) {
  const ExperimentSpec s = parse(kHead + "[sweep]\ngame.p1 = 0.45:0.05:0.6\n");
  ASSERT_EQ(s.sweep.size(), 1U);
  EXPECT_EQ(s.sweep[0].values, (std::vector<std::string>{"0.45", "0.5", "0.55", "0.6"}));
  const auto one = parse(kHead + "[sweep]\ngame.p1 = 0.5:0.1:0.5\n");
  EXPECT_EQ(one.sweep[0].values, (std::vector<std::string>{"0.5"}));
  const auto tenths = parse(kHead + "[sweep]\ngame.p1 = 0.1:0.1:1\n");
  EXPECT_EQ(tenths.sweep[0].values, (std::vector<std::string>{"0.1", "0.2", "0.3", "0.4", "0.5",
                                                              "0.6", "0.7", "0.8", "0.9", "1"}));
  const auto mixed = parse(kHead + "[sweep]\ngame.p1 = 1:0.5:3\n");
  EXPECT_EQ(mixed.sweep[0].values, (std::vector<std::string>{"1", "1.5", "2", "2.5", "3"}));
}

TEST(SpecGrid, IntegerRangeGivesIntegerTexts) {
  const auto s = parse(kHead + "[sweep]\ngame.samples = 8:8:64\n");
  EXPECT_EQ(s.sweep[0].values,
            (std::vector<std::string>{"8", "16", "24", "32", "40", "48", "56", "64"}));
  const auto t = parse(kHead + "[sweep]\ngame.samples = 0:3:10\n");
  EXPECT_EQ(t.sweep[0].values, (std::vector<std::string>{"0", "3", "6", "9"}));
  const auto big = parse(kHead + "[sweep]\ngame.samples = 1000000:500000:2000000\n");
  EXPECT_EQ(big.sweep[0].values, (std::vector<std::string>{"1000000", "1500000", "2000000"}));
}

// Integer ranges are counted in integers: beyond 2^53 no point lies past hi.
TEST(SpecGrid, IntegerRangeBeyondTwoToThe53StaysWithinItsBounds) {
  const auto s = parse(kHead + "[sweep]\ngame.samples = 9007199254740993:1:9007199254740995\n");
  EXPECT_EQ(s.sweep[0].values,
            (std::vector<std::string>{"9007199254740993", "9007199254740994", "9007199254740995"}));
}

TEST(SpecGrid, RangeMixedWithListItems) {
  const auto s = parse(kHead + "[sweep]\ngame.samples = 1, 4:4:12, 100\n");
  EXPECT_EQ(s.sweep[0].values, (std::vector<std::string>{"1", "4", "8", "12", "100"}));
}

TEST(SpecGrid, ComponentAxisWithParameters) {
  const ExperimentSpec s = parse(
      "game = wm_removal\nscheme = qim\ntrials = 8\nseed = 1\n[attack]\nseed_shift = 2\n"
      "[sweep]\nattack = quantize, quantize(bits=4 granularity=channel), prune(rate=0.5)\n");
  const auto cells = s.cells();
  ASSERT_EQ(cells.size(), 3U);
  EXPECT_EQ(cells[0].attack, "quantize");
  EXPECT_EQ(params_map(cells[0].attack_params),
            (std::map<std::string, std::string>{{"seed_shift", "2"}}));
  EXPECT_EQ(cells[1].attack, "quantize");
  EXPECT_EQ(params_map(cells[1].attack_params),
            (std::map<std::string, std::string>{
                {"bits", "4"}, {"granularity", "channel"}, {"seed_shift", "2"}}));
  EXPECT_EQ(cells[2].attack, "prune");
  EXPECT_EQ(params_map(cells[2].attack_params),
            (std::map<std::string, std::string>{{"rate", "0.5"}, {"seed_shift", "2"}}));
  for (const auto& c : cells) {
    EXPECT_EQ(c.game, "wm_removal");
    EXPECT_EQ(c.scheme, "qim");
  }
  EXPECT_NE(cells[0].key(), cells[1].key());
}

TEST(SpecGrid, ComponentAxisCrossedWithParameterAxis) {
  const ExperimentSpec s = parse(
      "game = bernoulli_ind\ntrials = 8\nseed = 1\n[sweep]\n"
      "attack = likelihood_ratio, coin_flip\ngame.samples = 1:1:3\n");
  const auto cells = s.cells();
  ASSERT_EQ(cells.size(), 6U);
  for (std::size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(cells[i].attack, i < 3 ? "likelihood_ratio" : "coin_flip");
    EXPECT_EQ(cells[i].game_params.values().at("samples"), std::to_string(i % 3 + 1));
  }
}

TEST(SpecGrid, QuotedValuesKeepTheirCommas) {
  const ExperimentSpec s =
      parse(kHead +
            "[sweep]\ngame.model = \"random:mlp:784,64,10:silu\", \"random:mlp:784,64,10:gelu\"\n");
  ASSERT_EQ(s.sweep.size(), 1U);
  EXPECT_EQ(s.sweep[0].values,
            (std::vector<std::string>{"random:mlp:784,64,10:silu", "random:mlp:784,64,10:gelu"}));
  const auto cells = s.cells();
  ASSERT_EQ(cells.size(), 2U);
  EXPECT_EQ(cells[0].game_params.values().at("model"), "random:mlp:784,64,10:silu");
  EXPECT_EQ(cells[1].game_params.values().at("model"), "random:mlp:784,64,10:gelu");
}

TEST(SpecGrid, QuotedParameterInsideAComponentValue) {
  const ExperimentSpec s = parse(
      "attack = likelihood_ratio\ntrials = 8\nseed = 1\n[sweep]\n"
      "game = bernoulli_ind(p0=0.25 p1=\"0.75\"), bernoulli_ind\n");
  const auto cells = s.cells();
  ASSERT_EQ(cells.size(), 2U);
  EXPECT_EQ(params_map(cells[0].game_params),
            (std::map<std::string, std::string>{{"p0", "0.25"}, {"p1", "0.75"}}));
  EXPECT_TRUE(cells[1].game_params.values().empty());
}

// ---------------------------------------------------------------------------------------------
// Component parameters ("game.KEY" etc.) and single-cell configs (wrsec run --config)

TEST(SpecComponentParam, PrefixSelectsTheComponent) {
  CellSpec cell;
  wrsec::experiments::set_component_param(cell, "game.p0", "0.3");
  wrsec::experiments::set_component_param(cell, "scheme.bits", "4");
  wrsec::experiments::set_component_param(cell, "attack.model.depth", "2");  // first dot splits
  EXPECT_EQ(params_map(cell.game_params), (std::map<std::string, std::string>{{"p0", "0.3"}}));
  EXPECT_EQ(params_map(cell.scheme_params), (std::map<std::string, std::string>{{"bits", "4"}}));
  EXPECT_EQ(params_map(cell.attack_params),
            (std::map<std::string, std::string>{{"model.depth", "2"}}));
  wrsec::experiments::set_component_param(cell, "game.p0", "0.4");  // a later value wins
  EXPECT_EQ(cell.game_params.values().at("p0"), "0.4");
}

TEST(SpecComponentParam, BadPrefixIsRejectedNamingTheKey) {
  for (const std::string key : {"p0", "game.", "sweep.p0", "games.p0", ".p0"}) {
    CellSpec cell;
    try {
      wrsec::experiments::set_component_param(cell, key, "1");
      ADD_FAILURE() << "accepted '" << key << "'";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("'" + key + "'"), std::string::npos) << e.what();
    }
  }
}

using wrsec::experiments::CellConfig;

TEST(SpecCellConfig, EveryKeyAndSections) {
  const CellConfig c = CellConfig::parse(
      "# one cell\ngame = bernoulli_ind\nscheme = none\nattack = likelihood_ratio\ntrials = 100\n"
      "first-trial = 50\nseed = 3\nthreads = 2\nalpha = 0.01\nout = r.jsonl\n"
      "[game]\np0 = 0.2\np1 = \"0.8\"\n[attack]\nsamples = 4\n",
      "<test>");
  EXPECT_EQ(c.cell.game, "bernoulli_ind");
  EXPECT_EQ(c.cell.scheme, "none");
  EXPECT_EQ(c.cell.attack, "likelihood_ratio");
  EXPECT_EQ(params_map(c.cell.game_params),
            (std::map<std::string, std::string>{{"p0", "0.2"}, {"p1", "0.8"}}));
  EXPECT_EQ(params_map(c.cell.attack_params),
            (std::map<std::string, std::string>{{"samples", "4"}}));
  EXPECT_EQ(c.trials, 100U);
  EXPECT_EQ(c.first_trial, 50U);
  EXPECT_EQ(c.seed, 3U);
  EXPECT_EQ(c.threads, 2);
  EXPECT_EQ(c.alpha, 0.01);
  EXPECT_EQ(c.out, "r.jsonl");
}

TEST(SpecCellConfig, EveryKeyIsOptional) {
  const CellConfig c = CellConfig::parse("[scheme]\nbits = 4\n", "<test>");
  EXPECT_TRUE(c.cell.game.empty());
  EXPECT_EQ(c.cell.scheme, wrsec::experiments::kNoScheme);
  EXPECT_TRUE(c.cell.attack.empty());
  EXPECT_FALSE(c.trials || c.first_trial || c.seed || c.threads || c.alpha || c.out);
  EXPECT_EQ(c.cell.scheme_params.values().at("bits"), "4");
}

TEST(SpecCellConfig, RejectionsNameTheFileAndTheKey) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"trials = 0\n", "'trials'"},
      {"trials = -5\n", "'trials'"},
      {"seed = x\n", "'seed'"},
      {"alpha = 1.5\n", "'alpha'"},
      {"first-trial = -1\n", "'first-trial'"},
      {"threads = 0\n", "'threads'"},
      {"threads = 2000\n", "'threads'"},
      {"bogus = 1\n", "'bogus'"},
      {"stop_when = lower > 0.1\n", "'stop_when'"},
      {"[sweep]\ngame.p1 = 0.5, 0.6\n", "'sweep.game.p1'"},
      {"trials = 10\ntrials = 20\n", "twice"},
      {"game =\n", "'game'"},
      {"no equals sign\n", "config file"},
  };
  for (const auto& [text, fragment] : bad) {
    try {
      (void)CellConfig::parse(text, "cell.ini");
      ADD_FAILURE() << "accepted:\n" << text;
    } catch (const InvalidArgument& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(fragment), std::string::npos) << what;
      EXPECT_NE(what.find("config file 'cell.ini'"), std::string::npos) << what;
    }
  }
}

TEST(SpecCellConfig, LoadOfAMissingFileSaysSo) {
  try {
    (void)CellConfig::load("/nonexistent/cell.ini");
    ADD_FAILURE() << "a missing file was read";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("cannot read config file '/nonexistent/cell.ini'"),
              std::string::npos)
        << e.what();
  }
}

// ---------------------------------------------------------------------------------------------
// alpha per cell, batch size

TEST(SpecAlpha, BonferroniDividesByTheCellCount) {
  const ExperimentSpec s =
      parse(kHead + "alpha = 0.05\n[sweep]\ngame.p1 = 0.55:0.05:0.7\ngame.samples = 1, 8\n");
  EXPECT_EQ(s.cell_count(), 8U);
  EXPECT_DOUBLE_EQ(s.alpha_per_cell(), 0.05 / 8);
  EXPECT_DOUBLE_EQ(s.alpha_per_cell(), wrsec::definitions::bonferroni_alpha(0.05, 8));

  const ExperimentSpec n = parse(kHead +
                                 "alpha = 0.05\ncorrection = none\n[sweep]\n"
                                 "game.p1 = 0.55:0.05:0.7\ngame.samples = 1, 8\n");
  EXPECT_DOUBLE_EQ(n.alpha_per_cell(), 0.05);
  EXPECT_EQ(std::string(wrsec::experiments::to_string(Correction::none)), "none");
  EXPECT_EQ(std::string(wrsec::experiments::to_string(Correction::bonferroni)), "bonferroni");
}

TEST(SpecBatch, DefaultIsAboutSixteenthOfTheTrials) {
  const auto with_trials = [](std::uint64_t trials) {
    return parse("game = bernoulli_ind\nattack = likelihood_ratio\nseed = 1\ntrials = " +
                 std::to_string(trials) + "\n");
  };
  EXPECT_EQ(with_trials(4000).batch_size(), 250U);
  EXPECT_EQ(with_trials(1600).batch_size(), 100U);
  for (const std::uint64_t trials : {1, 2, 8, 15, 16, 17, 1001, 4000, 1000000}) {
    const std::uint64_t b = with_trials(trials).batch_size();
    EXPECT_GE(b, 1U) << trials;
    EXPECT_LE(b, trials) << trials;
    EXPECT_LE((trials + b - 1) / b, 16U) << trials;  // at most 16 batches
  }
  EXPECT_EQ(with_trials(1).batch_size(), 1U);
  // Cells of few trials keep up to 16 threads busy per batch.
  EXPECT_EQ(with_trials(10).batch_size(), 10U);
  EXPECT_EQ(with_trials(30).batch_size(), 16U);
  EXPECT_EQ(with_trials(300).batch_size(), 19U);
  EXPECT_EQ(parse(kHead + "batch = 7\n").batch_size(), 7U);
}

// ---------------------------------------------------------------------------------------------
// Instantiation, and every shipped spec

TEST(SpecInstantiate, UnknownParameterIsRejectedAtInstantiation) {
  const ExperimentSpec s = parse(kHead + "[game]\nbogus = 1\n");
  try {
    (void)wrsec::experiments::instantiate(wrsec::experiments::Catalog::global(), s.cells()[0]);
    ADD_FAILURE() << "an unknown parameter was accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("bogus"), std::string::npos) << e.what();
  }
}

TEST(SpecInstantiate, EveryShippedSpecParsesAndInstantiates) {
  const fs::path dir = fs::path(WRSEC_SOURCE_DIR) / "experiments" / "specs";
  ASSERT_TRUE(fs::is_directory(dir)) << dir;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().extension() == ".ini") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  ASSERT_FALSE(files.empty());
  const auto& catalog = wrsec::experiments::Catalog::global();
  for (const auto& file : files) {
    SCOPED_TRACE(file.string());
    ExperimentSpec spec;
    ASSERT_NO_THROW(spec = ExperimentSpec::load(file));
    EXPECT_GE(spec.trials, 1U);
    const auto cells = spec.cells();
    EXPECT_EQ(cells.size(), spec.cell_count());
    ASSERT_FALSE(cells.empty());
    for (std::size_t i = 0; i < cells.size(); ++i) {
      try {
        const auto instance = wrsec::experiments::instantiate(catalog, cells[i]);
        EXPECT_NE(instance.game, nullptr);
        EXPECT_NE(instance.adversary, nullptr);
      } catch (const std::exception& e) {
        ADD_FAILURE() << "cell " << i << " (" << cells[i].key() << "): " << e.what();
      }
    }
  }
}

TEST(SpecInstantiate, ShippedBernoulliPowerSpecHasTheDocumentedGrid) {
  const ExperimentSpec s = ExperimentSpec::load(fs::path(WRSEC_SOURCE_DIR) / "experiments" /
                                                "specs" / "bernoulli_power.ini");
  EXPECT_EQ(s.name, "bernoulli_power");
  EXPECT_EQ(s.cell_count(), 8U);  // p1 in {0.55, 0.6, 0.65, 0.7} x samples in {1, 8}
  EXPECT_EQ(s.trials, 4000U);
  EXPECT_DOUBLE_EQ(s.alpha_per_cell(), 0.05 / 8);
}

}  // namespace
