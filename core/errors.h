#pragma once
// Exception hierarchy shared by every layer.
//   InvalidArgument: the user's input is wrong (bad spec, unknown id, malformed file, NaN weights).
//   LogicError:      an internal invariant was broken (a bug in wrsec).
//   RuntimeError:    the environment failed (I/O error, missing data set).
// Front ends map InvalidArgument to exit code 2 and print one line.
#include <stdexcept>
#include <string>

namespace wrsec {

class Error {
 public:
  virtual ~Error() = default;
  [[nodiscard]] virtual const char* message() const noexcept = 0;
};

class InvalidArgument : public std::invalid_argument, public Error {
 public:
  explicit InvalidArgument(const std::string& what) : std::invalid_argument(what) {}
  [[nodiscard]] const char* message() const noexcept override { return what(); }
};

class LogicError : public std::logic_error, public Error {
 public:
  explicit LogicError(const std::string& what) : std::logic_error(what) {}
  [[nodiscard]] const char* message() const noexcept override { return what(); }
};

class RuntimeError : public std::runtime_error, public Error {
 public:
  explicit RuntimeError(const std::string& what) : std::runtime_error(what) {}
  [[nodiscard]] const char* message() const noexcept override { return what(); }
};

// Throws LogicError with the location when an internal invariant fails (stays on in release).
#define WRSEC_CHECK(cond, msg)                                                                  \
  do {                                                                                          \
    if (!(cond))                                                                                \
      throw ::wrsec::LogicError(std::string(__FILE__) + ":" + std::to_string(__LINE__) + ": " + \
                                (msg));                                                         \
  } while (false)

}  // namespace wrsec
