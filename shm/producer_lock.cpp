// shm/producer_lock.cpp — see producer_lock.h.
#include "shm/producer_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include "base/process.h"
#include "shm/segment.h"

namespace forge::shm {
namespace {

// Closes the fd unless released; keeps Acquire() free of leak paths.
class FdGuard {
 public:
  explicit FdGuard(int fd) : fd_(fd) {}
  ~FdGuard() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

std::string Errno() { return std::strerror(errno); }

int OpenLockFile(const std::string& path) {
  // O_NOFOLLOW: /dev/shm is world-writable; never follow a planted symlink.
  const int fd =
      ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd >= 0) return fd;
  if (errno == ELOOP) {
    throw SegmentError("lock " + path +
                       " is a symbolic link; refusing to use it (remove it)");
  }
  throw SegmentError("cannot open lock " + path + ": " + Errno() +
                     " (it must be a regular file owned by the broker's user)");
}

void CheckLockFile(int fd, const std::string& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    throw SegmentError("cannot stat lock " + path + ": " + Errno());
  }
  if (!S_ISREG(st.st_mode)) {
    throw SegmentError("lock " + path + " is not a regular file; remove it");
  }
  if (st.st_uid != ::geteuid()) {
    throw SegmentError("lock " + path + " is owned by uid " +
                       std::to_string(st.st_uid) + ", not by you (uid " +
                       std::to_string(::geteuid()) +
                       "); run the broker as that user or pick another "
                       "SHM_NAME");
  }
  // Ours but loose (e.g. created by hand): tighten rather than refuse.
  if ((st.st_mode & 077) != 0) ::fchmod(fd, 0600);
}

// The whole file, for fcntl(F_OFD_*).
struct flock WholeFile(short type) {
  struct flock fl {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 0;  // to the end, however long
  fl.l_pid = 0;  // required by OFD locks
  return fl;
}

int FcntlRetrying(int fd, int cmd, struct flock* fl) {
  int rc;
  do {
    rc = ::fcntl(fd, cmd, fl);
  } while (rc != 0 && errno == EINTR);
  return rc;
}

// The holder writes its pid right after flock(); a peer may look in
// between and find the file empty, or still holding the pid of an earlier
// holder (now dead). So the file is re-read a few times until it names a
// live process; after that the last pid read is the answer (a holder in
// another pid namespace looks dead from here), or 0 for none.
int ReadHolderPid(int fd) {
  int last = 0;
  for (int attempt = 0; attempt < 50; ++attempt) {
    char buf[32] = {};
    const ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
    if (n > 0) {
      const long pid = std::strtol(buf, nullptr, 10);
      if (pid > 0) last = static_cast<int>(pid);
      if (pid > 0 && base::ProcessAlive(static_cast<pid_t>(pid))) return last;
    }
    const timespec pause{0, 1'000'000};  // 1 ms
    ::nanosleep(&pause, nullptr);
  }
  return last;
}

void WritePid(int fd, const std::string& path) {
  const std::string text = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, text.data(), text.size(), 0) !=
                                     static_cast<ssize_t>(text.size())) {
    throw SegmentError("cannot write pid into lock " + path + ": " + Errno());
  }
}

[[noreturn]] void ThrowLocked(int fd, const std::string& name,
                              const std::string& path) {
  const int pid = ReadHolderPid(fd);
  const std::string who =
      pid > 0 ? "broker pid " + std::to_string(pid) : "another broker";
  throw ProducerLocked("segment \"" + name + "\" is already served by " + who +
                           " (lock " + path +
                           "); stop it first or pick another SHM_NAME",
                       pid);
}

}  // namespace

ProducerLock ProducerLock::Acquire(const std::string& name,
                                   const std::string& lock_path) {
  FdGuard fd(OpenLockFile(lock_path));
  CheckLockFile(fd.get(), lock_path);
  int rc;
  do {
    rc = ::flock(fd.get(), LOCK_EX | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    if (errno == EWOULDBLOCK) ThrowLocked(fd.get(), name, lock_path);
    throw SegmentError("cannot lock " + lock_path + ": " + Errno());
  }
  WritePid(fd.get(), lock_path);
  struct flock fl = WholeFile(F_WRLCK);
  if (FcntlRetrying(fd.get(), F_OFD_SETLK, &fl) != 0) {
    // Only flock holders take it, and we hold the flock: a bug or an old
    // program misusing the file.
    throw SegmentError("cannot take the OFD lock on " + lock_path + ": " +
                       Errno() + " (is another program locking it?)");
  }
  return ProducerLock(fd.release());
}

LockProbe ProbeProducerLock(const std::string& lock_path) {
  LockProbe probe;
  const int fd =
      ::open(lock_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
  if (fd < 0) {
    if (errno == ENOENT) {
      probe.state = LockProbe::State::kNoFile;
    } else {
      probe.error = "cannot open " + lock_path + ": " + Errno();
    }
    return probe;
  }
  FdGuard guard(fd);
  // F_OFD_GETLK takes nothing: it reports the lock a write lock would
  // conflict with, or F_UNLCK.
  struct flock fl = WholeFile(F_WRLCK);
  if (FcntlRetrying(fd, F_OFD_GETLK, &fl) != 0) {
    probe.error = "cannot test the lock on " + lock_path + ": " + Errno();
  } else if (fl.l_type == F_UNLCK) {
    probe.state = LockProbe::State::kFree;
  } else {
    probe.state = LockProbe::State::kHeld;
    probe.holder_pid = ReadHolderPid(fd);
  }
  return probe;
}

ProducerLock::ProducerLock(ProducerLock&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)) {}

ProducerLock& ProducerLock::operator=(ProducerLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

// Closing the last descriptor of the open file description drops the flock.
ProducerLock::~ProducerLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace forge::shm
