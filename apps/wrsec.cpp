// wrsec: command-line front end. Parsing and dispatch only; the work is done by the libraries
// (wrsec::experiments, wrsec::studies). The commands live in apps/cmd_*.cpp, the helpers they
// share (exit codes, option parsing, the Context) in apps/cli.h.
#include <iostream>
#include <memory>
#include <string>
#include <string_view>

#include "apps/commands.h"
#include "core/isa.h"
#include "core/temporaries.h"
#include "experiments/communicator.h"
#include "experiments/plugin.h"
#include "experiments/provenance.h"

namespace {

using wrsec::app::Args;
using wrsec::app::Context;

struct Command {
  std::string_view name;
  std::string_view summary;  // one line of the usage text
  int (*handler)(const Args&, const Context&);
  bool plays_trials;  // opens the MPI world (under mpirun every rank runs the command)
};

constexpr Command kCommands[] = {
    {"list", "list every registered game, scheme, attack and measurement", wrsec::app::cmd_list,
     false},
    {"run", "play one cell (--game ...) or every cell of a spec file into a run directory",
     wrsec::app::cmd_run, true},
    {"merge", "add the counts of shard run directories exactly into one run directory",
     wrsec::app::cmd_merge, false},
    {"reproduce", "play a profile of paper/claims.json, check its claims, write the paper's inputs",
     wrsec::app::cmd_reproduce, true},
    {"evaluate", "score a scheme against every notion and adversary of the battery (a scorecard)",
     wrsec::app::cmd_evaluate, true},
    {"train", "train a model-zoo architecture on Fashion-MNIST (or load it from the cache)",
     wrsec::app::cmd_train, false},
    {"attack", "run an extraction attack on a protected weight file (TaylorMLP official format)",
     wrsec::app::cmd_attack, false},
    {"keygen", "make an owner's signing key (OS CSPRNG) in a new private file (mode 0600)",
     wrsec::app::cmd_keygen, false},
    {"mark", "embed an ownership mark into a model file and write the owner's record",
     wrsec::app::cmd_mark, false},
    {"verify", "check a suspect model file against an owner's record (exit 0 iff it verifies)",
     wrsec::app::cmd_verify, false},
    {"evidence", "check a signed evidence report written by 'wrsec verify ... --evidence DIR'",
     wrsec::app::cmd_evidence, false},
    {"registry", "add an owner's claim to a hash-chained claim log, show it, or check it",
     wrsec::app::cmd_registry, false},
};

void print_usage() {
  std::cout << "usage: wrsec <command> [options]\n\ncommands:\n";
  for (const auto& c : kCommands)
    std::cout << "  " << c.name << std::string(c.name.size() < 11 ? 11 - c.name.size() : 1, ' ')
              << c.summary << '\n';
  std::cout << "\n  --version  print the version, the git describe of the build and its ISA level\n"
               "\nglobal options (any command, before or after its name):\n"
               "  --plugin PATH  load a plug-in (a shared library defining WRSEC_PLUGIN; "
               "repeatable)\n"
               "environment:\n"
               "  "
            << wrsec::experiments::kPluginPathVariable
            << "  ':'-separated plug-in files or directories (their *.so) loaded first\n"
               "\nRun 'wrsec <command> --help' for the options of a command.\n";
}

// Removes every "--plugin PATH" / "--plugin=PATH" from the arguments and returns the paths; the
// commands never see the option.
std::vector<std::string> take_plugins(std::vector<std::string>& args) {
  std::vector<std::string> plugins, rest;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--plugin") {
      if (i + 1 == args.size()) throw wrsec::InvalidArgument("--plugin needs a path");
      plugins.push_back(args[++i]);
    } else if (args[i].rfind("--plugin=", 0) == 0) {
      plugins.push_back(args[i].substr(9));
    } else {
      rest.push_back(args[i]);
    }
  }
  args = std::move(rest);
  return plugins;
}

}  // namespace

int main(int argc, char** argv) {
  // SIGINT, SIGTERM, SIGHUP: the temporaries of unfinished outputs are removed, then the process
  // dies of the signal.
  wrsec::install_interrupt_cleanup();
  std::vector<std::string> all(argv + 1, argv + argc);
  std::vector<std::string> plugins;
  const int rc = wrsec::app::run_and_translate([&] {
    plugins = take_plugins(all);
    wrsec::experiments::load_plugins_from_environment();
    for (const auto& path : plugins) (void)wrsec::experiments::load_plugin(path);
    return wrsec::app::kExitOk;
  });
  if (rc != wrsec::app::kExitOk) return rc;
  const std::string name = all.empty() ? "" : all.front();
  const Args args(all.begin() + (all.empty() ? 0 : 1), all.end());
  if (name == "--help" || name == "-h" || name == "help") {
    print_usage();
    return wrsec::app::kExitOk;
  }
  if (name == "--version") {
    // The git describe was captured when the build was configured.
    const auto p = wrsec::experiments::Provenance::current(1);
    std::cout << "wrsec " << p.wrsec_version << " (git " << p.git_describe << ") isa "
              << wrsec::isa_level() << '\n';
    return wrsec::app::kExitOk;
  }
  for (const auto& command : kCommands) {
    if (command.name != name) continue;
    return wrsec::app::run_and_translate([&] {
      // MPI lives as long as the command.
      std::unique_ptr<wrsec::experiments::Communicator> world;
      if (command.plays_trials) world = wrsec::experiments::open_world(&argc, &argv);
      return command.handler(args, Context{world.get()});
    });
  }
  std::cerr << "wrsec: error: "
            << (name.empty() ? "no command given" : "unknown command '" + name + "'")
            << " (try 'wrsec --help')\n";
  return wrsec::app::kExitBadInput;
}
