// shm/producer_lock.h — the flock that makes one broker per segment
// (DESIGN.md §2.3). Internal to forge_shm.
//
// Contract
//   * Acquire() opens (creating with mode 0600) the lock file, takes
//     flock(LOCK_EX | LOCK_NB) and writes the holder's pid into the file as
//     text, so a second broker can name who holds it.
//   * The lock belongs to the open file description: the kernel drops it
//     when the holder exits or is killed, so a stale lock cannot exist. A
//     second open of the same file, even in the same process, conflicts.
//   * The file is never unlinked (unlinking a lock file races with a peer
//     that just opened it). Its pid text is only trusted while locked.
//   * Movable, not copyable. Not thread-safe per object.
#pragma once

#include <string>

namespace forge::shm {

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
