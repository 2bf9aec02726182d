// shm/bus_guard.h — a segment mapping that survives its file shrinking.
//
// Contract
//   * The problem: touching a page of a MAP_SHARED mapping past the end of
//     its file raises SIGBUS, whose default action kills the process. Anyone
//     who may write /dev/shm can `truncate` a segment under the broker, the
//     workers and forge-ctl.
//   * GuardedMapping maps a whole file (MAP_SHARED) and registers the range
//     with a process-wide SIGBUS handler, installed once, by the first
//     mapping. When a SIGBUS hits a registered range, the handler replaces
//     the WHOLE range with private zero pages of the same protection (one
//     mmap(MAP_FIXED), atomic for every thread of the process), marks the
//     mapping faulted() and returns: the faulting load or store re-runs on
//     the zero page and the program goes on. No siglongjmp, so no C++ frame
//     (lock, string, SQLite call) is ever skipped: code in the middle of
//     anything simply reads zeros from then on (magic 0, head == tail == 0:
//     an empty ring) and writes where nobody else looks.
//   * What callers must do: check faulted() (one acquire load, no syscall)
//     after reading something they will act on, and treat everything read
//     during or after the fault as garbage. A consumer that popped keys and
//     then sees faulted() must drop them: its claim may have landed on the
//     private copy, so the keys may still be unclaimed in the shared ring
//     (dropping them makes a gap, serving them could make a duplicate).
//     Segment::Damage() (segment.h) turns a fault into a reason.
//   * A SIGBUS outside every registered range goes to the handler that was
//     installed before ours, or gets the default action (core dump).
//   * At most kMaxGuardedMappings mappings per process are registered at
//     once; beyond that Map() still maps but the range is unguarded
//     (registered() is false).
//   * The handler uses only async-signal-safe operations: atomics and raw
//     mmap/sigaction system calls (no sanitizer interceptors, no malloc).
#pragma once

#include <atomic>
#include <cstddef>
#include <string>

#include "base/status.h"

namespace forge::shm {

inline constexpr std::size_t kMaxGuardedMappings = 256;

class GuardedMapping {
 public:
  GuardedMapping() = default;
  // Maps `size` bytes of `fd` from offset 0. On failure the Status
  // message is the strerror text.
  static Result<GuardedMapping> Map(int fd, std::size_t size, bool writable);

  GuardedMapping(GuardedMapping&& other) noexcept;
  GuardedMapping& operator=(GuardedMapping&& other) noexcept;
  GuardedMapping(const GuardedMapping&) = delete;
  GuardedMapping& operator=(const GuardedMapping&) = delete;
  ~GuardedMapping();

  void* data() const { return data_; }
  std::size_t size() const { return size_; }
  bool registered() const { return slot_ >= 0; }
  // A SIGBUS hit the range: it is private zero pages now, for good.
  bool faulted() const;

 private:
  void Reset();

  void* data_ = nullptr;
  std::size_t size_ = 0;
  int slot_ = -1;  // registry index, -1 when unguarded
};

}  // namespace forge::shm
