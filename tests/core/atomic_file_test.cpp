// Tests of AtomicFile (core/atomic_file.h): atomic replacement of regular files, and the output
// rules for everything else: symbolic links followed, FIFOs, character devices and standard output
// written through, directories refused, temporaries removed when the process is interrupted.
#include "core/atomic_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "core/errors.h"
#include "core/temporaries.h"

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

// Reads what is available on a non-blocking descriptor.
std::string drain(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    const ::ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return out;
    out.append(buf, static_cast<std::size_t>(n));
  }
}

TEST_F(AtomicFileTest, SymbolicLinkIsFollowedAndStays) {
  fs::create_directories(dir_ / "real");
  std::ofstream(dir_ / "real" / "data.txt") << "old";
  fs::create_symlink("real/data.txt", dir_ / "link");
  write_file_atomically(dir_ / "link", "new");
  EXPECT_TRUE(fs::is_symlink(dir_ / "link"));
  EXPECT_EQ(read(dir_ / "real" / "data.txt"), "new");
  EXPECT_EQ(entries(), 2u);  // real/ and link: no temporary
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_ / "real"), fs::directory_iterator()), 1);
  // A dangling link: its target is created.
  fs::create_symlink("real/fresh.txt", dir_ / "dangling");
  write_file_atomically(dir_ / "dangling", "fresh");
  EXPECT_TRUE(fs::is_symlink(dir_ / "dangling"));
  EXPECT_EQ(read(dir_ / "real" / "fresh.txt"), "fresh");
}

TEST_F(AtomicFileTest, FifoIsWrittenThroughAndStays) {
  const auto fifo = dir_ / "pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // A reader first, so that opening the FIFO for writing does not wait.
  const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(reader, 0);
  {
    AtomicFile f(fifo);
    f.write("through ");
    f.write("the pipe");
    f.commit();
  }
  EXPECT_EQ(drain(reader), "through the pipe");
  ::close(reader);
  EXPECT_TRUE(fs::is_fifo(fifo));
  EXPECT_EQ(entries(), 1u);
}

TEST_F(AtomicFileTest, CharacterDeviceIsWrittenThrough) {
  // A pseudo-terminal: a character device in /dev/pts, where nothing else can be created.
  const int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0 || ::grantpt(master) != 0 || ::unlockpt(master) != 0)
    GTEST_SKIP() << "no pseudo-terminals here";
  const fs::path slave = ::ptsname(master);
  const int keep_open = ::open(slave.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
  ASSERT_GE(keep_open, 0);
  write_file_atomically(slave, "tty");
  ::fcntl(master, F_SETFL, O_NONBLOCK);
  EXPECT_EQ(drain(master), "tty");
  struct ::stat st {};
  ASSERT_EQ(::stat(slave.c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  ::close(keep_open);
  ::close(master);
}

// "-" and the file of standard output (here through /proc/self/fd/1, as /dev/stdout resolves):
// written through descriptor 1, so output redirected with >> is appended to, not replaced.
TEST_F(AtomicFileTest, StandardOutputIsWrittenThrough) {
  const auto log = dir_ / "log.txt";
  std::ofstream(log) << "earlier\n";
  const int appended = ::open(log.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  ASSERT_GE(appended, 0);
  struct ::stat before {};
  ASSERT_EQ(::stat(log.c_str(), &before), 0);
  std::fflush(stdout);
  const int saved = ::dup(1);
  ASSERT_GE(saved, 0);
  ::dup2(appended, 1);
  try {
    write_file_atomically("-", "dash\n");
    write_file_atomically("/proc/self/fd/1", "proc\n");
  } catch (const std::exception& e) {
    ADD_FAILURE() << e.what();
  }
  ::dup2(saved, 1);
  ::close(saved);
  ::close(appended);
  EXPECT_EQ(read(log), "earlier\ndash\nproc\n");
  struct ::stat after {};
  ASSERT_EQ(::stat(log.c_str(), &after), 0);
  EXPECT_EQ(after.st_ino, before.st_ino);
  EXPECT_EQ(entries(), 1u);
  EXPECT_FALSE(fs::exists("-"));
}

TEST_F(AtomicFileTest, DirectoryIsRefused) {
  fs::create_directories(dir_ / "sub");
  try {
    AtomicFile f(dir_ / "sub");
    FAIL() << "a directory was accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("is a directory"), std::string::npos) << e.what();
  }
  EXPECT_EQ(entries(), 1u);
  EXPECT_TRUE(fs::is_directory(dir_ / "sub"));
}

TEST_F(AtomicFileTest, ReplacedFileKeepsItsPermissions) {
  const auto target = dir_ / "private.json";
  std::ofstream(target) << "old";
  fs::permissions(target, fs::perms::owner_read | fs::perms::owner_write);
  write_file_atomically(target, "new");
  EXPECT_EQ(fs::status(target).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  write_file_atomically(dir_ / "fresh", "x");
  EXPECT_EQ(fs::status(dir_ / "fresh").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                fs::perms::others_read);
}

// A child process with a temporary file and a registered staging directory is interrupted: it
// dies of the signal and leaves nothing.
void expect_interrupt_cleans(const fs::path& dir, int sig) {
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    install_interrupt_cleanup();
    AtomicFile f(dir / "out.jsonl");
    f.write("partial");
    fs::create_directories(dir / ".staging" / "state");
    std::ofstream(dir / ".staging" / "spec.ini") << "x";
    Temporary staging(dir / ".staging", Temporary::Kind::directory);
    Temporary state(dir / ".staging" / "state", Temporary::Kind::directory);
    Temporary spec(dir / ".staging" / "spec.ini", Temporary::Kind::file);
    ::kill(::getpid(), sig);
    ::_exit(3);  // not reached when the signal kills the process
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == sig) << "status " << status;
  EXPECT_TRUE(fs::is_empty(dir)) << fs::directory_iterator(dir)->path();
}

TEST_F(AtomicFileTest, InterruptRemovesTemporaries) {
  expect_interrupt_cleans(dir_, SIGTERM);
  expect_interrupt_cleans(dir_, SIGINT);
  expect_interrupt_cleans(dir_, SIGHUP);
}

TEST_F(AtomicFileTest, IgnoredSignalStaysIgnored) {
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::signal(SIGINT, SIG_IGN);
    install_interrupt_cleanup();
    ::kill(::getpid(), SIGINT);
    ::_exit(3);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 3) << "status " << status;
}

}  // namespace
}  // namespace wrsec
