// ctl/interrupt.h — Ctrl-C (SIGINT) and SIGTERM as a "stop" request for
// forge-ctl's long-running views (stats --watch).
//
// Contract
//   * While an Interrupt object lives, SIGINT and SIGTERM are blocked except
//     inside SleepFor, which waits with ppoll() and the signals unblocked
//     atomically: a signal that arrives between two sleeps is never lost
//     (it stays pending until the next SleepFor), so Ctrl-C always ends the
//     loop within one refresh step, never after a full extra period.
//   * The handler only sets a lock-free flag. The destructor restores the
//     previous handlers and signal mask.
//   * One object per process at a time (the flag is process-wide); used
//     from the main thread only.
#pragma once

#include <signal.h>

#include <chrono>

namespace forge::ctl {

class Interrupt {
 public:
  Interrupt();
  ~Interrupt();
  Interrupt(const Interrupt&) = delete;
  Interrupt& operator=(const Interrupt&) = delete;

  // Sleeps for `d`; returns false as soon as a stop was requested (before
  // or during the sleep), true when the time ran out.
  bool SleepFor(std::chrono::nanoseconds d);
  bool requested() const;

 private:
  sigset_t old_mask_{};
  sigset_t wait_mask_{};  // old_mask_ without SIGINT and SIGTERM
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

}  // namespace forge::ctl
