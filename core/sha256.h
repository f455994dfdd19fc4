#pragma once
// SHA-256 (FIPS 180-4): 32-byte digest of a byte string, incremental or one-shot. Used to derive
// watermark keys from owner signatures and to fingerprint models and claims.
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace wrsec {

using Digest = std::array<std::uint8_t, 32>;

class Sha256 {
 public:
  Sha256() noexcept;
  void update(const void* data, std::size_t size) noexcept;
  void update(std::string_view text) noexcept { update(text.data(), text.size()); }
  // The digest of everything updated so far; the object must not be updated afterwards.
  [[nodiscard]] Digest finish() noexcept;

 private:
  void compress(const std::uint8_t* block) noexcept;
  std::array<std::uint32_t, 8> state_;
  std::array<std::uint8_t, 64> buffer_{};
  std::size_t buffered_ = 0;
  std::uint64_t length_ = 0;  // bytes
};

[[nodiscard]] Digest sha256(std::string_view data) noexcept;
// SHA-256 of a file's bytes, read in blocks; `bytes` receives their number. InvalidArgument naming
// the path when it cannot be read.
[[nodiscard]] Digest sha256_file(const std::filesystem::path& path, std::uint64_t* bytes = nullptr);
// Lower-case hex of bytes, and its inverse (InvalidArgument for odd length or non-hex text).
[[nodiscard]] std::string to_hex(const std::uint8_t* data, std::size_t size);
[[nodiscard]] inline std::string to_hex(const Digest& d) {
  return to_hex(d.data(), d.size());
}
[[nodiscard]] std::string from_hex(std::string_view hex);

}  // namespace wrsec
