// base/signals.h — the one way a process takes its signals (docs/design.md
// "Conventions").
//
// Contract
//   * A Signals object takes over a set of signals for its lifetime: it
//     installs one handler for each (it only counts the arrival, and for
//     SIGTERM/SIGINT raises the stop flag; no SA_RESTART, so a blocking
//     system call returns EINTR) and blocks them in the calling thread
//     (threads started later inherit the mask). The destructor drops the
//     arrivals still pending (as the counting handler would have), then
//     restores the previous handlers and mask.
//   * Between waits the signals stay blocked (Between::kBlocked: a handler
//     runs only inside a Wait, on the waiting thread) or are delivered at
//     once (Between::kDelivered: a blocking call anywhere in the thread is
//     cut short by EINTR and sees stop_flag()).
//   * WaitUntil/WaitFor sleep with ppoll() and the signals unblocked
//     atomically. They return the first signal (in the order given to the
//     constructor) that arrived since a Wait last returned it or since
//     Acknowledge(), or 0 when the time ran out. A signal that arrives
//     between a check and a wait is never lost: the wait returns it at
//     once. Repeats of one signal before it is returned count once.
//   * stop_flag() is true once SIGTERM or SIGINT (when in the set) arrived;
//     it is what code that polls (a store call waiting on a socket) reads.
//   * One object per process at a time (handlers are process-wide); a
//     forked child may make its own, which starts with nothing seen and
//     the stop flag down. Used from one thread (the one that waits).
#pragma once

#include <signal.h>

#include <atomic>
#include <chrono>
#include <initializer_list>
#include <optional>
#include <vector>

namespace forge {

class Signals {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Between { kBlocked, kDelivered };

  Signals(std::initializer_list<int> signals, Between between);
  ~Signals();
  Signals(const Signals&) = delete;
  Signals& operator=(const Signals&) = delete;

  // See the contract. nullopt: no deadline.
  [[nodiscard]] int WaitUntil(std::optional<Clock::time_point> deadline);
  [[nodiscard]] int WaitFor(Clock::duration d);
  // A signal that arrived and was not returned yet, without waiting; 0 if
  // none. No system call in kDelivered mode.
  [[nodiscard]] int Poll();
  // Forgets every arrival so far: the next Wait sleeps until a new one.
  void Acknowledge();

  static const std::atomic<bool>& stop_flag();
  bool stop_requested() const;

 private:
  int Take();

  Between between_;
  std::vector<int> signals_;
  std::vector<unsigned> seen_;  // arrivals returned so far, per signal
  sigset_t set_{};
  sigset_t old_mask_{};
  sigset_t wait_mask_{};  // old_mask_ without ours: the mask inside ppoll
  std::vector<struct sigaction> old_actions_;
};

}  // namespace forge
