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

double parse_real(const std::string& option, const std::string& value) {
  try {
    return definitions::Params(std::map<std::string, std::string>{{option, value}})
        .get_double(option, 0.0);
  } catch (const InvalidArgument&) {
    throw InvalidArgument(option + " must be a number, got '" + value + "'");
  }
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

namespace {

// Boost.Program_options (1.74) formats an option error by replacing each %name% placeholder of its
// template until none is left, so a value holding its own placeholder ("--%canonical_option%",
// "--alpha=%value%") never ends, and one holding another's is mangled. Errors whose values hold a
// '%' are formatted here in one pass instead: the template's placeholders are replaced once and
// the inserted text is never scanned again.
class OptionMessage : public po::error_with_option_name {
 public:
  explicit OptionMessage(const po::error_with_option_name& e)
      : po::error_with_option_name(e), values_(m_substitutions) {
    values_["canonical_option"] = get_canonical_option_name();
    values_["prefix"] = get_canonical_option_prefix();
  }

  [[nodiscard]] bool holds_percent() const {
    for (const auto& [name, value] : values_)
      if (value.find('%') != std::string::npos) return true;
    return false;
  }

  [[nodiscard]] std::string one_pass() const {
    const auto& values = values_;
    std::string pattern = m_error_template;
    for (const auto& [name, from_to] : m_substitution_defaults) {  // Boost's fallbacks, once each
      const auto it = values.find(name);
      if (it != values.end() && !it->second.empty()) continue;
      if (const auto at = pattern.find(from_to.first); at != std::string::npos)
        pattern.replace(at, from_to.first.size(), from_to.second);
    }
    std::string out;
    for (std::size_t i = 0; i < pattern.size();) {
      const std::size_t end = pattern[i] == '%' ? pattern.find('%', i + 1) : std::string::npos;
      const auto it =
          end == std::string::npos ? values.end() : values.find(pattern.substr(i + 1, end - i - 1));
      if (it == values.end()) {
        out += pattern[i++];
      } else {
        out += it->second;
        i = end + 1;
      }
    }
    return out;
  }

 private:
  std::map<std::string, std::string> values_;
};

// Boost's message (which terminates when no value holds a '%'), else the one-pass one.
std::string option_error_message(const po::error_with_option_name& e) {
  const OptionMessage message(e);
  return message.holds_percent() ? message.one_pass() : e.what();
}

}  // namespace

int run_and_translate(const std::function<int()>& command) {
  try {
    return command();
  } catch (const po::error_with_option_name& e) {
    std::cerr << "wrsec: error: " << option_error_message(e) << '\n';
    return kExitBadInput;
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
