#include "tests/faults/disk_space.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

namespace forge::faults {
namespace {

namespace fs = std::filesystem;

std::string Errno(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

// Writes `chunk`-sized blocks until the file system says it is full.
bool WriteUntilFull(int fd, std::size_t chunk) {
  const std::vector<char> block(chunk, 'x');
  for (;;) {
    const ssize_t n = ::write(fd, block.data(), block.size());
    if (n > 0) continue;
    return n < 0 && errno == ENOSPC;
  }
}

// The size of the largest regular file in `dir`.
std::uintmax_t LargestFile(const std::string& dir) {
  std::uintmax_t largest = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_regular_file(ec)) {
      largest = std::max(largest, entry.file_size(ec));
    }
  }
  return largest;
}

bool SetFileSizeLimit(pid_t pid, rlim_t limit) {
  const rlimit lim{limit, RLIM_INFINITY};
  return ::prlimit(pid, RLIMIT_FSIZE, &lim, nullptr) == 0;
}

}  // namespace

DiskSpace::DiskSpace(std::string dir)
    : dir_(std::move(dir)), filler_(dir_ + "/filler") {
  if (::mkdir(dir_.c_str(), 0700) != 0) {
    error_ = Errno("mkdir " + dir_);
    return;
  }
  const char* no_mount = std::getenv("FORGE_TEST_NO_MOUNT");
  if (no_mount != nullptr && std::string(no_mount) == "1") return;
  mounted_ = ::mount("tmpfs", dir_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
                     "size=1m,mode=0700") == 0;
}

DiskSpace::~DiskSpace() {
  if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
}

testing::Process DiskSpace::StartBroker(const testing::Env& env,
                                        const std::string& cwd) const {
  const std::string broker = testing::Bin("forge-broker");
  if (mounted_) return testing::Process::Start({broker}, env, cwd);
  // An ignored signal stays ignored across execve: writes past the limit
  // then fail with EFBIG, as on a full disk, instead of killing the broker.
  return testing::Process::Start(
      {"/bin/sh", "-c", "trap '' XFSZ; exec \"$0\"", broker}, env, cwd);
}

bool DiskSpace::Fill(pid_t pid) {
  if (!mounted_) {
    // No file may grow past its current size: the next WAL append fails.
    if (SetFileSizeLimit(pid, LargestFile(dir_))) return true;
    error_ = Errno("prlimit");
    return false;
  }
  const int fd = ::open(filler_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    error_ = Errno("open " + filler_);
    return false;
  }
  const bool full = WriteUntilFull(fd, 64 * 1024) || WriteUntilFull(fd, 512);
  ::close(fd);
  if (!full) error_ = Errno("filling " + dir_);
  return full;
}

void DiskSpace::Free(pid_t pid) {
  if (mounted_) {
    ::unlink(filler_.c_str());
  } else {
    SetFileSizeLimit(pid, RLIM_INFINITY);
  }
}

Immutable::Immutable(std::string path) : path_(std::move(path)) { Set(true); }

Immutable::~Immutable() {
  if (ok()) Set(false);
}

bool Immutable::Set(bool on) {
  const int fd = ::open(path_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    error_ = Errno("open " + path_);
    return false;
  }
  int flags = 0;
  bool done = ::ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0;
  if (done) {
    flags = on ? (flags | FS_IMMUTABLE_FL) : (flags & ~FS_IMMUTABLE_FL);
    done = ::ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
  }
  if (!done) error_ = Errno("FS_IOC_SETFLAGS on " + path_);
  ::close(fd);
  return done;
}

}  // namespace forge::faults
