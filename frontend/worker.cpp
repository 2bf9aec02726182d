#include "frontend/worker.h"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <string>
#include <thread>

#include "base/log.h"
#include "base/signals.h"
#include "frontend/consumer.h"
#include "frontend/handlers.h"
#include "frontend/maintain_schedule.h"
#include "frontend/server.h"
#include "frontend/status.h"

namespace forge::frontend {
namespace {

constexpr std::size_t kMaxThreadsPerWorker = 4096;

// SIGCHLD is the master's business: back to the default, unblocked.
void ReleaseChildSignal() {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(SIGCHLD, &dfl, nullptr);
  sigset_t chld;
  ::sigemptyset(&chld);
  ::sigaddset(&chld, SIGCHLD);
  ::pthread_sigmask(SIG_UNBLOCK, &chld, nullptr);
}

ServerOptions MakeServerOptions(const config::Config& cfg,
                                const WorkerPlace& place) {
  ServerOptions o;
  o.listen_fd = place.listen_fd;
  o.share = place.share;
  o.share_slot = place.share_slot;
  o.seat = place.seat;
  o.pool.cpus = place.seat.cpus;  // pinned or not, the pool floats
  o.keep_alive_max = static_cast<std::size_t>(cfg.keep_alive_max);
  o.keep_alive_timeout = std::chrono::seconds(cfg.keep_alive_timeout_s);
  o.pool.min_threads = static_cast<std::size_t>(cfg.http_threads);
  o.pool.max_threads = std::max(kMaxThreadsPerWorker,
                                static_cast<std::size_t>(cfg.http_threads));
  o.log_requests = log::DebugEnabled();
  return o;
}

// Control thread: attaches and checks every namespace's segment (one timer
// for all of them, quicker while the default segment is missing: see
// maintain_schedule.h) and waits for a stop signal. `attached`: what the
// worker's first Maintain() found.
void Control(Signals& signals, SegmentNamespaces& namespaces,
             HttpServer& server, const std::atomic<bool>& stop, bool attached) {
  const auto now = [] { return MaintainSchedule::Clock::now(); };
  MaintainSchedule schedule(now());
  MaintainSchedule::Step next = schedule.After(attached, now());
  // relaxed: stop only ends this loop; nothing is published through it.
  while (!stop.load(std::memory_order_relaxed)) {
    const int sig = signals.WaitUntil(next.at);
    if (sig == SIGTERM || sig == SIGINT) {
      // Drain first: once this line is in the log, no connection is
      // accepted without being told to close.
      server.BeginDrain();
      log::Info(
          "draining: answering queued connections and requests in flight "
          "with Connection: close");
      return;
    }
    if (sig == SIGHUP) {
      log::Info("SIGHUP ignored: configuration is read once at start");
    }
    // SIGHUP or timeout: keep going.
    attached = next.full ? namespaces.Maintain()
                         : namespaces.default_backend().Maintain();
    next = schedule.After(attached, now());
  }
}

// At start: the broker may be a few ms behind a frontend started with it.
// Waits up to `wait` for the default segment (see worker.h); true once
// attached.
bool AwaitSegment(SegmentNamespaces& namespaces,
                  std::chrono::milliseconds wait) {
  const auto until = std::chrono::steady_clock::now() + wait;
  while (std::chrono::steady_clock::now() < until) {
    // Polled: shm_open has no "created" event we could wait on portably,
    // and this runs once per worker start, for EMPTY_WAIT_MS at most.
    std::this_thread::sleep_for(kQuickAttachEvery);
    if (namespaces.default_backend().Maintain()) return true;
  }
  return false;
}

}  // namespace

int RunWorker(const config::Config& cfg, const WorkerPlace& place,
              pid_t master_pid) {
  // Blocked in every thread (the HTTP threads inherit the mask) and taken
  // only by the control thread's wait: no handler runs on a request thread.
  Signals signals({SIGTERM, SIGINT, SIGHUP}, Signals::Between::kBlocked);
  ReleaseChildSignal();
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  // The master may have died before prctl took effect.
  if (::getppid() != master_pid) ::kill(::getpid(), SIGTERM);
  try {
    SegmentNamespaces namespaces({cfg.shm_name,
                                  std::chrono::milliseconds(cfg.empty_wait_ms),
                                  master_pid});
    const bool attached =
        namespaces.Maintain() ||
        AwaitSegment(namespaces, std::chrono::milliseconds(cfg.empty_wait_ms));
    StatusSource status(cfg.shm_name);  // per worker: its own rates
    const Router router(namespaces, {static_cast<std::size_t>(cfg.max_batch)},
                        {cfg.auth_token, cfg.auth_protect_all,
                         cfg.scoped_tokens, !cfg.auth_tokens_file.empty()},
                        &status);
    HttpServer server(MakeServerOptions(cfg, place), router);
    std::atomic<bool> stop{false};
    std::thread control(
        [&] { Control(signals, namespaces, server, stop, attached); });
    const bool ok = server.Serve();
    // relaxed: see Control().
    stop.store(true, std::memory_order_relaxed);
    control.join();
    if (!ok) {
      log::Error(
          "the listening socket is unusable; exiting so that the master "
          "starts a fresh worker");
      return 1;
    }
    return 0;
  } catch (const std::exception& e) {
    log::Error(std::string("worker cannot serve: ") + e.what());
    return 1;
  }
}

}  // namespace forge::frontend
