// Tests of the output rules (core/output_path.h): what an output path resolves to, and the refusal
// of an output that is the same file as an input or another output.
#include "core/output_path.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/errors.h"

namespace wrsec {
namespace {

namespace fs = std::filesystem;

class OutputPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("wrsec_output_path_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

// Expects f() to throw InvalidArgument containing every fragment.
template <class F>
void expect_invalid(F&& f, const std::vector<std::string>& fragments) {
  try {
    f();
    ADD_FAILURE() << "no exception";
  } catch (const InvalidArgument& e) {
    for (const auto& fragment : fragments)
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST_F(OutputPathTest, ResolvesEachKindOfTarget) {
  using Kind = OutputTarget::Kind;
  const auto dash = resolve_output("-");
  EXPECT_EQ(dash.kind, Kind::stream);
  EXPECT_EQ(dash.descriptor, 1);
  EXPECT_EQ(resolve_output("/dev/null").kind, Kind::device);
  EXPECT_EQ(resolve_output(dir_ / "absent").kind, Kind::replace);
  EXPECT_EQ(resolve_output(dir_ / "absent").path, dir_ / "absent");
  std::ofstream(dir_ / "file") << "x";
  fs::create_symlink("file", dir_ / "one");
  fs::create_symlink(dir_ / "one", dir_ / "two");
  const auto chain = resolve_output(dir_ / "two");
  EXPECT_EQ(chain.kind, Kind::replace);
  EXPECT_EQ(chain.path, dir_ / "file");
  fs::create_symlink("nowhere", dir_ / "dangling");
  EXPECT_EQ(resolve_output(dir_ / "dangling").path, dir_ / "nowhere");
}

TEST_F(OutputPathTest, RefusesDirectoriesSocketsAndLoops) {
  expect_invalid([&] { (void)resolve_output(dir_); }, {dir_.string(), "is a directory"});
  const fs::path sock = dir_ / "s";
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  ::sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(sock.string().size(), sizeof(addr.sun_path));
  std::strcpy(addr.sun_path, sock.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<const ::sockaddr*>(&addr), sizeof(addr)), 0);
  expect_invalid([&] { (void)resolve_output(sock); }, {"is not a regular file"});
  ::close(fd);
  fs::create_symlink("b", dir_ / "a");
  fs::create_symlink("a", dir_ / "b");
  expect_invalid([&] { (void)resolve_output(dir_ / "a"); }, {"symbolic links"});
}

TEST_F(OutputPathTest, SameFileAsAnInputOrAnotherOutputIsRefused) {
  const fs::path in = dir_ / "in.safetensors";
  std::ofstream(in) << "x";
  const NamedPath input{"--in", in};
  // The same spelling, another spelling, a symbolic link, a hard link.
  fs::create_symlink(in, dir_ / "link");
  fs::create_hard_link(in, dir_ / "hard");
  for (const fs::path& out : {in, dir_ / "." / "in.safetensors", dir_ / "link", dir_ / "hard"})
    expect_invalid(
        [&] {
          check_distinct_files({input}, {{"--out", out}});
        },
        {"--out and --in name the same file", out.string()});
  // Two outputs that do not exist yet, spelled differently; a dangling link and its target.
  expect_invalid(
      [&] {
        check_distinct_files({input}, {{"--out", dir_ / "m.st"}, {"--secret", dir_ / "x/../m.st"}});
      },
      {"--secret and --out name the same file"});
  fs::create_symlink("target.json", dir_ / "dangling");
  expect_invalid(
      [&] {
        check_distinct_files({},
                             {{"--out", dir_ / "target.json"}, {"--secret", dir_ / "dangling"}});
      },
      {"--secret and --out"});
  // Standard output, named two ways.
  expect_invalid(
      [&] {
        check_distinct_files({}, {{"--out", "-"}, {"--secret", "/dev/stdout"}});
      },
      {"--secret and --out"});
  // Distinct files pass; inputs are not compared with each other.
  EXPECT_NO_THROW(check_distinct_files({input, {"--model", in}},
                                       {{"--out", dir_ / "a.st"}, {"--secret", dir_ / "b.json"}}));
}

}  // namespace
}  // namespace wrsec
