// frontend/worker.h — the body of one forked worker process.
//
// Contract
//   * RunWorker runs in a freshly forked child of the master (single-threaded
//     at entry) and returns its exit code: 0 after a drain, 1 when it could
//     not serve (the master restarts it with back-off).
//   * Signals: SIGTERM/SIGINT start a drain (server.h); SIGHUP is ignored.
//     They are blocked in every thread and taken by one control thread
//     (base/signals.h), so no handler runs on a request thread. The worker also
//     asks for SIGTERM when the master dies (PR_SET_PDEATHSIG), so a
//     SIGKILLed master does not leave workers serving forever.
//   * A worker whose segment is missing (or not usable yet) at its start
//     waits up to EMPTY_WAIT_MS for it before it accepts (a try every
//     kQuickAttachEvery, maintain_schedule.h): a frontend started next to its
//     broker answers its first requests with keys, not 503. Connections made
//     meanwhile wait in the listening socket's backlog: at most EMPTY_WAIT_MS
//     for the segment, then, like any request, at most EMPTY_WAIT_MS for a key.
//   * Then the control thread attaches the segment, retrying every 5 ms for
//     the first 2 s and then every 150 ms until the broker creates it
//     (maintain_schedule.h); meanwhile requests get 503 "broker not
//     started" (each request also tries to attach).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <vector>

#include "config/config.h"
#include "frontend/accept_share.h"
#include "frontend/conn_relay.h"

namespace forge::frontend {

// Where a worker serves: its listening socket; the workers' connection
// counts and its slot in them (accept_share.h; nullptr with one socket per
// CPU, where each socket has its own workers); and with
// WORKER_CPU_AFFINITY its seat among the CPU slots (conn_relay.h,
// cpu_steer.h). The master pins the worker before it runs; its pool
// threads run on any of seat.cpus (thread_pool.h).
struct WorkerPlace {
  int listen_fd = -1;
  AcceptShare* share = nullptr;
  std::size_t share_slot = 0;
  CpuSeat seat;
};

int RunWorker(const config::Config& cfg, const WorkerPlace& place,
              pid_t master_pid);

}  // namespace forge::frontend
