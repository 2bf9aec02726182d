// shm/workers.h — per-worker stats slots shared by all frontends.
//
// Contract
//   * A worker process claims one WorkerSlot for its pid with a CAS on
//     WorkerSlot::pid (from 0, or from a pid that is no longer alive), so
//     several frontends on one segment never share a slot.
//   * The claiming process is the only writer of its slot's counters
//     (relaxed increments: readers only need eventually-consistent totals).
//   * A slot whose pid is dead counts as free; Release() stores 0 on exit.
//     A slot already holding the claimer's own pid (its dead predecessor
//     had the same pid) is taken back rather than leaked. If an unrelated
//     process reuses a dead worker's pid, that slot stays taken until the
//     process exits: a bounded leak, never a shared slot.
//   * The lowest claimable index wins, so slots stay dense for forge-ctl.
#pragma once

#include <sys/types.h>

#include <optional>
#include <span>
#include <vector>

#include "shm/segment.h"

namespace forge::shm {

// Pids of the slots whose process is alive right now (base::ProcessAlive),
// in slot order: a snapshot, a worker may attach or exit right after.
std::vector<pid_t> LiveWorkerPids(
    std::span<const WorkerSlot, kMaxWorkers> slots);
std::vector<pid_t> LiveWorkerPids(const Segment& seg);

// Claims a free slot for `pid`; nullopt when all kMaxWorkers are taken.
// `kind` says whether it is an HTTP worker or a shared-memory client
// (frontend_pid 0); stats show it.
// Counters are per slot and are NOT reset on take-over: they only grow, so
// totals and Prometheus counters never go backwards when a worker is
// replaced.
std::optional<std::uint32_t> ClaimWorkerSlot(
    Segment& seg, pid_t pid, pid_t frontend_pid,
    ConsumerKind kind = ConsumerKind::kWorker);

// Frees the slot if it still belongs to `pid`.
void ReleaseWorkerSlot(Segment& seg, std::uint32_t slot, pid_t pid);

}  // namespace forge::shm
