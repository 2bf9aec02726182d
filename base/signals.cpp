// base/signals.cpp — see signals.h.
#include "base/signals.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>

#include "base/status.h"

namespace forge {
namespace {

static_assert(std::atomic<unsigned>::is_always_lock_free &&
                  std::atomic<bool>::is_always_lock_free,
              "signal handlers may only touch lock-free atomics");

std::atomic<unsigned> g_arrived[NSIG];
std::atomic<bool> g_stop{false};

extern "C" void OnSignal(int sig) {
  // relaxed (both): flags with no data behind them; the waiting thread
  // re-reads them after ppoll returns (EINTR), in the same thread.
  g_arrived[sig].fetch_add(1, std::memory_order_relaxed);
  if (sig == SIGTERM || sig == SIGINT) {
    g_stop.store(true, std::memory_order_relaxed);
  }
}

unsigned Arrived(int sig) {
  // relaxed: see OnSignal.
  return g_arrived[sig].load(std::memory_order_relaxed);
}

timespec ToTimespec(Signals::Clock::duration d) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::max(d, Signals::Clock::duration::zero()))
                      .count();
  return timespec{static_cast<time_t>(ns / 1'000'000'000),
                  static_cast<long>(ns % 1'000'000'000)};
}

}  // namespace

Signals::Signals(std::initializer_list<int> signals, Between between)
    : between_(between), signals_(signals), old_actions_(signals.size()) {
  sigemptyset(&set_);
  for (int sig : signals_) {
    FORGE_CHECK(sig > 0 && sig < NSIG, "not a signal number");
    sigaddset(&set_, sig);
    seen_.push_back(Arrived(sig));
  }
  // relaxed: set before any handler of ours is installed.
  g_stop.store(false, std::memory_order_relaxed);
  ::pthread_sigmask(SIG_BLOCK, &set_, &old_mask_);
  wait_mask_ = old_mask_;
  for (int sig : signals_) sigdelset(&wait_mask_, sig);
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sa.sa_mask = set_;  // one handler at a time: no handler races another
  sa.sa_flags = 0;    // no SA_RESTART: a sleeping call returns EINTR
  for (std::size_t i = 0; i < signals_.size(); ++i) {
    ::sigaction(signals_[i], &sa, &old_actions_[i]);
  }
  if (between == Between::kDelivered) {
    ::pthread_sigmask(SIG_SETMASK, &wait_mask_, nullptr);
  }
}

Signals::~Signals() {
  ::pthread_sigmask(SIG_BLOCK, &set_, nullptr);
  // Arrivals nobody will take are dropped, as the counting handler would
  // have done; the restored disposition must not act on them.
  const timespec now{0, 0};
  while (::sigtimedwait(&set_, nullptr, &now) > 0) {
  }
  for (std::size_t i = 0; i < signals_.size(); ++i) {
    ::sigaction(signals_[i], &old_actions_[i], nullptr);
  }
  ::pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
}

const std::atomic<bool>& Signals::stop_flag() { return g_stop; }

bool Signals::stop_requested() const {
  // relaxed: see OnSignal.
  return g_stop.load(std::memory_order_relaxed);
}

int Signals::Take() {
  for (std::size_t i = 0; i < signals_.size(); ++i) {
    const unsigned now = Arrived(signals_[i]);
    if (now != seen_[i]) {
      seen_[i] = now;
      return signals_[i];
    }
  }
  return 0;
}

void Signals::Acknowledge() {
  for (std::size_t i = 0; i < signals_.size(); ++i) {
    seen_[i] = Arrived(signals_[i]);
  }
}

int Signals::WaitUntil(std::optional<Clock::time_point> deadline) {
  // Blocked from the check to the ppoll: an arrival in between stays
  // pending and ppoll, unblocking atomically, runs its handler at once.
  sigset_t before;
  ::pthread_sigmask(SIG_BLOCK, &set_, &before);
  int sig = Take();
  while (sig == 0) {
    // A deadline already past still polls once: pending signals are
    // delivered inside ppoll even with a zero timeout.
    const Clock::duration left =
        deadline ? *deadline - Clock::now() : Clock::duration::max();
    const timespec ts = ToTimespec(left);
    ::ppoll(nullptr, 0, deadline ? &ts : nullptr, &wait_mask_);
    sig = Take();
    if (left <= Clock::duration::zero()) break;
  }
  ::pthread_sigmask(SIG_SETMASK, &before, nullptr);
  return sig;
}

int Signals::WaitFor(Clock::duration d) { return WaitUntil(Clock::now() + d); }

int Signals::Poll() {
  // kDelivered: handlers ran already, nothing is pending; no system call.
  return between_ == Between::kDelivered ? Take() : WaitUntil(Clock::now());
}

}  // namespace forge
