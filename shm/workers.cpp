// shm/workers.cpp — see workers.h.
#include "shm/workers.h"

#include <signal.h>

#include <cerrno>
#include <chrono>

namespace forge::shm {
namespace {

std::uint64_t NowUnixNs() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
}

// A slot may be taken when it is free, already ours (a reused pid whose
// previous owner died without releasing), or held by a dead pid.
bool Claimable(pid_t holder, pid_t pid) {
  return holder == 0 || holder == pid || !ProcessAlive(holder);
}

}  // namespace

bool ProcessAlive(pid_t pid) {
  if (pid <= 0) return false;
  return ::kill(pid, 0) == 0 || errno == EPERM;
}

std::optional<std::uint32_t> ClaimWorkerSlot(Segment& seg, pid_t pid,
                                             pid_t frontend_pid) {
  for (std::uint32_t i = 0; i < kMaxWorkers; ++i) {
    WorkerSlot& w = seg.worker(i);
    // relaxed: a first look; the CAS below decides.
    pid_t holder = w.pid.load(std::memory_order_relaxed);
    if (!Claimable(holder, pid)) continue;
    // acq_rel: acquire sees the previous owner's counters (they keep
    // growing from there); release publishes our pid before our writes.
    if (!w.pid.compare_exchange_strong(holder, pid,
                                       std::memory_order_acq_rel)) {
      continue;  // another worker won this slot; try the next one
    }
    // relaxed: informational fields, read by stats without ordering needs.
    w.frontend_pid.store(static_cast<std::uint32_t>(frontend_pid),
                         std::memory_order_relaxed);
    w.start_unix_ns.store(NowUnixNs(), std::memory_order_relaxed);
    return i;
  }
  return std::nullopt;
}

void ReleaseWorkerSlot(Segment& seg, std::uint32_t slot, pid_t pid) {
  if (slot >= kMaxWorkers) return;
  pid_t expected = pid;
  // release: our last counter updates are visible to the next owner.
  seg.worker(slot).pid.compare_exchange_strong(
      expected, 0, std::memory_order_release, std::memory_order_relaxed);
}

}  // namespace forge::shm
