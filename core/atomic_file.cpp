#include "core/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "core/errors.h"

namespace wrsec {
namespace {

[[noreturn]] void fail_io(const std::string& what, const std::filesystem::path& path) {
  const int err = errno;
  throw RuntimeError(what + " '" + path.string() + "': " + std::strerror(err));
}

}  // namespace

AtomicFile::AtomicFile(std::filesystem::path target) : target_(std::move(target)) {
  dir_ = target_.parent_path();
  if (dir_.empty()) dir_ = ".";
  std::string name = ".";
  name += target_.filename().string();
  name += ".tmp-XXXXXX";
  std::string tmpl = (dir_ / name).string();
  fd_ = ::mkstemp(tmpl.data());
  if (fd_ < 0) fail_io("cannot write", target_);
  temp_ = tmpl;
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !temp_.empty()) ::unlink(temp_.c_str());
}

void AtomicFile::write(const void* bytes, std::size_t n) {
  const auto* p = static_cast<const unsigned char*>(bytes);
  while (n > 0) {
    const ::ssize_t w = ::write(fd_, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      fail_io("cannot write", temp_);
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

void AtomicFile::commit() {
  if (::fchmod(fd_, 0644) != 0) fail_io("cannot chmod", temp_);
  if (::fsync(fd_) != 0) fail_io("cannot sync", temp_);
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0) fail_io("cannot close", temp_);
  if (::rename(temp_.c_str(), target_.c_str()) != 0)
    fail_io("cannot rename the temporary file to", target_);
  committed_ = true;
  // Make the rename durable; failure here does not undo a completed write.
  const int dir_fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    (void)::fsync(dir_fd);
    ::close(dir_fd);
  }
}

void write_file_atomically(const std::filesystem::path& path, std::string_view text) {
  AtomicFile f(path);
  f.write(text);
  f.commit();
}

}  // namespace wrsec
