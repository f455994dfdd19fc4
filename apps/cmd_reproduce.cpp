// wrsec reproduce: play a profile of a claims file, check its claims, write the paper's inputs.
#include <omp.h>

#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "apps/commands.h"
#include "core/errors.h"
#include "experiments/progress.h"
#include "experiments/run_dir.h"
#include "studies/reproduce.h"

namespace wrsec::app {

int cmd_reproduce(const Args& args, const Context& context) {
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
  const auto vm = parse(args, opts);
  if (vm.count("help")) {
    std::cout
        << opts
        << "\nexamples:\n  wrsec reproduce                         # the default profile\n"
           "  wrsec reproduce --profile full --out runs/full\n"
           "  wrsec reproduce --profile full --shard 0/2 --out runs/full-0   # on machine A\n"
           "  wrsec reproduce --profile full --shard 1/2 --out runs/full-1   # on machine B\n"
           "  wrsec reproduce --profile full --merge runs/full-0 runs/full-1 --out runs/full\n"
           "  mpirun -np 4 wrsec reproduce --profile full --threads 1 --out runs/full\n";
    return kExitOk;
  }
  studies::ReproduceOptions o;
  if (vm.count("profile")) o.profile = text(vm, "profile");
  o.root = text(vm, "root");
  if (vm.count("claims")) o.claims = text(vm, "claims");
  if (vm.count("list")) {
    for (const auto& p : studies::list_profiles(o))
      std::cout << p.name << (p.is_default ? " (default)" : "") << ": " << p.specs << " spec(s), "
                << p.measurements << " measurement(s), about "
                << static_cast<long long>(p.estimate_seconds / 60.0 + 0.5) << " min on 2 cores\n  "
                << p.description << "\n";
    return kExitOk;
  }
  if (vm.count("out")) o.out = directory_path("--out", text(vm, "out"));
  if (vm.count("paper-dir")) o.paper_dir = directory_path("--paper-dir", text(vm, "paper-dir"));
  o.write_paper = vm.count("no-paper") == 0;
  o.threads = parse_threads(vm);
  omp_set_num_threads(o.threads);
  o.comm = context.world;
  o.log = context.root() ? &std::cerr : nullptr;
  if (context.root() && !vm.count("quiet") && experiments::Progress::wanted())
    o.progress = &std::cerr;
  int failures = 0;
  if (vm.count("merge")) {
    failures = studies::merge_reproductions(merge_inputs(vm), o);
  } else {
    o.shard = shard_option(vm);
    failures = studies::run_reproduce(o);
  }
  if (failures > 0) {
    if (context.root()) std::cerr << "wrsec: " << failures << " claim(s) not met (see above)\n";
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace wrsec::app
