#pragma once
// What the libFuzzer harnesses share. A harness feeds one input to one parser of outside input.
// wrsec's documented answer to a malformed input, an InvalidArgument (one line), is not a
// finding; everything else escapes the harness and is one: a crash, a sanitizer report, a hang
// (libFuzzer's -timeout), a std::bad_alloc or -rss_limit_mb, an exception of another type.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <string_view>

#include "core/errors.h"

namespace wrsec::fuzz {

// Runs f(); an InvalidArgument is the expected rejection and is swallowed.
template <class F>
void expect_valid_or_rejected(F&& f) {
  try {
    f();
  } catch (const InvalidArgument&) {
  }
}

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Files for readers that take a path: under /dev/shm (memory) when it exists, else the temporary
// directory; one per process and name, so parallel jobs (-jobs=N) do not collide; removed at exit.
class Scratch {
 public:
  // Writes bytes to this process's file `name` and returns its path.
  static std::filesystem::path write(const std::string& name, std::string_view bytes) {
    const std::filesystem::path path = Scratch::path(name);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) std::abort();  // the harness's own I/O, not the code under test
    return path;
  }
  // This process's file `name` (not created).
  static std::filesystem::path path(const std::string& name) {
    static Scratch scratch;
    const std::filesystem::path p =
        scratch.dir_ / ("wrsec-fuzz-" + std::to_string(::getpid()) + "-" + name);
    scratch.names_.insert(p);
    return p;
  }

 private:
  Scratch() {
    std::error_code ec;
    dir_ = std::filesystem::is_directory("/dev/shm", ec) ? std::filesystem::path("/dev/shm")
                                                         : std::filesystem::temp_directory_path();
  }
  ~Scratch() {
    for (const auto& p : names_) {
      std::error_code ec;
      std::filesystem::remove(p, ec);
    }
  }
  std::filesystem::path dir_;
  std::set<std::filesystem::path> names_;
};

}  // namespace wrsec::fuzz
