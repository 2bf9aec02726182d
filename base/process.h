// base/process.h — is a process alive?
//
// Contract
//   * ProcessAlive(pid) is kill(pid, 0): true when a process with that pid
//     exists, including one we may not signal (EPERM). A pid <= 0 (a free
//     slot, or a process group) is never alive. A pid reused by an
//     unrelated process counts as alive: callers treat the answer as a
//     snapshot, never as ownership.
//   * Thread-safe; one syscall.
#pragma once

#include <sys/types.h>

namespace forge::base {

[[nodiscard]] bool ProcessAlive(pid_t pid);

}  // namespace forge::base
