// wrsec: command-line front end. Parsing only; the work is done by wrsec::experiments.
// Exit codes: 0 success, 2 bad input (unknown id, bad parameter, unreadable config), 1 other
// errors.
#include <omp.h>

#include <boost/program_options.hpp>
#include <filesystem>
#include <iostream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "attacks/taylor_sign_hypothesis.h"
#include "core/errors.h"
#include "experiments/cell_run.h"
#include "experiments/mark_files.h"
#include "experiments/progress.h"
#include "experiments/run_dir.h"
#include "experiments/sink.h"
#include "experiments/spec.h"
#include "nn/zoo.h"
#include "studies/reproduce.h"

namespace po = boost::program_options;
using wrsec::InvalidArgument;

namespace {

constexpr int kExitBadInput = 2;

const char* kUsage =
    "usage: wrsec <command> [options]\n"
    "\n"
    "commands:\n"
    "  list    list every registered game, scheme and attack\n"
    "  run     play one cell (--game ...) or every cell of a spec file into a run directory\n"
    "          (wrsec run SPEC --out DIR; wrsec run --resume DIR; --shard i/N; MPI ranks)\n"
    "  merge   add the counts of shard run directories exactly into one run directory\n"
    "  reproduce  play a profile of paper/claims.json (spec bundles under studies/ and their\n"
    "             measurements), check every claim, write the paper's tables (resumable,\n"
    "             --shard i/N + --merge, MPI; --list shows the profiles)\n"
    "  train   train a model-zoo architecture on Fashion-MNIST (or load it from the cache)\n"

    "  attack  run an extraction attack on a protected weight file (TaylorMLP official format)\n"
    "  mark    embed an ownership mark into a model file and write the owner's record\n"
    "  verify  check a suspect model file against an owner's record (exit 0 iff it verifies)\n"
    "\n"
    "Run 'wrsec <command> --help' for the options of a command.\n";

int cmd_list(const std::vector<std::string>& args) {
  po::options_description opts("wrsec list: every registered component with its description");
  opts.add_options()("help,h", "show this help");
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(opts).run(), vm);
  if (vm.count("help")) {
    std::cout << opts;
    return 0;
  }
  const auto& catalog = wrsec::experiments::Catalog::builtin();
  auto print = [](const auto& registry, const char* title) {
    std::cout << title << ":\n";
    for (const auto* entry : registry.entries())
      std::cout << "  " << entry->id
                << std::string(entry->id.size() < 22 ? 22 - entry->id.size() : 1, ' ')
                << entry->description << '\n';
  };
  print(catalog.games, "games");
  print(catalog.schemes, "schemes");
  std::cout << "  " << wrsec::experiments::kNoScheme << std::string(18, ' ')
            << "no scheme (for games that play without one)\n";
  print(catalog.attacks, "attacks");
  return 0;
}

std::uint64_t parse_count(const std::string& what, const std::string& text) {
  std::size_t used = 0;
  long long value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    throw InvalidArgument(what + " must be a non-negative integer, got '" + text + "'");
  }
  if (used != text.size() || value < 0)
    throw InvalidArgument(what + " must be a non-negative integer, got '" + text + "'");
  return static_cast<std::uint64_t>(value);
}

const wrsec::experiments::Communicator* g_world = nullptr;

int parse_threads(const po::variables_map& vm) {
  if (!vm.count("threads")) return omp_get_max_threads();
  const auto t = parse_count("--threads", vm["threads"].as<std::string>());
  if (t < 1 || t > 1024) throw InvalidArgument("--threads must lie in [1, 1024]");
  return static_cast<int>(t);
}

// wrsec run SPEC [--out DIR] | wrsec run --resume DIR
int cmd_run_spec(const std::vector<std::string>& args) {
  po::options_description opts(
      "wrsec run SPEC: play every cell of an experiment spec (experiments/specs/*.ini) into a run\n"
      "directory (spec.ini, manifest.json, state/, results.jsonl, results.csv, report.md,\n"
      "table.tex). Under mpirun the ranks share every batch of trials; results are identical.");
  opts.add_options()("help,h", "show this help")("spec", po::value<std::string>(),
                                                 "spec file (also the first positional argument)")(
      "out", po::value<std::string>(), "run directory to create (default runs/<spec name>)")(
      "resume", po::value<std::string>(),
      "continue the run in this directory (after a crash or kill); same results as one run")(
      "shard", po::value<std::string>(),
      "i/N: play slice i of N of every cell's trials (merge the N directories with 'wrsec "
      "merge')")("threads", po::value<std::string>(), "OpenMP threads per process (default: all)")(
      "trials", po::value<std::string>(), "override the spec's trials per cell")(
      "stop-when", po::value<std::string>(),
      "override the spec's stop_when: none | lower>X | upper<Y (anytime-valid alpha-spending)")(
      "quiet,q", "no per-cell lines and no progress line");
  po::positional_options_description pos;
  pos.add("spec", 1);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(opts).positional(pos).run(), vm);
  if (vm.count("help")) {
    std::cout << opts
              << "\nexamples:\n  wrsec run experiments/specs/bernoulli_power.ini --out "
                 "runs/bp\n  wrsec run --resume runs/bp\n  wrsec run "
                 "experiments/specs/bernoulli_power.ini --shard 0/4 --out runs/bp-0\n"
                 "  mpirun -np 2 wrsec run experiments/specs/bernoulli_power.ini --threads 1 "
                 "--out runs/bp\n";
    return 0;
  }
  wrsec::experiments::RunDirOptions options;
  options.threads = parse_threads(vm);
  options.comm = g_world;
  const bool quiet = vm.count("quiet") != 0;
  if (!quiet) options.log = &std::cerr;
  if (!quiet && wrsec::experiments::Progress::wanted()) options.progress = &std::cerr;
  if (vm.count("resume")) {
    if (vm.count("spec") || vm.count("out"))
      throw InvalidArgument("--resume DIR takes no spec and no --out (the run directory has both)");
    if (vm.count("trials") || vm.count("stop-when") || vm.count("shard"))
      throw InvalidArgument(
          "--resume continues a run as it was started: --trials, --stop-when and --shard are "
          "recorded in its manifest");
    const std::string dir = vm["resume"].as<std::string>();
    wrsec::experiments::resume_run(dir, options);
    if (!quiet && (!g_world || g_world->rank() == 0))
      std::cout << "results in " << dir << "/results.jsonl\n";
    return 0;
  }
  if (!vm.count("spec")) throw InvalidArgument("a spec file is required (see 'wrsec run --help')");
  const std::filesystem::path spec_path = vm["spec"].as<std::string>();
  if (vm.count("shard"))
    options.shard = wrsec::experiments::Shard::parse(vm["shard"].as<std::string>());
  if (vm.count("trials")) {
    options.trials = parse_count("--trials", vm["trials"].as<std::string>());
    if (*options.trials == 0) throw InvalidArgument("--trials must be at least 1");
  }
  if (vm.count("stop-when"))
    options.stop = wrsec::definitions::StopRule::parse(vm["stop-when"].as<std::string>());
  std::filesystem::path out;
  if (vm.count("out")) {
    out = vm["out"].as<std::string>();
  } else {
    out = std::filesystem::path("runs") / wrsec::experiments::ExperimentSpec::load(spec_path).name;
    if (options.shard.count > 1)
      out += "-shard" + std::to_string(options.shard.index) + "of" +
             std::to_string(options.shard.count);
  }
  wrsec::experiments::start_run(spec_path, out, options);
  if (!quiet && (!g_world || g_world->rank() == 0))
    std::cout << "results in " << out.string() << "/results.jsonl (report: " << out.string()
              << "/report.md)\n";
  return 0;
}

int cmd_merge(const std::vector<std::string>& args) {
  po::options_description opts(
      "wrsec merge DIR... --out DIR: add the exact counts of complete shard runs of one spec\n"
      "(same seed and overrides; their trial ranges must tile every cell) into a new run\n"
      "directory, whose results equal one unsharded run's");
  opts.add_options()("help,h", "show this help")(
      "inputs", po::value<std::vector<std::string>>()->composing(), "shard run directories")(
      "out", po::value<std::string>(), "merged run directory to create");
  po::positional_options_description pos;
  pos.add("inputs", -1);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(opts).positional(pos).run(), vm);
  if (vm.count("help")) {
    std::cout << opts << "\nexample:\n  wrsec merge runs/bp-0 runs/bp-1 --out runs/bp\n";
    return 0;
  }
  if (!vm.count("out")) throw InvalidArgument("--out is required");
  if (!vm.count("inputs")) throw InvalidArgument("give the shard run directories to merge");
  std::vector<std::filesystem::path> inputs;
  for (const auto& d : vm["inputs"].as<std::vector<std::string>>()) inputs.emplace_back(d);
  wrsec::experiments::merge_runs(inputs, vm["out"].as<std::string>());
  std::cout << "merged " << inputs.size() << " runs into " << vm["out"].as<std::string>() << '\n';
  return 0;
}

int cmd_reproduce(const std::vector<std::string>& args) {
  po::options_description opts(
      "wrsec reproduce: play one profile of a claims file (default paper/claims.json): its spec\n"
      "files (one run directory each) and measurements, into OUT; check each claim (exit 1 with\n"
      "the differences if one is not met) and write the paper's inputs into paper/generated.\n"
      "Started again on the same OUT it continues where it stopped, with identical results");
  opts.add_options()("help,h", "show this help")(
      "profile", po::value<std::string>(),
      "profile to play (default: the claims file's default profile; see --list)")(
      "list", "list the profiles of the claims file with their estimated time")(
      "claims", po::value<std::string>(), "claims file (default <root>/paper/claims.json)")(
      "root", po::value<std::string>()->default_value("."),
      "repository root (specs in the claims file are relative to it)")(
      "out", po::value<std::string>(), "output directory (default runs/reproduce-<profile>)")(
      "shard", po::value<std::string>(),
      "i/N: play slice i of N of every spec's trials and every N-th measurement unit; merge the N "
      "directories with --merge")(
      "merge", po::value<std::vector<std::string>>()->multitoken(),
      "add complete shard directories of the profile into --out, then check the claims")(
      "paper-dir", po::value<std::string>(),
      "where to write the paper's generated inputs (default <root>/paper/generated)")(
      "no-paper", "check the claims only; do not write the paper's inputs")(
      "threads", po::value<std::string>(), "OpenMP threads per process (default: all cores)")(
      "quiet,q", "no progress line");
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(opts).run(), vm);
  if (vm.count("help")) {
    std::cout
        << opts
        << "\nexamples:\n  wrsec reproduce                         # the default profile\n"
           "  wrsec reproduce --profile full --out runs/full\n"
           "  wrsec reproduce --profile full --shard 0/2 --out runs/full-0   # on machine A\n"
           "  wrsec reproduce --profile full --shard 1/2 --out runs/full-1   # on machine B\n"
           "  wrsec reproduce --profile full --merge runs/full-0 runs/full-1 --out runs/full\n"
           "  mpirun -np 4 wrsec reproduce --profile full --threads 1 --out runs/full\n";
    return 0;
  }
  wrsec::studies::ReproduceOptions o;
  if (vm.count("profile")) o.profile = vm["profile"].as<std::string>();
  o.root = vm["root"].as<std::string>();
  if (vm.count("claims")) o.claims = vm["claims"].as<std::string>();
  if (vm.count("list")) {
    for (const auto& p : wrsec::studies::list_profiles(o))
      std::cout << p.name << (p.is_default ? " (default)" : "") << ": " << p.specs << " spec(s), "
                << p.measurements << " measurement(s), about "
                << static_cast<long long>(p.estimate_seconds / 60.0 + 0.5) << " min on 2 cores\n  "
                << p.description << "\n";
    return 0;
  }
  if (vm.count("out")) o.out = vm["out"].as<std::string>();
  if (vm.count("paper-dir")) o.paper_dir = vm["paper-dir"].as<std::string>();
  o.write_paper = vm.count("no-paper") == 0;
  o.threads = parse_threads(vm);
  omp_set_num_threads(o.threads);
  o.comm = g_world;
  const bool root_rank = !g_world || g_world->rank() == 0;
  o.log = root_rank ? &std::cerr : nullptr;
  if (root_rank && !vm.count("quiet") && wrsec::experiments::Progress::wanted())
    o.progress = &std::cerr;
  int failures = 0;
  if (vm.count("merge")) {
    if (vm.count("shard")) throw InvalidArgument("--merge and --shard exclude each other");
    if (!vm.count("out")) throw InvalidArgument("--merge needs --out (the merged directory)");
    std::vector<std::filesystem::path> inputs;
    for (const auto& d : vm["merge"].as<std::vector<std::string>>()) inputs.emplace_back(d);
    failures = wrsec::studies::merge_reproductions(inputs, o);
  } else {
    if (vm.count("shard"))
      o.shard = wrsec::experiments::Shard::parse(vm["shard"].as<std::string>());
    if (o.shard.count > 1 && !vm.count("out"))
      throw InvalidArgument("--shard needs --out (one directory per shard)");
    failures = wrsec::studies::run_reproduce(o);
  }
  if (failures > 0) {
    if (root_rank) std::cerr << "wrsec: " << failures << " claim(s) not met (see above)\n";
    return 1;
  }
  return 0;
}

bool spec_mode(const std::vector<std::string>& args) {
  for (const auto& a : args)
    if (a == "--resume" || a.rfind("--resume=", 0) == 0 || a == "--spec" ||
        a.rfind("--spec=", 0) == 0)
      return true;
  return !args.empty() && !args.front().empty() && args.front()[0] != '-';
}

int cmd_run(const std::vector<std::string>& args) {
  if (spec_mode(args)) return cmd_run_spec(args);
  po::options_description opts(
      "wrsec run: play trials of one cell and report the adversary's advantage with an exact\n"
      "Clopper-Pearson bound. Component parameters: --param game.KEY=VALUE (also scheme., "
      "attack.)");
  opts.add_options()("help,h", "show this help")("game", po::value<std::string>(),
                                                 "game id (see 'wrsec list')")(
      "scheme", po::value<std::string>(), "scheme id, or 'none' (default)")(
      "attack", po::value<std::string>(), "attack (adversary) id")(
      "trials", po::value<std::string>(), "number of trials (default 1000)")(
      "first-trial", po::value<std::string>(),
      "index of the first trial (default 0); trial i always uses counter i, so ranges shard")(
      "seed", po::value<std::string>(), "master seed (default: random; always reported)")(
      "threads", po::value<std::string>(), "OpenMP threads (default: all cores)")(
      "alpha", po::value<double>(), "error level of the bounds (default 0.05)")(
      "out", po::value<std::string>(), "write the JSON line(s) to this file (atomically)")(
      "param", po::value<std::vector<std::string>>()->composing(),
      "component parameter, e.g. game.p0=0.3 (repeatable)")(
      "config", po::value<std::string>(),
      "INI file with the same keys (game = ..., trials = ...) and [game]/[scheme]/[attack] "
      "sections of parameters; command-line options win");
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(opts).run(), vm);
  if (vm.count("help")) {
    std::cout << opts
              << "\nexample:\n  wrsec run --game bernoulli_ind --attack likelihood_ratio "
                 "--trials 20000 --seed 1 --param game.p0=0.45 --param game.p1=0.55\n\n";
    return cmd_run_spec({"--help"});  // the other form of the command
  }

  wrsec::experiments::CellConfig config;
  if (vm.count("config"))
    config = wrsec::experiments::CellConfig::load(vm["config"].as<std::string>());
  wrsec::experiments::CellSpec spec = config.cell;
  // A command-line --param for the same key overrides the file: file values come first.
  if (vm.count("param"))
    for (const auto& text : vm["param"].as<std::vector<std::string>>()) {
      const auto [key, value] = wrsec::definitions::parse_assignment(text);
      wrsec::experiments::set_component_param(spec, key, value);
    }
  if (vm.count("game")) spec.game = vm["game"].as<std::string>();
  if (vm.count("attack")) spec.attack = vm["attack"].as<std::string>();
  if (vm.count("scheme")) spec.scheme = vm["scheme"].as<std::string>();
  if (spec.game.empty()) throw InvalidArgument("--game is required (see 'wrsec list')");
  if (spec.attack.empty()) throw InvalidArgument("--attack is required (see 'wrsec list')");

  wrsec::experiments::CellRunOptions options;
  const std::uint64_t trials = vm.count("trials")
                                   ? parse_count("--trials", vm["trials"].as<std::string>())
                                   : config.trials.value_or(1000);
  if (trials == 0) throw InvalidArgument("--trials must be at least 1");
  const std::uint64_t first =
      vm.count("first-trial") ? parse_count("--first-trial", vm["first-trial"].as<std::string>())
                              : config.first_trial.value_or(0);
  if (first > UINT64_MAX - trials) throw InvalidArgument("--first-trial + --trials overflows");
  options.trials = {first, first + trials};
  if (vm.count("seed")) {
    options.seed = parse_count("--seed", vm["seed"].as<std::string>());
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

  // Build every sink before any trial runs so that an unwritable --out fails fast.
  wrsec::experiments::MultiSink sinks;
  sinks.add(std::make_unique<wrsec::experiments::TableSink>(std::cout));
  const std::optional<std::string> out = vm.count("out") ? vm["out"].as<std::string>() : config.out;
  if (out) sinks.add(std::make_unique<wrsec::experiments::JsonlSink>(*out));

  const auto& catalog = wrsec::experiments::Catalog::builtin();
  const auto result = wrsec::experiments::run_cell(catalog, spec, options);
  sinks.begin(wrsec::experiments::Provenance::current(options.threads));
  sinks.write(result);
  sinks.finish();
  return 0;
}

void print_verify(const wrsec::definitions::VerifyResult& v) {
  std::cout << "verified  " << (v.accepted ? "yes" : "no") << '\n'
            << "matches   " << v.matches << " / " << v.bits << " (null match probability " << v.p0
            << ")\n"
            << "p-value   " << wrsec::definitions::format_log2_p(v.log2_p) << " (log2 p "
            << v.log2_p << "), target FPR " << v.target_fpr << '\n';
  if (v.details.contains("rule"))
    std::cout << "rule      " << v.details["rule"].get<std::string>() << '\n';
  if (v.details.contains("rejected"))
    std::cout << "rejected  " << v.details["rejected"].get<std::string>() << '\n';
}

int cmd_mark(const std::vector<std::string>& args) {
  po::options_description opts(
      "wrsec mark: embed an ownership mark (a signature-bound watermark) into a wrsec model file\n"
      "and write the owner's record (claim: statement, public key, RSA-FDH signature; record of\n"
      "which key marked which model). Scheme parameters: --param KEY=VALUE");
  opts.add_options()("help,h", "show this help")("scheme", po::value<std::string>(),
                                                 "ownership scheme id (see 'wrsec list')")(
      "in", po::value<std::string>(), "model file (wrsec safetensors, e.g. from 'wrsec train')")(
      "out", po::value<std::string>(), "marked model file to write")(
      "secret", po::value<std::string>(), "owner's record to write (JSON; keep it private)")(
      "seed", po::value<std::string>(),
      "seed of the statement's nonce and the embedding (default 1)")(
      "param", po::value<std::vector<std::string>>()->composing(),
      "scheme parameter, e.g. owner_seed=7 (repeatable)");
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(opts).run(), vm);
  if (vm.count("help")) {
    std::cout << opts
              << "\nexample:\n  wrsec mark --scheme qim --in models/m.safetensors "
                 "--out marked.safetensors --secret owner.json\n";
    return 0;
  }
  for (const char* key : {"scheme", "in", "out", "secret"})
    if (!vm.count(key)) throw InvalidArgument(std::string("--") + key + " is required");
  wrsec::definitions::Params params;
  if (vm.count("param"))
    for (const auto& a : vm["param"].as<std::vector<std::string>>()) {
      const auto [k, v] = wrsec::definitions::parse_assignment(a);
      params.set(k, v);
    }
  const std::uint64_t seed =
      vm.count("seed") ? parse_count("--seed", vm["seed"].as<std::string>()) : 1;
  const auto s = wrsec::experiments::mark_model_file(
      vm["scheme"].as<std::string>(), params, vm["in"].as<std::string>(),
      vm["out"].as<std::string>(), vm["secret"].as<std::string>(), seed);
  std::cout << "marked    " << vm["out"].as<std::string>() << " (" << s.scheme << ")\n"
            << "record    " << vm["secret"].as<std::string>() << " (claim " << s.claim_fingerprint
            << ")\n"
            << "models    original " << s.original_digest << "\n          marked   "
            << s.marked_digest << '\n';
  print_verify(s.self_check);
  return 0;
}

int cmd_verify(const std::vector<std::string>& args) {
  po::options_description opts(
      "wrsec verify: check a suspect model file against an owner's record written by 'wrsec\n"
      "mark'. Exit code 0 if the mark verifies, 1 if it does not, 2 for bad input");
  opts.add_options()("help,h", "show this help")("secret", po::value<std::string>(),
                                                 "owner's record (JSON)")(
      "model", po::value<std::string>(), "suspect model file (wrsec safetensors)");
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(opts).run(), vm);
  if (vm.count("help")) {
    std::cout << opts;
    return 0;
  }
  if (!vm.count("secret") || !vm.count("model"))
    throw InvalidArgument("--secret and --model are required");
  const auto v = wrsec::experiments::verify_model_file(vm["secret"].as<std::string>(),
                                                       vm["model"].as<std::string>());
  print_verify(v);
  return v.accepted ? 0 : 1;
}

int cmd_train(const std::vector<std::string>& args) {
  po::options_description opts(
      "wrsec train: train a named architecture on the defender split of Fashion-MNIST with a seed\n"
      "and cache it as safetensors with its training metadata; a cached model is reused");
  opts.add_options()("help,h", "show this help")("list", "list the zoo's named architectures")(
      "model", po::value<std::string>(), "zoo name, e.g. mlp_784_256_256_10_relu")(
      "seed", po::value<std::string>(), "training seed (default 0)")(
      "cache", po::value<std::string>()->default_value("models"), "cache directory")(
      "data", po::value<std::string>(),
      "Fashion-MNIST directory (default: $WRSEC_FASHION_MNIST_DIR or Debian's "
      "/usr/share/datasets/fashion-mnist)")("threads", po::value<std::string>(),
                                            "OpenMP threads (default: all cores)");
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(opts).run(), vm);
  if (vm.count("help")) {
    std::cout << opts;
    return 0;
  }
  if (vm.count("list")) {
    for (const auto& name : wrsec::nn::zoo_names()) std::cout << name << '\n';
    return 0;
  }
  if (!vm.count("model")) throw InvalidArgument("--model is required (see 'wrsec train --list')");
  const std::string name = vm["model"].as<std::string>();
  (void)wrsec::nn::zoo_architecture(name);  // validates the name before any work
  const std::uint64_t seed =
      vm.count("seed") ? parse_count("--seed", vm["seed"].as<std::string>()) : 0;
  if (vm.count("threads")) {
    const auto t = parse_count("--threads", vm["threads"].as<std::string>());
    if (t < 1 || t > 1024) throw InvalidArgument("--threads must lie in [1, 1024]");
    omp_set_num_threads(static_cast<int>(t));
  }
  const std::string data = vm.count("data") ? vm["data"].as<std::string>() : "";
  const auto zoo = wrsec::nn::train_or_load(name, seed, vm["cache"].as<std::string>(), data);
  std::cout << (zoo.from_cache ? "loaded " : "trained ")
            << wrsec::nn::zoo_path(name, seed, vm["cache"].as<std::string>()).string() << '\n';
  for (const auto& [key, value] : zoo.metadata)
    if (key != "wrsec.architecture") std::cout << "  " << key << " = " << value << '\n';
  return 0;
}

int cmd_attack(const std::vector<std::string>& args) {
  po::options_description opts(
      "wrsec attack: recover the weights from a TaylorMLP release saved by the official code.\n"
      "Input: a safetensors file with the protected module's buffers (up_proj_weight,\n"
      "gate_proj_weight, local_point, local_approx_output, fuse_weight, discount_factor,\n"
      "ffn_{gate,up,down}_proj_weight; optional gate_proj.weight), unprefixed (one layer) or\n"
      "under model.layers.{i}.mlp.; F32, F16 or BF16. Output: model.layers.{i}.mlp.\n"
      "{gate,up,down}_proj.weight (F32). Units come out in the original order only when the\n"
      "leftover gate_proj.weight is present; otherwise selected units (release order) precede\n"
      "the unselected ones, which computes the same function.");
  opts.add_options()("help,h", "show this help")("in", po::value<std::string>(),
                                                 "protected safetensors file")(
      "out", po::value<std::string>(), "recovered safetensors file (written atomically)")(
      "format", po::value<std::string>()->default_value("official"),
      "release format (official; paper-form releases are attacked inside games)")(
      "threads", po::value<std::string>(), "OpenMP threads (default: all cores)");
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(opts).run(), vm);
  if (vm.count("help")) {
    std::cout << opts
              << "\nexample:\n  wrsec attack --in protected.safetensors --out "
                 "recovered.safetensors\n";
    return 0;
  }
  if (!vm.count("in") || !vm.count("out")) throw InvalidArgument("--in and --out are required");
  if (vm["format"].as<std::string>() != "official")
    throw InvalidArgument("--format must be official, got '" + vm["format"].as<std::string>() +
                          "'");
  if (vm.count("threads")) {
    const auto t = parse_count("--threads", vm["threads"].as<std::string>());
    if (t < 1 || t > 1024) throw InvalidArgument("--threads must lie in [1, 1024]");
    omp_set_num_threads(static_cast<int>(t));
  }
  const std::filesystem::path in = vm["in"].as<std::string>();
  if (!std::filesystem::is_regular_file(in))
    throw InvalidArgument("cannot read '" + in.string() + "': no such file");
  const auto reports = wrsec::attacks::recover_official_file(in, vm["out"].as<std::string>());
  for (const auto& r : reports)
    std::cout << "layer " << r.layer << ": d " << r.d << ", h " << r.h << ", selected " << r.h_s
              << ", N " << r.n_order << ", sign flips " << r.sign_flips << ", ambiguous "
              << r.ambiguous_units << ", unit order "
              << (r.order_known ? "original (from gate_proj)" : "selected first, release order")
              << ", " << r.seconds << " s\n";
  std::cout << "wrote " << vm["out"].as<std::string>() << '\n';
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + (argc > 1 ? 2 : 1), argv + argc);
  const std::string command = argc > 1 ? argv[1] : "";
  try {
    if (command == "list") return cmd_list(args);
    if (command == "run") {
      // Under mpirun every rank runs this command; MPI lives as long as the command.
      const auto world = wrsec::experiments::open_world(&argc, &argv);
      g_world = world.get();
      return cmd_run(args);
    }
    if (command == "merge") return cmd_merge(args);
    if (command == "reproduce") {
      const auto world = wrsec::experiments::open_world(&argc, &argv);
      g_world = world.get();
      return cmd_reproduce(args);
    }
    if (command == "train") return cmd_train(args);
    if (command == "attack") return cmd_attack(args);
    if (command == "mark") return cmd_mark(args);
    if (command == "verify") return cmd_verify(args);
    if (command == "--help" || command == "-h" || command == "help") {
      std::cout << kUsage;
      return 0;
    }
    std::cerr << "wrsec: error: "
              << (command.empty() ? "no command given" : "unknown command '" + command + "'")
              << " (try 'wrsec --help')\n";
    return kExitBadInput;
  } catch (const po::error& e) {
    std::cerr << "wrsec: error: " << e.what() << '\n';
    return kExitBadInput;
  } catch (const InvalidArgument& e) {
    std::cerr << "wrsec: error: " << e.what() << '\n';
    return kExitBadInput;
  } catch (const std::exception& e) {
    std::cerr << "wrsec: error: " << e.what() << '\n';
    return 1;
  }
}
