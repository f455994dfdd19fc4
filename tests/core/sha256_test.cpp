#include "core/sha256.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/errors.h"

namespace wrsec {
namespace {

std::string hex_sha256(std::string_view text) {
  return to_hex(sha256(text));
}

// FIPS 180-4 / NIST CSRS example vectors.
TEST(Sha256, NistShortVectors) {
  EXPECT_EQ(hex_sha256(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hex_sha256("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hex_sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(
      hex_sha256("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklm"
                 "nopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
      "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

TEST(Sha256, OneMillionAInOddChunks) {
  const std::string expected = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
  const std::string block(1000, 'a');
  for (std::size_t chunk : {1u, 3u, 7u, 55u, 63u, 64u, 65u, 127u, 997u}) {
    Sha256 h;
    std::size_t left = 1000000;
    while (left > 0) {
      const std::size_t take = std::min({chunk, left, block.size()});
      h.update(block.data(), take);
      left -= take;
    }
    EXPECT_EQ(to_hex(h.finish()), expected) << "chunk " << chunk;
  }
  EXPECT_EQ(hex_sha256(std::string(1000000, 'a')), expected);
}

// Lengths around the padding boundary (55/56 bytes fit / do not fit the length field); values
// from Python's hashlib.
TEST(Sha256, PaddingBoundaries) {
  const std::pair<std::size_t, const char*> cases[] = {
      {55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
      {56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
      {63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
      {64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
      {65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"},
      {119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"},
      {120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"},
      {128, "6836cf13bac400e9105071cd6af47084dfacad4e5e302c94bfed24e013afb73e"},
  };
  for (const auto& [length, expected] : cases) {
    EXPECT_EQ(hex_sha256(std::string(length, 'a')), expected) << "length " << length;
    Sha256 h;
    for (std::size_t i = 0; i < length; ++i) h.update("a");
    EXPECT_EQ(to_hex(h.finish()), expected) << "bytewise, length " << length;
  }
}

TEST(Sha256, BinaryDataWithZeros) {
  const std::string with_zero("a\0b", 3);
  EXPECT_NE(hex_sha256(with_zero), hex_sha256("ab"));
  EXPECT_NE(hex_sha256(with_zero), hex_sha256("a"));
}

TEST(Sha256, FilesAreHashedInBlocksLikeTheirBytes) {
  const std::filesystem::path p =
      std::filesystem::path(::testing::TempDir()) / "wrsec_sha256_file_test.bin";
  std::string bytes(200000, '\0');  // spans several read blocks, with zeros
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 131 % 251);
  std::ofstream(p, std::ios::binary) << bytes;
  std::uint64_t n = 0;
  EXPECT_EQ(sha256_file(p, &n), sha256(bytes));
  EXPECT_EQ(n, bytes.size());
  std::ofstream(p, std::ios::binary | std::ios::trunc) << "abc";
  EXPECT_EQ(to_hex(sha256_file(p)),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::filesystem::remove(p);
  EXPECT_THROW((void)sha256_file(p), InvalidArgument);
}

TEST(Hex, RoundTrip) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  const std::string hex = to_hex(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  EXPECT_EQ(hex.size(), 512u);
  EXPECT_EQ(hex.substr(0, 8), "00010203");
  EXPECT_EQ(hex.substr(504), "fcfdfeff");
  EXPECT_EQ(from_hex(hex), bytes);
  EXPECT_EQ(from_hex("DEADbeef"), std::string("\xde\xad\xbe\xef"));
  EXPECT_EQ(from_hex(""), "");
  EXPECT_EQ(to_hex(nullptr, 0), "");
  const Digest d = sha256("abc");
  EXPECT_EQ(from_hex(to_hex(d)), std::string(reinterpret_cast<const char*>(d.data()), d.size()));
}

TEST(Hex, RejectsMalformed) {
  EXPECT_THROW((void)from_hex("abc"), InvalidArgument);  // odd length
  EXPECT_THROW((void)from_hex("0g"), InvalidArgument);
  EXPECT_THROW((void)from_hex("zz"), InvalidArgument);
  EXPECT_THROW((void)from_hex("0x12"), InvalidArgument);
  EXPECT_THROW((void)from_hex(" 1"), InvalidArgument);
  EXPECT_THROW((void)from_hex(std::string("0\0", 2)), InvalidArgument);
  try {
    (void)from_hex("12345z");
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("position 5"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace wrsec
