#include "core/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "core/errors.h"

namespace wrsec {
namespace {

[[noreturn]] void fail_io(const std::string& what, const std::filesystem::path& path) {
  const int err = errno;
  if (err == EACCES || err == EPERM)
    throw InvalidArgument(what + " '" + path.string() + "': " + std::strerror(err));
  throw RuntimeError(what + " '" + path.string() + "': " + std::strerror(err));
}

}  // namespace

AtomicFile::AtomicFile(std::filesystem::path target)
    : target_(std::move(target)), resolved_(resolve_output(target_)) {
  switch (resolved_.kind) {
    case OutputTarget::Kind::stream:
      std::fflush(nullptr);  // what the program printed before comes first
      fd_ = ::fcntl(resolved_.descriptor, F_DUPFD_CLOEXEC, 3);
      if (fd_ < 0) fail_io("cannot write", target_);
      return;
    case OutputTarget::Kind::device:
      fd_ = ::open(target_.c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC);
      if (fd_ < 0) fail_io("cannot write", target_);
      return;
    case OutputTarget::Kind::replace:
      break;
  }
  const std::filesystem::path& path = resolved_.path;
  dir_ = path.parent_path();
  if (dir_.empty()) dir_ = ".";
  struct ::stat st {};
  if (::stat(path.c_str(), &st) == 0) mode_ = st.st_mode & 07777;
  std::string name = ".";
  name += path.filename().string();
  name += ".tmp-XXXXXX";
  std::string tmpl = (dir_ / name).string();
  fd_ = make_registered_file(tmpl, registration_);  // registered before it exists
  if (fd_ < 0) fail_io("cannot write", target_);
  temp_ = tmpl;
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !temp_.empty()) ::unlink(temp_.c_str());
}

void AtomicFile::write(const void* bytes, std::size_t n) {
  if (resolved_.kind == OutputTarget::Kind::stream) std::fflush(nullptr);
  const auto* p = static_cast<const unsigned char*>(bytes);
  while (n > 0) {
    const ::ssize_t w = ::write(fd_, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      fail_io("cannot write", temp_.empty() ? target_ : temp_);
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

void AtomicFile::commit() {
  if (resolved_.kind != OutputTarget::Kind::replace) {
    const int fd = std::exchange(fd_, -1);
    if (::close(fd) != 0) fail_io("cannot write", target_);
    committed_ = true;
    return;
  }
  if (::fchmod(fd_, static_cast<::mode_t>(mode_)) != 0) fail_io("cannot chmod", temp_);
  if (::fsync(fd_) != 0) fail_io("cannot sync", temp_);
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0) fail_io("cannot close", temp_);
  if (::rename(temp_.c_str(), resolved_.path.c_str()) != 0)
    fail_io("cannot rename the temporary file to", target_);
  committed_ = true;
  registration_.release();
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

int rename_directory_no_replace(const std::filesystem::path& from,
                                const std::filesystem::path& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return 0;
  const int err = errno;
  if (err != EINVAL && err != ENOSYS) return err;
  std::error_code ec;
  if (std::filesystem::exists(std::filesystem::symlink_status(to, ec))) return EEXIST;
  return ::rename(from.c_str(), to.c_str()) == 0 ? 0 : errno;
}

void create_directory_atomically(const std::filesystem::path& dir,
                                 const std::vector<std::pair<std::string, std::string>>& files) {
  namespace fs = std::filesystem;
  const auto exists = [&] {
    return InvalidArgument("'" + dir.string() +
                           "' exists (a new directory is never written over "
                           "anything; choose another path or remove it)");
  };
  for (const auto& [name, content] : files)
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos)
      throw InvalidArgument("'" + name + "' is not a plain file name");
  if (fs::exists(fs::symlink_status(dir))) throw exists();
  fs::path parent = dir.parent_path();
  if (parent.empty()) parent = ".";
  if (!fs::is_directory(parent))
    throw InvalidArgument("cannot create '" + dir.string() + "': '" + parent.string() +
                          "' is not a directory");
  std::string tmpl = (parent / ("." + dir.filename().string() + ".partial-XXXXXX")).string();
  std::vector<Temporary> staged(1);
  if (make_registered_directory(tmpl, staged[0]) != 0) {
    const int err = errno;
    throw RuntimeError("cannot create a directory beside '" + dir.string() +
                       "': " + std::strerror(err));
  }
  const fs::path staging = tmpl;
  try {
    for (const auto& [name, content] : files) {
      staged.emplace_back(staging / name, Temporary::Kind::file);
      write_file_atomically(staging / name, content);
    }
    fs::permissions(staging, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                 fs::perms::others_read | fs::perms::others_exec);
    if (const int err = rename_directory_no_replace(staging, dir); err != 0) {
      if (err == EEXIST || err == ENOTEMPTY) throw exists();
      throw RuntimeError("cannot create '" + dir.string() + "': " + std::strerror(err));
    }
    for (auto& t : staged) t.release();
  } catch (...) {
    std::error_code ec;
    fs::remove_all(staging, ec);
    throw;
  }
}

}  // namespace wrsec
