// base/process.h — is a process alive? Its scheduling niceness, and the
// CPUs it may run on.
//
// Contract
//   * ProcessAlive(pid) is kill(pid, 0): true when a process with that pid
//     exists, including one we may not signal (EPERM). A pid <= 0 (a free
//     slot, or a process group) is never alive. A pid reused by an
//     unrelated process counts as alive: callers treat the answer as a
//     snapshot, never as ownership. Thread-safe; one syscall.
//   * SetNiceness(n) is setpriority(PRIO_PROCESS, 0, n): on Linux it sets
//     the calling thread's niceness, which threads it starts later inherit,
//     so a program calls it before starting any. Returns "" when applied,
//     else strerror of the failure and the niceness kept ("Permission
//     denied; running at niceness 0": going below the current niceness
//     needs root, CAP_SYS_NICE or a high enough RLIMIT_NICE).
//   * AllowedCpus() lists the CPUs the calling thread may run on (its
//     sched_getaffinity mask: taskset, a cpuset), ascending; empty if the
//     mask cannot be read. Thread-safe; one syscall.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace forge::base {

[[nodiscard]] bool ProcessAlive(pid_t pid);
[[nodiscard]] std::string SetNiceness(int nice);
[[nodiscard]] std::vector<int> AllowedCpus();

}  // namespace forge::base
