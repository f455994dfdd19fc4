// The reporters behind the ResultSink interface: what each writes for a grid run (index,
// correction, stopping, shard, metric columns, escaping) and for lone cells, and that a file
// appears only at finish().
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "experiments/csv_sink.h"
#include "experiments/jsonl_sink.h"
#include "experiments/latex_sink.h"
#include "experiments/markdown_sink.h"
#include "experiments/sink.h"
#include "experiments/table_sink.h"

namespace wrsec::experiments {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class Reporters : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("wrsec_reporters_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  static std::string read(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  // A search cell with one metric (and the second cell with another), 10 trials.
  static CellResult cell(int which) {
    CellResult r;
    r.spec.game = "toy_game";
    r.spec.attack = which == 0 ? "toy_attack" : "other_attack";
    r.spec.game_params = definitions::Params({{"p", "0.5"}, {"list", "a,b"}});
    r.shape = definitions::GameShape::search;
    r.seed = 9;
    r.trials = {0, 10};
    r.counts.n = 10;
    r.counts.wins = 7 - which;
    r.counts.metrics[which == 0 ? "error" : "cost"].add(0.25);
    r.alpha = 0.025;
    r.advantage = {0.7, 0.4, 0.9, 0.025};
    return r;
  }

  static RunHeader grid_header(bool stopping) {
    RunHeader h;
    h.title = "toy_run";
    h.description = "Two toy cells.";
    h.seed = 9;
    h.trials = 10;
    h.cells = 2;
    h.family_alpha = 0.05;
    h.correction = Correction::bonferroni;
    h.alpha_per_cell = 0.025;
    if (stopping) {
      h.stop = definitions::StopRule::parse("lower>0.1");
      h.stopping_method = "toy spending";
    }
    h.shard_index = 1;
    h.shard_count = 3;
    return h;
  }

  fs::path dir_;
};

TEST_F(Reporters, FilesAppearOnlyAtFinish) {
  MultiSink sinks;
  sinks.add(std::make_unique<JsonlSink>(dir_ / "r.jsonl", JsonlSink::Content::results_only));
  sinks.add(std::make_unique<CsvSink>(dir_ / "r.csv"));
  sinks.add(std::make_unique<MarkdownSink>(dir_ / "r.md"));
  sinks.add(std::make_unique<LatexSink>(dir_ / "r.tex"));
  sinks.begin(grid_header(false));
  sinks.write(CellRecord(cell(0), 0, 0, false));
  sinks.write(CellRecord(cell(1), 1, 0, false));
  for (const char* f : {"r.jsonl", "r.csv", "r.md", "r.tex"}) EXPECT_FALSE(fs::exists(dir_ / f));
  sinks.finish();
  for (const char* f : {"r.jsonl", "r.csv", "r.md", "r.tex"}) EXPECT_TRUE(fs::exists(dir_ / f));
}

TEST_F(Reporters, NothingIsLeftWhenARunFailsBeforeFinish) {
  {
    CsvSink csv(dir_ / "r.csv");
    csv.begin(grid_header(false));
    csv.write(CellRecord(cell(0), 0, 0, false));
  }
  EXPECT_TRUE(fs::is_empty(dir_));
}

TEST_F(Reporters, JsonlOfAGridCarriesIndexCorrectionAndStopping) {
  JsonlSink sink(dir_ / "r.jsonl", JsonlSink::Content::results_only);
  sink.begin(grid_header(true));
  sink.write(CellRecord(cell(0), 0, 3, true));
  sink.write(CellRecord(cell(1), 1, 4, false));
  sink.finish();
  std::istringstream lines(read(dir_ / "r.jsonl"));
  std::string line;
  ASSERT_TRUE(std::getline(lines, line));
  const json j = json::parse(line);
  EXPECT_EQ(j["schema"], "wrsec.cell.v1");
  EXPECT_EQ(j["cell_index"], 0);
  EXPECT_EQ(j["correction"], json({{"method", "bonferroni"},
                                   {"family_alpha", 0.05},
                                   {"cells", 2},
                                   {"alpha_per_cell", 0.025}}));
  EXPECT_EQ(j["stopping"], json({{"rule", "lower>0.1"},
                                 {"method", "toy spending"},
                                 {"budget", 10},
                                 {"looks", 3},
                                 {"alpha_at_last_look", 0.025},
                                 {"stopped_early", true}}));
  EXPECT_FALSE(j.contains("provenance"));
  EXPECT_FALSE(j.contains("elapsed_seconds"));
  ASSERT_TRUE(std::getline(lines, line));
  EXPECT_EQ(json::parse(line)["cell_index"], 1);
  EXPECT_FALSE(std::getline(lines, line));
}

TEST_F(Reporters, JsonlOfLoneCellsCarriesProvenanceAndNoGridFields) {
  JsonlSink sink(dir_ / "r.jsonl");
  sink.begin(Provenance::current(2));
  sink.write(cell(0));
  sink.finish();
  const json j = json::parse(read(dir_ / "r.jsonl"));
  EXPECT_EQ(j["provenance"]["threads"], 2);
  EXPECT_TRUE(j.contains("elapsed_seconds"));
  for (const char* key : {"cell_index", "correction", "stopping"}) EXPECT_FALSE(j.contains(key));
}

TEST_F(Reporters, CsvHasAColumnPerMetricAndQuotesFields) {
  CsvSink sink(dir_ / "r.csv");
  sink.begin(grid_header(false));
  sink.write(CellRecord(cell(0), 0, 0, false));
  sink.write(CellRecord(cell(1), 1, 0, true));
  sink.finish();
  std::istringstream lines(read(dir_ / "r.csv"));
  std::string header, row0, row1;
  std::getline(lines, header);
  std::getline(lines, row0);
  std::getline(lines, row1);
  EXPECT_EQ(header,
            "cell,game,scheme,attack,params,trials_begin,trials_end,n,wins,estimate,lower,upper,"
            "alpha,stopped_early,cost_mean,error_mean");
  EXPECT_EQ(row0.rfind("0,toy_game,none,toy_attack,\"game.list=a,b game.p=0.5\",0,10,10,7,", 0), 0U)
      << row0;
  EXPECT_TRUE(row0.ends_with(",0.025000000000000001,0,,0.25")) << row0;
  EXPECT_TRUE(row1.ends_with(",0.025000000000000001,1,0.25,")) << row1;
}

TEST_F(Reporters, MarkdownStatesTheRunAndLatexEscapes) {
  MultiSink sinks;
  sinks.add(std::make_unique<MarkdownSink>(dir_ / "r.md"));
  sinks.add(std::make_unique<LatexSink>(dir_ / "r.tex"));
  sinks.begin(grid_header(true));
  sinks.write(CellRecord(cell(0), 0, 3, true));
  sinks.write(CellRecord(cell(1), 1, 4, false));
  sinks.finish();
  const std::string md = read(dir_ / "r.md");
  for (const char* text :
       {"# toy_run\n\nTwo toy cells.\n\n", "Seed 9; 2 cell(s) of 10 trials (shard 1/3).",
        "correction bonferroni over K = 2 cells: alpha per cell = 0.025000.",
        "Early stopping: rule `lower>0.1`, toy spending.", "Convention: Adv = Pr[win] - baseline",
        "| 0 | toy_game | none | toy_attack | game.list=a,b game.p=0.5 | 10 | 7 | 0.7000 | 0.4000 "
        "| 0.9000 | 0.0250 | at n=10 |\n",
        "| no (budget) |\n"})
    EXPECT_NE(md.find(text), std::string::npos) << "missing: " << text << "\nin:\n" << md;
  const std::string tex = read(dir_ / "r.tex");
  EXPECT_NE(tex.find("0 & toy\\_game & none & toy\\_attack & 10 & 7 & 0.7000 & 0.4000 & 0.9000 "
                     "\\\\\n1 & toy\\_game"),
            std::string::npos)
      << tex;
  EXPECT_EQ(tex.rfind("\\begin{tabular}", 0), 0U);
  EXPECT_TRUE(tex.ends_with("\\\\\n\\bottomrule\n\\end{tabular}\n")) << tex;
}

TEST_F(Reporters, TableSinkPrintsLoneCells) {
  std::ostringstream out;
  TableSink sink(out);
  sink.begin(Provenance::current(1));
  sink.write(cell(0));
  sink.finish();
  EXPECT_EQ(out.str().rfind("wrsec ", 0), 0U) << out.str();
  EXPECT_NE(out.str().find("wins 7 / 10"), std::string::npos) << out.str();
}

}  // namespace
}  // namespace wrsec::experiments
