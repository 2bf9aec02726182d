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
#include "frontend/handlers.h"
#include "frontend/segment_backend.h"
#include "frontend/server.h"

namespace forge::frontend {
namespace {

constexpr std::chrono::milliseconds kMaintainEvery{150};
constexpr std::size_t kMaxThreadsPerWorker = 4096;

sigset_t ControlSignals() {
  sigset_t set;
  ::sigemptyset(&set);
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) ::sigaddset(&set, sig);
  return set;
}

// Blocks the control signals (inherited by every thread started later) and
// drops the master's handlers.
void TakeOverSignals() {
  const sigset_t set = ControlSignals();
  ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) {
    ::sigaction(sig, &dfl, nullptr);
  }
  sigset_t chld;
  ::sigemptyset(&chld);
  ::sigaddset(&chld, SIGCHLD);
  ::pthread_sigmask(SIG_UNBLOCK, &chld, nullptr);
}

ServerOptions MakeServerOptions(const config::Config& cfg, int listen_fd) {
  ServerOptions o;
  o.listen_fd = listen_fd;
  o.keep_alive_max = static_cast<std::size_t>(cfg.keep_alive_max);
  o.keep_alive_timeout = std::chrono::seconds(cfg.keep_alive_timeout_s);
  o.pool.min_threads = static_cast<std::size_t>(cfg.http_threads);
  o.pool.max_threads = std::max(kMaxThreadsPerWorker,
                                static_cast<std::size_t>(cfg.http_threads));
  o.log_requests = log::DebugEnabled();
  return o;
}

// Control thread: attaches the segment and waits for a stop signal.
void Control(SegmentBackend& backend, HttpServer& server,
             const std::atomic<bool>& stop) {
  const sigset_t set = ControlSignals();
  const timespec every{0, std::chrono::nanoseconds(kMaintainEvery).count()};
  // relaxed: stop only ends this loop; nothing is published through it.
  while (!stop.load(std::memory_order_relaxed)) {
    const int sig = ::sigtimedwait(&set, nullptr, &every);
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
    backend.Maintain();  // SIGHUP, timeout or EINTR: keep going
  }
}

}  // namespace

int RunWorker(const config::Config& cfg, int listen_fd, pid_t master_pid) {
  TakeOverSignals();
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  // The master may have died before prctl took effect.
  if (::getppid() != master_pid) ::kill(::getpid(), SIGTERM);
  try {
    SegmentBackend backend({cfg.shm_name,
                            std::chrono::milliseconds(cfg.empty_wait_ms),
                            master_pid});
    backend.Maintain();
    const Router router(backend, {static_cast<std::size_t>(cfg.max_batch)},
                        {cfg.auth_token, cfg.auth_protect_all});
    HttpServer server(MakeServerOptions(cfg, listen_fd), router, backend);
    std::atomic<bool> stop{false};
    std::thread control([&] { Control(backend, server, stop); });
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
