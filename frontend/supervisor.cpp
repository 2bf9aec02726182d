#include "frontend/supervisor.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "base/log.h"
#include "base/signals.h"
#include "frontend/conn_relay.h"
#include "frontend/cpu_steer.h"
#include "frontend/listener.h"
#include "frontend/worker.h"

namespace forge::frontend {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kFirstBackoff{100};
constexpr milliseconds kMaxBackoff{5000};
constexpr std::chrono::seconds kHealthyAfter{1};

void RaiseFileLimit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur == lim.rlim_max) {
    return;
  }
  const rlim_t before = lim.rlim_cur;
  lim.rlim_cur = lim.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &lim) == 0) {
    log::Debug("open-files limit raised from " + std::to_string(before) +
               " to " + std::to_string(lim.rlim_max));
  }
}

std::string Describe(int status) {
  if (WIFEXITED(status)) {
    return "exited with code " + std::to_string(WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    return "was killed by signal " + std::to_string(sig) + " (" +
           ::strsignal(sig) + ")";
  }
  return "stopped (status " + std::to_string(status) + ")";
}

struct Child {
  pid_t pid = 0;
  Clock::time_point started;
  Clock::time_point restart_at;
  milliseconds backoff{0};
};

// What the workers serve: the listening sockets (one, or one per CPU of
// `cpus`, cpu_steer.h) and, with several, the relay between them.
struct Front {
  std::vector<Listener> listeners;
  std::vector<int> cpus;  // empty: one shared socket, workers float
  std::unique_ptr<ConnRelay> relay;
};

class Supervisor {
 public:
  Supervisor(const config::Config& cfg, Front front)
      : cfg_(cfg),
        front_(std::move(front)),
        children_(static_cast<std::size_t>(cfg.workers)),
        share_(static_cast<std::size_t>(cfg.workers)) {}

  int Run();

 private:
  std::size_t SlotOf(std::size_t worker) const {
    return front_.cpus.empty() ? 0 : worker % front_.cpus.size();
  }
  WorkerPlace PlaceOf(std::size_t worker);
  // Re-attaches the steering program when a CPU's slot lost its last
  // worker or got one back, so new connections go to a live one.
  void Resteer();
  void Spawn(std::size_t i);
  void Reap(bool restart);
  void StartDue();
  std::optional<Clock::time_point> NextRestart() const;
  void Stop();
  std::size_t Alive() const;
  std::string Placement() const;  // for the "serving" line

  const config::Config& cfg_;
  Front front_;
  std::vector<bool> steered_;  // the slots the steering program serves
  std::vector<Child> children_;
  AcceptShare share_;  // the workers' connection counts
  // Blocked except inside signals_.WaitUntil (see the header).
  Signals signals_{{SIGTERM, SIGINT, SIGHUP, SIGCHLD},
                   Signals::Between::kBlocked};
  pid_t self_ = ::getpid();
};

WorkerPlace Supervisor::PlaceOf(std::size_t worker) {
  const std::size_t slot = SlotOf(worker);
  WorkerPlace place;
  place.listen_fd = front_.listeners[slot].fd;
  // One socket per CPU: each socket has its own workers, and a worker
  // deferring to one on another socket would only delay its own.
  place.share = front_.cpus.empty() ? &share_ : nullptr;
  place.share_slot = worker;
  place.seat = {front_.relay.get(), slot, front_.cpus};
  return place;
}

void Supervisor::Resteer() {
  if (front_.cpus.empty()) return;
  std::vector<bool> serving(front_.cpus.size(), false);
  for (std::size_t i = 0; i < children_.size(); ++i) {
    if (children_[i].pid != 0) serving[SlotOf(i)] = true;
  }
  if (serving == steered_) return;
  if (!SteerByCpu(front_.listeners[0].fd, front_.cpus, serving)) {
    log::Warn(std::string("cannot steer connections to the workers' CPUs (") +
              std::strerror(errno) + "); the kernel spreads them by hash");
  }
  steered_ = std::move(serving);
}

void Supervisor::Spawn(std::size_t i) {
  Child& c = children_[i];
  share_.Set(i, 0);  // the new worker holds no connection yet
  const pid_t pid = ::fork();
  if (pid == 0) {
    const WorkerPlace place = PlaceOf(i);
    for (std::size_t j = 0; j < front_.listeners.size(); ++j) {
      if (j != place.seat.slot) ::close(front_.listeners[j].fd);  // not ours
    }
    if (!front_.cpus.empty() && !PinToCpu(front_.cpus[place.seat.slot])) {
      log::Warn("worker " + std::to_string(i + 1) +
                " cannot pin itself to CPU " +
                std::to_string(front_.cpus[place.seat.slot]) + " (" +
                std::strerror(errno) + "); it runs on any CPU");
    }
    // _exit: the child must not run the master's atexit handlers.
    ::_exit(RunWorker(cfg_, place, self_));
  }
  if (pid < 0) {
    share_.MarkGone(i);
    c.backoff = std::clamp(c.backoff * 2, kFirstBackoff, kMaxBackoff);
    c.restart_at = Clock::now() + c.backoff;
    log::Error(std::string("cannot fork worker ") + std::to_string(i + 1) +
               ": " + std::strerror(errno) + "; retrying in " +
               std::to_string(c.backoff.count()) + " ms");
    return;
  }
  c.pid = pid;
  c.started = Clock::now();
  Resteer();
  log::Debug("worker " + std::to_string(i + 1) + " started, pid " +
             std::to_string(pid));
}

void Supervisor::Reap(bool restart) {
  int status = 0;
  pid_t pid;
  while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
    auto it = std::find_if(children_.begin(), children_.end(),
                           [&](const Child& c) { return c.pid == pid; });
    if (it == children_.end()) continue;
    it->pid = 0;
    share_.MarkGone(static_cast<std::size_t>(it - children_.begin()));
    const std::string who = "worker " +
                            std::to_string(it - children_.begin() + 1) +
                            " (pid " + std::to_string(pid) + ") ";
    if (!restart) {
      log::Debug(who + Describe(status));
      continue;
    }
    const auto now = Clock::now();
    it->backoff = RestartDelay(it->backoff, now - it->started);
    it->restart_at = now + it->backoff;
    log::Warn(who + Describe(status) + "; restarting" +
              (it->backoff.count() == 0
                   ? std::string()
                   : " in " + std::to_string(it->backoff.count()) +
                         " ms (it died within 1 s of starting)"));
  }
  if (restart) Resteer();
}

void Supervisor::StartDue() {
  const auto now = Clock::now();
  for (std::size_t i = 0; i < children_.size(); ++i) {
    if (children_[i].pid == 0 && children_[i].restart_at <= now) Spawn(i);
  }
}

std::optional<Clock::time_point> Supervisor::NextRestart() const {
  std::optional<Clock::time_point> next;
  for (const Child& c : children_) {
    if (c.pid == 0 && (!next || c.restart_at < *next)) next = c.restart_at;
  }
  return next;
}

std::size_t Supervisor::Alive() const {
  return static_cast<std::size_t>(
      std::count_if(children_.begin(), children_.end(),
                    [](const Child& c) { return c.pid != 0; }));
}

void Supervisor::Stop() {
  // No new connections from here on: what the accept queue holds now is
  // what the workers accept and answer in their drain (listener.h); a
  // connection the kernel took after their last accept() would be reset
  // when the last copy of the socket closes.
  for (const Listener& l : front_.listeners) {
    if (!RefuseNewConnections(l.fd)) {
      log::Warn(std::string("cannot stop new connections before the drain (") +
                std::strerror(errno) +
                "); a client connecting during the stop may be reset");
    }
    // Once every worker has closed its copy too, the kernel refuses (RST
    // to a SYN) new connections instead of queueing them unserved.
    ::close(l.fd);
  }
  log::Info("stopping: draining " + std::to_string(Alive()) +
            " workers (up to " + std::to_string(kStopGrace.count()) + " s)");
  for (const Child& c : children_) {
    if (c.pid != 0) ::kill(c.pid, SIGTERM);
  }
  const auto deadline = Clock::now() + kStopGrace;
  for (int sig = 0;;) {
    Reap(false);
    if (Alive() == 0) return;
    // A second SIGTERM/SIGINT kills the stragglers at once.
    if (Clock::now() >= deadline || sig == SIGTERM || sig == SIGINT) break;
    sig = signals_.WaitUntil(deadline);
  }
  log::Warn(std::to_string(Alive()) + " workers did not stop in time; " +
            "killing them");
  for (const Child& c : children_) {
    if (c.pid != 0) ::kill(c.pid, SIGKILL);
  }
  for (Child& c : children_) {
    if (c.pid != 0 && ::waitpid(c.pid, nullptr, 0) == c.pid) c.pid = 0;
  }
}

std::string Supervisor::Placement() const {
  if (front_.cpus.empty()) {
    return cfg_.worker_cpu_affinity
               ? " (not pinned: WORKER_CPU_AFFINITY=auto pins when this "
                 "process may use 2 or more CPUs and WORKERS covers each)"
               : "";
  }
  std::string cpus;
  for (const int cpu : front_.cpus) {
    if (!cpus.empty()) cpus += ',';
    cpus += std::to_string(cpu);
  }
  return ", pinned to CPUs " + cpus + " (one listening socket each)";
}

int Supervisor::Run() {
  // A client that hangs up mid-response must not kill the process.
  ::signal(SIGPIPE, SIG_IGN);
  for (std::size_t i = 0; i < children_.size(); ++i) Spawn(i);
  const Listener& l = front_.listeners[0];
  log::Info("serving http://" + l.address + ":" + std::to_string(l.port) +
            " with " + std::to_string(children_.size()) +
            " workers on segment '" + cfg_.shm_name + "'" + Placement());
  for (;;) {
    const int sig = signals_.WaitUntil(NextRestart());
    if (sig == SIGTERM || sig == SIGINT) break;
    if (sig == SIGHUP) {
      log::Info(
          "SIGHUP ignored: configuration is read once at start; "
          "restart forge-frontend to change it");
    }
    if (sig == SIGCHLD) Reap(true);
    StartDue();
  }
  Stop();
  log::Info("stopped");
  return 0;
}

}  // namespace

milliseconds RestartDelay(milliseconds previous, Clock::duration lived) {
  if (lived >= kHealthyAfter) return milliseconds(0);
  return std::clamp(previous * 2, kFirstBackoff, kMaxBackoff);
}

int RunSupervisor(const config::Config& cfg) {
  RaiseFileLimit();
  Front front;
  if (cfg.worker_cpu_affinity) front.cpus = SteerCpus(cfg.workers);
  try {
    front.listeners =
        BindListeners(cfg.host, cfg.port, cfg.listen_backlog,
                      std::max<std::size_t>(1, front.cpus.size()));
  } catch (const ListenError& e) {
    log::Error(e.what());
    return 1;
  }
  try {
    if (!front.cpus.empty()) {
      front.relay = std::make_unique<ConnRelay>(front.cpus.size());
    }
    Supervisor supervisor(cfg, std::move(front));
    return supervisor.Run();
  } catch (const std::system_error& e) {  // shared counts, relay sockets
    log::Error(std::string("cannot start the workers: ") + e.what());
    return 1;
  }
}

}  // namespace forge::frontend
