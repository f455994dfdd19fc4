// wrsec evaluate: the battery — every applicable notion, every applicable adversary, a scorecard.
#include <omp.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "apps/commands.h"
#include "core/errors.h"
#include "definitions/params.h"
#include "experiments/progress.h"
#include "experiments/run_dir.h"
#include "studies/evaluate.h"

namespace wrsec::app {

int cmd_evaluate(const Args& args, const Context& context) {
  po::options_description opts(
      "wrsec evaluate: score one scheme (built-in or from a plug-in) against every security\n"
      "notion it can be held to and every registered adversary that can play it, as one spec\n"
      "bundle in OUT (resumable, shardable), then write OUT/scorecard.{md,json,tex}: per notion\n"
      "the best adversary's advantage with exact bounds (simultaneous at 95 %), the verdict, and\n"
      "the release's utility cost. Exit 0 when the scorecard is written, 1 if cells failed");
  opts.add_options()("help,h", "show this help")(
      "scheme", po::value<std::string>(), "scheme id (see 'wrsec list'; with --plugin for yours)")(
      "param", po::value<std::vector<std::string>>()->composing(),
      "scheme parameter KEY=VALUE (repeatable; 'scheme.' prefix optional)")(
      "profile", po::value<std::string>()->default_value("quick"),
      "quick (minutes) or full (more trials, settings and null models)")(
      "out", po::value<std::string>(), "output directory (default runs/evaluate-<scheme>)")(
      "model", po::value<std::string>(),
      "model source for every notion instead of the profile's candidates (e.g. "
      "random:mlp:784,64,10:silu, zoo:mlp_784_64_64_10_relu@1)")(
      "trials", po::value<std::string>(), "trials per cell for every notion")(
      "tolerance", po::value<std::string>(),
      "advantage above which a notion is broken, for every notion (default per notion: 0.05, "
      "false positives 0.01)")("seed", po::value<std::string>()->default_value("1"), "master seed")(
      "notions", po::value<std::string>(),
      "comma-separated notions to play (default all: extraction, misuse, misuse_accuracy, locate, "
      "ind, removal, "
      "false_positive, forgery, forgery_independent)")(
      "plan", "print what the battery would play and exit (nothing is written)")(
      "shard", po::value<std::string>(), "i/N: play slice i of N of every cell's trials")(
      "merge", po::value<std::vector<std::string>>()->multitoken(),
      "merge complete shard directories of this evaluation into --out and score it")(
      "threads", po::value<std::string>(), "OpenMP threads per process (default: all cores)")(
      "quiet,q", "no progress line");
  const auto vm = parse(args, opts);
  if (vm.count("help")) {
    std::cout << opts
              << "\nexamples:\n"
                 "  wrsec evaluate --scheme taylor_mlp --param format=official --out runs/eval-tm\n"
                 "  wrsec evaluate --scheme qim --profile full --out runs/eval-qim\n"
                 "  wrsec --plugin ./masked.so evaluate --scheme masked_release --out runs/eval\n"
                 "  wrsec evaluate --scheme qim --shard 0/2 --out runs/q0   # then --merge\n";
    return kExitOk;
  }
  if (!vm.count("scheme"))
    throw InvalidArgument("--scheme is required (see 'wrsec evaluate --help')");
  studies::EvaluateOptions o;
  o.scheme = text(vm, "scheme");
  if (vm.count("param")) {
    const auto params = parse_params(vm["param"].as<std::vector<std::string>>(), "scheme.");
    for (const auto& [key, value] : params.values()) {
      if (key.find('.') != std::string::npos)
        throw InvalidArgument("--param " + key + "=" + value +
                              ": evaluate takes scheme parameters only");
      o.scheme_params.emplace_back(key, value);
    }
  }
  o.profile = text(vm, "profile");
  if (vm.count("model")) o.model = text(vm, "model");
  if (vm.count("trials")) {
    o.trials = parse_count("--trials", text(vm, "trials"));
    if (*o.trials == 0) throw InvalidArgument("--trials must be at least 1");
  }
  if (vm.count("tolerance")) {
    const std::string t = text(vm, "tolerance");
    std::size_t used = 0;
    double value = -1;
    try {
      value = std::stod(t, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != t.size() || !(value >= 0 && value < 1))
      throw InvalidArgument("--tolerance must be a number in [0, 1), got '" + t + "'");
    o.tolerance = value;
  }
  o.seed = parse_count("--seed", text(vm, "seed"));
  if (vm.count("notions")) {
    const std::string list = text(vm, "notions");
    for (std::size_t at = 0; at <= list.size();) {
      const std::size_t end = std::min(list.find(',', at), list.size());
      std::string id = list.substr(at, end - at);
      id.erase(0, id.find_first_not_of(' '));
      id.erase(id.find_last_not_of(' ') + 1);
      if (id.empty()) throw InvalidArgument("--notions: empty notion in '" + list + "'");
      o.notions.push_back(id);
      at = end + 1;
    }
  }
  o.out = vm.count("out") ? directory_path("--out", text(vm, "out"))
                          : std::filesystem::path("runs") / ("evaluate-" + o.scheme);
  o.threads = parse_threads(vm);
  omp_set_num_threads(o.threads);
  o.comm = context.world;
  o.log = context.root() ? &std::cerr : nullptr;
  if (context.root() && !vm.count("quiet") && experiments::Progress::wanted())
    o.progress = &std::cerr;
  if (vm.count("plan")) {
    const auto plan = studies::plan_battery(o);
    if (context.root()) std::cout << plan.to_json().dump(2) << "\n";
    return kExitOk;
  }
  std::size_t failed = 0;
  if (vm.count("merge")) {
    failed = studies::merge_evaluations(merge_inputs(vm), o);
  } else {
    o.shard = shard_option(vm);
    failed = studies::run_evaluate(o);
  }
  if (failed > 0) {
    if (context.root())
      std::cerr << "wrsec: error: " << failed
                << " cell(s) failed (their messages are in the scorecard; running the same "
                   "command again retries them)\n";
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace wrsec::app
