#include "core/output_path.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "core/errors.h"

namespace wrsec {
namespace fs = std::filesystem;

namespace {

// The path a chain of symbolic links ends at (the path itself if it is not a link); the end may
// not exist. Links are followed the kernel's way: relative targets from the link's directory.
fs::path final_target(const fs::path& given) {
  fs::path p = given;
  for (int hops = 0;; ++hops) {
    struct ::stat st {};
    if (::lstat(p.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return p;
    if (hops == 40)
      throw InvalidArgument("'" + given.string() + "': too many levels of symbolic links");
    std::error_code ec;
    const fs::path link = fs::read_symlink(p, ec);
    if (ec) return p;
    p = link.is_absolute() ? link : p.parent_path() / link;
  }
}

// 1 or 2 when st is the file of standard output or error, else -1.
int standard_descriptor(const struct ::stat& st) {
  for (const int fd : {1, 2}) {
    struct ::stat s {};
    if (::fstat(fd, &s) == 0 && s.st_dev == st.st_dev && s.st_ino == st.st_ino) return fd;
  }
  return -1;
}

// Which file a path names: device and inode if it exists, else its absolute normalised path.
struct Identity {
  bool exists = false;
  dev_t dev = 0;
  ino_t ino = 0;
  fs::path where;
  [[nodiscard]] bool same(const Identity& o) const {
    if (exists != o.exists) return false;
    return exists ? dev == o.dev && ino == o.ino : where == o.where;
  }
};

Identity identify(const fs::path& path) {
  struct ::stat st {};
  Identity id;
  const bool found =
      path == kStandardOutputPath ? ::fstat(1, &st) == 0 : ::stat(path.c_str(), &st) == 0;
  if (found) {
    id.exists = true;
    id.dev = st.st_dev;
    id.ino = st.st_ino;
    return id;
  }
  const fs::path absolute = fs::absolute(final_target(path));
  std::error_code ec;
  id.where = fs::weakly_canonical(absolute, ec);
  if (ec) id.where = absolute.lexically_normal();
  return id;
}

}  // namespace

OutputTarget resolve_output(const fs::path& path) {
  if (path == kStandardOutputPath) return {OutputTarget::Kind::stream, path, 1};
  struct ::stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    const int fd = standard_descriptor(st);
    if (fd >= 0) return {OutputTarget::Kind::stream, path, fd};
    if (S_ISREG(st.st_mode)) return {OutputTarget::Kind::replace, final_target(path), -1};
    if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) return {OutputTarget::Kind::device, path, -1};
    if (S_ISDIR(st.st_mode)) throw InvalidArgument("'" + path.string() + "' is a directory");
    throw InvalidArgument("'" + path.string() +
                          "' is not a regular file, a FIFO or a character device");
  }
  const int err = errno;
  if (err == EACCES || err == EPERM)
    throw InvalidArgument("cannot write '" + path.string() + "': " + std::strerror(err));
  if (err == ELOOP)
    throw InvalidArgument("'" + path.string() + "': too many levels of symbolic links");
  // Nothing there (or a dangling link): the file is created; other errors are reported by the
  // attempt to create it.
  return {OutputTarget::Kind::replace, final_target(path), -1};
}

std::optional<std::string> input_file_problem(const fs::path& path) {
  struct ::stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) return "no such file";
    return std::strerror(err);
  }
  if (S_ISDIR(st.st_mode)) return "it is a directory";
  if (!S_ISREG(st.st_mode)) return "it is not a regular file";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::strerror(errno);
  ::close(fd);
  return std::nullopt;
}

void check_input_file(const fs::path& path) {
  if (const auto problem = input_file_problem(path))
    throw InvalidArgument("cannot read '" + path.string() + "': " + *problem);
}

void check_distinct_files(const std::vector<NamedPath>& inputs,
                          const std::vector<NamedPath>& outputs) {
  std::vector<Identity> in, out;
  for (const auto& i : inputs) in.push_back(identify(i.path));
  for (const auto& o : outputs) out.push_back(identify(o.path));
  const auto refuse = [](const NamedPath& a, const NamedPath& b) {
    const std::string shown = a.path == b.path
                                  ? "'" + a.path.string() + "'"
                                  : "'" + a.path.string() + "' and '" + b.path.string() + "'";
    return InvalidArgument(a.option + " and " + b.option + " name the same file (" + shown + ")");
  };
  for (std::size_t o = 0; o < outputs.size(); ++o) {
    for (std::size_t i = 0; i < inputs.size(); ++i)
      if (out[o].same(in[i])) throw refuse(outputs[o], inputs[i]);
    for (std::size_t p = 0; p < o; ++p)
      if (out[o].same(out[p])) throw refuse(outputs[o], outputs[p]);
  }
}

}  // namespace wrsec
