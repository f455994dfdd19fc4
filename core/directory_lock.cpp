#include "core/directory_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <utility>

#include "core/errors.h"

namespace wrsec {
namespace {

std::string holder_line() {
  char host[256] = {0};
  if (::gethostname(host, sizeof(host) - 1) != 0) std::strcpy(host, "unknown");
  char when[32] = "unknown";
  const std::time_t now = std::time(nullptr);
  struct std::tm tm {};
  if (::gmtime_r(&now, &tm) != nullptr)
    std::strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return std::to_string(::getpid()) + " " + host + " " + when + "\n";
}

// "pid N on host H (started T)" from a lock file's line, or a plain phrase if it is unreadable.
std::string describe_holder(int fd) {
  char buf[512] = {0};
  const ::ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
  std::string line(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
  line = line.substr(0, line.find('\n'));
  const auto a = line.find(' ');
  const auto b = a == std::string::npos ? a : line.find(' ', a + 1);
  if (b == std::string::npos) return "another process";
  return "pid " + line.substr(0, a) + " on host " + line.substr(a + 1, b - a - 1) + " (started " +
         line.substr(b + 1) + ")";
}

}  // namespace

DirectoryLock::DirectoryLock(const std::filesystem::path& dir, const std::string& what) {
  const std::filesystem::path path = dir / kFileName;
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    const int err = errno;
    const std::string message =
        "cannot create the lock file '" + path.string() + "': " + std::strerror(err);
    if (err == EACCES || err == EPERM) throw InvalidArgument(message);
    throw RuntimeError(message);
  }
  while (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err == EINTR) continue;
    const std::string holder = err == EWOULDBLOCK ? describe_holder(fd_) : "";
    ::close(fd_);
    fd_ = -1;
    if (err == EWOULDBLOCK)
      throw InvalidArgument(what + " '" + dir.string() + "' is in use by " + holder);
    throw RuntimeError("cannot lock '" + path.string() + "': " + std::strerror(err));
  }
  const std::string line = holder_line();
  const bool described = ::ftruncate(fd_, 0) == 0 && ::pwrite(fd_, line.data(), line.size(), 0) ==
                                                         static_cast<::ssize_t>(line.size());
  (void)described;  // without its description the lock holds all the same
}

DirectoryLock::DirectoryLock(DirectoryLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

DirectoryLock& DirectoryLock::operator=(DirectoryLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

DirectoryLock::~DirectoryLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the lock
}

bool DirectoryLock::abandoned(const std::filesystem::path& dir) {
  const int fd = ::open((dir / kFileName).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  // An empty lock file is one being created (its creator opens it, then locks it, then writes
  // its line): probing it could make that creator's flock fail, so it counts as held unless it
  // has been empty for an hour (a creator killed between open and write).
  struct stat st {};
  const bool described = ::fstat(fd, &st) == 0 && st.st_size > 0;
  const bool stale = ::fstat(fd, &st) == 0 && std::time(nullptr) - st.st_mtime > 3600;
  const bool free = (described || stale) && ::flock(fd, LOCK_EX | LOCK_NB) == 0;
  ::close(fd);
  return free;
}

}  // namespace wrsec
