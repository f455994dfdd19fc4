// wrsec run (one cell, or every cell of a spec into a run directory) and wrsec merge.
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "apps/commands.h"
#include "core/errors.h"
#include "core/output_path.h"
#include "experiments/cell_run.h"
#include "experiments/jsonl_sink.h"
#include "experiments/plugin.h"
#include "experiments/progress.h"
#include "experiments/run_dir.h"
#include "experiments/sink.h"
#include "experiments/spec.h"
#include "experiments/table_sink.h"

namespace wrsec::app {
namespace {

// Exit 1 with one line per failed cell when a trial threw (the outputs are written all the same).
int report_failures(const experiments::RunOutcome& outcome, const std::string& dir,
                    const Context& context) {
  if (outcome.ok()) return kExitOk;
  if (context.root()) {
    for (const auto& [cell, error] : outcome.failed)
      std::cerr << "wrsec: error: cell " << cell << " failed: " << error << "\n";
    std::string plugins;
    for (const auto& p : experiments::loaded_plugins()) plugins += " --plugin " + p.path.string();
    std::cerr << "wrsec: error: " << outcome.failed.size() << " cell(s) of " << dir
              << " failed ('wrsec" << plugins << " run --resume " << dir << "' retries them)\n";
  }
  return kExitFailure;
}

// The options of the two forms of `wrsec run`; the form is chosen from which are given.
const std::vector<std::string> kCellOptions = {"game",        "scheme", "attack", "param",
                                               "first-trial", "seed",   "alpha",  "config"};
const std::vector<std::string> kSpecOptions = {"spec", "resume", "shard", "stop-when", "quiet"};

std::string option_name(const std::string& option) {
  if (option == "spec") return "a spec file";
  if (option == "quiet") return "-q";
  return "--" + option;
}

// The options of `names` present in vm, as the user wrote them ("--game, --param").
std::string given(const po::variables_map& vm, const std::vector<std::string>& names) {
  std::string list;
  for (const auto& name : names)
    if (vm.count(name)) list += (list.empty() ? "" : ", ") + option_name(name);
  return list;
}

po::options_description run_options() {
  po::options_description cell(
      "one cell: play trials of one game, scheme and attack and report the adversary's advantage\n"
      "with an exact Clopper-Pearson bound. Component parameters: --param game.KEY=VALUE (also\n"
      "scheme., attack.)");
  cell.add_options()("game", po::value<std::string>(), "game id (see 'wrsec list')")(
      "scheme", po::value<std::string>(), "scheme id, or 'none' (default)")(
      "attack", po::value<std::string>(), "attack (adversary) id")(
      "param", po::value<std::vector<std::string>>()->composing(),
      "component parameter, e.g. game.p0=0.3 (repeatable)")(
      "first-trial", po::value<std::string>(),
      "index of the first trial (default 0); trial i always uses counter i, so ranges shard")(
      "seed", po::value<std::string>(), "master seed (default: random; always reported)")(
      "alpha", po::value<double>(), "error level of the bounds (default 0.05)")(
      "config", po::value<std::string>(),
      "INI file with the same keys (game = ..., trials = ...) and [game]/[scheme]/[attack] "
      "sections of parameters; command-line options win");
  po::options_description spec(
      "spec run: play every cell of an experiment spec (experiments/specs/*.ini) into a run\n"
      "directory (spec.ini, manifest.json, state/, results.jsonl, results.csv, report.md,\n"
      "table.tex). Under mpirun the ranks share every batch of trials; results are identical");
  spec.add_options()("spec", po::value<std::string>(),
                     "spec file (also the first positional argument)")(
      "resume", po::value<std::string>(),
      "continue the run in this directory (after a crash or kill); same results as one run")(
      "shard", po::value<std::string>(),
      "i/N: play slice i of N of every cell's trials (merge the N directories with 'wrsec "
      "merge')")("stop-when", po::value<std::string>(),
                 "override the spec's stop_when: none | lower>X | upper<Y (anytime-valid "
                 "alpha-spending)")("quiet,q", "no per-cell lines and no progress line");
  po::options_description both("both forms");
  both.add_options()("help,h", "show this help")(
      "trials", po::value<std::string>(),
      "one cell: number of trials (default 1000); spec run: override the spec's trials per cell")(
      "threads", po::value<std::string>(), "OpenMP threads per process (default: all cores)")(
      "out", po::value<std::string>(),
      "one cell: write the JSON line(s) to this file (atomically; '-' for standard output, the "
      "table then goes to standard error); spec run: run directory to create (default "
      "runs/<spec name>)");
  po::options_description all(
      "wrsec run: play one cell, or every cell of a spec into a run directory\n"
      "\n"
      "  wrsec run --game G --attack A [--scheme S] [--param game.KEY=VALUE ...] [options]\n"
      "  wrsec run SPEC [--out DIR] [--shard i/N] [--trials N] [--stop-when RULE] [options]\n"
      "  wrsec run --resume DIR\n"
      "\n"
      "The options of one form cannot be combined with those of the other");
  all.add(cell).add(spec).add(both);
  return all;
}

const char* kRunExamples =
    "\nexamples:\n"
    "  wrsec run --game bernoulli_ind --attack likelihood_ratio --trials 20000 --seed 1 --param "
    "game.p0=0.45 --param game.p1=0.55\n"
    "  wrsec run experiments/specs/bernoulli_power.ini --out runs/bp\n"
    "  wrsec run --resume runs/bp\n"
    "  wrsec run experiments/specs/bernoulli_power.ini --shard 0/4 --out runs/bp-0\n"
    "  mpirun -np 2 wrsec run experiments/specs/bernoulli_power.ini --threads 1 --out runs/bp\n";

// wrsec run --game G --attack A ...: one cell, printed as a table (and JSON lines with --out).
int run_one_cell(const po::variables_map& vm) {
  experiments::CellConfig config;
  if (vm.count("config")) config = experiments::CellConfig::load(text(vm, "config"));
  experiments::CellSpec spec = config.cell;
  // A command-line --param for the same key overrides the file: file values come first.
  if (vm.count("param")) {
    const auto params = parse_params(vm["param"].as<std::vector<std::string>>());
    for (const auto& [key, value] : params.values())
      experiments::set_component_param(spec, key, value);
  }
  if (vm.count("game")) spec.game = text(vm, "game");
  if (vm.count("attack")) spec.attack = text(vm, "attack");
  if (vm.count("scheme")) spec.scheme = text(vm, "scheme");
  if (spec.game.empty()) throw InvalidArgument("--game is required (see 'wrsec list')");
  if (spec.attack.empty()) throw InvalidArgument("--attack is required (see 'wrsec list')");

  experiments::CellRunOptions options;
  const std::uint64_t trials = vm.count("trials") ? parse_count("--trials", text(vm, "trials"))
                                                  : config.trials.value_or(1000);
  if (trials == 0) throw InvalidArgument("--trials must be at least 1");
  const std::uint64_t first = vm.count("first-trial")
                                  ? parse_count("--first-trial", text(vm, "first-trial"))
                                  : config.first_trial.value_or(0);
  if (first > UINT64_MAX - trials) throw InvalidArgument("--first-trial + --trials overflows");
  options.trials = {first, first + trials};
  if (vm.count("seed")) {
    options.seed = parse_count("--seed", text(vm, "seed"));
  } else if (config.seed) {
    options.seed = *config.seed;
  } else {
    std::random_device rd;
    options.seed = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();  // printed in the report
  }
  options.threads = config.threads && !vm.count("threads") ? *config.threads : parse_threads(vm);
  if (vm.count("alpha")) {
    options.alpha = vm["alpha"].as<double>();
  } else if (config.alpha) {
    options.alpha = *config.alpha;
  }
  if (!(options.alpha > 0.0 && options.alpha < 1.0))
    throw InvalidArgument("--alpha must lie in (0, 1)");
  const std::optional<std::string> out = vm.count("out") ? text(vm, "out") : config.out;
  if (out && vm.count("config"))
    check_distinct_files({{"--config", text(vm, "config")}}, {{"--out", *out}});

  // Build every sink before any trial runs so that an unwritable --out fails fast.
  experiments::MultiSink sinks;
  sinks.add(
      std::make_unique<experiments::TableSink>(out == kStandardOutputPath ? std::cerr : std::cout));
  if (out) sinks.add(std::make_unique<experiments::JsonlSink>(*out));

  const auto result = experiments::run_cell(experiments::Catalog::global(), spec, options);
  sinks.begin(experiments::Provenance::current(options.threads));
  sinks.write(result);
  sinks.finish();
  return kExitOk;
}

// wrsec run SPEC [--out DIR] | wrsec run --resume DIR
int run_spec(const po::variables_map& vm, const Context& context) {
  experiments::RunDirOptions options;
  options.threads = parse_threads(vm);
  options.comm = context.world;
  const bool quiet = vm.count("quiet") != 0;
  if (!quiet) options.log = &std::cerr;
  if (!quiet && experiments::Progress::wanted()) options.progress = &std::cerr;
  if (vm.count("resume")) {
    if (vm.count("spec") || vm.count("out"))
      throw InvalidArgument("--resume DIR takes no spec and no --out (the run directory has both)");
    if (vm.count("trials") || vm.count("stop-when") || vm.count("shard"))
      throw InvalidArgument(
          "--resume continues a run as it was started: --trials, --stop-when and --shard are "
          "recorded in its manifest");
    const std::string dir = text(vm, "resume");
    const auto outcome = experiments::resume_run(dir, options);
    if (!quiet && context.root()) std::cout << "results in " << dir << "/results.jsonl\n";
    return report_failures(outcome, dir, context);
  }
  if (!vm.count("spec")) throw InvalidArgument("a spec file is required (see 'wrsec run --help')");
  const std::filesystem::path spec_path = text(vm, "spec");
  if (vm.count("shard"))
    options.shard =
        parse_option("--shard", [&] { return experiments::Shard::parse(text(vm, "shard")); });
  if (vm.count("trials")) {
    options.trials = parse_count("--trials", text(vm, "trials"));
    if (*options.trials == 0) throw InvalidArgument("--trials must be at least 1");
  }
  if (vm.count("stop-when"))
    options.stop = parse_option(
        "--stop-when", [&] { return definitions::StopRule::parse(text(vm, "stop-when")); });
  std::filesystem::path out;
  if (vm.count("out")) {
    out = directory_path("--out", text(vm, "out"));
  } else {
    out = std::filesystem::path("runs") / experiments::ExperimentSpec::load(spec_path).name;
    if (options.shard.count > 1)
      out += "-shard" + std::to_string(options.shard.index) + "of" +
             std::to_string(options.shard.count);
  }
  // The library names no flags; say which ones when the mistake is on the command line.
  if (options.shard.count > 1 &&
      (options.stop ? *options.stop : experiments::ExperimentSpec::load(spec_path).stop).active())
    throw InvalidArgument(
        "--shard cannot be combined with early stopping (--stop-when or the spec's stop_when): "
        "the stopping rule needs every trial of a cell; run the ranks under mpirun instead");
  // Under mpirun the library checks this on rank 0 alone (a check on every rank could race with
  // rank 0 creating the directory).
  if ((!context.world || context.world->size() == 1) && std::filesystem::exists(out))
    throw InvalidArgument("run directory '" + out.string() + "' exists (use 'wrsec run --resume " +
                          out.string() + "' to continue it, or another --out)");
  const auto outcome = experiments::start_run(spec_path, out, options);
  if (!quiet && context.root())
    std::cout << "results in " << out.string() << "/results.jsonl (report: " << out.string()
              << "/report.md)\n";
  return report_failures(outcome, out.string(), context);
}

}  // namespace

int cmd_run(const Args& args, const Context& context) {
  const auto opts = run_options();
  po::positional_options_description pos;
  pos.add("spec", 1);
  const auto vm = parse(args, opts, &pos);
  if (vm.count("help")) {
    std::cout << opts << kRunExamples;
    return kExitOk;
  }
  const std::string cell = given(vm, kCellOptions);
  const std::string spec = given(vm, kSpecOptions);
  if (!cell.empty() && !spec.empty())
    throw InvalidArgument("cannot combine " + cell + " (one cell) with " + spec +
                          " (spec run); see 'wrsec run --help'");
  return spec.empty() ? run_one_cell(vm) : run_spec(vm, context);
}

int cmd_merge(const Args& args, const Context& /*context*/) {
  po::options_description opts(
      "wrsec merge DIR... --out DIR: add the exact counts of complete shard runs of one spec\n"
      "(same seed and overrides; their trial ranges must tile every cell) into a new run\n"
      "directory, whose results equal one unsharded run's");
  opts.add_options()("help,h", "show this help")(
      "inputs", po::value<std::vector<std::string>>()->composing(), "shard run directories")(
      "out", po::value<std::string>(), "merged run directory to create");
  po::positional_options_description pos;
  pos.add("inputs", -1);
  const auto vm = parse(args, opts, &pos);
  if (vm.count("help")) {
    std::cout << opts << "\nexample:\n  wrsec merge runs/bp-0 runs/bp-1 --out runs/bp\n";
    return kExitOk;
  }
  if (!vm.count("out")) throw InvalidArgument("--out is required");
  if (!vm.count("inputs")) throw InvalidArgument("give the shard run directories to merge");
  const auto out = directory_path("--out", text(vm, "out"));
  std::vector<std::filesystem::path> inputs;
  for (const auto& d : vm["inputs"].as<std::vector<std::string>>()) inputs.emplace_back(d);
  experiments::merge_runs(inputs, out);
  std::cout << "merged " << inputs.size() << " runs into " << text(vm, "out") << '\n';
  return kExitOk;
}

}  // namespace wrsec::app
