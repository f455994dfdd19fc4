#include "core/atomic_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/errors.h"

namespace wrsec {
namespace {

namespace fs = std::filesystem;

class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Unique per process and test: ctest runs tests in parallel.
    dir_ = fs::temp_directory_path() /
           ("wrsec_atomic_file_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  [[nodiscard]] std::size_t entries() const {
    return static_cast<std::size_t>(
        std::distance(fs::directory_iterator(dir_), fs::directory_iterator()));
  }
  static std::string read(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  fs::path dir_;
};

TEST_F(AtomicFileTest, CommitReplacesTargetAndLeavesNoTemporary) {
  const auto target = dir_ / "out.txt";
  std::ofstream(target) << "old";
  {
    AtomicFile f(target);
    f.write("new ");
    f.write("content");
    EXPECT_EQ(read(target), "old");  // invisible until commit
    EXPECT_EQ(entries(), 2u);
    f.commit();
  }
  EXPECT_EQ(read(target), "new content");
  EXPECT_EQ(entries(), 1u);
}

TEST_F(AtomicFileTest, AbandonedWriteLeavesNothing) {
  const auto target = dir_ / "out.txt";
  {
    AtomicFile f(target);
    f.write("partial");
  }
  EXPECT_EQ(entries(), 0u);
}

TEST_F(AtomicFileTest, MissingDirectoryIsARuntimeErrorNamingTheTarget) {
  try {
    AtomicFile f(dir_ / "missing" / "x");
    FAIL() << "no throw";
  } catch (const RuntimeError& e) {
    EXPECT_NE(std::string(e.what()).find("missing/x"), std::string::npos);
  }
  EXPECT_EQ(entries(), 0u);
}

}  // namespace
}  // namespace wrsec
