#pragma once
// Running the wrsec binary from a test: spawn it (stdout and stderr to /dev/null or to a file),
// wait for it, or run it to the end. WRSEC_BINARY is the path CMake defines for the test.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

extern char** environ;

namespace wrsec::test_support {

// The pid of `binary args...` with stdout and stderr written to `output` (truncated), or -1 if it
// could not be started. The child gets the default action for SIGINT, SIGTERM and SIGHUP, as a
// command started from a terminal does (a test runner started in the background may ignore
// SIGINT, and ignored signals are inherited).
inline pid_t spawn_to_file(const std::string& binary, const std::vector<std::string>& args,
                           const std::string& output) {
  std::vector<std::string> all = {binary};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (const int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, binary.c_str(), &actions, &attr, argv.data(), environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

// The same with stdout and stderr to /dev/null.
inline pid_t spawn_quiet(const std::string& binary, const std::vector<std::string>& args) {
  return spawn_to_file(binary, args, "/dev/null");
}

// The wait status of pid (-1000 if waiting failed).
inline int wait_for(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1000;
  return status;
}

}  // namespace wrsec::test_support
