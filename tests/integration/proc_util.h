// tests/integration/proc_util.h — what a process holds, read from /proc.
//
// Contract
//   * For fault tests that kill a process and must know which client
//     connections it owned: freeze it (SIGSTOP, so it cannot accept or
//     close anything more), list the connections, then SIGKILL it.
//   * Linux only; the caller must be allowed to read /proc/<pid>/fd (same
//     user). Nothing here signals a pid the caller did not name.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <set>

namespace forge::testing {

// Sends SIGSTOP and waits until every thread of `pid` is stopped. False if
// that did not happen within `timeout` (or the process is gone).
bool FreezeProcess(pid_t pid, std::chrono::milliseconds timeout);

// Client-side ports of the loopback TCP connections to `server_port` whose
// server end is an open file descriptor of `pid`.
std::set<std::uint16_t> PeerPortsOf(pid_t pid, int server_port);

}  // namespace forge::testing
