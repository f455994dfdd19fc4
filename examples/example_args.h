#pragma once
// Shared by the numbered examples, so that each main stays about the example: a tiny command line
// ("--name VALUE" options with defaults, --help) and wrsec's front-end error convention (one line
// on stderr; exit code 2 for bad input, 1 when the environment fails, as apps/wrsec.cpp does).
#include <cmath>
#include <cstdint>
#include <exception>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "core/errors.h"

namespace wrsec::examples {

class Args {
 public:
  Args(std::string program, std::string summary)
      : program_(std::move(program)), summary_(std::move(summary)) {}

  // Declares the option --name VALUE with its default and one line of help.
  Args& option(const std::string& name, const std::string& fallback, const std::string& help) {
    options_.push_back({name, fallback, help});
    return *this;
  }

  // Reads argv. Prints the usage and returns false for --help / -h; throws InvalidArgument for an
  // unknown option or a missing value.
  bool parse(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
      const std::string arg = argv[i];
      if (arg == "--help" || arg == "-h") {
        print_usage();
        return false;
      }
      Option* opt = arg.starts_with("--") ? find(arg.substr(2)) : nullptr;
      if (opt == nullptr) throw InvalidArgument("unknown argument '" + arg + "' (try --help)");
      if (i + 1 >= argc) throw InvalidArgument(arg + " needs a value");
      opt->value = argv[++i];
    }
    return true;
  }

  // The value of --name as an integer in [lo, hi]; InvalidArgument naming the option otherwise.
  [[nodiscard]] std::uint64_t integer(const std::string& name, std::uint64_t lo,
                                      std::uint64_t hi) const {
    const std::string& text = value(name);
    const auto bad = [&] {
      return InvalidArgument("--" + name + " must be an integer in [" + std::to_string(lo) + ", " +
                             std::to_string(hi) + "], got '" + text + "'");
    };
    if (text.empty() || text.size() > 19 || text.find_first_not_of("0123456789") != text.npos)
      throw bad();
    const std::uint64_t v = std::stoull(text);
    if (v < lo || v > hi) throw bad();
    return v;
  }

  // The value of --name as a number in the open interval (lo, hi).
  [[nodiscard]] double number(const std::string& name, double lo, double hi) const {
    const std::string& text = value(name);
    std::size_t used = 0;
    double v = NAN;
    try {
      v = std::stod(text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != text.size() || !(v > lo && v < hi)) {
      std::ostringstream range;
      range << '(' << lo << ", " << hi << ')';
      throw InvalidArgument("--" + name + " must be a number in " + range.str() + ", got '" + text +
                            "'");
    }
    return v;
  }

  [[nodiscard]] const std::string& text(const std::string& name) const { return value(name); }

 private:
  struct Option {
    std::string name;
    std::string value;
    std::string help;
  };

  Option* find(const std::string& name) {
    for (Option& o : options_)
      if (o.name == name) return &o;
    return nullptr;
  }
  [[nodiscard]] const std::string& value(const std::string& name) const {
    for (const Option& o : options_)
      if (o.name == name) return o.value;
    throw LogicError("example reads undeclared option --" + name);
  }
  void print_usage() const {
    std::cout << "usage: " << program_ << " [options]\n" << summary_ << "\n\noptions:\n";
    for (const Option& o : options_) {
      const std::string flag = "  --" + o.name + " " + (o.value.empty() ? "VALUE" : o.value);
      std::cout << flag << std::string(flag.size() < 26 ? 26 - flag.size() : 1, ' ') << o.help
                << '\n';
    }
    std::cout << "  --help" << std::string(18, ' ') << "show this help\n";
  }

  std::string program_;
  std::string summary_;
  std::vector<Option> options_;
};

// Runs an example's body: bad input (InvalidArgument) exits 2 with one line, any other failure
// exits 1 with one line; otherwise the body's own exit code.
inline int run_example(const char* program, const std::function<int()>& body) {
  try {
    return body();
  } catch (const InvalidArgument& e) {
    std::cerr << program << ": error: " << e.what() << '\n';
    return 2;
  } catch (const std::exception& e) {
    std::cerr << program << ": error: " << e.what() << '\n';
    return 1;
  }
}

}  // namespace wrsec::examples
