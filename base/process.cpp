// base/process.cpp — see process.h.
#include "base/process.h"

#include <signal.h>

#include <cerrno>

namespace forge::base {

bool ProcessAlive(pid_t pid) {
  if (pid <= 0) return false;
  return ::kill(pid, 0) == 0 || errno == EPERM;
}

}  // namespace forge::base
