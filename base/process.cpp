// base/process.cpp — see process.h.
#include "base/process.h"

#include <sched.h>
#include <signal.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstring>

namespace forge::base {

bool ProcessAlive(pid_t pid) {
  if (pid <= 0) return false;
  return ::kill(pid, 0) == 0 || errno == EPERM;
}

std::string SetNiceness(int nice) {
  if (::setpriority(PRIO_PROCESS, 0, nice) == 0) return "";
  const std::string why = std::strerror(errno);
  // -1 is also a valid niceness: errno tells an error apart.
  errno = 0;
  const int now = ::getpriority(PRIO_PROCESS, 0);
  if (errno != 0) return why;
  return why + "; running at niceness " + std::to_string(now);
}

std::vector<int> AllowedCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (::sched_getaffinity(0, sizeof(set), &set) != 0) return cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  }
  return cpus;
}

}  // namespace forge::base
