#include "apps/cli.h"

#include <omp.h>

#include <exception>
#include <filesystem>
#include <iostream>
#include <map>
#include <system_error>

#include "core/errors.h"
#include "core/output_path.h"

namespace wrsec::app {

po::variables_map parse(const Args& args, const po::options_description& opts,
                        const po::positional_options_description* pos) {
  po::command_line_parser parser(args);
  parser.options(opts);
  if (pos != nullptr) parser.positional(*pos);
  po::variables_map vm;
  po::store(parser.run(), vm);
  return vm;
}

std::string text(const po::variables_map& vm, const std::string& name) {
  return vm[name].as<std::string>();
}

std::uint64_t parse_count(const std::string& what, const std::string& text) {
  return definitions::parse_unsigned(what, text);
}

definitions::Params parse_params(const std::vector<std::string>& assignments,
                                 const std::string& optional_prefix) {
  definitions::Params params;
  std::map<std::string, std::string> given;  // key -> the assignment that set it
  for (const auto& a : assignments) {
    auto [key, value] = parse_option("--param", [&] { return definitions::parse_assignment(a); });
    if (!optional_prefix.empty() && key.rfind(optional_prefix, 0) == 0)
      key.erase(0, optional_prefix.size());
    const auto [it, fresh] = given.emplace(key, a);
    if (!fresh)
      throw InvalidArgument("--param " + key + " is given twice ('" + it->second + "', '" + a +
                            "')");
    params.set(key, value);
  }
  return params;
}

std::filesystem::path directory_path(const std::string& flag, const std::string& value) {
  if (value == kStandardOutputPath)
    throw InvalidArgument(flag + " names a directory, and '-' (standard output) is none");
  return value;
}

int parse_threads(const po::variables_map& vm) {
  if (!vm.count("threads")) return omp_get_max_threads();
  const auto t = parse_count("--threads", text(vm, "threads"));
  if (t < 1 || t > 1024) throw InvalidArgument("--threads must lie in [1, 1024]");
  return static_cast<int>(t);
}

std::vector<std::filesystem::path> merge_inputs(const po::variables_map& vm) {
  if (vm.count("shard")) throw InvalidArgument("--merge and --shard exclude each other");
  if (!vm.count("out")) throw InvalidArgument("--merge needs --out (the merged directory)");
  std::vector<std::filesystem::path> inputs;
  for (const auto& d : vm["merge"].as<std::vector<std::string>>()) inputs.emplace_back(d);
  return inputs;
}

experiments::Shard shard_option(const po::variables_map& vm) {
  if (!vm.count("shard")) return {};
  const auto shard =
      parse_option("--shard", [&] { return experiments::Shard::parse(text(vm, "shard")); });
  if (shard.count > 1 && !vm.count("out"))
    throw InvalidArgument("--shard needs --out (one directory per shard)");
  return shard;
}

int run_and_translate(const std::function<int()>& command) {
  try {
    return command();
  } catch (const po::error& e) {
    std::cerr << "wrsec: error: " << e.what() << '\n';
    return kExitBadInput;
  } catch (const InvalidArgument& e) {
    std::cerr << "wrsec: error: " << e.what() << '\n';
    return kExitBadInput;
  } catch (const std::filesystem::filesystem_error& e) {
    // One line without the library's "filesystem error: " prefix; a path the user may not touch
    // is bad input, like every permission error.
    std::string what = e.what();
    const std::string prefix = "filesystem error: ";
    if (what.rfind(prefix, 0) == 0) what.erase(0, prefix.size());
    std::cerr << "wrsec: error: " << what << '\n';
    const std::error_code code = e.code();
    return code == std::errc::permission_denied || code == std::errc::operation_not_permitted
               ? kExitBadInput
               : kExitFailure;
  } catch (const std::exception& e) {
    std::cerr << "wrsec: error: " << e.what() << '\n';
    return kExitFailure;
  }
}

}  // namespace wrsec::app
