#include "core/private_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/errors.h"
#include "core/temporaries.h"

namespace wrsec {
namespace {

constexpr off_t kMaxPrivateFileBytes = 1 << 20;

std::string quoted(const std::filesystem::path& path) {
  return "'" + path.string() + "'";
}

[[noreturn]] void fail_io(const std::string& what, const std::filesystem::path& path, int err) {
  throw RuntimeError(what + " " + quoted(path) + ": " + std::strerror(err));
}

// Closes the descriptor and removes the temporary unless released.
struct PendingFile {
  std::string path;
  int fd = -1;
  ~PendingFile() {
    if (fd >= 0) ::close(fd);
    if (!path.empty()) ::unlink(path.c_str());
  }
};

}  // namespace

void create_private_file(const std::filesystem::path& path, std::string_view text) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0)
    throw InvalidArgument(quoted(path) + " already exists; a private key is never overwritten");
  std::filesystem::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  PendingFile tmp;
  tmp.path = (dir / ("." + path.filename().string() + ".tmp-XXXXXX")).string();
  // Registered for the interrupt handler before it exists: a stray copy of a private key must not
  // survive SIGINT.
  Temporary registered;
  tmp.fd = make_registered_file(tmp.path, registered);  // mode 0600
  if (tmp.fd < 0) {
    const int err = errno;
    tmp.path.clear();
    fail_io("cannot write", path, err);
  }
  if (::fchmod(tmp.fd, 0600) != 0) fail_io("cannot chmod", path, errno);
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(tmp.fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_io("cannot write", path, errno);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(tmp.fd) != 0) fail_io("cannot sync", path, errno);
  if (::link(tmp.path.c_str(), path.c_str()) != 0) {
    if (errno == EEXIST)
      throw InvalidArgument(quoted(path) + " already exists; a private key is never overwritten");
    fail_io("cannot create", path, errno);
  }
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

std::string read_private_file(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) throw InvalidArgument("cannot read " + quoted(path) + ": no such file");
    throw InvalidArgument("cannot read " + quoted(path) + ": " + std::strerror(err));
  }
  PendingFile guard;  // closes fd
  guard.fd = fd;
  struct stat st {};
  if (::fstat(fd, &st) != 0) fail_io("cannot stat", path, errno);
  if (!S_ISREG(st.st_mode))
    throw InvalidArgument("cannot read " + quoted(path) + ": not a regular file");
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    throw InvalidArgument("permissions " + std::string(mode) + " of " + quoted(path) +
                          " are too open: a private key must be readable by its owner only "
                          "(chmod 600 " +
                          path.string() + ")");
  }
  if (st.st_size > kMaxPrivateFileBytes)
    throw InvalidArgument(quoted(path) + " is too large to be a private key file");
  std::string text(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::read(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_io("cannot read", path, errno);
    }
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  text.resize(done);
  return text;
}

}  // namespace wrsec
