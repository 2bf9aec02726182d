// ctl/lock_probe.cpp — see lock_probe.h.
#include "ctl/lock_probe.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace forge::ctl {
namespace {

int ReadPid(int fd) {
  char buf[32] = {};
  const ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
  return n > 0 ? static_cast<int>(std::strtol(buf, nullptr, 10)) : 0;
}

int FlockRetrying(int fd, int op) {
  int rc;
  do {
    rc = ::flock(fd, op);
  } while (rc != 0 && errno == EINTR);
  return rc;
}

}  // namespace

LockProbe ProbeProducerLock(const std::string& lock_path) {
  LockProbe probe;
  const int fd =
      ::open(lock_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
  if (fd < 0) {
    if (errno == ENOENT) {
      probe.state = LockProbe::State::kNoFile;
    } else {
      probe.error = "cannot open " + lock_path + ": " + std::strerror(errno);
    }
    return probe;
  }
  if (FlockRetrying(fd, LOCK_SH | LOCK_NB) == 0) {
    FlockRetrying(fd, LOCK_UN);
    probe.state = LockProbe::State::kFree;
  } else if (errno == EWOULDBLOCK) {
    probe.state = LockProbe::State::kHeld;
    probe.holder_pid = ReadPid(fd);
  } else {
    probe.error =
        "cannot test the lock on " + lock_path + ": " + std::strerror(errno);
  }
  ::close(fd);
  return probe;
}

}  // namespace forge::ctl
