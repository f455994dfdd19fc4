#pragma once
// AtomicFile: the one writer of files wrsec produces. Where the target is a regular file or
// nothing, writes go to a unique temporary beside it (mkstemp); commit() syncs it, renames it over
// the target and syncs the directory, so readers see either the old file or the complete new one;
// if commit() is never reached (an error, an exception), the destructor removes the temporary, and
// an interrupted process removes it too (core/temporaries.h). A replaced file keeps its permission
// bits (a new one gets 0644).
//
// Other targets follow the output rules of core/output_path.h: "-" and standard output or error
// are written through their descriptor, a FIFO or character device is written through (no
// temporary, no rename: what was written before a failure stays written), a symbolic link is
// followed (the link stays), and a directory or other special file is refused.
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/output_path.h"
#include "core/temporaries.h"

namespace wrsec {

class AtomicFile {
 public:
  // Throws InvalidArgument for a refused target (core/output_path.h) and RuntimeError naming the
  // target when the temporary cannot be created or the target cannot be opened.
  explicit AtomicFile(std::filesystem::path target);
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();

  // Throws RuntimeError on a failed write.
  void write(const void* bytes, std::size_t n);
  void write(std::string_view text) { write(text.data(), text.size()); }
  // Throws RuntimeError on a failed sync, close or rename (and the temporary is removed).
  void commit();
  // The path as given.
  [[nodiscard]] const std::filesystem::path& target() const { return target_; }

 private:
  std::filesystem::path target_;
  OutputTarget resolved_;
  std::filesystem::path dir_;
  std::filesystem::path temp_;
  Temporary registration_;
  unsigned mode_ = 0644;
  int fd_ = -1;
  bool committed_ = false;
};

// Writes text to path atomically (an AtomicFile written and committed at once).
void write_file_atomically(const std::filesystem::path& path, std::string_view text);

// Renames the directory `from` to `to` unless something exists at `to` (renameat2 with
// RENAME_NOREPLACE; on a file system without it, a plain rename after checking that nothing is
// at `to`, which leaves a race with another creator). Returns 0 or the errno (EEXIST or
// ENOTEMPTY: `to` exists).
[[nodiscard]] int rename_directory_no_replace(const std::filesystem::path& from,
                                              const std::filesystem::path& to);

// Creates the directory `dir` holding exactly `files` (name, content), all or nothing: they are
// written into a registered staging directory beside it (".NAME.partial-XXXXXX", mode 0755),
// which is renamed into place without replacing anything. InvalidArgument if `dir` exists or a
// name is not a plain file name; RuntimeError if writing fails (the staging directory is removed).
void create_directory_atomically(const std::filesystem::path& dir,
                                 const std::vector<std::pair<std::string, std::string>>& files);

}  // namespace wrsec
