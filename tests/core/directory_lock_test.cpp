// Tests of DirectoryLock (core/directory_lock.h): one holder at a time, the refusal names the
// holder, and a lock file left by a killed holder blocks nobody.
#include "core/directory_lock.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "core/errors.h"

namespace wrsec {
namespace {

namespace fs = std::filesystem;

class DirectoryLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("wrsec_directory_lock_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

std::string host_name() {
  char host[256] = {0};
  ::gethostname(host, sizeof(host) - 1);
  return host;
}

TEST_F(DirectoryLockTest, SecondHolderIsRefusedWithTheFirstNamed) {
  EXPECT_FALSE(DirectoryLock::abandoned(dir_));  // no lock file yet
  {
    const DirectoryLock first(dir_, "run directory");
    EXPECT_FALSE(DirectoryLock::abandoned(dir_));
    try {
      const DirectoryLock second(dir_, "run directory");
      FAIL() << "a held lock was taken twice";
    } catch (const InvalidArgument& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("run directory '" + dir_.string() + "' is in use by pid " +
                          std::to_string(::getpid()) + " on host " + host_name() + " (started "),
                std::string::npos)
          << what;
    }
  }
  EXPECT_TRUE(DirectoryLock::abandoned(dir_));
  EXPECT_NO_THROW(DirectoryLock(dir_, "run directory"));
}

TEST_F(DirectoryLockTest, KilledHolderBlocksNobody) {
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const DirectoryLock held(dir_, "run directory");
    for (;;) ::pause();
  }
  // Wait (generously) until the child holds the lock and has written its pid.
  const std::string pid_text = std::to_string(pid) + " ";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (;;) {
    std::ifstream in(dir_ / DirectoryLock::kFileName);
    std::string line;
    std::getline(in, line);
    if (line.rfind(pid_text, 0) == 0) break;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the child never took the lock";
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_THROW(DirectoryLock(dir_, "run directory"), InvalidArgument);
  ::kill(pid, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(fs::exists(dir_ / DirectoryLock::kFileName));  // left behind by the killed holder
  EXPECT_TRUE(DirectoryLock::abandoned(dir_));
  EXPECT_NO_THROW(DirectoryLock(dir_, "run directory"));
}

}  // namespace
}  // namespace wrsec
