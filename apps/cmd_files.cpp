// The commands on model files: wrsec train and attack (keygen, mark and verify: cmd_owner.cpp).
#include <omp.h>

#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "apps/commands.h"
#include "attacks/taylor_sign_hypothesis.h"
#include "core/errors.h"
#include "core/output_path.h"
#include "nn/safetensors.h"
#include "nn/zoo.h"

namespace wrsec::app {
namespace {

// Sets the OpenMP team size when --threads is given.
void apply_threads(const po::variables_map& vm) {
  if (vm.count("threads")) omp_set_num_threads(parse_threads(vm));
}

}  // namespace

int cmd_train(const Args& args, const Context& /*context*/) {
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
  const auto vm = parse(args, opts);
  if (vm.count("help")) {
    std::cout << opts;
    return kExitOk;
  }
  if (vm.count("list")) {
    for (const auto& name : nn::zoo_names()) std::cout << name << '\n';
    return kExitOk;
  }
  if (!vm.count("model")) throw InvalidArgument("--model is required (see 'wrsec train --list')");
  const std::string name = text(vm, "model");
  (void)nn::zoo_architecture(name);  // validates the name before any work
  const std::uint64_t seed = vm.count("seed") ? parse_count("--seed", text(vm, "seed")) : 0;
  apply_threads(vm);
  const std::string data = vm.count("data") ? text(vm, "data") : "";
  const auto cache = directory_path("--cache", text(vm, "cache"));
  const auto zoo = nn::train_or_load(name, seed, cache, data);
  std::cout << (zoo.from_cache ? "loaded " : "trained ") << nn::zoo_path(name, seed, cache).string()
            << '\n';
  for (const auto& [key, value] : zoo.metadata)
    if (key != "wrsec.architecture") std::cout << "  " << key << " = " << value << '\n';
  return kExitOk;
}

int cmd_attack(const Args& args, const Context& /*context*/) {
  po::options_description opts(
      "wrsec attack: recover the weights from a TaylorMLP release saved by the official code.\n"
      "Input: a safetensors file with the protected module's buffers (up_proj_weight,\n"
      "gate_proj_weight, local_point, local_approx_output, fuse_weight, discount_factor,\n"
      "ffn_{gate,up,down}_proj_weight; optional gate_proj.weight), unprefixed (one layer) or\n"
      "under model.layers.{i}.mlp.; F32, F16 or BF16. BF16/F16 buffers are taken as the\n"
      "official code's arithmetic in that type and inverted exactly (bit for bit).\n"
      "Output: model.layers.{i}.mlp.{gate,up,down}_proj.weight. Units come out in the\n"
      "original order only when the leftover gate_proj.weight is present; otherwise\n"
      "selected units (release order) precede the unselected ones (the same function).");
  opts.add_options()("help,h", "show this help")("in", po::value<std::string>(),
                                                 "protected safetensors file")(
      "out", po::value<std::string>(),
      "recovered safetensors file (written atomically; '-' for standard output, the report then "
      "goes to standard error)")(
      "format", po::value<std::string>()->default_value("official"),
      "release format (official; paper-form releases are attacked inside games)")(
      "dtype", po::value<std::string>()->default_value("auto"),
      "dtype of the recovered weights: auto (the release's BF16/F16, else F32), f32, bf16, f16")(
      "threads", po::value<std::string>(), "OpenMP threads (default: all cores)");
  const auto vm = parse(args, opts);
  if (vm.count("help")) {
    std::cout << opts
              << "\nexample:\n  wrsec attack --in protected.safetensors --out "
                 "recovered.safetensors\n";
    return kExitOk;
  }
  if (!vm.count("in") || !vm.count("out")) throw InvalidArgument("--in and --out are required");
  if (text(vm, "format") != "official")
    throw InvalidArgument("--format must be official, got '" + text(vm, "format") + "'");
  std::optional<nn::DType> out_dtype;
  const std::string dtype = text(vm, "dtype");
  if (dtype == "f32") {
    out_dtype = nn::DType::f32;
  } else if (dtype == "bf16") {
    out_dtype = nn::DType::bf16;
  } else if (dtype == "f16") {
    out_dtype = nn::DType::f16;
  } else if (dtype != "auto") {
    throw InvalidArgument("--dtype must be auto, f32, bf16 or f16, got '" + dtype + "'");
  }
  apply_threads(vm);
  const std::filesystem::path in = text(vm, "in");
  const std::filesystem::path out = text(vm, "out");
  check_input_file(in);
  check_distinct_files({{"--in", in}}, {{"--out", out}});
  (void)resolve_output(out);  // a refused --out fails before the attack runs
  std::ostream& report = out == kStandardOutputPath ? std::cerr : std::cout;
  const auto reports = attacks::recover_official_file(in, out, out_dtype);
  for (const auto& r : reports) {
    report << "layer " << r.layer << ": d " << r.d << ", h " << r.h << ", selected " << r.h_s
           << ", N " << r.n_order << ", sign flips " << r.sign_flips << ", ambiguous "
           << r.ambiguous_units << ", unit order "
           << (r.order_known ? "original (from gate_proj)" : "selected first, release order");
    if (r.exact_inversion)
      report << ", " << nn::to_string(r.dtype) << " exact inversion: " << r.exact_entries << " of "
             << r.d * r.h_s << " W_down entries unique, " << r.ambiguous_entries << " ambiguous, "
             << r.inconsistent_entries << " inconsistent";
    report << ", " << r.seconds << " s\n";
  }
  report << "wrote " << (out == kStandardOutputPath ? "standard output" : out.string()) << " ("
         << (reports.empty() ? "F32" : nn::to_string(reports.front().written)) << ")\n";
  return kExitOk;
}

}  // namespace wrsec::app
