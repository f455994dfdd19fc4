#pragma once
// AtomicFile: writes go to a temporary file beside the target; commit() flushes, fsyncs and
// renames it over the target, so readers see either the old file or the complete new one. If
// commit() is never reached (an error, an exception), the destructor removes the temporary:
// nothing half-written is left behind.
#include <filesystem>
#include <fstream>

namespace wrsec {

class AtomicFile {
 public:
  // Throws RuntimeError when the temporary cannot be created (e.g. missing directory).
  explicit AtomicFile(std::filesystem::path target);
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();

  std::ofstream& stream() { return out_; }
  // Throws RuntimeError on a write, flush or rename failure (and removes the temporary).
  void commit();
  [[nodiscard]] const std::filesystem::path& target() const { return target_; }

 private:
  std::filesystem::path target_;
  std::filesystem::path temp_;
  std::ofstream out_;
  bool committed_ = false;
};

}  // namespace wrsec
