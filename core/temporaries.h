#pragma once
// Temporaries removed when the process is interrupted. A Temporary registers a path this process
// created and will rename or remove before it ends normally (an AtomicFile's temporary, a run
// directory being staged). When SIGINT, SIGTERM or SIGHUP arrives and
// install_interrupt_cleanup() has been called, a handler removes every registered path (files
// first, then directories, deepest first), restores the signal's default action and raises it
// again: the process still dies of the signal, and leaves no temporary behind. The handler uses
// only async-signal-safe calls (unlink, rmdir, sigaction, raise) on paths copied into a fixed table
// at registration; a path that does not fit (more than 64 live, or longer than PATH_MAX) is not
// removed by the handler, and otherwise behaves the same.
#include <filesystem>
#include <string>

namespace wrsec {

// Installs the handler for SIGINT, SIGTERM and SIGHUP, each only where its disposition is the
// default one (a signal the parent ignored, as a shell does for background jobs, stays ignored).
// Idempotent. Programs call it once, early (the wrsec CLI does); a library never does.
void install_interrupt_cleanup();

class Temporary {
 public:
  enum class Kind { file, directory };
  Temporary() = default;
  // Registers path (made absolute) for removal by the handler until release() or destruction.
  Temporary(const std::filesystem::path& path, Kind kind);
  Temporary(Temporary&& other) noexcept;
  Temporary& operator=(Temporary&& other) noexcept;
  Temporary(const Temporary&) = delete;
  Temporary& operator=(const Temporary&) = delete;
  ~Temporary() { release(); }

  // The path is no longer the handler's to remove (it was renamed into place, or removed).
  void release() noexcept;

 private:
  int slot_ = -1;
};

// mkstemp / mkdtemp whose result is registered before it exists, so that an interrupt at any
// moment removes it: the trailing "XXXXXX" of tmpl is replaced by random characters, the path is
// registered, then created exclusively (file: mode 0600, O_CLOEXEC; directory: mode 0700).
// Return the descriptor (or 0 for a directory), or -1 with errno set. A name that exists
// already is released before the next try.
int make_registered_file(std::string& tmpl, Temporary& registration);
int make_registered_directory(std::string& tmpl, Temporary& registration);

}  // namespace wrsec
