#pragma once
// Files that hold private material (an owner's signing key).
//   create_private_file(p, t): p ← t, created new with mode 0600, atomically (a temporary beside
//     it is linked to p, which fails if p exists): an existing file is never replaced, and p
//     is either absent or complete.
//   read_private_file(p): the contents of p, refused unless p is a regular file that only its
//     owner can read or write (mode & 077 = 0, as ssh requires of private keys).
#include <filesystem>
#include <string>
#include <string_view>

namespace wrsec {

// InvalidArgument if path exists (or is a dangling symlink); RuntimeError on an I/O failure.
void create_private_file(const std::filesystem::path& path, std::string_view text);
// InvalidArgument for a missing, non-regular, too open or oversized (> 1 MiB) file.
[[nodiscard]] std::string read_private_file(const std::filesystem::path& path);

}  // namespace wrsec
