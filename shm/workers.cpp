// shm/workers.cpp — see workers.h.
#include "shm/workers.h"

#include "base/clock.h"
#include "base/process.h"

namespace forge::shm {
namespace {

// A slot may be taken when it is free, already ours (a reused pid whose
// previous owner died without releasing), or held by a dead pid.
bool Claimable(pid_t holder, pid_t pid) {
  return holder == 0 || holder == pid || !base::ProcessAlive(holder);
}

}  // namespace

std::vector<pid_t> LiveWorkerPids(
    std::span<const WorkerSlot, kMaxWorkers> slots) {
  std::vector<pid_t> live;
  for (const WorkerSlot& w : slots) {
    // relaxed: a liveness snapshot; kill(2) is the real check, and a worker
    // attaching right after only finds fewer keys (pops are claims).
    const pid_t pid = w.pid.load(std::memory_order_relaxed);
    if (base::ProcessAlive(pid)) live.push_back(pid);
  }
  return live;
}

std::vector<pid_t> LiveWorkerPids(const Segment& seg) {
  // The slots are one array in the mapping (layout.h SegmentPrefix).
  return LiveWorkerPids(
      std::span<const WorkerSlot, kMaxWorkers>(&seg.worker(0), kMaxWorkers));
}

std::optional<std::uint32_t> ClaimWorkerSlot(Segment& seg, pid_t pid,
                                             pid_t frontend_pid,
                                             ConsumerKind kind) {
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
    w.start_unix_ns.store(base::UnixNowNs(), std::memory_order_relaxed);
    w.kind.store(static_cast<std::uint32_t>(kind), std::memory_order_relaxed);
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
