#include "nn/fashion_mnist.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/errors.h"

namespace wrsec::nn {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<unsigned char>;

void put_u32(Bytes& b, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<unsigned char>(v >> s));
}

Bytes idx_images(std::uint32_t count, std::uint32_t rows, std::uint32_t cols,
                 std::uint32_t magic = 0x803) {
  Bytes b;
  put_u32(b, magic);
  put_u32(b, count);
  put_u32(b, rows);
  put_u32(b, cols);
  for (std::uint32_t i = 0; i < count * rows * cols; ++i)
    b.push_back(static_cast<unsigned char>(i * 37));
  return b;
}

Bytes idx_labels(std::uint32_t count, std::uint32_t magic = 0x801) {
  Bytes b;
  put_u32(b, magic);
  put_u32(b, count);
  for (std::uint32_t i = 0; i < count; ++i) b.push_back(static_cast<unsigned char>(i % 10));
  return b;
}

// Runs `statement` in a child process (a death test) that must end within `seconds` by throwing
// InvalidArgument whose message matches `regex`; an allocation the size of a header's claim, a
// std::bad_alloc or a sanitizer report fails it.
#define EXPECT_QUICK_INVALID_ARGUMENT(statement, seconds, regex)   \
  EXPECT_EXIT(                                                     \
      {                                                            \
        ::alarm(seconds);                                          \
        try {                                                      \
          statement;                                               \
        } catch (const InvalidArgument& e) {                       \
          std::fprintf(stderr, "InvalidArgument: %s\n", e.what()); \
          std::_Exit(0);                                           \
        } catch (const std::exception& e) {                        \
          std::fprintf(stderr, "other exception: %s\n", e.what()); \
          std::_Exit(1);                                           \
        }                                                          \
        std::_Exit(2);                                             \
      },                                                           \
      ::testing::ExitedWithCode(0), regex)

class IdxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("wrsec_idx_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write_gz(const std::string& name, const Bytes& bytes) {
    const fs::path p = dir_ / name;
    gzFile f = gzopen(p.c_str(), "wb");
    EXPECT_NE(f, nullptr);
    EXPECT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())),
              static_cast<int>(bytes.size()));
    gzclose(f);
    return p;
  }
  fs::path write_raw(const std::string& name, const Bytes& bytes) {
    const fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
    return p;
  }

  fs::path dir_;
};

TEST_F(IdxTest, ReadsValidFiles) {
  const Matrix x = read_idx_images(write_gz("i.gz", idx_images(3, 2, 4)));
  ASSERT_EQ(x.rows(), 3);
  ASSERT_EQ(x.cols(), 8);
  for (int i = 0; i < 24; ++i)
    EXPECT_FLOAT_EQ(x.data()[i], static_cast<float>(static_cast<unsigned char>(i * 37)) / 255.0f);
  EXPECT_EQ(read_idx_labels(write_gz("l.gz", idx_labels(3))), (Labels{0, 1, 2}));
  // Uncompressed files are read as well.
  EXPECT_EQ(read_idx_labels(write_raw("l.raw", idx_labels(4))), (Labels{0, 1, 2, 3}));
  const Dataset d = read_idx_dataset(dir_ / "i.gz", dir_ / "l.gz");
  EXPECT_EQ(d.size(), 3);
}

TEST_F(IdxTest, RejectsBadMagic) {
  EXPECT_THROW((void)read_idx_images(write_gz("a.gz", idx_images(2, 2, 2, 0x801))),
               InvalidArgument);
  EXPECT_THROW((void)read_idx_images(write_gz("b.gz", idx_images(2, 2, 2, 0x903))),
               InvalidArgument);
  EXPECT_THROW((void)read_idx_labels(write_gz("c.gz", idx_labels(2, 0x803))), InvalidArgument);
}

TEST_F(IdxTest, RejectsTruncatedAndOversizedFiles) {
  Bytes img = idx_images(3, 2, 2);
  img.pop_back();
  EXPECT_THROW((void)read_idx_images(write_gz("t.gz", img)), InvalidArgument);
  EXPECT_THROW((void)read_idx_images(write_gz("h.gz", Bytes(img.begin(), img.begin() + 10))),
               InvalidArgument);
  Bytes lab = idx_labels(5);
  lab.resize(7);
  EXPECT_THROW((void)read_idx_labels(write_gz("tl.gz", lab)), InvalidArgument);
  Bytes more = idx_labels(5);
  more.push_back(1);
  EXPECT_THROW((void)read_idx_labels(write_gz("m.gz", more)), InvalidArgument);
  EXPECT_THROW((void)read_idx_images(write_gz("z.gz", idx_images(1, 0, 5))), InvalidArgument);
  // A gzip stream cut in the middle.
  Bytes big = idx_images(50, 28, 28);
  const fs::path whole = write_gz("w.gz", big);
  std::ifstream in(whole, std::ios::binary);
  Bytes gz((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  gz.resize(gz.size() / 2);
  EXPECT_THROW((void)read_idx_images(write_raw("cut.gz", gz)), InvalidArgument);
}

// Regression (fuzzing, issue 16): the readers allocated whatever the header declared before
// reading. A 16-byte file declaring 2^26 images of 4096 x 4096 asked for 2^50 bytes
// (std::bad_alloc, or a sanitizer abort); 1 GiB declared took 1 GiB and 17 s before "truncated"; 8
// bytes of labels header allocated 64 MiB. The declared size is now checked against the file first.
TEST_F(IdxTest, DeclaredImageSizeIsCheckedAgainstTheFileBeforeAllocating) {
  Bytes huge;
  put_u32(huge, 0x803);
  put_u32(huge, 1u << 26);
  put_u32(huge, 4096);
  put_u32(huge, 4096);
  const fs::path h = write_raw("huge", huge);
  EXPECT_QUICK_INVALID_ARGUMENT((void)read_idx_images(h), 5, "declares [0-9]+ bytes of pixels");
  Bytes gib;
  put_u32(gib, 0x803);
  put_u32(gib, 1u << 20);
  put_u32(gib, 32);
  put_u32(gib, 32);
  const fs::path g = write_raw("gib", gib);
  EXPECT_QUICK_INVALID_ARGUMENT((void)read_idx_images(g), 5,
                                "declares 1073741824 bytes of pixels but holds 0");
  // Compressed: a few dozen gzip bytes cannot hold 1 GiB.
  const fs::path gz = write_gz("gib.gz", gib);
  EXPECT_QUICK_INVALID_ARGUMENT((void)read_idx_images(gz), 5,
                                "declares 1073741824 bytes of pixels, more than");
}

TEST_F(IdxTest, DeclaredLabelCountIsCheckedAgainstTheFileBeforeAllocating) {
  Bytes lab;
  put_u32(lab, 0x801);
  put_u32(lab, 1u << 26);
  EXPECT_QUICK_INVALID_ARGUMENT((void)read_idx_labels(write_raw("l", lab)), 5,
                                "declares 67108864 bytes of labels but holds 0");
  EXPECT_QUICK_INVALID_ARGUMENT((void)read_idx_labels(write_gz("l.gz", lab)), 5,
                                "declares 67108864 bytes of labels, more than");
  // Trailing bytes of a plain file are named as such before reading.
  Bytes more = idx_labels(5);
  more.push_back(1);
  EXPECT_QUICK_INVALID_ARGUMENT((void)read_idx_labels(write_raw("m", more)), 5,
                                "data after the declared size");
}

TEST_F(IdxTest, RejectsCountMismatchAndBadLabels) {
  write_gz("i.gz", idx_images(3, 2, 2));
  write_gz("l.gz", idx_labels(4));
  EXPECT_THROW((void)read_idx_dataset(dir_ / "i.gz", dir_ / "l.gz"), InvalidArgument);
  Bytes lab = idx_labels(3);
  lab.back() = 10;
  write_gz("l10.gz", lab);
  EXPECT_THROW((void)read_idx_dataset(dir_ / "i.gz", dir_ / "l10.gz"), InvalidArgument);
}

TEST_F(IdxTest, MissingFilesNameTheDebianPackage) {
  EXPECT_THROW((void)read_idx_images(dir_ / "nope.gz"), RuntimeError);
  try {
    (void)load_fashion_mnist(dir_);
    FAIL() << "no exception";
  } catch (const RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("apt-get install dataset-fashion-mnist"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(IdxTest, DirectoryFromParameterEnvironmentOrDefault) {
  write_gz("train-images-idx3-ubyte.gz", idx_images(6, 2, 2));
  write_gz("train-labels-idx1-ubyte.gz", idx_labels(6));
  write_gz("t10k-images-idx3-ubyte.gz", idx_images(2, 2, 2));
  write_gz("t10k-labels-idx1-ubyte.gz", idx_labels(2));
  const char* old = std::getenv("WRSEC_FASHION_MNIST_DIR");
  const std::string saved = old ? old : "";
  ::setenv("WRSEC_FASHION_MNIST_DIR", dir_.c_str(), 1);
  EXPECT_EQ(fashion_mnist_dir(), dir_);
  EXPECT_EQ(fashion_mnist_dir("/x"), fs::path("/x"));
  const auto data = load_fashion_mnist();
  EXPECT_EQ(data->train.size(), 6);
  EXPECT_EQ(data->test.size(), 2);
  EXPECT_EQ(load_fashion_mnist(dir_).get(), data.get());  // cached
  ::unsetenv("WRSEC_FASHION_MNIST_DIR");
  EXPECT_EQ(fashion_mnist_dir(), fs::path(kFashionMnistDefaultDir));
  if (old) ::setenv("WRSEC_FASHION_MNIST_DIR", saved.c_str(), 1);
}

TEST(Split, DisjointCoveringAndSeeded) {
  const TrainSplit s = split_indices(60000, 7);
  EXPECT_EQ(s.defender_indices.size(), 40000u);
  EXPECT_EQ(s.attacker_indices.size(), 20000u);
  std::set<std::int64_t> all(s.defender_indices.begin(), s.defender_indices.end());
  for (std::int64_t i : s.attacker_indices) EXPECT_TRUE(all.insert(i).second) << i;
  EXPECT_EQ(all.size(), 60000u);
  EXPECT_EQ(*all.begin(), 0);
  EXPECT_EQ(*all.rbegin(), 59999);
  const TrainSplit again = split_indices(60000, 7);
  EXPECT_EQ(again.defender_indices, s.defender_indices);
  EXPECT_EQ(again.attacker_indices, s.attacker_indices);
  EXPECT_NE(split_indices(60000, 8).defender_indices, s.defender_indices);
  EXPECT_EQ(split_indices(90, 1, 0.5).defender_indices.size(), 45u);
  EXPECT_THROW((void)split_indices(10, 1, 1.5), InvalidArgument);
}

TEST(FashionMnist, RealDebianData) {
  if (!fs::exists(fs::path(kFashionMnistDefaultDir) / "train-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const auto data = load_fashion_mnist(kFashionMnistDefaultDir);
  ASSERT_EQ(data->train.size(), 60000);
  ASSERT_EQ(data->test.size(), 10000);
  EXPECT_EQ(data->train.images.cols(), 784);
  int counts[10] = {};
  for (std::int32_t y : data->train.labels) {
    ASSERT_GE(y, 0);
    ASSERT_LE(y, 9);
    ++counts[y];
  }
  for (int c : counts) EXPECT_EQ(c, 6000);
  for (std::int32_t y : data->test.labels) ASSERT_TRUE(y >= 0 && y <= 9);
  EXPECT_GE(data->train.images.minCoeff(), 0.0f);
  EXPECT_LE(data->train.images.maxCoeff(), 1.0f);
  EXPECT_EQ(data->train.images.maxCoeff(), 1.0f);
  const TrainSplit s = split_indices(data->train.size(), 1);
  const Dataset d = subset(data->train, s.defender_indices);
  EXPECT_EQ(d.size(), 40000);
  EXPECT_EQ(d.labels[0], data->train.labels[static_cast<std::size_t>(s.defender_indices[0])]);
}

}  // namespace
}  // namespace wrsec::nn
