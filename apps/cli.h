#pragma once
// What every command of the wrsec CLI shares: the context main hands a command, option parsing
// helpers, and the translation of errors into exit codes.
//
// Exit codes: 0 success; 1 a runtime error (or an unmet claim, a mark that does not verify);
// 2 bad input (unknown id, bad parameter, unreadable config), reported in one line on stderr.
#include <boost/program_options.hpp>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/errors.h"
#include "definitions/params.h"
#include "experiments/communicator.h"
#include "experiments/run_dir.h"

namespace wrsec::app {

namespace po = boost::program_options;

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitBadInput = 2;

using Args = std::vector<std::string>;  // the arguments after the command name

struct Context {
  // The processes sharing the command (MPI ranks, or this process alone); opened by main for the
  // commands that play trials, null for the others.
  const experiments::Communicator* world = nullptr;

  // Whether this process prints the command's results (rank 0, or no communicator).
  [[nodiscard]] bool root() const { return world == nullptr || world->rank() == 0; }
};

// Parses args against opts (and pos, if given) into a variables map; po::error on bad input.
po::variables_map parse(const Args& args, const po::options_description& opts,
                        const po::positional_options_description* pos = nullptr);

// The text of option `name` (which must be present).
[[nodiscard]] std::string text(const po::variables_map& vm, const std::string& name);

// Parses a non-negative integer; InvalidArgument "<what> must be a non-negative integer, got ..."
// or "<what> is out of range (at most ...), got ..." (definitions::parse_unsigned).
std::uint64_t parse_count(const std::string& what, const std::string& text);

// A real number given to an option (the whole text must parse); InvalidArgument
// "<option> must be a number, got '...'".
double parse_real(const std::string& option, const std::string& value);

// The --param KEY=VALUE assignments of a command as parameters; optional_prefix (e.g. "scheme.")
// is removed from the keys that start with it. InvalidArgument "--param: ..." for a malformed
// assignment, and "--param KEY is given twice ('KEY=a', 'KEY=b')" for a repeated key (after the
// prefix is removed), instead of silently keeping one value.
definitions::Params parse_params(const std::vector<std::string>& assignments,
                                 const std::string& optional_prefix = "");

// The path given to a directory option `flag` ("--out"); InvalidArgument for "-": standard output
// is a stream, and a command writing a directory cannot write it there.
std::filesystem::path directory_path(const std::string& flag, const std::string& value);

// --threads in [1, 1024]; omp_get_max_threads() when it is absent.
int parse_threads(const po::variables_map& vm);

// Returns parse(): the value of command-line option `flag` read by a library parser. An
// InvalidArgument it throws is reported under the flag ("--shard: ...") unless it already names it
// (the libraries' messages do not know the command line).
template <class Parse>
auto parse_option(const std::string& flag, const Parse& parse) -> decltype(parse()) {
  try {
    return parse();
  } catch (const InvalidArgument& e) {
    const std::string what = e.what();
    if (what.find(flag) != std::string::npos) throw;
    throw InvalidArgument(flag + ": " + what);
  }
}

// --merge DIR...: the shard directories to merge (InvalidArgument with --shard or without --out).
std::vector<std::filesystem::path> merge_inputs(const po::variables_map& vm);

// --shard i/N (default 0/1); InvalidArgument if malformed, or split without --out.
experiments::Shard shard_option(const po::variables_map& vm);

// Runs a command and turns what it throws into an exit code: bad input (po::error,
// InvalidArgument) is 2, any other exception 1; the message goes to stderr as one line.
int run_and_translate(const std::function<int()>& command);

}  // namespace wrsec::app
