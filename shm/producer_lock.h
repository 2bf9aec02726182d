// shm/producer_lock.h — the lock that makes one broker per segment
// (docs/design.md §2.3), and the probe that tells whether it is held.
// Acquire() is internal to forge_shm; ProbeProducerLock() is for
// forge-ctl. The pid text is written and read only here.
//
// Contract
//   * Acquire() opens (creating with mode 0600) the lock file, takes
//     flock(LOCK_EX | LOCK_NB), writes the holder's pid into the file as
//     text (so a second broker can name who holds it), and then takes an
//     OFD write lock (fcntl F_OFD_SETLK) on the whole file.
//   * flock is the exclusion (brokers of every build use it). The OFD lock
//     is what a probe can see without taking anything (F_OFD_GETLK), so a
//     probe never makes a starting broker fail. Both belong to the open
//     file description: the kernel drops them when the holder exits or is
//     killed, so a stale lock cannot exist. A second open of the same file,
//     even in the same process, conflicts. The pid text is written before
//     the OFD lock, so a probe that sees the lock reads the holder's pid.
//   * The file is never unlinked (unlinking a lock file races with a peer
//     that just opened it). Its pid text is only trusted while locked: a
//     file naming a live process that holds no lock is free.
//   * ProbeProducerLock never creates the lock file (read-only open,
//     O_NOFOLLOW) and takes no lock: it asks the kernel whether a write
//     lock would conflict.
//   * Movable, not copyable. Not thread-safe per object.
#pragma once

#include <string>

namespace forge::shm {

struct LockProbe {
  enum class State { kNoFile, kFree, kHeld, kError };
  State state = State::kError;
  int holder_pid = 0;  // kHeld: as written by the holder (0 if unreadable)
  std::string error;   // kError: why the probe could not tell
};

// Is a live process holding the producer lock at `lock_path`?
LockProbe ProbeProducerLock(const std::string& lock_path);

class ProducerLock {
 public:
  // Throws ProducerLocked when another open file description holds the
  // lock, SegmentError when the lock file cannot be used.
  static ProducerLock Acquire(const std::string& name,
                              const std::string& lock_path);

  ProducerLock(ProducerLock&& other) noexcept;
  ProducerLock& operator=(ProducerLock&& other) noexcept;
  ProducerLock(const ProducerLock&) = delete;
  ProducerLock& operator=(const ProducerLock&) = delete;
  ~ProducerLock();

 private:
  explicit ProducerLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace forge::shm
