// ctl/interrupt.cpp — see interrupt.h.
#include "ctl/interrupt.h"

#include <poll.h>

#include <atomic>
#include <cerrno>

namespace forge::ctl {
namespace {

static_assert(std::atomic<bool>::is_always_lock_free,
              "signal handlers may only touch lock-free atomics");
std::atomic<bool> g_stop{false};

extern "C" void OnStop(int) {
  // relaxed: a flag with no data behind it; the sleeping thread re-reads it
  // after ppoll returns EINTR.
  g_stop.store(true, std::memory_order_relaxed);
}

}  // namespace

Interrupt::Interrupt() {
  // relaxed: single-threaded setup; no handler can run yet.
  g_stop.store(false, std::memory_order_relaxed);
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  ::sigprocmask(SIG_BLOCK, &stop_signals, &old_mask_);
  wait_mask_ = old_mask_;
  sigdelset(&wait_mask_, SIGINT);
  sigdelset(&wait_mask_, SIGTERM);
  struct sigaction sa {};
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = OnStop;
  sa.sa_flags = 0;  // no SA_RESTART: ppoll must return EINTR
  ::sigaction(SIGINT, &sa, &old_int_);
  ::sigaction(SIGTERM, &sa, &old_term_);
}

Interrupt::~Interrupt() {
  ::sigaction(SIGINT, &old_int_, nullptr);
  ::sigaction(SIGTERM, &old_term_, nullptr);
  ::sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
}

bool Interrupt::requested() const {
  // relaxed: see OnStop.
  return g_stop.load(std::memory_order_relaxed);
}

bool Interrupt::SleepFor(std::chrono::nanoseconds d) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + d;
  while (!requested()) {
    const auto left = deadline - Clock::now();
    if (left <= Clock::duration::zero()) return true;
    const auto ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
    const timespec ts{static_cast<time_t>(ns / 1'000'000'000),
                      static_cast<long>(ns % 1'000'000'000)};
    // Signals pending or arriving now run OnStop inside ppoll (EINTR).
    ::ppoll(nullptr, 0, &ts, &wait_mask_);
  }
  return false;
}

}  // namespace forge::ctl
