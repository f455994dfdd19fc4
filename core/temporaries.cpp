#include "core/temporaries.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <utility>

namespace wrsec {
namespace {

constexpr int kSlots = 64;
constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP};

// A slot is free (0), being filled or emptied (1), or holds a live path (2: a file, 3: a
// directory). Only the handler reads a live slot's path; registration never changes it then.
struct Slot {
  std::atomic<int> state{0};
  char path[PATH_MAX];
};
Slot g_slots[kSlots];

constexpr int kFree = 0, kBusy = 1, kLiveFile = 2, kLiveDirectory = 3;

void on_interrupt(int sig) {
  const int saved = errno;
  for (auto& s : g_slots)
    if (s.state.load(std::memory_order_acquire) == kLiveFile) (void)::unlink(s.path);
  // A directory is removed once its registered files and subdirectories are gone; each pass
  // removes at least one more level.
  for (int pass = 0; pass < 8; ++pass)
    for (auto& s : g_slots)
      if (s.state.load(std::memory_order_acquire) == kLiveDirectory) (void)::rmdir(s.path);
  struct ::sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ::sigemptyset(&dfl.sa_mask);
  ::sigaction(sig, &dfl, nullptr);
  errno = saved;
  ::raise(sig);  // delivered once the handler returns (the signal is blocked while it runs)
}

}  // namespace

void install_interrupt_cleanup() {
  static const bool installed = [] {
    for (const int sig : kSignals) {
      struct ::sigaction old {};
      if (::sigaction(sig, nullptr, &old) != 0 || old.sa_handler != SIG_DFL) continue;
      struct ::sigaction act {};
      act.sa_handler = on_interrupt;
      ::sigemptyset(&act.sa_mask);
      for (const int other : kSignals) ::sigaddset(&act.sa_mask, other);
      ::sigaction(sig, &act, nullptr);
    }
    return true;
  }();
  (void)installed;
}

Temporary::Temporary(const std::filesystem::path& path, Kind kind) {
  std::error_code ec;
  const std::string text = std::filesystem::absolute(path, ec).string();
  if (ec || text.size() >= PATH_MAX) return;
  for (int i = 0; i < kSlots; ++i) {
    int expected = kFree;
    if (!g_slots[i].state.compare_exchange_strong(expected, kBusy, std::memory_order_acq_rel))
      continue;
    std::memcpy(g_slots[i].path, text.c_str(), text.size() + 1);
    g_slots[i].state.store(kind == Kind::file ? kLiveFile : kLiveDirectory,
                           std::memory_order_release);
    slot_ = i;
    return;
  }
}

Temporary::Temporary(Temporary&& other) noexcept : slot_(std::exchange(other.slot_, -1)) {}

Temporary& Temporary::operator=(Temporary&& other) noexcept {
  if (this != &other) {
    release();
    slot_ = std::exchange(other.slot_, -1);
  }
  return *this;
}

void Temporary::release() noexcept {
  if (slot_ < 0) return;
  g_slots[slot_].state.store(kFree, std::memory_order_release);
  slot_ = -1;
}

namespace {

// The shared loop of make_registered_file/_directory; create(path) returns >= 0 or -1 (errno).
template <class Create>
int make_registered(std::string& tmpl, Temporary& registration, Temporary::Kind kind,
                    const Create& create) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  if (tmpl.size() < 6 || tmpl.compare(tmpl.size() - 6, 6, "XXXXXX") != 0) {
    errno = EINVAL;
    return -1;
  }
  for (int attempt = 0; attempt < 1000; ++attempt) {
    unsigned char bytes[6];
    if (::getrandom(bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes)) return -1;
    for (int i = 0; i < 6; ++i) tmpl[tmpl.size() - 6 + i] = kAlphabet[bytes[i] % 62];
    registration = Temporary(tmpl, kind);
    const int result = create(tmpl.c_str());
    if (result >= 0) return result;
    const int err = errno;
    registration.release();
    if (err != EEXIST) {
      errno = err;
      return -1;
    }
  }
  errno = EEXIST;
  return -1;
}

}  // namespace

int make_registered_file(std::string& tmpl, Temporary& registration) {
  return make_registered(tmpl, registration, Temporary::Kind::file, [](const char* path) {
    return ::open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  });
}

int make_registered_directory(std::string& tmpl, Temporary& registration) {
  return make_registered(tmpl, registration, Temporary::Kind::directory,
                         [](const char* path) { return ::mkdir(path, 0700); });
}

}  // namespace wrsec
