#pragma once
// AtomicFile: writes go to a unique temporary file beside the target (mkstemp); commit() syncs
// it, renames it over the target and syncs the directory, so readers see either the old file or
// the complete new one. If commit() is never reached (an error, an exception), the destructor
// removes the temporary: nothing half-written is left behind.
#include <filesystem>
#include <string_view>

namespace wrsec {

class AtomicFile {
 public:
  // Throws RuntimeError naming the target when the temporary cannot be created.
  explicit AtomicFile(std::filesystem::path target);
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();

  // Throws RuntimeError on a failed write.
  void write(const void* bytes, std::size_t n);
  void write(std::string_view text) { write(text.data(), text.size()); }
  // Throws RuntimeError on a failed sync, close or rename (and the temporary is removed).
  void commit();
  [[nodiscard]] const std::filesystem::path& target() const { return target_; }

 private:
  std::filesystem::path target_;
  std::filesystem::path dir_;
  std::filesystem::path temp_;
  int fd_ = -1;
  bool committed_ = false;
};

// Writes text to path atomically (an AtomicFile written and committed at once).
void write_file_atomically(const std::filesystem::path& path, std::string_view text);

}  // namespace wrsec
