#include "nn/fashion_mnist.h"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <map>
#include <mutex>
#include <numeric>

#include "core/errors.h"
#include "core/rng.h"

namespace wrsec::nn {
namespace {

constexpr std::uint32_t kImagesMagic = 0x00000803;
constexpr std::uint32_t kLabelsMagic = 0x00000801;

// Largest payload (pixels or labels) an IDX file may declare: 2 GiB, 40 times Fashion-MNIST's
// training images.
constexpr std::uint64_t kMaxIdxPayload = std::uint64_t{1} << 31;
// Deflate never expands more than 1032:1 (a 258-byte match in at most 2 bits), so a gzip file of
// n bytes holds at most 1032·n bytes of data.
constexpr std::uint64_t kMaxDeflateRatio = 1032;

// gzip (or plain, which zlib reads transparently) file opened for reading.
class GzFile {
 public:
  explicit GzFile(const std::filesystem::path& path) : path_(path) {
    // The size bounds what the header may declare; only a regular file has one (and opening a
    // FIFO would block).
    std::error_code ec;
    size_ = std::filesystem::file_size(path, ec);
    if (ec) throw RuntimeError("cannot open IDX file " + path.string() + ": " + ec.message());
    file_ = gzopen(path.c_str(), "rb");
    if (!file_) throw RuntimeError("cannot open IDX file " + path.string());
    gzbuffer(file_, 1 << 20);
  }
  ~GzFile() { gzclose(file_); }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;

  // Reads up to n bytes; returns how many were read (fewer only at end of data).
  std::size_t read(unsigned char* out, std::size_t n) {
    std::size_t done = 0;
    while (done < n) {
      const auto chunk = static_cast<unsigned>(std::min<std::size_t>(n - done, INT_MAX / 2));
      const int got = gzread(file_, out + done, chunk);
      if (got < 0) {
        int code = 0;
        const char* msg = gzerror(file_, &code);
        if (code == Z_ERRNO) throw RuntimeError("I/O error reading " + path_.string());
        throw InvalidArgument("corrupt compressed data in " + path_.string() + ": " +
                              (msg ? msg : "unknown zlib error"));
      }
      if (got == 0) break;
      done += static_cast<std::size_t>(got);
    }
    return done;
  }

  void read_exact(unsigned char* out, std::size_t n, const char* what) {
    if (read(out, n) != n)
      throw InvalidArgument("IDX file " + path_.string() + " is truncated (while reading " + what +
                            ")");
  }

  // Checks, before anything is allocated, that the header's declared payload (`what`: "pixels",
  // "labels") of `bytes` bytes after a header of `header` bytes fits the file: a plain file must
  // hold exactly that much, a gzip file at most its size times the deflate limit, and neither more
  // than kMaxIdxPayload.
  void check_declared(std::uint64_t bytes, std::uint64_t header, const char* what) const {
    const std::string declares =
        "IDX file " + path_.string() + " declares " + std::to_string(bytes) + " bytes of " + what;
    if (bytes > kMaxIdxPayload)
      throw InvalidArgument(declares + ", more than the limit of " +
                            std::to_string(kMaxIdxPayload));
    if (gzdirect(file_) != 0) {
      const std::uint64_t holds = size_ >= header ? size_ - header : 0;
      if (bytes != holds)
        throw InvalidArgument(declares + " but holds " + std::to_string(holds) +
                              (bytes > holds ? " (truncated)" : " (data after the declared size)"));
    } else if (bytes / kMaxDeflateRatio > size_) {
      throw InvalidArgument(declares + ", more than its " + std::to_string(size_) +
                            " compressed bytes can hold (truncated?)");
    }
  }

  void expect_end() {
    unsigned char extra;
    if (read(&extra, 1) != 0)
      throw InvalidArgument("IDX file " + path_.string() + " has data after the declared size");
  }

 private:
  std::filesystem::path path_;
  gzFile file_;
  std::uintmax_t size_ = 0;  // bytes in the file (compressed, for gzip)
};

std::uint32_t big_endian_u32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

std::string hex(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

void check_magic(const std::filesystem::path& path, std::uint32_t got, std::uint32_t want,
                 const char* kind) {
  if (got != want)
    throw InvalidArgument("IDX file " + path.string() + " has magic number " + hex(got) +
                          ", expected " + hex(want) + " (" + kind + ")");
}

void require_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw RuntimeError("Fashion-MNIST file " + path.string() +
                       " not found; the data set comes from the Debian package "
                       "dataset-fashion-mnist: install it with apt-get install "
                       "dataset-fashion-mnist (or set WRSEC_FASHION_MNIST_DIR)");
}

}  // namespace

std::filesystem::path fashion_mnist_dir(const std::filesystem::path& dir) {
  if (!dir.empty()) return dir;
  if (const char* env = std::getenv("WRSEC_FASHION_MNIST_DIR"); env && *env) return env;
  return kFashionMnistDefaultDir;
}

Matrix read_idx_images(const std::filesystem::path& path) {
  GzFile f(path);
  unsigned char header[16];
  f.read_exact(header, 4, "the magic number");
  check_magic(path, big_endian_u32(header), kImagesMagic, "idx3 unsigned-byte images");
  f.read_exact(header + 4, 12, "the dimensions");
  const std::uint32_t count = big_endian_u32(header + 4);
  const std::uint32_t rows = big_endian_u32(header + 8);
  const std::uint32_t cols = big_endian_u32(header + 12);
  if (rows == 0 || cols == 0 || rows > 4096 || cols > 4096 || count > (1u << 26))
    throw InvalidArgument("IDX file " + path.string() + " declares implausible dimensions " +
                          std::to_string(count) + " x " + std::to_string(rows) + " x " +
                          std::to_string(cols));
  const std::size_t pixels = std::size_t{rows} * cols;
  f.check_declared(std::uint64_t{count} * pixels, 16, "pixels");
  std::vector<unsigned char> raw(std::size_t{count} * pixels);
  f.read_exact(raw.data(), raw.size(), "the pixels");
  f.expect_end();
  Matrix images(static_cast<Eigen::Index>(count), static_cast<Eigen::Index>(pixels));
  float* out = images.data();
  const unsigned char* in = raw.data();
  for (std::size_t i = 0; i < raw.size(); ++i) out[i] = static_cast<float>(in[i]) / 255.0f;
  return images;
}

Labels read_idx_labels(const std::filesystem::path& path) {
  GzFile f(path);
  unsigned char header[8];
  f.read_exact(header, 4, "the magic number");
  check_magic(path, big_endian_u32(header), kLabelsMagic, "idx1 unsigned-byte labels");
  f.read_exact(header + 4, 4, "the count");
  const std::uint32_t count = big_endian_u32(header + 4);
  if (count > (1u << 26))
    throw InvalidArgument("IDX file " + path.string() + " declares " + std::to_string(count) +
                          " labels");
  f.check_declared(count, 8, "labels");
  std::vector<unsigned char> raw(count);
  f.read_exact(raw.data(), raw.size(), "the labels");
  f.expect_end();
  return Labels(raw.begin(), raw.end());
}

Dataset read_idx_dataset(const std::filesystem::path& images, const std::filesystem::path& labels) {
  Dataset d{read_idx_images(images), read_idx_labels(labels)};
  if (static_cast<std::int64_t>(d.labels.size()) != d.images.rows())
    throw InvalidArgument(images.string() + " holds " + std::to_string(d.images.rows()) +
                          " images but " + labels.string() + " holds " +
                          std::to_string(d.labels.size()) + " labels");
  for (std::int32_t y : d.labels)
    if (y > 9)
      throw InvalidArgument(labels.string() + " contains label " + std::to_string(y) +
                            " (expected 0..9)");
  return d;
}

std::shared_ptr<const FashionMnist> load_fashion_mnist(const std::filesystem::path& dir_in) {
  const std::filesystem::path dir = fashion_mnist_dir(dir_in);
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<const FashionMnist>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  if (const auto it = cache.find(dir.string()); it != cache.end()) return it->second;
  const auto file = [&](const char* name) {
    auto p = dir / name;
    require_file(p);
    return p;
  };
  const auto train_images = file("train-images-idx3-ubyte.gz");
  const auto train_labels = file("train-labels-idx1-ubyte.gz");
  const auto test_images = file("t10k-images-idx3-ubyte.gz");
  const auto test_labels = file("t10k-labels-idx1-ubyte.gz");
  auto data = std::make_shared<FashionMnist>();
  data->train = read_idx_dataset(train_images, train_labels);
  data->test = read_idx_dataset(test_images, test_labels);
  if (data->train.images.cols() != data->test.images.cols())
    throw InvalidArgument("Fashion-MNIST train and test images differ in size");
  cache.emplace(dir.string(), data);
  return data;
}

TrainSplit split_indices(std::int64_t n, std::uint64_t seed, double defender_fraction) {
  if (n < 0) throw InvalidArgument("split_indices: negative size");
  if (!(defender_fraction >= 0.0 && defender_fraction <= 1.0))
    throw InvalidArgument("defender fraction must lie in [0, 1]");
  Rng rng(seed, stable_hash("wrsec.nn.fashion_mnist.split"), 0);
  std::vector<std::int64_t> p(static_cast<std::size_t>(n));
  std::iota(p.begin(), p.end(), std::int64_t{0});
  for (std::int64_t i = n - 1; i > 0; --i)
    std::swap(p[static_cast<std::size_t>(i)],
              p[static_cast<std::size_t>(rng.below(static_cast<std::uint64_t>(i) + 1))]);
  const auto cut =
      static_cast<std::size_t>(std::llround(defender_fraction * static_cast<double>(n)));
  TrainSplit s;
  s.defender_indices.assign(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(cut));
  s.attacker_indices.assign(p.begin() + static_cast<std::ptrdiff_t>(cut), p.end());
  std::sort(s.defender_indices.begin(), s.defender_indices.end());
  std::sort(s.attacker_indices.begin(), s.attacker_indices.end());
  return s;
}

Dataset subset(const Dataset& data, const std::vector<std::int64_t>& indices) {
  Dataset out;
  out.images.resize(static_cast<Eigen::Index>(indices.size()), data.images.cols());
  out.labels.resize(indices.size());
  for (std::size_t i = 0; i < indices.size(); ++i) {
    const std::int64_t k = indices[i];
    if (k < 0 || k >= data.size())
      throw InvalidArgument("subset: index " + std::to_string(k) + " out of range");
    out.images.row(static_cast<Eigen::Index>(i)) = data.images.row(k);
    out.labels[i] = data.labels[static_cast<std::size_t>(k)];
  }
  return out;
}

}  // namespace wrsec::nn
