// ctl/lock_probe.h — is a live broker holding a segment's producer lock?
//
// Contract
//   * Never creates the lock file: it is opened read-only, O_NOFOLLOW.
//   * Tries flock(LOCK_SH | LOCK_NB) on that separate open file
//     description. If it succeeds nobody holds the producer lock (a broker
//     holds LOCK_EX for its whole life) and the shared lock is released at
//     once. While it is held (microseconds) a broker starting on that very
//     segment would find the lock busy and refuse to start: forge-ctl
//     check is meant for a running system, not a starting one.
//   * The holder's pid is the text the broker wrote into the file; it is
//     only meaningful while the lock is held.
#pragma once

#include <string>

namespace forge::ctl {

struct LockProbe {
  enum class State { kNoFile, kFree, kHeld, kError };
  State state = State::kError;
  int holder_pid = 0;  // kHeld: as written by the holder (0 if unreadable)
  std::string error;   // kError: why the probe could not tell
};

LockProbe ProbeProducerLock(const std::string& lock_path);

}  // namespace forge::ctl
