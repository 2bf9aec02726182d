// frontend/supervisor.h — the forge-frontend master process.
//
// Contract (docs/design.md §8)
//   * RunSupervisor raises RLIMIT_NOFILE (soft to hard), ignores SIGPIPE,
//     binds the listening socket once (listener.h), forks cfg.workers
//     workers (worker.h) and supervises them until SIGTERM or SIGINT. It
//     returns the process exit code: 0 after a clean stop, 1 when it could
//     not start (e.g. the port is taken; the reason is logged as one line).
//   * WORKER_CPU_AFFINITY=auto with a worker for every CPU (cpu_steer.h):
//     one listening socket per CPU instead, all held by the master for the
//     workers it restarts; worker i is pinned to CPU slot i % CPUs before
//     it runs and serves that slot's socket; the relay between the slots
//     (conn_relay.h) is made before forking. Whenever a slot loses its last
//     live worker or gets one back, the master re-attaches the steering
//     program, so new connections skip a CPU whose workers are all gone.
//   * Signals (base/signals.h): the master keeps SIGTERM, SIGINT, SIGHUP
//     and SIGCHLD blocked and takes them in its one wait (ppoll with them
//     unblocked — sigsuspend() with a deadline), so none is missed between
//     a check and the sleep.
//   * A worker that dies is restarted. If it lived less than 1 s the restart
//     waits a back-off (100 ms, doubling up to 5 s) so a crash loop does not
//     spin; a worker that lived longer resets its back-off and is restarted
//     at once. Nothing is restarted once a stop began.
//   * SIGTERM/SIGINT: make the kernel drop new connection attempts
//     (RefuseNewConnections, listener.h), close the master's copy of the
//     listening socket(s), send SIGTERM to every worker (they answer what the
//     accept queue holds and drain, see server.h), wait up to kStopGrace
//     for them, SIGKILL stragglers, return 0. A second SIGTERM/SIGINT
//     during the stop kills the stragglers at once — also the one that
//     timeout(1) without --foreground sends to the process group.
//   * SIGHUP is logged and ignored: configuration is read once at start;
//     restart the frontend to change it (workers are cheap to start).
//   * The master is single-threaded (required for fork()) and never touches
//     the shared segment; workers attach it themselves.
#pragma once

#include <chrono>

#include "config/config.h"

namespace forge::frontend {

inline constexpr std::chrono::seconds kStopGrace{10};

int RunSupervisor(const config::Config& cfg);

// The restart back-off: 0 after a worker that lived at least 1 s, else the
// previous delay doubled within [100 ms, 5 s].
std::chrono::milliseconds RestartDelay(
    std::chrono::milliseconds previous,
    std::chrono::steady_clock::duration lived);

}  // namespace forge::frontend
