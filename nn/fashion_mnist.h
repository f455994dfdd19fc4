#pragma once
// Fashion-MNIST from IDX files (optionally gzip-compressed), as shipped by the Debian package
// dataset-fashion-mnist in /usr/share/datasets/fashion-mnist/.
//   idx3 images: magic 0x00000803, big-endian u32 count, rows, cols, then count·rows·cols bytes.
//   idx1 labels: magic 0x00000801, big-endian u32 count, then count bytes.
// Pixels are scaled to [0, 1] (byte / 255); an image is one row of rows·cols floats.
// Splits: a seeded Fisher–Yates permutation of the training indices (wrsec::Rng with experiment
// id stable_hash("wrsec.nn.fashion_mnist.split")) is cut after round(fraction·n) entries: the
// first part is the defender's (default 2/3, as in WRT), the rest the attacker's; each index list
// is returned sorted.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include "nn/layers.h"
#include "nn/tensor.h"

namespace wrsec::nn {

struct Dataset {
  Matrix images;  // [n, rows·cols], values in [0, 1]
  Labels labels;  // [n]
  [[nodiscard]] std::int64_t size() const { return images.rows(); }
};

struct FashionMnist {
  Dataset train;  // 60000 examples
  Dataset test;   // 10000 examples
};

inline constexpr const char* kFashionMnistDefaultDir = "/usr/share/datasets/fashion-mnist";

// dir if non-empty, else $WRSEC_FASHION_MNIST_DIR if set and non-empty, else the Debian path.
[[nodiscard]] std::filesystem::path fashion_mnist_dir(const std::filesystem::path& dir = {});

// Raw IDX readers. RuntimeError if the file cannot be opened or read (or is not a regular file);
// InvalidArgument if it is malformed (magic, dimensions, truncated or trailing data, corrupt gzip
// stream). The size the header declares is checked against the file's size before anything is
// allocated: a plain file must hold exactly that much, a gzip file at most 1032 times its size
// (deflate's limit), and no file more than 2 GiB of pixels or labels.
Matrix read_idx_images(const std::filesystem::path& path);
Labels read_idx_labels(const std::filesystem::path& path);
// Images and labels of one part; InvalidArgument when their counts differ or a label is > 9.
Dataset read_idx_dataset(const std::filesystem::path& images, const std::filesystem::path& labels);

// Train and test sets from {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz in fashion_mnist_dir
// (dir). Missing files: RuntimeError naming the package dataset-fashion-mnist. Results are cached
// per directory for the life of the process (shared, read-only).
std::shared_ptr<const FashionMnist> load_fashion_mnist(const std::filesystem::path& dir = {});

struct TrainSplit {
  std::vector<std::int64_t> defender_indices;  // indices into the training set
  std::vector<std::int64_t> attacker_indices;
};
// Seeded permutation of the n training indices cut at round(defender_fraction·n); the same
// (n, seed, fraction) always gives the same split.
TrainSplit split_indices(std::int64_t n, std::uint64_t seed, double defender_fraction = 2.0 / 3.0);
// Rows of data at the given indices.
Dataset subset(const Dataset& data, const std::vector<std::int64_t>& indices);

}  // namespace wrsec::nn
