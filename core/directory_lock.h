#pragma once
// DirectoryLock: an advisory, exclusive lock (flock(2)) on DIR/.lock, held while the object lives,
// so that two processes never work in one directory at once. The file holds "pid host started-at"
// of the holder, which a refused process names. The kernel drops the lock when its holder exits or
// is killed (even by SIGKILL), so a lock file left behind never blocks anyone; only a live holder
// does. (flock is advisory: it binds the processes that take it, i.e. every wrsec command.)
#include <filesystem>
#include <string>

namespace wrsec {

class DirectoryLock {
 public:
  // Name of the lock file inside the directory.
  static constexpr const char* kFileName = ".lock";

  // Takes the lock of dir (an existing directory), creating dir/.lock if needed.
  // @throws InvalidArgument "<what> 'DIR' is in use by pid N on host H (started T)" when a live
  //         process holds it; RuntimeError when the lock file cannot be created or locked.
  DirectoryLock(const std::filesystem::path& dir, const std::string& what);
  DirectoryLock(DirectoryLock&& other) noexcept;
  DirectoryLock& operator=(DirectoryLock&& other) noexcept;
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;
  ~DirectoryLock();

  // Whether dir/.lock exists, was written by a holder (or has been empty for an hour) and no live
  // process holds it: what a killed holder leaves.
  [[nodiscard]] static bool abandoned(const std::filesystem::path& dir);

 private:
  int fd_ = -1;
};

}  // namespace wrsec
